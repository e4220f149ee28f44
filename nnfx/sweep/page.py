"""The sweep's report page: ``report.html``, one self-contained file (the Pareto plots embedded
as PNG, the table of points sortable by a click on a column, with a few lines of inline script
and nothing fetched), and the plots as ``pareto.png`` beside it."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from nnfx.sweep.pareto import RESOURCES, quality_key
from nnfx.text import html_text

POLICY_STYLE = {
    "uniform": ("tab:blue", "s"),
    "auto": ("tab:orange", "o"),
    "search": ("tab:green", "^"),
}


def quality(row: dict, task: str):
    """What the plots and the table show: accuracy in percent, or the MSE."""
    value = row.get(quality_key(task))
    if value is None:
        return None
    return value if task == "regression" else 100 * value


def plot_fronts(record: dict) -> bytes:
    """Quality against each resource, every finished point by policy, the front as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task = record["task"]
    rows = [r for r in record["points"] if r.get("status") == "ok"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (resource, label) in zip(axes.flat, RESOURCES.items(), strict=True):
        for policy, (color, marker) in POLICY_STYLE.items():
            mine = [r for r in rows if r["policy"] == policy]
            if mine:
                ax.scatter(
                    [r[resource] for r in mine],
                    [quality(r, task) for r in mine],
                    c=color,
                    marker=marker,
                    s=22,
                    alpha=0.6,
                    label=policy,
                )
        on_front = set(record["pareto"].get(resource, []))
        best = sorted((r for r in rows if r["key"] in on_front), key=lambda r: r[resource])
        if best:
            ax.plot(
                [r[resource] for r in best],
                [quality(r, task) for r in best],
                color="black",
                drawstyle="steps-post",
                linewidth=1,
                marker="o",
                markerfacecolor="none",
                markersize=9,
                label="Pareto front",
            )
        floats = record.get("float_mse") if task == "regression" else record.get("float_accuracy")
        if floats is not None:
            value = floats if task == "regression" else 100 * floats
            ax.axhline(value, color="gray", linestyle="--", linewidth=1, label="float")
        _log_scale(ax.set_xscale, [r[resource] for r in rows])
        if task == "regression":
            _log_scale(ax.set_yscale, [quality(r, task) for r in rows])
        ax.set_xlabel(f"estimated {label}")
        ax.set_ylabel("MSE" if task == "regression" else "accuracy (%)")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{record['model']}: {len(rows)} points over {record['samples']:,} samples")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _log_scale(set_scale, values: list) -> None:
    """A log axis for positive values spread over more than a factor of 20."""
    if values and min(values) > 0 and max(values) > 20 * min(values):
        set_scale("log")


COLUMNS = (
    ("key", "point"),
    ("design", "design"),
    ("quality", ""),
    ("lut", "LUTs"),
    ("dsp", "DSPs"),
    ("ff", "FFs"),
    ("bram18", "BRAM18"),
    ("latency_cycles", "latency (cycles)"),
    ("ii_cycles", "II (cycles)"),
    ("pareto", "on the front of"),
    ("engine", "engine"),
    ("seconds", "seconds (compile / emulate / estimate)"),
    ("error", "error"),
)


def table_rows(record: dict) -> tuple[list[str], list[list[str]]]:
    """The table of points (every one, failures with their error), as text cells."""
    task = record["task"]
    fronts = record["pareto"]
    header = [
        ("MSE" if task == "regression" else "accuracy %") if key == "quality" else label
        for key, label in COLUMNS
    ]
    rows = []
    for r in record["points"]:
        cells = []
        for key, _ in COLUMNS:
            if key == "quality":
                q = quality(r, task)
                cells.append(
                    "" if q is None else f"{q:.4g}" if task == "regression" else f"{q:.2f}"
                )
            elif key == "pareto":
                cells.append(
                    ", ".join(RESOURCES[k] for k, keys in fronts.items() if r["key"] in keys)
                )
            elif key == "seconds":
                s = r.get("seconds", {})
                cells.append(
                    " / ".join(f"{s.get(k, 0):.2f}" for k in ("compile", "emulate", "estimate"))
                )
            elif key == "design" and r.get("design"):
                low, high = r.get("type_widths", [0, 0])
                span = f"{low} bits" if low == high else f"{low} to {high} bits"
                cells.append(f"{r['design']} ({span})")
            else:
                v = r.get(key)
                cells.append("" if v is None else f"{v:,}" if isinstance(v, int) else str(v))
        rows.append(cells)
    return header, rows


def write(folder: Path, record: dict) -> dict[str, Path]:
    """``pareto.png`` and ``report.html`` into ``folder``; the files by kind."""
    png = plot_fronts(record)
    (folder / "pareto.png").write_bytes(png)
    title = f"nnfx sweep: {record['model']}"
    task = record["task"]
    ok = sum(r.get("status") == "ok" for r in record["points"])
    failed = len(record["points"]) - ok
    float_text = (
        f"float MSE {record['float_mse']:.4g}"
        if task == "regression"
        else f"float accuracy {100 * record['float_accuracy']:.2f}%"
    )
    settings = record["settings"]
    summary = (
        f"{len(record['points'])} points ({ok} finished, {failed} failed) over "
        f"{record['samples']:,} samples, {task}; {float_text}. Resources and latency are "
        f"estimates for {settings['part']} at {settings['clock_period_ns']:g} ns "
        "(docs/estimate.md); the accuracy is the bit-exact emulation's. A point is on the front "
        "of a resource when no other point is at least as good on both and better on one."
    )
    header, rows = table_rows(record)
    encoded = base64.b64encode(png).decode()
    parts = [
        f"<h1>{html_text(title)}</h1>",
        f"<p>{html_text(summary)}</p>",
        f"<figure><img alt='Pareto fronts' src='data:image/png;base64,{encoded}'>"
        "<figcaption>Accuracy against each estimated resource; the line is the front."
        "</figcaption></figure>",
        "<h2>Points</h2><p>Click a column's header to sort by it.</p>",
        "<table id='points'><thead><tr>"
        + "".join(f"<th>{html_text(h)}</th>" for h in header)
        + "</tr></thead><tbody>"
        + "".join(
            "<tr"
            + (" class='front'" if row[COLUMNS.index(("pareto", "on the front of"))] else "")
            + ">"
            + "".join(f"<td>{html_text(c)}</td>" for c in row)
            + "</tr>"
            for row in rows
        )
        + "</tbody></table>",
    ]
    head, tail = PAGE.split("{body}")
    (folder / "report.html").write_text(
        head.replace("{title}", html_text(title)) + "\n".join(parts) + tail
    )
    return {"html": folder / "report.html", "plot": folder / "pareto.png"}


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: right; }
th { background: #f2f4f7; cursor: pointer; } td:first-child, th:first-child { text-align: left; }
tr.front td:first-child { font-weight: bold; } td:first-child { white-space: nowrap; }
figure { margin: 1em 0; } img { max-width: 100%; }
</style></head>
<body>
{body}
<script>
document.querySelectorAll("#points th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var rows = Array.from(body.rows);
    var up = th.dataset.up !== "1";
    th.dataset.up = up ? "1" : "0";
    function value(row) {
      var text = row.cells[col].textContent.replace(/,/g, "");
      var number = parseFloat(text);
      return isNaN(number) || text.indexOf("/") >= 0 ? text : number;
    }
    rows.sort(function (a, b) {
      var x = value(a), y = value(b);
      var order = typeof x !== typeof y ? (typeof x === "number" ? -1 : 1)
        : x < y ? -1 : x > y ? 1 : 0;
      return up ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
</script>
</body></html>
"""
