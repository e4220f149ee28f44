"""Layers of the NumPy trainer: the base class, Dense, Flatten and Dropout.

Every layer has a ``forward`` that remembers what its ``backward`` needs, and a ``backward``
that receives dL/d(output) and returns dL/d(input), storing dL/d(parameter) on the way. That
is the chain rule, applied one layer at a time from the loss back to the input.

Shapes exclude the batch axis: a layer is built for ``input_shape`` (e.g. ``(64,)`` or
``(1, 8, 8)``) and always receives arrays of shape ``(batch, *input_shape)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnfx.errors import ModelError
from nnfx.trainer.initializers import Initializer, get_initializer
from nnfx.trainer.regularizers import L1L2

Shape = tuple[int, ...]


@dataclass
class Parameter:
    """A trainable tensor with its gradient.

    ``decay`` says whether weight decay and penalties apply: yes for weights and kernels,
    no for biases and normalization scales/shifts (the usual convention of Keras and PyTorch).
    """

    name: str
    value: np.ndarray
    grad: np.ndarray
    regularizer: L1L2 | None = None
    decay: bool = True


class Layer:
    """Base class: a differentiable function of its input and its parameters."""

    def __init__(self, name: str | None = None):
        self.name = name
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.built = False

    # -- construction -------------------------------------------------------------------------
    def build(self, input_shape: Shape, rng: np.random.Generator, dtype: np.dtype) -> Shape:
        """Create the parameters for ``input_shape``; return the output shape."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True
        return self.output_shape

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    # -- computation --------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- state --------------------------------------------------------------------------------
    def parameters(self) -> list[Parameter]:
        """Trainable parameters, in a fixed order."""
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        """Non-trainable state that inference needs (e.g. BatchNorm's running statistics)."""
        return {}

    def set_buffers(self, buffers: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`buffers` returned."""

    def config(self) -> dict:
        """The constructor arguments, for printing and serialization."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def _require_rank(layer: Layer, input_shape: Shape, ranks: tuple[int, ...], hint: str) -> None:
    if len(input_shape) not in ranks:
        raise ModelError(
            f"layer '{layer.name}' ({type(layer).__name__}) got input shape "
            f"{('batch', *input_shape)}; {hint}"
        )


class Dense(Layer):
    """Fully connected layer ``y = x @ W + b`` with ``W`` of shape ``(n_in, units)``.

    Backward, by the chain rule on ``y_k = sum_i x_i W_ik + b_k``:
    ``dL/dW = x^T g``, ``dL/db = sum over the batch of g``, ``dL/dx = g W^T``.
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: str | Initializer = "glorot_uniform",
        bias_initializer: str | Initializer = "zeros",
        kernel_regularizer: L1L2 | None = None,
        name: str | None = None,
    ):
        super().__init__(name)
        if int(units) < 1:
            raise ModelError(f"Dense layer needs at least one unit, got units={units}")
        self.units = int(units)
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self._x: np.ndarray | None = None

    def build(self, input_shape, rng, dtype):
        _require_rank(self, input_shape, (1,), "Dense expects (batch, features); add Flatten first")
        n_in = input_shape[0]
        w = self.kernel_initializer((n_in, self.units), n_in, self.units, rng).astype(dtype)
        self.W = Parameter("W", w, np.zeros_like(w), self.kernel_regularizer, decay=True)
        params = [self.W]
        if self.use_bias:
            b = self.bias_initializer((self.units,), n_in, self.units, rng).astype(dtype)
            self.b = Parameter("b", b, np.zeros_like(b), decay=False)
            params.append(self.b)
        self._params = params
        return super().build(input_shape, rng, dtype)

    def compute_output_shape(self, input_shape):
        return (self.units,)

    def forward(self, x, training=False):
        self._x = x
        y = x @ self.W.value
        if self.use_bias:
            y += self.b.value
        return y

    def backward(self, grad_output):
        self.W.grad = self._x.T @ grad_output
        if self.use_bias:
            self.b.grad = grad_output.sum(axis=0)
        return grad_output @ self.W.value.T

    def parameters(self):
        return self._params

    def config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias}


class Flatten(Layer):
    """Reshape ``(batch, C, H, W)`` to ``(batch, C*H*W)`` in row-major (NCHW) order."""

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output):
        return grad_output.reshape((grad_output.shape[0], *self.input_shape))


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``rate`` and scale the
    survivors by ``1 / (1 - rate)`` so that the expected activation is unchanged; at inference
    the layer is the identity (and is absent from the exported ONNX model)."""

    def __init__(self, rate: float, name: str | None = None):
        super().__init__(name)
        if not 0.0 <= rate < 1.0:
            raise ModelError(f"Dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self._mask: np.ndarray | None = None

    def build(self, input_shape, rng, dtype):
        self._rng = rng
        return super().build(input_shape, rng, dtype)

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.rate
        self._mask = (self._rng.random(x.shape) < keep).astype(x.dtype) / x.dtype.type(keep)
        return x * self._mask

    def backward(self, grad_output):
        return grad_output if self._mask is None else grad_output * self._mask

    def config(self):
        return {"rate": self.rate}
