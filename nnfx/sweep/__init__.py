"""Design-space sweeps: every point of a grid of (policy, width, reuse factor, strategy)
compiled, emulated bit-exactly over the whole evaluation set, scored and estimated, on Ray or
in this process, with the Pareto fronts of accuracy against each estimated resource
(docs/sweep.md).

``nnfx.sweep(model, X, y, "sweep/", widths=range(4, 17))`` (the module is callable: it calls
:func:`sweep`) writes ``sweep/sweep.json`` (after every design, atomically: a killed sweep
resumes where it stopped), ``sweep/report.html`` and ``sweep/pareto.png``.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from nnfx.compiler.estimate import DEFAULT_CLOCK_PERIOD_NS, DEFAULT_PART
from nnfx.sweep.grid import POLICIES, Point, grid, parse_widths
from nnfx.sweep.point import CHUNK_ROWS

__all__ = ["POLICIES", "Point", "SweepResult", "grid", "parse_widths", "sweep"]


@dataclass
class SweepResult:
    folder: Path
    record: dict  # what sweep.json holds
    ran: int = 0  # points run by this call (the others were in sweep.json already)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def points(self) -> list[dict]:
        return self.record["points"]

    @property
    def pareto(self) -> dict[str, list[str]]:
        return self.record["pareto"]


def sweep(
    model_or_path,
    X,
    y,
    output: str | Path = "sweep",
    *,
    widths: Iterable[int] | str = range(4, 17),
    policies: Iterable[str] = ("uniform", "auto"),
    reuse_factors: Iterable[int] = (1,),
    strategies: Iterable[str] = ("latency",),
    calibration=None,
    workers: int | None = None,
    address: str | None = None,
    executor=None,
    part: str = DEFAULT_PART,
    clock_period_ns: float = DEFAULT_CLOCK_PERIOD_NS,
    max_accuracy_drop: float = 1.0,
    task: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: bool = True,
    force: bool = False,
    inputs: Iterable = (),
) -> SweepResult:
    """Run every point of the grid not yet in ``output/sweep.json`` (see docs/sweep.md).

    ``model_or_path``: an ONNX path, ``onnx.ModelProto`` or :class:`nnfx.Model`. ``X``, ``y``:
    the evaluation set (class labels or one-hot rows: accuracy; other targets: MSE; ``task``
    forces which). ``calibration``: inputs (or a .npz with ``X``) that ``auto`` calibrates on
    and ``uniform`` takes its integer bits from (default: the first ``chunk_rows`` samples of
    ``X``). ``workers``: 1 runs in this process; N > 1 runs on Ray with N tasks at a time
    (a local instance of N CPUs, or the cluster at ``address`` / ``RAY_ADDRESS``); None: Ray
    on every CPU when Ray is installed, else in this process. ``executor``: an executor of
    nnfx.sweep.executors instead (kept open). ``output`` is written only when nnfx wrote it or
    it is empty (``force``: also a folder of other files), never when it holds the model or
    one of ``inputs``."""
    from nnfx.files import claim_folder
    from nnfx.sweep import page, store
    from nnfx.sweep.executors import InProcess, make_executor
    from nnfx.sweep.point import run_design

    points = grid(
        parse_widths(widths) if isinstance(widths, str) else widths,
        policies,
        reuse_factors,
        strategies,
    )
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        from nnfx.errors import ConfigError

        raise ConfigError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    job, header = _prepare(
        model_or_path,
        X,
        y,
        calibration,
        task,
        part,
        clock_period_ns,
        max_accuracy_drop,
        chunk_rows,
        any(p.policy == "search" for p in points),
    )
    named = [p for p in (model_or_path, calibration) if isinstance(p, str | Path)]
    folder = claim_folder(output, "sweep", force=force, inputs=(*named, *inputs))
    old_rows, runs = store.load(folder, header)
    rows = {r["key"]: r for r in old_rows}
    todo = [p for p in points if rows.get(p.key, {}).get("status") in (None, "unfinished")]
    groups = list(_designs(todo).values())
    own = executor is None
    if own:  # nothing left to run: no Ray to start
        executor = make_executor(workers, address) if groups else InProcess()
    run = {
        "started": _now(),
        **executor.describe(),
        "designs": len(groups),
        "points": len(todo),
    }
    started = time.perf_counter()
    try:
        job.threads = executor.threads
        shared = executor.put(job)
        with _bar(progress, len(points), len(points) - len(todo)) as advance:
            for i, result in executor.as_completed(run_design, shared, groups):
                for row in _rows(groups[i], result):
                    rows[row["key"]] = row
                run["seconds"] = round(time.perf_counter() - started, 3)
                store.write(folder, header, list(rows.values()), [*runs, run])
                advance(len(groups[i]), groups[i][0])
    finally:
        if own:
            executor.close()
    run["finished"] = _now()
    run["seconds"] = round(time.perf_counter() - started, 3)
    runs = [*runs, run] if todo else runs  # a call that ran nothing is not a run
    path = store.write(folder, header, list(rows.values()), runs)
    import json

    record = json.loads(path.read_text())
    written = {"json": path, **page.write(folder, record)}
    given = Path(output)  # the paths as the caller named them
    files = {kind: given / p.name for kind, p in written.items()}
    return SweepResult(given, record, len(todo), files)


def _designs(points: list[Point]) -> dict:
    from nnfx.sweep.grid import designs

    return designs(points)


def _rows(points: list[Point], result) -> list[dict]:
    """The rows of a design; a task that did not finish (its worker died) fails its points."""
    if not isinstance(result, BaseException):
        return result
    from nnfx.sweep.point import _row

    error = f"the task did not finish: {type(result).__name__}: {str(result).splitlines()[0]}"
    return [_row(p, {"worker": ""}, {}, error=error, status="unfinished") for p in points]


def _prepare(model_or_path, X, y, calibration, task, part, clock, drop, chunk_rows, search):
    """The shared job and sweep.json's header: the inputs checked, the task found, the float
    model scored, the uniform policy's integer bits."""
    import nnfx
    from nnfx import metrics
    from nnfx.compiler.ir import for_message
    from nnfx.compiler.precision import integer_bits
    from nnfx.errors import DataError
    from nnfx.model import Model
    from nnfx.runtime.calibration import observed_ranges
    from nnfx.sweep import store
    from nnfx.sweep.point import Job, rows_of, samples

    model = model_or_path if isinstance(model_or_path, Model) else nnfx.load(model_or_path)
    for name in model.graph.inputs:
        if axis := model.graph.tensors[name].batch_axis:  # the sweep cuts batches on axis 0
            raise DataError(
                f"a sweep reads inputs with the batch first; input '{for_message(name)}' has "
                f"it on axis {axis} (time-major): export the model batch-first"
            )
    X = model.model_inputs(X)
    X = X[model.graph.inputs[0]] if len(X) == 1 else X
    if y is None:
        raise DataError("a sweep needs targets y (labels, one-hot rows or regression targets)")
    y = np.asarray(y)
    n = samples(X)
    if n == 0:
        raise DataError("the evaluation data holds no samples")
    if len(y) != n:
        raise DataError(f"y has {len(y)} targets but X has {n} samples")
    if isinstance(calibration, str | Path):
        from nnfx.trainer.data import read_npz

        arrays = read_npz(str(calibration), "calibration")
        if "X" not in arrays:
            raise DataError(f"calibration file '{calibration}' has no array 'X'")
        calibration = arrays["X"]
    cal = rows_of(X, 0, chunk_rows) if calibration is None else calibration
    try:
        ranges = observed_ranges(model.graph, model.to_ir_inputs(cal))
    except DataError as e:
        raise DataError(f"calibration data: {e}") from None
    widest = max((integer_bits(max(abs(a), abs(b)), True) for a, b in ranges.values()), default=1)
    first = model.predict(rows_of(X, 0, min(n, chunk_rows)))
    task = metrics.detect_task(first, y[: min(n, chunk_rows)], task)
    labels = metrics.labels_for(y, first) if task == "classification" else None
    correct, squared, count = 0, 0.0, 0
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        values = model.predict(rows_of(X, start, stop))
        if labels is not None:
            from nnfx.search import accuracy

            correct += round(accuracy(values, labels[start:stop]) * (stop - start))
        else:
            err = metrics.columns(values)[0] - metrics.targets(y[start:stop], values)
            squared, count = squared + float(np.sum(err**2)), count + err.size
    settings = {"part": part, "clock_period_ns": float(clock), "max_accuracy_drop": float(drop)}
    search_rows = min(n, chunk_rows)
    job = Job(
        model=model,
        X=X,
        y=y,
        task=task,
        labels=labels,
        calibration=cal,
        ranges=ranges,
        search_X=rows_of(X, 0, search_rows) if search else None,
        search_y=(labels if labels is not None else y)[:search_rows] if search else None,
        widest_integer_bits=widest,
        part=part,
        clock_period_ns=float(clock),
        max_accuracy_drop=float(drop),
        chunk_rows=chunk_rows,
        settings=settings,
    )
    source = model_or_path if isinstance(model_or_path, str | Path) else None
    header = {
        "model": Path(source).name if source else model.graph.name,
        "model_sha256": store.model_hash(model_or_path),
        "data_sha256": store.array_hash(X, y),
        "calibration_sha256": store.array_hash(cal),
        "samples": n,
        "task": task,
        **(
            {"float_accuracy": correct / n}
            if task == "classification"
            else {"float_mse": squared / count}
        ),
        "settings": settings,
        "uniform_integer_bits": widest + 1,
    }
    return job, header


class _bar:
    """A progress bar over the sweep's points (nothing when ``enabled`` is false)."""

    def __init__(self, enabled: bool, total: int, done: int):
        self.enabled, self.total, self.done = enabled, total, done

    def __enter__(self):
        if not self.enabled:
            return lambda n, point: None
        from nnfx.ui import progress_bar

        self.progress = progress_bar()
        self.progress.__enter__()
        task = self.progress.add_task("sweep", total=self.total, completed=self.done, status="")
        return lambda n, point: self.progress.update(
            task, advance=n, status=f"{point.policy} {point.width} bits"
        )

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.progress.__exit__(*exc)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _CallableModule(types.ModuleType):
    """This package, callable: ``nnfx.sweep(...)`` is ``nnfx.sweep.sweep(...)``, while
    ``import nnfx.sweep`` still gives the package."""

    def __call__(self, *args, **kwargs) -> SweepResult:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
