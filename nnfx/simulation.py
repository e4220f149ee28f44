"""Run a compiled model on data with several engines and compare them.

``nnfx.simulate(compiled, X, y)`` runs each engine on the whole batch (after a warm-up call on
one sample, so that sessions and C-simulation builds stay outside the timing) and returns, per
engine, the raw output codes, the values, the accuracy (with labels), the bit-exact agreement
with the first engine and the time; and the float model's accuracy and time for comparison.
``nnfx simulate`` prints it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnfx.errors import ConfigError

__all__ = ["EngineRun", "Simulation", "simulate"]


@dataclass(frozen=True)
class EngineRun:
    """One engine on the batch: ``raw`` codes by output name (IR layout), ``values`` as
    ``CompiledModel.predict`` gives them, ``accuracy`` (None without labels), ``mismatches``
    (elements whose code differs from the first engine's) and ``seconds`` on the whole batch."""

    engine: str
    raw: dict[str, np.ndarray]
    values: object
    accuracy: float | None
    mismatches: int
    seconds: float
    samples: int

    @property
    def bit_exact(self) -> bool:
        return self.mismatches == 0

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class Simulation:
    """The engines in the order they ran (the first is what the others are compared with), and
    the float model's outputs, accuracy and time on the same batch."""

    samples: int
    runs: tuple[EngineRun, ...]
    float_values: object
    float_accuracy: float | None
    float_seconds: float

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


def simulate(compiled, X, y=None, engines: Sequence[str] = ("reference",)) -> Simulation:
    """Run ``compiled`` (a CompiledModel) on ``X`` (model layout) with each of ``engines``
    (see ``nnfx.compiled.ENGINES``) and compare them with the first; ``y`` (labels) adds the
    accuracies. Engines are checked before any work."""
    from nnfx.compiled import ENGINES
    from nnfx.search import accuracy

    engines = (engines,) if isinstance(engines, str) else tuple(engines)
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ConfigError(
            f"unknown engine(s) {', '.join(unknown)}; available: {', '.join(ENGINES)}"
        )
    if not engines:
        raise ConfigError(f"no engine to run; available: {', '.join(ENGINES)}")
    samples = len(next(iter(compiled.float_model.model_inputs(X).values())))
    start = time.perf_counter()
    float_values = compiled.float_model.predict(X)
    float_seconds = time.perf_counter() - start
    runs: list[EngineRun] = []
    for engine in engines:
        compiled.predict_raw(_first(X), engine)  # warm up: build sessions outside the timing
        start = time.perf_counter()
        raw = compiled.predict_raw(X, engine)
        seconds = time.perf_counter() - start
        values = _values(compiled, raw)
        runs.append(
            EngineRun(
                engine=engine,
                raw=raw,
                values=values,
                accuracy=None if y is None else accuracy(values, y),
                mismatches=count_mismatches(raw, runs[0].raw if runs else raw),
                seconds=seconds,
                samples=samples,
            )
        )
    return Simulation(
        samples=samples,
        runs=tuple(runs),
        float_values=float_values,
        float_accuracy=None if y is None else accuracy(float_values, y),
        float_seconds=float_seconds,
    )


def _first(X):
    """The first sample of ``X`` (an array, or a dict of arrays by input name)."""
    return {k: v[:1] for k, v in X.items()} if isinstance(X, dict) else X[:1]


def _values(compiled, raw: dict[str, np.ndarray]):
    """Raw codes to what ``CompiledModel.predict`` returns, without running the engine again."""
    outputs = {name: compiled._values(name, raw[name]) for name in compiled.graph.outputs}
    return next(iter(outputs.values())) if len(outputs) == 1 else outputs
