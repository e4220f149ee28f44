"""Learning-rate schedules: the learning rate as a function of the (0-based) epoch.

``fit`` asks the optimizer's schedule for the rate at the start of every epoch, and records
it in the history (``history["lr"]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nnfx.errors import ConfigError


class Schedule:
    def __call__(self, epoch: int) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Schedule):
    learning_rate: float

    def __call__(self, epoch):
        return self.learning_rate


@dataclass(frozen=True)
class StepDecay(Schedule):
    """Multiply the rate by ``factor`` every ``every`` epochs: ``lr0 * factor^floor(e / every)``."""

    initial: float
    factor: float = 0.5
    every: int = 10

    def __call__(self, epoch):
        return self.initial * self.factor ** (epoch // self.every)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """Smooth decay ``lr0 * rate^epoch``."""

    initial: float
    rate: float = 0.96

    def __call__(self, epoch):
        return self.initial * self.rate**epoch


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """Half a cosine from ``lr0`` at epoch 0 down to ``minimum`` at ``epochs`` (and after)."""

    initial: float
    epochs: int
    minimum: float = 0.0

    def __call__(self, epoch):
        progress = min(epoch, self.epochs) / self.epochs
        return self.minimum + 0.5 * (self.initial - self.minimum) * (
            1 + math.cos(math.pi * progress)
        )


def as_schedule(learning_rate: float | Schedule) -> Schedule:
    if isinstance(learning_rate, Schedule):
        return learning_rate
    if not isinstance(learning_rate, int | float) or not learning_rate > 0:
        raise ConfigError(f"learning rate must be a positive number, got {learning_rate!r}")
    return Constant(float(learning_rate))


SCHEDULES = ("constant", "step", "exponential", "cosine")


def make_schedule(name: str, learning_rate: float, epochs: int) -> Schedule:
    """A schedule by name with sensible defaults for a run of ``epochs`` epochs (CLI helper)."""
    if name == "constant":
        return Constant(learning_rate)
    if name == "step":
        return StepDecay(learning_rate, factor=0.5, every=max(epochs // 3, 1))
    if name == "exponential":
        return ExponentialDecay(learning_rate, rate=0.01 ** (1 / max(epochs, 1)))
    if name == "cosine":
        return CosineDecay(learning_rate, epochs=max(epochs, 1))
    raise ConfigError(f"unknown schedule '{name}'; expected one of {', '.join(SCHEDULES)}")
