"""Activation layers. Each one's forward sits beside its derivative.

For an element-wise ``y = f(x)`` the chain rule gives ``dL/dx = dL/dy * f'(x)``; where
``f'`` is cheaper to write in terms of ``y`` (sigmoid, tanh, ELU) we keep ``y`` instead of ``x``.
Softmax is not element-wise: each output depends on every input of its row, so its backward
is a Jacobian-vector product, ``dL/dx = y * (g - sum(g * y))``.
"""

from __future__ import annotations

import numpy as np

from nnfx.errors import ConfigError
from nnfx.trainer.layers import Layer


class Activation(Layer):
    """Base class of the activation layers (no parameters, shape-preserving)."""

    onnx_op: str = ""


class Linear(Activation):
    """The identity ``y = x``; ``y' = 1``."""

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output


class ReLU(Activation):
    """``y = max(x, 0)``; ``y' = 1 if x > 0 else 0`` (0 at x = 0, as PyTorch and Keras)."""

    onnx_op = "Relu"

    def forward(self, x, training=False):
        self._positive = x > 0
        return np.where(self._positive, x, x.dtype.type(0))

    def backward(self, grad_output):
        return grad_output * self._positive


class LeakyReLU(Activation):
    """``y = x if x > 0 else alpha * x``; ``y' = 1 or alpha``."""

    onnx_op = "LeakyRelu"

    def __init__(self, alpha: float = 0.01, name: str | None = None):
        super().__init__(name)
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        self._positive = x > 0
        return np.where(self._positive, x, x * x.dtype.type(self.alpha))

    def backward(self, grad_output):
        return grad_output * np.where(self._positive, 1.0, self.alpha).astype(grad_output.dtype)

    def config(self):
        return {"alpha": self.alpha}


class ELU(Activation):
    """``y = x if x > 0 else alpha * (exp(x) - 1)``; ``y' = 1 or y + alpha``."""

    onnx_op = "Elu"

    def __init__(self, alpha: float = 1.0, name: str | None = None):
        super().__init__(name)
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        self._positive = x > 0
        # expm1 on min(x, 0) avoids overflow warnings for large positive x.
        negative = self.alpha * np.expm1(np.minimum(x, 0))
        self._y = np.where(self._positive, x, negative.astype(x.dtype))
        return self._y

    def backward(self, grad_output):
        return grad_output * np.where(self._positive, 1.0, self._y + self.alpha).astype(
            grad_output.dtype
        )

    def config(self):
        return {"alpha": self.alpha}


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow: uses ``exp(x) / (1 + exp(x))`` for x < 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class Sigmoid(Activation):
    """``y = 1 / (1 + exp(-x))``; ``y' = y (1 - y)``."""

    onnx_op = "Sigmoid"

    def forward(self, x, training=False):
        self._y = stable_sigmoid(x)
        return self._y

    def backward(self, grad_output):
        return grad_output * self._y * (1.0 - self._y)


class Tanh(Activation):
    """``y = tanh(x)``; ``y' = 1 - y^2``."""

    onnx_op = "Tanh"

    def forward(self, x, training=False):
        self._y = np.tanh(x)
        return self._y

    def backward(self, grad_output):
        return grad_output * (1.0 - self._y * self._y)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax with the row maximum subtracted first, so ``exp`` never overflows."""
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(softmax(x))`` computed as ``z - log(sum(exp(z)))``, never taking log of 0."""
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


class Softmax(Activation):
    """``y_i = exp(x_i) / sum_j exp(x_j)`` over the last axis.

    Jacobian ``dy_i/dx_j = y_i (delta_ij - y_j)``, so ``dL/dx = y * (g - sum_j g_j y_j)``.
    Followed by categorical cross-entropy, the model skips this and uses the fused gradient
    ``(y - target) / batch`` (see ``nnfx.trainer.losses``).
    """

    onnx_op = "Softmax"

    def forward(self, x, training=False):
        self._y = softmax(x, axis=-1)
        return self._y

    def backward(self, grad_output):
        y = self._y
        return y * (grad_output - (grad_output * y).sum(axis=-1, keepdims=True))


ACTIVATIONS: dict[str, type[Activation]] = {
    "linear": Linear,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "softmax": Softmax,
}


def get_activation(name: str) -> Activation:
    """A fresh activation layer from its name (``relu``, ``tanh``, ...)."""
    key = name.lower().replace("-", "_")
    if key == "leakyrelu":
        key = "leaky_relu"
    try:
        return ACTIVATIONS[key]()
    except KeyError:
        raise ConfigError(
            f"unknown activation '{name}'; expected one of {', '.join(ACTIVATIONS)}"
        ) from None
