"""The work of one design (a policy at a width; see nnfx.sweep.grid): compile it, emulate it
bit-exactly over the whole evaluation set in chunks, score it, and estimate it once per point
(reuse factor, strategy). Runs the same in the calling process or in a Ray task: everything it
needs comes in one :class:`Job`, and every failure becomes the rows' error sentence."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from nnfx.sweep.grid import Point

CHUNK_ROWS = 65536  # rows emulated at a time: memory stays flat on evaluation sets of any size


@dataclass
class Job:
    """What every design of a sweep shares (put once into Ray's object store)."""

    model: object  # nnfx.Model
    X: object  # evaluation inputs: an array, or a dict by input name
    y: np.ndarray
    task: str  # "classification" or "regression"
    labels: np.ndarray | None  # classification: y as integer labels
    calibration: object  # inputs the auto policy (and the search's compiles) calibrate on
    ranges: dict  # what a float run over ``calibration`` observed: auto calibrates once
    search_X: object  # the precision search's data and labels
    search_y: np.ndarray | None
    widest_integer_bits: int  # the uniform policy's integer bits (the widest calibrated range)
    part: str
    clock_period_ns: float
    max_accuracy_drop: float = 1.0
    chunk_rows: int = CHUNK_ROWS
    threads: int = 0  # onnxruntime threads per design (0: one per core)
    settings: dict = field(default_factory=dict)


def samples(X) -> int:
    return len(next(iter(X.values()))) if isinstance(X, dict) else len(X)


def rows_of(X, start: int, stop: int):
    """Rows ``start:stop`` of inputs given as an array or a dict of arrays."""
    if isinstance(X, dict):
        return {k: v[start:stop] for k, v in X.items()}
    return X[start:stop]


def run_design(job: Job, points: list[Point]) -> list[dict]:
    """One row per point (in the order given), each with the design's accuracy (or MSE), its
    estimate and the time spent; a failure is recorded as the rows' ``error``."""
    from nnfx.errors import NnfxError

    seconds: dict[str, float] = {}
    base: dict = {"worker": f"{socket.gethostname()}:{os.getpid()}"}
    cpu = time.process_time()  # this process's CPU time (every thread's), beside the wall time
    try:
        started = time.perf_counter()
        compiled, extra = compile_design(job, points[0])
        seconds["compile"] = time.perf_counter() - started
        started = time.perf_counter()
        measured = emulate(job, compiled)
        seconds["emulate"] = time.perf_counter() - started
        seconds["cpu"] = time.process_time() - cpu
    except Exception as e:  # noqa: BLE001  (a failed design is a row, never the sweep's end)
        error = str(e) if isinstance(e, NnfxError) else f"{type(e).__name__}: {e}"
        return [_row(p, base, seconds, error=error) for p in points]
    from nnfx.report.sweep import describe, type_widths

    widths = type_widths(compiled)
    base.update(
        design=extra.get("design") or describe(compiled),
        type_widths=[min(widths, default=0), max(widths, default=0)],
        **measured,
    )
    rows = []
    for point in points:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            totals = estimate(job, compiled, point)
        except Exception as e:  # noqa: BLE001
            error = str(e) if isinstance(e, NnfxError) else f"{type(e).__name__}: {e}"
            rows.append(_row(point, base, {**seconds, "estimate": 0.0}, error=error))
            continue
        spent = {
            **seconds,
            "estimate": time.perf_counter() - started,
            "cpu": seconds["cpu"] + time.process_time() - cpu,  # the design's, and this estimate
        }
        rows.append(_row(point, base, spent, **totals))
    return rows


def compile_design(job: Job, point: Point):
    """The point's fixed-point design and what to record about how it was found."""
    import nnfx

    w = point.width
    if point.policy == "uniform":
        integer = min(job.widest_integer_bits + 1, w)  # + 1: the sign bit
        return nnfx.compile(job.model, f"fixed<{w},{integer},RND,SAT>"), {}
    if point.policy == "auto":
        return nnfx.compile(job.model, "auto", width=w, ranges=job.ranges), {}
    from nnfx.search import search_precision

    if w > 32:
        from nnfx.errors import PrecisionError

        raise PrecisionError(f"the precision search starts at most at 32 bits, not {w}")
    found = search_precision(
        job.model, job.search_X, job.search_y, job.max_accuracy_drop, widths=range(w, 33)
    )
    compiled = nnfx.compile(job.model, precision=found.config, calibration=job.search_X)
    layers = found.config.layers
    design = f"search from {w} bits: auto at {found.config.width} bits" + (
        f", {len(layers)} layer(s) narrower" if layers else ""
    )
    return compiled, {"design": design, "search_trials": len(found.trials)}


def emulate(job: Job, compiled) -> dict:
    """Accuracy (classification) or MSE (regression) of the design over all of ``job.X``, run
    chunk by chunk through the fastest bit-exact engine: the fixed-point ONNX model on
    onnxruntime (CUDA first where present), else the NumPy reference (a design whose values
    float64 cannot carry exactly has no fixed-point ONNX model)."""
    from nnfx.errors import PrecisionError, UnsupportedOpError

    try:
        runner, engine = _ort_runner(compiled, job.threads)
    except (PrecisionError, UnsupportedOpError):
        runner, engine = compiled.predict, "reference"
    n = samples(job.X)
    correct, squared, count = 0, 0.0, 0
    for start in range(0, n, job.chunk_rows):
        stop = min(start + job.chunk_rows, n)
        values = runner(rows_of(job.X, start, stop))
        if job.task == "classification":
            from nnfx.search import accuracy

            assert job.labels is not None
            correct += round(accuracy(values, job.labels[start:stop]) * (stop - start))
        else:
            from nnfx import metrics

            err = metrics.columns(values)[0] - metrics.targets(job.y[start:stop], values)
            squared += float(np.sum(err**2))
            count += err.size
    if job.task == "classification":
        return {"engine": engine, "accuracy": correct / n if n else float("nan")}
    return {"engine": engine, "mse": squared / count if count else float("nan")}


def _ort_runner(compiled, threads: int):
    """A function from model-layout inputs to the design's outputs (as ``predict`` gives
    them), on a session of the fixed-point ONNX model: ``threads`` concurrent calls of
    cache-sized chunks on the CPU (0: one per core), or CUDA."""
    from nnfx.compiler.fixed import to_float, to_raw
    from nnfx.compiler.ir import INTEGER
    from nnfx.compiler.layout import to_ir
    from nnfx.runtime.ort import engine_session, run_batched

    sess, rows, workers = engine_session(compiled.fixed_onnx(), threads)
    names = [i.name for i in sess.get_inputs()]  # in the order of the graph's inputs
    graph, model = compiled.graph, compiled.float_model

    def run(X):
        inputs = compiled.checked_inputs(X)
        feeds = dict(zip(names, (inputs[k] for k in graph.inputs), strict=True))
        outputs = {}
        for name, values in zip(
            graph.outputs, run_batched(sess, feeds, rows, workers=workers), strict=True
        ):
            t = graph.tensors[name]
            ir = to_ir(values, t.onnx_perm, t.batch_axis)
            # the codes the reference gives, then its values (predict's own conversion)
            if t.dtype == INTEGER:
                outputs[name] = model.from_ir_output(name, ir.astype(np.int64))
            else:
                raw = to_raw(ir, t.dtype.frac)
                outputs[name] = model.from_ir_output(name, to_float(raw, t.dtype.frac))
        return next(iter(outputs.values())) if len(outputs) == 1 else outputs

    return run, f"ort:{sess.get_providers()[0]}"


def estimate(job: Job, compiled, point: Point) -> dict:
    import nnfx

    total = nnfx.estimate(
        compiled.graph,
        reuse_factor=point.reuse_factor,
        strategy=point.strategy,
        clock_period_ns=job.clock_period_ns,
        part=job.part,
    ).total()
    keys = ("lut", "dsp", "ff", "bram18", "latency_cycles", "ii_cycles", "latency_ns", "ii_ns")
    return {k: total[k] for k in keys}


def _row(
    point: Point,
    base: dict,
    seconds: dict,
    error: str | None = None,
    status: str = "",
    **values,
) -> dict:
    """A point's row; ``status`` "ok" or "failed" from ``error`` unless given ("unfinished":
    its task never returned, and a resume runs it again)."""
    return {
        "key": point.key,
        "policy": point.policy,
        "width": point.width,
        "reuse_factor": point.reuse_factor,
        "strategy": point.strategy,
        "status": status or ("failed" if error else "ok"),
        "error": error,
        **({k: v for k, v in base.items() if k != "worker"} if not error else {}),
        **values,
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "worker": base["worker"],
        "finished": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
    }
