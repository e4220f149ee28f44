"""The accuracy/latency comparison report: what a user decides bit widths and reuse factors from.

``nnfx.report(model, X, y, "report/")`` writes ``report.html`` (one self-contained file, plots
embedded), ``report.md`` (plots beside it as PNG) and ``report.json``:

- accuracy of every engine (float on onnxruntime, fixed reference, C-simulation, fixed ONNX)
  with their bit-exact agreement;
- accuracy against bit width for two policies — one type for every tensor (``uniform``, its
  integer bits from the widest calibrated range) and per-tensor calibration (``auto``) — with
  float as a line;
- per layer (the quantization of each input first, as ``input '<name>'``): the float values'
  range against the layer's type range, overflow counts, and the relative RMS error against
  float;
- latency and throughput: onnxruntime float (batch 1 and large batch), fixed ONNX on
  onnxruntime, the C-simulation, and the estimated FPGA latency and II at the clock;
- the resource estimate per layer and in total, against the part's capacity.
"""

from __future__ import annotations

import base64
import io
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnfx.errors import ConfigError, DataError
from nnfx.text import html_text, markdown, plot_label

LARGE_BATCH = 20_000
ENGINE_LABELS = {
    "float": "float (onnxruntime)",
    "reference": "fixed point: NumPy reference",
    "ort": "fixed point: ONNX on onnxruntime",
    "csim": "fixed point: HLS C-simulation (ac_fixed)",
    "csim-ap": "fixed point: HLS C-simulation (ap_fixed)",
}


@dataclass
class Report:
    folder: Path
    data: dict
    files: dict[str, Path] = field(default_factory=dict)


def _accuracy(outputs, y) -> float:
    from nnfx.compiler.search import accuracy

    return accuracy(outputs, y)


def _timed(fn, repeats: int = 3) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def _check_inputs(model, X, y) -> None:
    if y is None:
        raise DataError("the report needs labels: give y (an array 'y' in the data file)")
    try:
        inputs = model.model_inputs(X)
    except DataError as e:
        raise DataError(f"report data: {e}") from None
    n = len(next(iter(inputs.values())))
    if len(y) != n:
        raise DataError(f"report data: y has {len(y)} labels but X has {n} samples")


def report(
    model_or_path,
    X,
    y,
    output: str | Path = "report",
    precisions: tuple[int, ...] = (6, 8, 10, 12, 16),
    width: int = 16,
    reuse_factor: int = 1,
    strategy: str = "latency",
    part: str = "xcvu13p-flga2577-2-e",
    clock_period_ns: float = 5.0,
    engines: tuple[str, ...] = ("reference", "ort", "csim"),
    progress: bool = True,
    calibration=None,
    *,
    force: bool = False,
    inputs: Iterable = (),
) -> Report:
    """Build the report for a model (path, ModelProto or loaded Model) on labelled data.
    ``calibration`` (default: ``X``) is what ``auto`` precision is calibrated on. ``output``
    is replaced only when nnfx wrote it or it is empty (``force``: also a folder of other
    files), and never when it holds the model file or one of ``inputs`` (see nnfx.files)."""
    import nnfx
    from nnfx.compiler.estimate import estimate
    from nnfx.model import Model

    if not precisions or min(precisions) < 2 or max(precisions) > 32:
        raise ConfigError(f"precisions must be widths from 2 to 32, got {list(precisions)}")
    model = model_or_path if isinstance(model_or_path, Model) else nnfx.load(model_or_path)
    y = None if y is None else np.asarray(y).reshape(-1)
    _check_inputs(model, X, y)
    _check_finite_and_options(model, X, calibration, reuse_factor, strategy, part, clock_period_ns)
    from nnfx.files import staged_directory

    folder = Path(output)
    if isinstance(model_or_path, str | Path):
        inputs = (model_or_path, *inputs)
    with staged_directory(folder, "report", force=force, inputs=inputs) as staging:
        data, images = _collect(
            model,
            X,
            y,
            precisions,
            width,
            reuse_factor,
            strategy,
            part,
            clock_period_ns,
            engines,
            progress,
            estimate,
            X if calibration is None else calibration,
        )
        files = _write(staging, data, images)
    return Report(folder, data, {k: folder / v.name for k, v in files.items()})


def _check_finite_and_options(model, X, calibration, reuse_factor, strategy, part, clock_ns):
    """Refuse non-finite data and bad design options before any work (one sentence each)."""
    from nnfx.backends.hls.writer import HlsOptions
    from nnfx.compiler.precision import check_calibration

    for data in (X, calibration):
        if data is not None:
            check_calibration(model.graph, model.to_ir_inputs(data))
    options = HlsOptions(
        part=part, clock_period_ns=clock_ns, reuse_factor=reuse_factor, strategy=strategy
    )
    options.check(model.graph)


def _collect(
    model,
    X,
    y,
    precisions,
    width,
    reuse_factor,
    strategy,
    part,
    clock,
    engines,
    progress,
    estimate,
    calibration,
):
    import nnfx
    from nnfx.compiler.precision import integer_bits, observed_ranges
    from nnfx.runtime import reference
    from nnfx.runtime.reference_fixed import input_layer, run_fixed
    from nnfx.ui import progress_bar

    steps = 4 + 2 * len(precisions)
    bar = progress_bar(transient=True) if progress else None
    task = bar.add_task("report", total=steps, status="") if bar else None
    if bar:
        bar.start()

    def step(what: str) -> None:
        if bar:
            bar.update(task, advance=1, status=what)

    try:
        ir_inputs = model.to_ir_inputs(X)
        float_values = reference.run(model.graph, ir_inputs, intermediate=True)
        float_acc = _accuracy(_float_ort(model, X), y)
        compiled = nnfx.compile(
            model, "auto", calibration=calibration, width=width, reuse_factor=reuse_factor
        )
        step("compiled")
        # engines and their agreement
        rows = [{"engine": "float", "accuracy": float_acc, "bit_exact": None}]
        ref_raw = compiled.predict_raw(X)
        for engine in engines:
            raw = ref_raw if engine == "reference" else compiled.predict_raw(X, engine)
            exact = all(np.array_equal(raw[k], ref_raw[k]) for k in ref_raw)
            values = {k: compiled._values(k, v) for k, v in raw.items()}
            out = next(iter(values.values())) if len(values) == 1 else values
            rows.append(
                {
                    "engine": engine,
                    "accuracy": _accuracy(out, y),
                    "bit_exact": None if engine == "reference" else exact,
                }
            )
        step("engines")
        # accuracy against width, two policies
        ranges = observed_ranges(model.graph, model.to_ir_inputs(calibration))
        widest = max(
            (integer_bits(max(abs(a), abs(b)), True) for a, b in ranges.values()), default=1
        )
        sweep = []
        for w in precisions:
            uniform = nnfx.compile(model, f"fixed<{w},{min(widest + 1, w)},RND,SAT>")
            sweep.append(
                {"width": w, "policy": "uniform", "accuracy": _accuracy(uniform.predict(X), y)}
            )
            step(f"uniform {w} bits")
            auto = nnfx.compile(model, "auto", calibration=calibration, width=w)
            sweep.append({"width": w, "policy": "auto", "accuracy": _accuracy(auto.predict(X), y)})
            step(f"auto {w} bits")
        # per layer: ranges, overflows, error against float
        overflows = compiled.overflow_counts(X)
        fixed_raw = run_fixed(compiled.graph, compiled.quantize_inputs(X), intermediate=True)
        # the inputs' quantization first: it can overflow like any layer
        layers = [
            _layer_row(
                input_layer(name),
                "Input",
                compiled.graph.tensors[name].dtype,
                float_values[name],
                fixed_raw[name],
                overflows,
            )
            for name in compiled.graph.inputs
        ]
        for node in compiled.graph.nodes:
            name = node.outputs[0]
            t = compiled.graph.tensors[name].dtype
            if not hasattr(t, "frac"):
                continue
            row = _layer_row(
                node.name, node.op.value, t, float_values[name], fixed_raw[name], overflows
            )
            layers.append({**row, **_weight_profile(model.graph, node)})
        step("layers")
        timing = _timing(model, compiled, X, engines)
        est = estimate(compiled.graph, reuse_factor, strategy, clock, part)
        timing.append(
            {
                "engine": f"FPGA estimate at {clock:g} ns",
                "batch1_latency_us": est.total()["latency_ns"] / 1000.0,
                "samples_per_s": 1e9 / est.total()["ii_ns"],
            }
        )
        step("timing")
    finally:
        if bar:
            bar.stop()
    data = {
        "model": compiled.graph.name,
        "samples": int(len(y)),
        "width": width,
        "reuse_factor": reuse_factor,
        "float_accuracy": float_acc,
        "engines": rows,
        "accuracy_vs_width": sweep,
        "layers": layers,
        "timing": timing,
        "estimate": est.to_dict(),
        "precision_summary": compiled.layer_table(),
    }
    images = {
        "accuracy_vs_width.png": _plot_sweep(sweep, float_acc),
        "layer_ranges.png": _plot_ranges(layers),
        "layer_error.png": _plot_error(layers),
    }
    return data, images


def _float_ort(model, X):
    """The float model's outputs on onnxruntime (the optimized float IR exported to ONNX)."""
    from nnfx.backends.onnx import to_float_onnx
    from nnfx.runtime.ort import session

    sess = session(to_float_onnx(model.graph))
    names = [i.name for i in sess.get_inputs()]
    inputs = model.model_inputs(X)
    feeds = {n: np.asarray(v, np.float32) for n, v in zip(names, inputs.values(), strict=True)}
    outputs = sess.run(None, feeds)
    named = dict(zip([o.name for o in sess.get_outputs()], outputs, strict=True))
    return outputs[0] if len(outputs) == 1 else named


def _layer_row(layer: str, op: str, t, f: np.ndarray, raw: np.ndarray, overflows) -> dict:
    """One layer's float values ``f`` against its type ``t`` and its fixed codes ``raw``."""
    from nnfx.compiler.fixed import to_float

    fixed = to_float(raw, t.frac)
    rms = float(np.sqrt(np.mean(f**2))) or 1.0
    return {
        "layer": layer,
        "op": op,
        "type": str(t),
        "type_min": t.min,
        "type_max": t.max,
        "lsb": t.step,
        "float_min": float(f.min()),
        "float_max": float(f.max()),
        "float_abs_p99": float(np.percentile(np.abs(f), 99)),
        "overflows": int(overflows.get(layer, 0)),
        "underflow_fraction": float(np.mean((np.abs(f) < t.step / 2) & (f != 0))),
        "relative_rms_error": float(np.sqrt(np.mean((fixed - f) ** 2)) / rms),
    }


def _weight_profile(float_graph, node) -> dict:
    """The float weights of a layer against its weight type (empty for layers without)."""
    p = node.precision
    if "weight" not in node.params or p is None or p.weight is None:
        return {}
    w = np.abs(float_graph.node(node.name).param(float_graph, "weight"))
    t = p.weight
    return {
        "weight_type": str(t),
        "weight_type_max": max(abs(t.min), abs(t.max)),
        "weight_lsb": t.step,
        "weight_abs_p99": float(np.percentile(w, 99)),
        "weight_abs_max": float(w.max()),
        "weight_underflow_fraction": float(np.mean((w < t.step / 2) & (w != 0))),
    }


def _timing(model, compiled, X, engines) -> list[dict]:
    from nnfx.backends.onnx import to_float_onnx
    from nnfx.runtime.ort import session

    inputs = model.model_inputs(X)
    big = {
        k: np.resize(v, (LARGE_BATCH, *v.shape[1:])).astype(np.float32) for k, v in inputs.items()
    }
    one = {k: v[:1] for k, v in big.items()}
    sess = session(to_float_onnx(model.graph))
    names = [i.name for i in sess.get_inputs()]
    feeds_big = dict(zip(names, big.values(), strict=True))
    feeds_one = dict(zip(names, one.values(), strict=True))
    sess.run(None, feeds_one)
    rows = [
        {
            "engine": "float (ORT CPU)",
            "batch1_latency_us": 1e6 * _timed(lambda: sess.run(None, feeds_one), 50),
            "samples_per_s": LARGE_BATCH / _timed(lambda: sess.run(None, feeds_big)),
        }
    ]
    labels = {
        "reference": "fixed reference (NumPy)",
        "ort": "fixed ONNX (ORT CPU)",
        "csim": "C-simulation (ac_fixed)",
        "csim-ap": "C-simulation (ap_fixed)",
    }
    for engine in engines:
        X_one = {k: v[:1] for k, v in inputs.items()}
        X_big = {k: np.resize(v, (LARGE_BATCH, *v.shape[1:])) for k, v in inputs.items()}
        single = X_one if len(X_one) > 1 else next(iter(X_one.values()))
        batch = X_big if len(X_big) > 1 else next(iter(X_big.values()))
        compiled.predict_raw(single, engine)
        rows.append(
            {
                "engine": labels[engine],
                "batch1_latency_us": 1e6
                * _timed(lambda s=single, e=engine: compiled.predict_raw(s, e), 20),
                "samples_per_s": LARGE_BATCH
                / _timed(lambda b=batch, e=engine: compiled.predict_raw(b, e), 1),
            }
        )
    return rows


# -- plots -----------------------------------------------------------------------------------
def _figure(width=6.4, height=3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _plot_sweep(sweep, float_acc) -> bytes:
    fig, ax = _figure()
    for policy, marker in (("uniform", "s"), ("auto", "o")):
        points = [(s["width"], 100 * s["accuracy"]) for s in sweep if s["policy"] == policy]
        ax.plot(*zip(*points, strict=True), marker=marker, label=policy)
    ax.axhline(100 * float_acc, color="black", linestyle="--", label="float")
    ax.set_xlabel("total bits")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title("Accuracy against bit width")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def _plot_ranges(layers) -> bytes:
    rows = []  # (label, lsb, type max, p99, max)
    for layer in layers:
        top = max(abs(layer["type_min"]), abs(layer["type_max"]))
        peak = max(abs(layer["float_min"]), abs(layer["float_max"]))
        label = plot_label(layer["layer"])
        overflowed = f" ({layer['overflows']:,} overflowed)" if layer["overflows"] else ""
        rows.append((label + overflowed, layer["lsb"], top, layer["float_abs_p99"], peak))
        if "weight_type" in layer:
            rows.append(
                (
                    f"{label} weights",
                    layer["weight_lsb"],
                    layer["weight_type_max"],
                    layer["weight_abs_p99"],
                    layer["weight_abs_max"],
                )
            )
    fig, ax = _figure(7.0, 0.4 * len(rows) + 1.5)
    for i, (_, lsb, top, p99, peak) in enumerate(rows):
        first = i == 0
        ax.plot(
            [math.log2(lsb), math.log2(top)],
            [i, i],
            color="tab:blue",
            lw=8,
            alpha=0.3,
            solid_capstyle="butt",
            label="type: LSB to largest value" if first else None,
        )
        ax.plot(
            [math.log2(p99 or lsb)],
            [i],
            "o",
            color="tab:green",
            label="99% of |x|" if first else None,
        )
        ax.plot(
            [math.log2(peak or lsb)], [i], "x", color="tab:red", label="max |x|" if first else None
        )
    ax.set_yticks(np.arange(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("log2 |value|: right of the bar overflows, left of it underflows to 0")
    ax.set_title("Float activations and weights against their fixed-point types")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return _png(fig)


def _plot_error(layers) -> bytes:
    fig, ax = _figure()
    ax.bar(range(len(layers)), [max(layer["relative_rms_error"], 1e-12) for layer in layers])
    ax.set_yscale("log")
    labels = [plot_label(layer["layer"]) for layer in layers]
    ax.set_xticks(range(len(layers)), labels, rotation=45, ha="right")
    ax.set_ylabel("relative RMS error vs float")
    ax.set_title("Error after each layer")
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


# -- writing ---------------------------------------------------------------------------------
def _tables(data, text=str) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report's tables; ``text`` renders what came from the model or the user (names, the
    part) for the output format."""
    est = data["estimate"]
    cap = est["capacity"] or {}
    total = est["total"]

    def pct(key):
        return f" ({100 * total[key] / cap[key]:.1f}% of the part)" if key in cap else ""

    return [
        (
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
        ),
        (
            "Accuracy against bit width",
            ["total bits", "uniform %", "auto %"],
            [
                [
                    str(w),
                    *(
                        f"{100 * s['accuracy']:.2f}"
                        for s in data["accuracy_vs_width"]
                        if s["width"] == w
                    ),
                ]
                for w in sorted({s["width"] for s in data["accuracy_vs_width"]})
            ],
        ),
        (
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
        ),
        (
            "Latency and throughput",
            ["engine", "batch-1 latency (us)", "samples/s"],
            [
                [r["engine"], f"{r['batch1_latency_us']:.3g}", f"{r['samples_per_s']:,.0f}"]
                for r in data["timing"]
            ],
        ),
        (
            f"Resource estimate (reuse factor {est['reuse_factor']}, {est['strategy']}, "
            f"{text(est['part'])}) — estimates, not synthesis results",
            [
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
            ],
            [
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
            + [
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
            ]
            + (
                [
                    [
                        "part capacity",
                        "",
                        "",
                        "",
                        str(cap["dsp"]),
                        str(cap["lut"]),
                        str(cap["ff"]),
                        str(cap["bram18"]),
                        "",
                        "",
                    ]
                ]
                if cap
                else []
            ),
        ),
    ]


def _overflow_note(data: dict, text) -> str:
    """One sentence naming the layers that overflowed and what to try ('' when none did);
    ``text`` escapes the names for the output format."""
    overflowed = [(r["layer"], r["overflows"]) for r in data["layers"] if r["overflows"]]
    if not overflowed:
        return ""
    where = ", ".join(f"{text(layer)} ({n:,} values)" for layer, n in overflowed)
    return (
        f"Overflow: values saturated or wrapped in {where}. The design's ranges come from the "
        "calibration data: calibrate on data that covers these values, or add integer bits "
        "(margin_bits, per-layer types; docs/precision.md)."
    )


def _write(folder: Path, data: dict, images: dict[str, bytes]) -> dict[str, Path]:
    tables = _tables(data)
    title = f"nnfx report: {data['model']}"  # model text: escaped for each format below
    summary = (
        f"{data['samples']} samples; float accuracy {100 * data['float_accuracy']:.2f}%; "
        f"compiled at auto precision, {data['width']} bits."
    )
    figures = [
        ("accuracy_vs_width.png", "Accuracy against bit width"),
        ("layer_ranges.png", "Float values against each layer's type"),
        ("layer_error.png", "Relative RMS error after each layer"),
    ]
    for name, png in images.items():
        (folder / name).write_bytes(png)
    md = [f"# {markdown(title)}", "", summary, ""]
    if note := _overflow_note(data, markdown):
        md += [f"**{note}**", ""]
    for caption, header, rows in _tables(data, markdown):
        md += [f"## {caption}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        md += ["| " + " | ".join(row) + " |" for row in rows]
        md.append("")
    md += [f"![{caption}]({name})\n" for name, caption in figures]
    (folder / "report.md").write_text("\n".join(md))
    (folder / "report.json").write_text(json.dumps(data, indent=1, default=float) + "\n")
    parts = [f"<h1>{html_text(title)}</h1>", f"<p>{html_text(summary)}</p>"]
    if note := _overflow_note(data, html_text):
        parts.append(f"<p><strong>{note}</strong></p>")
    for caption, header, rows in tables:
        parts.append(
            f"<h2>{html_text(caption)}</h2><table><thead><tr>"
            + "".join(f"<th>{html_text(h)}</th>" for h in header)
            + "</tr></thead><tbody>"
            + "".join(
                "<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in row) + "</tr>" for row in rows
            )
            + "</tbody></table>"
        )
    for name, caption in figures:
        encoded = base64.b64encode(images[name]).decode()
        parts.append(
            f"<figure><img alt='{html_text(caption)}' "
            f"src='data:image/png;base64,{encoded}'><figcaption>{html_text(caption)}"
            "</figcaption></figure>"
        )
    # one pass: the title goes into the template, the body after it, so that text from the
    # model (a "{body}" in its name) is never substituted again
    head, tail = HTML_PAGE.split("{body}")
    page = head.replace("{title}", html_text(title)) + "\n".join(parts) + tail
    (folder / "report.html").write_text(page)
    return {
        "html": folder / "report.html",
        "markdown": folder / "report.md",
        "json": folder / "report.json",
    }


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
<script>
// Marks the page once every image has decoded (used by the rendering test).
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-loaded", ok ? images.length : -1);
});
</script>
</body></html>
"""
