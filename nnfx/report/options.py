"""What a report is built with: the design to report (compiled here from a float model, or a
compiled model given as it is), the widths to sweep, the design options, the engines to run and
the task, checked in one place before any work."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnfx.compiler.estimate import DEFAULT_CLOCK_PERIOD_NS, DEFAULT_PART
from nnfx.errors import ConfigError, DataError

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ReportOptions:
    """The report's options; ``calibration`` (default: the report's ``X``) is what ``auto``
    precision is calibrated on. ``precision`` and ``config`` say how a float model is compiled
    (as ``nnfx.compile`` takes them); a compiled model is reported as it is. ``task``
    (classification or regression) forces how ``y`` is read (default: found from ``y``)."""

    precisions: tuple[int, ...] = (6, 8, 10, 12, 16)
    width: int = 16
    reuse_factor: int = 1
    strategy: str = "latency"
    part: str = DEFAULT_PART
    clock_period_ns: float = DEFAULT_CLOCK_PERIOD_NS
    engines: tuple[str, ...] = ("reference", "ort", "csim")
    progress: bool = True
    calibration: object = None
    precision: object = "auto"
    config: object = None
    task: str | None = None
    layer_reuse_factor: dict = field(default_factory=dict)
    layer_strategy: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from nnfx.metrics import check_task

        # checked before the model is loaded: a bad width list needs no model to name it
        precisions = self.precisions
        if precisions and (min(precisions) < 2 or max(precisions) > 32):
            raise ConfigError(f"precisions must be widths from 2 to 32, got {list(precisions)}")
        check_task(self.task)

    def calibration_data(self, X):
        """The data ``auto`` precision is calibrated on: ``calibration``, else ``X``."""
        return X if self.calibration is None else self.calibration

    def hls(self):
        """The HLS options the estimate prices (nnfx.backends.hls.HlsOptions)."""
        from nnfx.backends.hls.writer import HlsOptions

        return HlsOptions(
            part=self.part,
            clock_period_ns=self.clock_period_ns,
            reuse_factor=self.reuse_factor,
            strategy=self.strategy,
            layer_reuse_factor=dict(self.layer_reuse_factor),
            layer_strategy=dict(self.layer_strategy),
        )

    def check(self, model, X, y) -> str:
        """Refuse missing or mismatched targets, non-finite data and bad design options for
        ``model`` before any work (one sentence each); returns the task."""
        from nnfx.compiler.precision import check_calibration
        from nnfx.simulation import Scorer

        _check_labels(model, X, y)
        for data in (X, self.calibration):
            if data is not None:
                check_calibration(model.graph, model.to_ir_inputs(data))
        self.hls().check(model.graph)
        task = Scorer(model.predict(X), y, self.task).task
        assert task is not None
        return task


def design_settings(
    compiled, reuse_factor, strategy, part, clock_period_ns, precision, config
) -> dict:
    """The design options the report uses: those given, else (for a compiled model) those it
    was compiled with where recorded, else the defaults. A compiled model is reported as it
    is: a precision or config given with it is refused."""
    from nnfx.backends.hls.writer import HlsOptions

    default = HlsOptions()
    recorded: dict = {}
    if compiled is not None:
        if precision not in (None, "auto") or config is not None:
            raise ConfigError(
                "a compiled model is reported as it was compiled; precision and config apply "
                "only to a float model (an ONNX file)"
            )
        hls = compiled.options.get("hls")
        recorded = dict(hls) if isinstance(hls, dict) else {}
        recorded.setdefault("reuse_factor", compiled.reuse_factor)
    if isinstance(precision, str | Path) and Path(precision).suffix.lower() in CONFIG_SUFFIXES:
        precision, config = "auto", precision  # a precision config file
    return {
        "reuse_factor": _first(reuse_factor, recorded.get("reuse_factor"), 1),
        "strategy": _first(strategy, recorded.get("strategy"), default.strategy),
        "part": _first(part, recorded.get("part"), default.part),
        "clock_period_ns": _first(
            clock_period_ns, recorded.get("clock_period_ns"), default.clock_period_ns
        ),
        "layer_reuse_factor": dict(recorded.get("layer_reuse_factor") or {}),
        "layer_strategy": dict(recorded.get("layer_strategy") or {}),
        "precision": "auto" if precision is None else precision,
        "config": config,
    }


def _first(*values):
    return next(v for v in values if v is not None)


def _check_labels(model, X, y) -> None:
    if y is None:
        raise DataError("the report needs labels: give y (an array 'y' in the data file)")
    try:
        inputs = model.model_inputs(X)
    except DataError as e:
        raise DataError(f"report data: {e}") from None
    n = model.samples(inputs)
    for targets in y.values() if isinstance(y, dict) else (y,):
        if len(np.asarray(targets)) != n:
            raise DataError(
                f"report data: y has {len(np.asarray(targets))} labels but X has {n} samples"
            )
