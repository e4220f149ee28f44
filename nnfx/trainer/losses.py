"""Loss functions: each one's value beside its gradient with respect to the prediction.

Every loss is a mean over the batch, so its gradient carries a ``1 / batch`` factor (and a
``1 / outputs`` factor where the loss also averages over outputs, as MSE does). Targets arrive
already in the prediction's shape (one-hot for categorical losses); ``Sequential`` prepares them.

Two losses *fuse* with the activation before them. Softmax followed by categorical
cross-entropy has the gradient ``(softmax(z) - y) / batch`` with respect to the logits z; the
same holds for a sigmoid followed by binary cross-entropy. Computing it directly from the logits
never divides by a probability that rounded to 0, which is why frameworks offer
``from_logits=True``.
"""

from __future__ import annotations

import numpy as np

from nnfx.errors import ConfigError
from nnfx.trainer.activations import (
    Activation,
    Sigmoid,
    Softmax,
    log_softmax,
    softmax,
    stable_sigmoid,
)

_EPS = 1e-7  # probabilities are clipped to [eps, 1 - eps] before a log (Keras uses 1e-7)


class Loss:
    name: str = ""
    fused_activation: type[Activation] | None = None
    classification: bool = False

    def value(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value_and_gradient_from_logits(self, logits, y_true) -> tuple[float, np.ndarray]:
        """Loss of ``activation(logits)`` and its gradient w.r.t. the logits (fused losses)."""
        raise NotImplementedError(f"{self.name} does not fuse with an activation")


class MeanSquaredError(Loss):
    """``mean((p - y)^2)``; gradient ``2 (p - y) / size``."""

    name = "mse"

    def value(self, y_pred, y_true):
        return float(np.mean(np.square(y_pred - y_true)))

    def gradient(self, y_pred, y_true):
        return (2.0 / y_pred.size) * (y_pred - y_true)


class MeanAbsoluteError(Loss):
    """``mean(|p - y|)``; gradient ``sign(p - y) / size`` (0 where p == y)."""

    name = "mae"

    def value(self, y_pred, y_true):
        return float(np.mean(np.abs(y_pred - y_true)))

    def gradient(self, y_pred, y_true):
        return np.sign(y_pred - y_true) / y_pred.size


class BinaryCrossentropy(Loss):
    """``-mean(y log p + (1 - y) log(1 - p))`` for probabilities p in (0, 1).

    Gradient ``(p - y) / (p (1 - p)) / size``; fused with a sigmoid it is ``(p - y) / size``.
    """

    name = "binary_crossentropy"
    fused_activation = Sigmoid
    classification = True

    def value(self, y_pred, y_true):
        p = np.clip(y_pred, _EPS, 1 - _EPS)
        return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)))

    def gradient(self, y_pred, y_true):
        p = np.clip(y_pred, _EPS, 1 - _EPS)
        return (p - y_true) / (p * (1 - p)) / y_pred.size

    def value_and_gradient_from_logits(self, logits, y_true):
        # log(1 + exp(-|z|)) + max(z, 0) - z y  ==  -(y log s(z) + (1 - y) log(1 - s(z)))
        z = logits
        value = np.mean(np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z))))
        return float(value), (stable_sigmoid(z) - y_true) / z.size


class CategoricalCrossentropy(Loss):
    """``-mean over the batch of sum_k y_k log p_k`` for one-hot (or soft) targets.

    Gradient ``-y / p / batch``; fused with softmax it is ``(softmax(z) - y) / batch``.
    """

    name = "categorical_crossentropy"
    fused_activation = Softmax
    classification = True

    def value(self, y_pred, y_true):
        p = np.clip(y_pred, _EPS, 1.0)
        return float(-np.sum(y_true * np.log(p)) / y_pred.shape[0])

    def gradient(self, y_pred, y_true):
        return -y_true / np.clip(y_pred, _EPS, 1.0) / y_pred.shape[0]

    def value_and_gradient_from_logits(self, logits, y_true):
        batch = logits.shape[0]
        value = -np.sum(y_true * log_softmax(logits, axis=-1)) / batch
        return float(value), (softmax(logits, axis=-1) - y_true) / batch


class Hinge(Loss):
    """``mean(max(0, 1 - y p))`` with labels in {-1, +1} (0/1 labels are mapped to -1/+1).

    Gradient ``-y / size`` where the margin ``y p < 1`` is violated, else 0. The decision
    threshold of a hinge-trained output is 0.
    """

    name = "hinge"
    classification = True

    @staticmethod
    def _signed(y_true):
        return np.where(y_true > 0, 1.0, -1.0).astype(y_true.dtype)

    def value(self, y_pred, y_true):
        return float(np.mean(np.maximum(0.0, 1.0 - self._signed(y_true) * y_pred)))

    def gradient(self, y_pred, y_true):
        y = self._signed(y_true)
        return np.where(y * y_pred < 1.0, -y, 0.0).astype(y_pred.dtype) / y_pred.size


LOSSES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "cce": CategoricalCrossentropy,
    "cross_entropy": CategoricalCrossentropy,
    "hinge": Hinge,
}


def get_loss(name_or_loss: str | Loss) -> Loss:
    if isinstance(name_or_loss, Loss):
        return name_or_loss
    try:
        return LOSSES[str(name_or_loss).lower()]()
    except KeyError:
        raise ConfigError(
            f"unknown loss '{name_or_loss}'; expected one of {', '.join(LOSSES)}"
        ) from None
