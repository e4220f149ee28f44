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


def collect(model, design, X, y, options: ReportOptions, task: str) -> dict:
    """The report's data (what report.json holds) for ``design`` (a CompiledModel reported as
    it is; None: ``model`` compiled here as ``options`` say) on data with targets ``y``."""
    import nnfx
    from nnfx.report.layers import layer_rows
    from nnfx.report.sweep import design_row, width_sweep
    from nnfx.runtime import reference
    from nnfx.simulation import Scorer

    calibration = options.calibration_data(X)
    with _progress(options.progress, 4 + 2 * len(options.precisions)) as step:
        float_values = reference.run(model.graph, model.to_ir_inputs(X), intermediate=True)
        score = Scorer(_float_ort(model, X), y, task)
        given = design is not None
        if design is None:
            design = nnfx.compile(
                model,
                options.precision,
                calibration=calibration,
                width=options.width,
                reuse_factor=options.reuse_factor,
                config=options.config,
            )
        step("compiled" if not given else "loaded")
        sim = nnfx.simulate(design, X, y, engines=options.engines, task=task)
        engines, timing = _engine_rows(design, X, sim, score)
        step("engines, timed")
        chosen = design_row(design, sim, X, score, given)
        sweep, note = width_sweep(model, X, score, calibration, options, sim, given, step)
        layers = layer_rows(model, design, X, float_values)
        step("layers")
        estimate = options.hls().estimate(design.graph)
        timing.append(_fpga_timing(estimate, options.clock_period_ns))
        step("estimate")
    data = {
        "model": design.graph.name,
        "samples": sim.samples,
        "task": task,
        "width": chosen["width"],
        "reuse_factor": options.reuse_factor,
        "design": chosen,
        "float_accuracy": score.accuracy(score.float_values),
        "engines": engines,
        "accuracy_vs_width": sweep,
        "layers": layers,
        "timing": timing,
        "estimate": estimate.to_dict(),
        "precision_summary": design.layer_table(),
    }
    if note:
        data["sweep_note"] = note
    if folded := _folded_scales(model, design, X):
        data["folded_scales"] = folded
    if task == "regression":
        data["float_errors"] = score.errors(score.float_values)
    return data


def _folded_scales(model, design, X) -> list[dict]:
    """Per quantizer whose scale nnfx folded, its codes against the ONNX model's own execution
    (nnfx/report/scales.py); empty when the model came from no ONNX file or folds none, and
    for a QONNX model when qonnx (which runs it) is not installed."""
    if not str(model.source).endswith(".onnx"):
        return []
    import onnx

    from nnfx.report.scales import scale_differences

    try:
        return scale_differences(design, onnx.load(model.source), X)
    except ImportError:
        return []


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


def _engine_rows(compiled, X, sim, score) -> tuple[list[dict], list[dict]]:
    """Each engine's accuracy (or, for regression, errors against ``y`` and against float)
    and whether its codes equal the reference's, float (on onnxruntime) first; and the timing
    rows, float on onnxruntime first (both from ``nnfx.simulate``'s ``sim``)."""
    from nnfx.simulation import count_mismatches

    engines = sim.engines
    ref_raw = engines["reference"].raw if "reference" in engines else compiled.predict_raw(X)
    rows = [_row("float", score.accuracy(score.float_values), None)]
    if score.task == "regression":
        rows[0]["errors"] = score.errors(score.float_values)
    for run in sim.runs:
        exact = None if run.engine == "reference" else count_mismatches(run.raw, ref_raw) == 0
        row = _row(run.engine, run.accuracy, exact)
        if score.task == "regression":
            row["errors"], row["vs_float"] = run.errors, run.float_errors
        rows.append(row)
    timed = [("float (ORT CPU)", sim.float_timing)]
    timed += [(TIMING_LABELS[run.engine], run.timing) for run in sim.runs]
    return rows, [_timing_row(label, t) for label, t in timed if t is not None]


def _row(engine: str, accuracy, bit_exact) -> dict:
    return {"engine": engine, "accuracy": accuracy, "bit_exact": bit_exact}


def _timing_row(engine: str, timing) -> dict:
    return {
        "engine": engine,
        "batch1_latency_us": timing.latency_us,
        "samples_per_s": timing.samples_per_second,
        "batch": timing.batch,
        "samples_timed": timing.samples,
    }


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
