"""Callbacks that watch training: early stopping with best-weights restore."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nnfx.errors import ConfigError

if TYPE_CHECKING:
    from nnfx.trainer.model import Sequential


class Callback:
    def on_train_begin(self, model: Sequential) -> None: ...

    def on_epoch_end(self, model: Sequential, epoch: int, logs: dict[str, float]) -> None: ...

    def on_train_end(self, model: Sequential) -> None: ...


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best_weights`` the model ends with the weights of its best epoch.

    ``mode`` is ``min`` (losses, errors), ``max`` (accuracy, F1...) or ``auto`` (max for names
    containing accuracy/precision/recall/f1, min otherwise).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ):
        if mode == "auto":
            higher = ("accuracy", "precision", "recall", "f1")
            mode = "max" if any(w in monitor for w in higher) else "min"
        if mode not in ("min", "max"):
            raise ConfigError(f"EarlyStopping mode must be 'min', 'max' or 'auto', got '{mode}'")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(min_delta)
        self.mode, self.restore_best_weights = mode, restore_best_weights

    def on_train_begin(self, model):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.best_weights = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, model, epoch, logs):
        if self.monitor not in logs:
            raise ConfigError(
                f"EarlyStopping monitors '{self.monitor}' but training logs only "
                f"{', '.join(sorted(logs))}; pass validation data to monitor a val_ metric"
            )
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            model.stop_training = True

    def on_train_end(self, model):
        if self.restore_best_weights and self.best_weights is not None:
            model.set_weights(self.best_weights)
