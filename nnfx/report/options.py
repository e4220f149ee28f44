"""What a report is built with: the widths to sweep, the design options and the engines to run,
checked in one place before any work."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnfx.errors import ConfigError, DataError


@dataclass(frozen=True)
class ReportOptions:
    """The report's options; ``calibration`` (default: the report's ``X``) is what ``auto``
    precision is calibrated on."""

    precisions: tuple[int, ...] = (6, 8, 10, 12, 16)
    width: int = 16
    reuse_factor: int = 1
    strategy: str = "latency"
    part: str = "xcvu13p-flga2577-2-e"
    clock_period_ns: float = 5.0
    engines: tuple[str, ...] = ("reference", "ort", "csim")
    progress: bool = True
    calibration: object = None

    def __post_init__(self) -> None:
        # checked before the model is loaded: a bad width list needs no model to name it
        precisions = self.precisions
        if not precisions or min(precisions) < 2 or max(precisions) > 32:
            raise ConfigError(f"precisions must be widths from 2 to 32, got {list(precisions)}")

    def calibration_data(self, X):
        """The data ``auto`` precision is calibrated on: ``calibration``, else ``X``."""
        return X if self.calibration is None else self.calibration

    def check(self, model, X, y: np.ndarray | None) -> None:
        """Refuse missing or mismatched labels, non-finite data and bad design options for
        ``model`` before any work (one sentence each)."""
        from nnfx.backends.hls.writer import HlsOptions
        from nnfx.compiler.precision import check_calibration

        _check_labels(model, X, y)
        for data in (X, self.calibration):
            if data is not None:
                check_calibration(model.graph, model.to_ir_inputs(data))
        design = HlsOptions(
            part=self.part,
            clock_period_ns=self.clock_period_ns,
            reuse_factor=self.reuse_factor,
            strategy=self.strategy,
        )
        design.check(model.graph)


def _check_labels(model, X, y) -> None:
    if y is None:
        raise DataError("the report needs labels: give y (an array 'y' in the data file)")
    try:
        inputs = model.model_inputs(X)
    except DataError as e:
        raise DataError(f"report data: {e}") from None
    n = len(next(iter(inputs.values())))
    if len(y) != n:
        raise DataError(f"report data: y has {len(y)} labels but X has {n} samples")
