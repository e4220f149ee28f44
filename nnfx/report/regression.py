"""The report's tables for a regression model: each engine's errors against the targets and
against float, per output column, and MSE against bit width."""

from __future__ import annotations


def tables(data: dict, text) -> list:
    """(caption, header, rows) tables; ``text`` renders names from the model."""
    from nnfx.report.render import ENGINE_LABELS

    def label(engine: str) -> str:
        return ENGINE_LABELS.get(engine, engine)

    def exact(row) -> str:
        return "-" if row["bit_exact"] is None else ("yes" if row["bit_exact"] else "NO")

    engines = data["engines"]
    result = [
        (
            "Error of each engine against y (and against the float model)",
            ["engine", "MSE", "MAE", "max abs error", "max abs error vs float", "bit-exact"],
            [
                [
                    label(r["engine"]),
                    f"{r['errors']['mse']:.4g}",
                    f"{r['errors']['mae']:.4g}",
                    f"{r['errors']['max_abs_error']:.4g}",
                    f"{r['vs_float']['max_abs_error']:.4g}" if r.get("vs_float") else "-",
                    exact(r),
                ]
                for r in engines
            ],
        )
    ]
    if all(len(r["errors"].get("columns", ())) > 1 for r in engines):
        rows = []
        for j, column in enumerate(engines[0]["errors"]["columns"]):
            for r in engines:
                c = r["errors"]["columns"][j]
                rows.append(
                    [
                        text(column["output"]),
                        label(r["engine"]),
                        f"{c['mse']:.4g}",
                        f"{c['mae']:.4g}",
                        f"{c['max_abs_error']:.4g}",
                    ]
                )
        result.append(
            ("Error per output", ["output", "engine", "MSE", "MAE", "max abs error"], rows)
        )
    sweep = data["accuracy_vs_width"]
    if sweep:
        result.append(
            (
                "MSE against bit width",
                ["total bits", "uniform MSE", "auto MSE"],
                [
                    [str(w), *(f"{s['mse']:.4g}" for s in sweep if s["width"] == w)]
                    for w in sorted({s["width"] for s in sweep})
                ],
            )
        )
    return result
