"""The report written out: ``report.md`` (figures beside it as PNG), ``report.json`` and
``report.html`` (one self-contained page, figures embedded). Text from the model or the user
(names, the part) is escaped for each format (nnfx.text)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from nnfx.text import html_text, markdown

ENGINE_LABELS = {
    "float": "float (onnxruntime)",
    "reference": "fixed point: NumPy reference",
    "ort": "fixed point: ONNX on onnxruntime",
    "csim": "fixed point: HLS C-simulation (ac_fixed)",
    "csim-ap": "fixed point: HLS C-simulation (ap_fixed)",
}
FIGURES = (
    ("accuracy_vs_width.png", "Accuracy against bit width"),
    ("layer_ranges.png", "Float values against each layer's type"),
    ("layer_error.png", "Relative RMS error after each layer"),
)


def write(folder: Path, data: dict, images: dict[str, bytes]) -> dict[str, Path]:
    """Write the report's files and figures into ``folder``; returns the files by format."""
    title = f"nnfx report: {data['model']}"  # model text: escaped for each format below
    summary = _summary(data)
    for name, png in images.items():
        (folder / name).write_bytes(png)
    (folder / "report.md").write_text(_markdown_page(data, title, summary))
    (folder / "report.json").write_text(json.dumps(data, indent=1, default=float) + "\n")
    (folder / "report.html").write_text(_html_page(data, images, title, summary))
    return {
        "html": folder / "report.html",
        "markdown": folder / "report.md",
        "json": folder / "report.json",
    }


def _summary(data: dict) -> str:
    design = data["design"]
    if design["given"]:
        what = f"the compiled design as given: {design['description']}"
    else:
        what = f"compiled at {design['description']}"
    if data.get("task") == "regression":
        return (
            f"{data['samples']} samples, regression; float MSE "
            f"{data['float_errors']['mse']:.3g}; {what}."
        )
    return f"{data['samples']} samples; float accuracy {100 * data['float_accuracy']:.2f}%; {what}."


def _figures(data: dict) -> list[tuple[str, str]]:
    first = "MSE against bit width" if data.get("task") == "regression" else FIGURES[0][1]
    return [(FIGURES[0][0], first), *FIGURES[1:]]


def _markdown_page(data: dict, title: str, summary: str) -> str:
    md = [f"# {markdown(title)}", "", summary, ""]
    if note := data.get("sweep_note"):
        md += [f"Note: {note}.", ""]
    if note := overflow_note(data, markdown):
        md += [f"**{note}**", ""]
    for caption, header, rows in tables(data, markdown):
        md += [f"## {caption}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        md += ["| " + " | ".join(row) + " |" for row in rows]
        md.append("")
    md += [f"![{caption}]({name})\n" for name, caption in _figures(data)]
    return "\n".join(md)


def _html_page(data: dict, images: dict[str, bytes], title: str, summary: str) -> str:
    parts = [f"<h1>{html_text(title)}</h1>", f"<p>{html_text(summary)}</p>"]
    if note := data.get("sweep_note"):
        parts.append(f"<p>Note: {html_text(note)}.</p>")
    if note := overflow_note(data, html_text):
        parts.append(f"<p><strong>{note}</strong></p>")
    # the cells are escaped here, once, so the tables are built with plain text
    for caption, header, rows in tables(data):
        parts.append(
            f"<h2>{html_text(caption)}</h2><table><thead><tr>"
            + "".join(f"<th>{html_text(h)}</th>" for h in header)
            + "</tr></thead><tbody>"
            + "".join(
                "<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in row) + "</tr>" for row in rows
            )
            + "</tbody></table>"
        )
    for name, caption in _figures(data):
        encoded = base64.b64encode(images[name]).decode()
        parts.append(
            f"<figure><img alt='{html_text(caption)}' "
            f"src='data:image/png;base64,{encoded}'><figcaption>{html_text(caption)}"
            "</figcaption></figure>"
        )
    # one pass: the title goes into the template, the body after it, so that text from the
    # model (a "{body}" in its name) is never substituted again
    head, tail = HTML_PAGE.split("{body}")
    return head.replace("{title}", html_text(title)) + "\n".join(parts) + tail


# -- tables: (caption, header, rows) ------------------------------------------------------------
Table = tuple[str, list[str], list[list[str]]]


def tables(data: dict, text=str) -> list[Table]:
    """The report's tables; ``text`` renders what came from the model or the user (names, the
    part) for the output format."""
    from nnfx.report import regression

    if data.get("task") == "regression":
        first = regression.tables(data, text)
    else:
        first = [_engine_table(data)] + ([_sweep_table(data)] if data["accuracy_vs_width"] else [])
    return [
        *first,
        _layer_table(data, text),
        *([_scales_table(data, text)] if data.get("folded_scales") else []),
        _timing_table(data),
        _estimate_table(data["estimate"], text),
    ]


def _engine_table(data: dict) -> Table:
    return (
        "Accuracy of each engine",
        ["engine", "accuracy %", "bit-exact with the reference"],
        [
            [
                ENGINE_LABELS.get(r["engine"], r["engine"]),
                f"{100 * r['accuracy']:.2f}",
                "-" if r["bit_exact"] is None else ("yes" if r["bit_exact"] else "NO"),
            ]
            for r in data["engines"]
        ],
    )


def _sweep_table(data: dict) -> Table:
    sweep = data["accuracy_vs_width"]
    return (
        "Accuracy against bit width",
        ["total bits", "uniform %", "auto %"],
        [
            [str(w), *(f"{100 * s['accuracy']:.2f}" for s in sweep if s["width"] == w)]
            for w in sorted({s["width"] for s in sweep})
        ],
    )


def _layer_table(data: dict, text) -> Table:
    return (
        "Per layer",
        ["layer", "op", "type", "float range", "overflows", "rel. RMS error"],
        [
            [
                text(r["layer"]),
                r["op"],
                r["type"],
                f"[{r['float_min']:.3g}, {r['float_max']:.3g}]",
                str(r["overflows"]),
                f"{r['relative_rms_error']:.2e}",
            ]
            for r in data["layers"]
        ],
    )


def _scales_table(data: dict, text) -> Table:
    """Each folded scale's codes against the model's own execution (nnfx/report/scales.py)."""
    return (
        "Folded scales: nnfx's codes against the model's own execution",
        ["layer", "quantizer", "scale", "zero point", "codes differ %", "max diff (codes)"],
        [
            [
                text(r["layer"]),
                text(r["onnx_node"]),
                f"{r['scale']:.6g}",
                f"{r['zero_point']:g}",
                f"{100 * r['different_fraction']:.3f}",
                str(r["max_abs_lsb"]),
            ]
            for r in data["folded_scales"]
        ],
    )


def _timing_table(data: dict) -> Table:
    from nnfx.simulation import LATENCY_CALLS, TIMING_BUDGET_S

    def count(n):
        return "-" if n is None else f"{n:,}"

    return (
        f"Latency and throughput — latency: median of up to {LATENCY_CALLS} one-sample calls; "
        f"samples/s: the data repeated to the batch shown, for {TIMING_BUDGET_S:g} s or more",
        ["engine", "batch-1 latency (us)", "samples/s", "batch", "samples timed"],
        [
            [
                r["engine"],
                f"{r['batch1_latency_us']:.3g}",
                f"{r['samples_per_s']:,.0f}",
                count(r.get("batch")),
                count(r.get("samples_timed")),
            ]
            for r in data["timing"]
        ],
    )


ESTIMATE_HEADER = [
    "layer",
    "op",
    "multipliers (in LUTs)",
    "adders",
    "DSP",
    "LUT",
    "FF",
    "BRAM18",
    "latency (cycles)",
    "II",
]


def _estimate_table(est: dict, text) -> Table:
    """The resource estimate per layer, in total (with the share of the part) and the part's
    capacity when known."""
    cap = est["capacity"] or {}
    total = est["total"]

    def pct(key):
        return f" ({100 * total[key] / cap[key]:.1f}% of the part)" if key in cap else ""

    rows = [
        [
            text(r["name"]),
            r["op"],
            f"{r['multipliers']} ({r['lut_multipliers']})",
            str(r["adders"]),
            str(r["dsp"]),
            str(r["lut"]),
            str(r["ff"]),
            str(r["bram18"]),
            str(r["latency_cycles"]),
            str(r["ii_cycles"]),
        ]
        for r in est["layers"]
    ]
    rows.append(
        [
            "total",
            "",
            f"{total['multipliers']} ({total['lut_multipliers']})",
            str(total["adders"]),
            f"{total['dsp']}{pct('dsp')}",
            f"{total['lut']}{pct('lut')}",
            f"{total['ff']}{pct('ff')}",
            f"{total['bram18']}{pct('bram18')}",
            str(total["latency_cycles"]),
            str(total["ii_cycles"]),
        ]
    )
    if cap:
        capacity = [str(cap["dsp"]), str(cap["lut"]), str(cap["ff"]), str(cap["bram18"])]
        rows.append(["part capacity", "", "", "", *capacity, "", ""])
    caption = (
        f"Resource estimate (reuse factor {est['reuse_factor']}, {est['strategy']}, "
        f"{text(est['part'])}) — estimates, not synthesis results"
    )
    return caption, list(ESTIMATE_HEADER), rows


def overflow_note(data: dict, text) -> str:
    """One sentence naming the layers that overflowed and what to try ('' when none did);
    ``text`` escapes the names for the output format."""
    overflowed = [(r["layer"], r["overflows"]) for r in data["layers"] if r["overflows"]]
    if not overflowed:
        return ""
    where = ", ".join(f"{text(layer)} ({n:,} values)" for layer, n in overflowed)
    if data.get("design", {}).get("description", "auto").startswith("auto"):
        hint = (
            "The design's ranges come from the calibration data: calibrate on data that covers "
            "these values, or add integer bits (margin_bits, per-layer types; docs/precision.md)."
        )
    else:
        hint = (
            "Try auto precision (calibrated ranges), a SAT overflow mode or more integer bits "
            "for these layers (docs/precision.md)."
        )
    return f"Overflow: values saturated or wrapped in {where}. {hint}"


HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f2f4f7; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } img { max-width: 100%; }
</style></head>
<body>
{body}
</body></html>
"""
