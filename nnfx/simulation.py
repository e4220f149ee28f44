"""Run a compiled model on data with several engines, compare them and time them.

``nnfx.simulate(compiled, X, y)`` runs each engine on ``X`` (after a warm-up call on one sample,
so that sessions and C-simulation builds stay outside the timing) and returns, per engine, the
raw output codes, the values, the accuracy (with class labels) or the errors (with regression
targets: MSE, MAE, max |error| against ``y`` and against the float model; nnfx.metrics says
which task ``y`` is) and the bit-exact agreement with the first engine, all on ``X`` alone; and
the float model's accuracy or errors for comparison.

Timing is measured apart from ``X``, which is often too small to time (a test split of a few
hundred samples is mostly call overhead). Per engine (and for the float model on onnxruntime):
the batch-1 latency is the median of up to ``LATENCY_CALLS`` single-sample calls; the throughput
is ``X`` repeated to one large batch (up to ``TIMING_BATCH`` samples, smaller where the engine is
too slow to run it within the budget or its tensors would not fit ``MEMORY_BUDGET``), run again
and again until ``timing`` seconds are spent. ``nnfx simulate``, the report and the demo print it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnfx.errors import ConfigError

__all__ = ["EngineRun", "Scorer", "Simulation", "Timing", "simulate"]

TIMING_BATCH = 65_536  # the largest batch throughput is measured on
TIMING_BUDGET_S = 0.2  # per engine: the large batch runs again until this much time is spent
LATENCY_CALLS = 20  # single-sample calls; their median is the batch-1 latency
MEMORY_BUDGET = 1 << 29  # bytes: a timed batch's largest tensor, in int64, three times over
PROBE_BATCH = 1_024  # the first batch of the sizing, which grows it to the large one


@dataclass(frozen=True)
class Timing:
    """How fast an engine ran: ``samples`` samples in ``seconds``, as calls on ``batch``
    samples at a time (the data repeated), and ``latency_s``, the median time of one call on
    one sample."""

    batch: int
    samples: int
    seconds: float
    latency_s: float

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")

    @property
    def latency_us(self) -> float:
        return 1e6 * self.latency_s


@dataclass(frozen=True)
class EngineRun:
    """One engine on the data: ``raw`` codes by output name (IR layout), ``values`` as
    ``CompiledModel.predict`` gives them, ``accuracy`` (None without class labels), ``errors``
    against the regression targets and ``float_errors`` against the float model's outputs
    (both None unless the task is regression; nnfx.metrics.errors), ``mismatches`` (elements
    whose code differs from the first engine's), ``seconds`` on the data itself, and
    ``timing`` (None when not measured)."""

    engine: str
    raw: dict[str, np.ndarray]
    values: object
    accuracy: float | None
    mismatches: int
    seconds: float
    samples: int
    timing: Timing | None = None
    errors: dict | None = None
    float_errors: dict | None = None

    @property
    def bit_exact(self) -> bool:
        return self.mismatches == 0

    @property
    def samples_per_second(self) -> float:
        """The throughput on the large batch when timed, else on the data itself."""
        if self.timing is not None:
            return self.timing.samples_per_second
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class Simulation:
    """The engines in the order they ran (the first is what the others are compared with), and
    the float model's outputs and accuracy (or, for regression, ``float_errors`` against the
    targets) on the same data (the NumPy float reference), with its timing on onnxruntime
    (None when not measured). ``task``: classification, regression, or None without ``y``."""

    samples: int
    runs: tuple[EngineRun, ...]
    float_values: object
    float_accuracy: float | None
    float_seconds: float
    float_timing: Timing | None = None
    task: str | None = None
    float_errors: dict | None = None

    @property
    def engines(self) -> dict[str, EngineRun]:
        return {run.engine: run for run in self.runs}

    def __getitem__(self, engine: str) -> EngineRun:
        return self.engines[engine]

    @property
    def agree(self) -> bool:
        """True when every engine gave the first engine's codes, bit for bit."""
        return all(run.bit_exact for run in self.runs)

    @property
    def float_samples_per_second(self) -> float:
        if self.float_timing is not None:
            return self.float_timing.samples_per_second
        return self.samples / self.float_seconds if self.float_seconds > 0 else float("inf")

    def save(self, path: str | Path) -> Path:
        """Each engine's values to a .npz: ``<engine>.<output>`` (``<engine>.output`` for a
        model with one output)."""
        arrays = {}
        for run in self.runs:
            items = run.values.items() if isinstance(run.values, dict) else [("output", run.values)]
            arrays.update({f"{run.engine}.{name}": value for name, value in items})
        np.savez(path, **arrays)
        return Path(path)


def count_mismatches(raw: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> int:
    """Elements of ``raw`` whose code differs from ``reference``'s, over all outputs."""
    return sum(int(np.count_nonzero(raw[name] != reference[name])) for name in raw)


def simulate(
    compiled,
    X,
    y=None,
    engines: Sequence[str] = ("reference",),
    timing: float | None = TIMING_BUDGET_S,
    task: str | None = None,
) -> Simulation:
    """Run ``compiled`` (a CompiledModel) on ``X`` (model layout) with each of ``engines``
    (see ``nnfx.compiled.ENGINES``) and compare them with the first; ``y`` adds the
    accuracies (class labels: integers or one-hot rows) or the errors (regression targets);
    ``task`` ("classification" or "regression") forces how ``y`` is read, else it is found
    from ``y`` (nnfx.metrics). ``timing`` is the time in seconds each engine's throughput is
    measured for (on ``X`` repeated to a large batch; see the module's docstring); None or 0
    measures nothing. Engines and the task are checked before any work."""
    from nnfx import metrics
    from nnfx.compiled import ENGINES

    engines = (engines,) if isinstance(engines, str) else tuple(engines)
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ConfigError(
            f"unknown engine(s) {', '.join(unknown)}; available: {', '.join(ENGINES)}"
        )
    if not engines:
        raise ConfigError(f"no engine to run; available: {', '.join(ENGINES)}")
    metrics.check_task(task)
    inputs = compiled.float_model.model_inputs(X)
    samples = compiled.float_model.samples(inputs)
    start = time.perf_counter()
    float_values = compiled.float_model.predict(X)
    float_seconds = time.perf_counter() - start
    score = Scorer(float_values, y, task)
    timed = bool(timing) and samples > 0
    max_batch = _max_batch(compiled.graph) if timed else 0
    runs: list[EngineRun] = []
    axes = {k: compiled.graph.tensors[k].batch_axis for k in inputs}  # timed batch-first
    batch_first = {k: np.moveaxis(np.asarray(v), axes[k], 0) for k, v in inputs.items()}
    for engine in engines:
        compiled.predict_raw(_first(compiled, inputs), engine)  # warm up: sessions, builds
        start = time.perf_counter()
        raw = compiled.predict_raw(X, engine)
        seconds = time.perf_counter() - start
        values = _values(compiled, raw)
        measured = None
        if timed:
            rate = samples / max(seconds, 1e-9)
            run = functools.partial(compiled.predict_raw, engine=engine)
            given = functools.partial(_as_given, axes=axes)
            measured = _measure(run, given, batch_first, timing, max_batch, rate)
        runs.append(
            EngineRun(
                engine=engine,
                raw=raw,
                values=values,
                accuracy=score.accuracy(values),
                mismatches=count_mismatches(raw, runs[0].raw if runs else raw),
                seconds=seconds,
                samples=samples,
                timing=measured,
                errors=score.errors(values),
                float_errors=score.float_errors(values),
            )
        )
    float_timing = None
    if timed:
        rate = samples / max(float_seconds, 1e-9)
        float_timing = _float_timing(compiled, batch_first, timing, max_batch, rate, axes)
    return Simulation(
        samples=samples,
        runs=tuple(runs),
        float_values=float_values,
        float_accuracy=score.accuracy(float_values),
        float_seconds=float_seconds,
        float_timing=float_timing,
        task=score.task,
        float_errors=score.errors(float_values),
    )


class Scorer:
    """The metrics of outputs against ``y`` for its task (found from ``y`` and the float
    model's outputs ``float_values``, or forced by ``task``): accuracy for classification,
    errors against the targets and against the float outputs for regression; None where a
    metric does not apply (no ``y``, or the other task). Bad targets are refused here, with
    one sentence, before any engine runs."""

    def __init__(self, float_values, y, task: str | None = None):
        from nnfx import metrics

        self.float_values = float_values
        self.task = None if y is None else metrics.detect_task(float_values, y, task)
        self.labels = self.targets = None
        if self.task == "classification":
            self.labels = metrics.labels_for(y, float_values)
        elif self.task == "regression":
            self.targets = metrics.targets(y, float_values)
            self.float_columns = metrics.columns(float_values)[0]

    def accuracy(self, values) -> float | None:
        from nnfx.search import accuracy

        return None if self.labels is None else accuracy(values, self.labels)

    def errors(self, values) -> dict | None:
        from nnfx import metrics

        return None if self.targets is None else metrics.errors(values, self.targets)

    def float_errors(self, values) -> dict | None:
        from nnfx import metrics

        return None if self.targets is None else metrics.errors(values, self.float_columns)


def _measure(
    run: Callable, prepare: Callable, inputs: dict, budget: float, max_batch: int, rate: float
) -> Timing:
    """The batch-1 latency and the large-batch throughput of ``run`` on ``inputs`` (model
    inputs by name, repeated to each batch and given to ``run`` through ``prepare``); ``rate``
    (samples/s seen on the data itself) keeps the first batch of the sizing short."""
    one = prepare(_tile(inputs, 1))
    latencies: list[float] = []
    start = time.perf_counter()
    while len(latencies) < LATENCY_CALLS and (
        len(latencies) < 3 or time.perf_counter() - start < budget / 4
    ):
        latencies.append(_seconds(run, one))
    # sizing: the batch grows until one call takes about half the budget (or reaches
    # max_batch); its last call is the warm-up of the batch that is then timed
    batch = max(1, min(max_batch, PROBE_BATCH, int(rate * budget / 4)))
    data = prepare(_tile(inputs, batch))
    took = _seconds(run, data)
    while batch < max_batch and took < budget / 4:
        batch = min(max_batch, max(2 * batch, int(batch * budget / 2 / max(took, 1e-9))))
        data = prepare(_tile(inputs, batch))
        took = _seconds(run, data)
    done, seconds = 0, 0.0
    while seconds < budget:
        seconds += _seconds(run, data)
        done += batch
    return Timing(batch=batch, samples=done, seconds=seconds, latency_s=float(np.median(latencies)))


def _float_timing(
    compiled, inputs: dict, budget: float, max_batch: int, rate: float, axes: dict
) -> Timing:
    """The float model's timing on onnxruntime (the optimized float IR exported to ONNX)."""
    from nnfx.backends.onnx import to_float_onnx
    from nnfx.runtime.ort import session

    sess = session(to_float_onnx(compiled.float_model.graph))
    names = [i.name for i in sess.get_inputs()]

    def feeds(data: dict) -> dict:
        return {
            n: np.moveaxis(np.asarray(v, np.float32), 0, axes[k])
            for n, (k, v) in zip(names, data.items(), strict=True)
        }

    return _measure(lambda f: sess.run(None, f), feeds, inputs, budget, max_batch, rate)


def _max_batch(graph) -> int:
    """The largest batch to time: ``TIMING_BATCH``, less where the largest tensor of a sample
    would make a batch outgrow ``MEMORY_BUDGET``."""
    largest = max((t.size for t in graph.tensors.values()), default=1)
    return max(1, min(TIMING_BATCH, MEMORY_BUDGET // (3 * 8 * max(largest, 1))))


def _tile(inputs: dict, n: int) -> dict:
    """``inputs`` (arrays by name, samples first) repeated or cut to ``n`` samples."""
    return {k: np.resize(v, (n, *v.shape[1:])) for k, v in inputs.items()}


def _as_given(data: dict, axes: dict):
    """Batch-first inputs as ``CompiledModel.predict_raw`` takes them (the batch moved back to
    each input's ``batch_axis``, given in ``axes``): one array or a dict."""
    data = {k: np.moveaxis(v, 0, axes[k]) for k, v in data.items()}
    return next(iter(data.values())) if len(data) == 1 else data


def _seconds(run: Callable, data) -> float:
    start = time.perf_counter()
    run(data)
    return time.perf_counter() - start


def _first(compiled, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The first sample of model-layout ``inputs`` by name (on each input's batch axis)."""
    tensors = compiled.graph.tensors
    return {k: np.take(v, [0], axis=tensors[k].batch_axis) for k, v in inputs.items()}


def _values(compiled, raw: dict[str, np.ndarray]):
    """Raw codes to what ``CompiledModel.predict`` returns, without running the engine again."""
    outputs = {name: compiled._values(name, raw[name]) for name in compiled.graph.outputs}
    return next(iter(outputs.values())) if len(outputs) == 1 else outputs
