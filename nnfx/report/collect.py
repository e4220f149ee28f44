"""The report's numbers, gathered in steps: compile, run and time every engine (nnfx.simulate),
sweep the widths, profile each layer and estimate the FPGA design."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from nnfx.report.options import ReportOptions

TIMING_LABELS = {
    "reference": "fixed reference (NumPy)",
    "ort": "fixed ONNX (ORT CPU)",
    "csim": "C-simulation (ac_fixed)",
    "csim-ap": "C-simulation (ap_fixed)",
}


def collect(model, X, y, options: ReportOptions) -> dict:
    """The report's data (what report.json holds) for ``model`` on labelled data."""
    import nnfx
    from nnfx.runtime import reference

    calibration = options.calibration_data(X)
    with _progress(options.progress, 4 + 2 * len(options.precisions)) as step:
        float_values = reference.run(model.graph, model.to_ir_inputs(X), intermediate=True)
        float_acc = _accuracy(_float_ort(model, X), y)
        compiled = nnfx.compile(
            model,
            "auto",
            calibration=calibration,
            width=options.width,
            reuse_factor=options.reuse_factor,
        )
        step("compiled")
        engines, timing = _engine_rows(compiled, X, y, float_acc, options.engines)
        step("engines, timed")
        sweep = _accuracy_sweep(model, X, y, calibration, options.precisions, step)
        layers = _layer_rows(model, compiled, X, float_values)
        step("layers")
        estimate = _estimate(compiled, options)
        timing.append(_fpga_timing(estimate, options.clock_period_ns))
        step("estimate")
    return {
        "model": compiled.graph.name,
        "samples": int(len(y)),
        "width": options.width,
        "reuse_factor": options.reuse_factor,
        "float_accuracy": float_acc,
        "engines": engines,
        "accuracy_vs_width": sweep,
        "layers": layers,
        "timing": timing,
        "estimate": estimate.to_dict(),
        "precision_summary": compiled.layer_table(),
    }


@contextmanager
def _progress(enabled: bool, steps: int) -> Iterator[Callable[[str], None]]:
    """A transient progress bar of ``steps`` steps; yields the function that advances it."""
    if not enabled:
        yield lambda what: None
        return
    from nnfx.ui import progress_bar

    bar = progress_bar(transient=True)
    task = bar.add_task("report", total=steps, status="")
    bar.start()
    try:
        yield lambda what: bar.update(task, advance=1, status=what)
    finally:
        bar.stop()


def _accuracy(outputs, y) -> float:
    from nnfx.search import accuracy

    return accuracy(outputs, y)


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


def _engine_rows(compiled, X, y, float_acc: float, engines) -> tuple[list[dict], list[dict]]:
    """Each engine's accuracy and whether its codes equal the reference's, float first; and
    the timing rows, float on onnxruntime first (both from ``nnfx.simulate``)."""
    import nnfx
    from nnfx.simulation import count_mismatches

    sim = nnfx.simulate(compiled, X, y, engines=engines)
    ref_raw = sim["reference"].raw if "reference" in engines else compiled.predict_raw(X)
    rows = [{"engine": "float", "accuracy": float_acc, "bit_exact": None}]
    rows += [
        {
            "engine": run.engine,
            "accuracy": run.accuracy,
            "bit_exact": None
            if run.engine == "reference"
            else count_mismatches(run.raw, ref_raw) == 0,
        }
        for run in sim.runs
    ]
    timed = [("float (ORT CPU)", sim.float_timing)]
    timed += [(TIMING_LABELS[run.engine], run.timing) for run in sim.runs]
    return rows, [_timing_row(label, t) for label, t in timed if t is not None]


def _timing_row(engine: str, timing) -> dict:
    return {
        "engine": engine,
        "batch1_latency_us": timing.latency_us,
        "samples_per_s": timing.samples_per_second,
        "batch": timing.batch,
        "samples_timed": timing.samples,
    }


def _accuracy_sweep(model, X, y, calibration, precisions, step) -> list[dict]:
    """Accuracy against width for two policies: one type for every tensor (``uniform``, its
    integer bits from the widest calibrated range) and per-tensor calibration (``auto``)."""
    import nnfx
    from nnfx.compiler.precision import integer_bits
    from nnfx.runtime.calibration import observed_ranges

    ranges = observed_ranges(model.graph, model.to_ir_inputs(calibration))
    widest = max((integer_bits(max(abs(a), abs(b)), True) for a, b in ranges.values()), default=1)
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
    return sweep


def _layer_rows(model, compiled, X, float_values) -> list[dict]:
    """Per layer, the inputs' quantization first (it can overflow like any layer): ranges,
    overflows and error against float."""
    from nnfx.runtime.reference_fixed import input_layer, run_fixed

    graph = compiled.graph
    overflows = compiled.overflow_counts(X)
    fixed_raw = run_fixed(graph, compiled.quantize_inputs(X), intermediate=True)
    layers = [
        _layer_row(
            input_layer(name),
            "Input",
            graph.tensors[name].dtype,
            float_values[name],
            fixed_raw[name],
            overflows,
        )
        for name in graph.inputs
    ]
    for node in graph.nodes:
        name = node.outputs[0]
        t = graph.tensors[name].dtype
        if not hasattr(t, "frac"):
            continue
        row = _layer_row(
            node.name, node.op.value, t, float_values[name], fixed_raw[name], overflows
        )
        layers.append({**row, **_weight_profile(model.graph, node)})
    return layers


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


def _estimate(compiled, options: ReportOptions):
    from nnfx.compiler.estimate import estimate

    return estimate(
        compiled.graph,
        options.reuse_factor,
        options.strategy,
        options.clock_period_ns,
        options.part,
    )


def _fpga_timing(estimate, clock_period_ns: float) -> dict:
    """The estimated FPGA design's latency and throughput, as a timing row."""
    total = estimate.total()
    return {
        "engine": f"FPGA estimate at {clock_period_ns:g} ns",
        "batch1_latency_us": total["latency_ns"] / 1000.0,
        "samples_per_s": 1e9 / total["ii_ns"],
        "batch": None,
        "samples_timed": None,
    }
