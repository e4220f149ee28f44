"""Convolution and pooling layers in NCHW layout (as ONNX and PyTorch).

Both are computed through *windows*: ``sliding_window_view`` exposes, without copying, every
``kh x kw`` patch of the padded input, strided by the layer's stride. A convolution is then one
matrix product between the patches ("im2col") and the flattened kernels. Backward scatters the
patch gradients back onto the input ("col2im") with one strided add per kernel position.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnfx.errors import ModelError
from nnfx.trainer.initializers import Initializer, get_initializer
from nnfx.trainer.layers import Layer, Parameter, Shape, _require_rank
from nnfx.trainer.regularizers import L1L2

Pads = tuple[int, int, int, int]  # top, left, bottom, right (ONNX order: begins then ends)


def _pair(value: int | tuple[int, int], what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(int(v) < 0 for v in pair):
        raise ModelError(f"{what} must be a non-negative int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def resolve_padding(
    padding: str | int | tuple[int, int],
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
) -> Pads:
    """Explicit (top, left, bottom, right) pads for ``"valid"``, ``"same"`` or integers.

    ``"same"`` gives ``ceil(size / stride)`` outputs; an odd total pad puts the extra row or
    column at the bottom/right, as TensorFlow and ONNX's ``SAME_UPPER`` do.
    """
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        pads = []
        for n, k, s in zip(size, kernel, stride, strict=True):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
    if isinstance(padding, str):
        raise ModelError(f"padding must be 'valid', 'same' or integers, got '{padding}'")
    ph, pw = _pair(padding, "padding")
    return (ph, pw, ph, pw)


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """View of shape (N, C, H_out, W_out, kh, kw) over an already padded NCHW input."""
    view = sliding_window_view(x, kernel, axis=(2, 3))
    return view[:, :, :: stride[0], :: stride[1]]


def _pad(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    top, left, bottom, right = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _unpad(x: np.ndarray, pads: Pads) -> np.ndarray:
    top, left, bottom, right = pads
    return x[:, :, top : x.shape[2] - bottom, left : x.shape[3] - right]


class _Windowed(Layer):
    """Shared geometry of Conv2D and the pooling layers."""

    kernel_size: tuple[int, int]
    strides: tuple[int, int]
    padding: str | int | tuple[int, int]

    def _geometry(self, input_shape: Shape) -> None:
        _require_rank(self, input_shape, (3,), "expected (batch, channels, height, width)")
        _, h, w = input_shape
        self.pads = resolve_padding(self.padding, (h, w), self.kernel_size, self.strides)
        top, left, bottom, right = self.pads
        kh, kw = self.kernel_size
        if h + top + bottom < kh or w + left + right < kw:
            raise ModelError(
                f"layer '{self.name}' ({type(self).__name__}): kernel {self.kernel_size} is larger "
                f"than the padded input {(h + top + bottom, w + left + right)}"
            )
        self.out_hw = (
            (h + top + bottom - kh) // self.strides[0] + 1,
            (w + left + right - kw) // self.strides[1] + 1,
        )

    def _scatter(self, patch_grads: np.ndarray, padded_shape: tuple[int, ...]) -> np.ndarray:
        """col2im: add each kernel position's gradient back at its strided input location.

        ``patch_grads`` has shape (N, C, H_out, W_out, kh, kw); returns dL/dx unpadded.
        """
        grad = np.zeros(padded_shape, dtype=patch_grads.dtype)
        (sh, sw), (ho, wo) = self.strides, self.out_hw
        for i in range(self.kernel_size[0]):
            for j in range(self.kernel_size[1]):
                grad[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] += patch_grads[..., i, j]
        return _unpad(grad, self.pads)


class Conv2D(_Windowed):
    """2-D convolution (cross-correlation, as every framework) with kernel ``(out, in, kh, kw)``.

    ``y[n, o, p, q] = b[o] + sum_{c, i, j} W[o, c, i, j] * x_pad[n, c, p*sh + i, q*sw + j]``.
    As a matrix product over patches: ``Y = P @ W_flat^T``, so ``dW_flat = G^T P``,
    ``dP = G W_flat`` and dL/dx is ``dP`` scattered back to where each patch came from.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = 1,
        padding: str | int | tuple[int, int] = "valid",
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: str | Initializer = "glorot_uniform",
        bias_initializer: str | Initializer = "zeros",
        kernel_regularizer: L1L2 | None = None,
        name: str | None = None,
    ):
        super().__init__(name)
        if int(filters) < 1:
            raise ModelError(f"Conv2D needs at least one filter, got filters={filters}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        if min(self.kernel_size) < 1 or min(self.strides) < 1:
            raise ModelError("Conv2D kernel_size and strides must be at least 1")
        self.padding = padding
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self.kernel_regularizer = kernel_regularizer

    def build(self, input_shape, rng, dtype):
        self._geometry(input_shape)
        channels = input_shape[0]
        kh, kw = self.kernel_size
        fan_in, fan_out = channels * kh * kw, self.filters * kh * kw
        shape = (self.filters, channels, kh, kw)
        w = self.kernel_initializer(shape, fan_in, fan_out, rng).astype(dtype)
        self.W = Parameter("W", w, np.zeros_like(w), self.kernel_regularizer, decay=True)
        self._params = [self.W]
        if self.use_bias:
            b = self.bias_initializer((self.filters,), fan_in, fan_out, rng).astype(dtype)
            self.b = Parameter("b", b, np.zeros_like(b), decay=False)
            self._params.append(self.b)
        return super().build(input_shape, rng, dtype)

    def compute_output_shape(self, input_shape):
        return (self.filters, *self.out_hw)

    def forward(self, x, training=False):
        xp = _pad(x, self.pads)
        self._padded_shape = xp.shape
        n, (ho, wo) = x.shape[0], self.out_hw
        # (N, Ho, Wo, C, kh, kw) -> one row per output pixel: the im2col matrix P.
        patches = _windows(xp, self.kernel_size, self.strides).transpose(0, 2, 3, 1, 4, 5)
        self._cols = patches.reshape(n * ho * wo, -1)
        y = self._cols @ self.W.value.reshape(self.filters, -1).T
        if self.use_bias:
            y += self.b.value
        return y.reshape(n, ho, wo, self.filters).transpose(0, 3, 1, 2)

    def backward(self, grad_output):
        n, (ho, wo) = grad_output.shape[0], self.out_hw
        g = grad_output.transpose(0, 2, 3, 1).reshape(n * ho * wo, self.filters)
        self.W.grad = (g.T @ self._cols).reshape(self.W.value.shape)
        if self.use_bias:
            self.b.grad = g.sum(axis=0)
        d_cols = g @ self.W.value.reshape(self.filters, -1)
        c = self.input_shape[0]
        d_patches = d_cols.reshape(n, ho, wo, c, *self.kernel_size).transpose(0, 3, 1, 2, 4, 5)
        return self._scatter(d_patches, self._padded_shape)

    def parameters(self):
        return self._params

    def config(self):
        return {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "activation": self.activation,
        }


class _Pool2D(_Windowed):
    def __init__(
        self,
        pool_size: int | tuple[int, int] = 2,
        strides: int | tuple[int, int] | None = None,
        padding: str | int | tuple[int, int] = "valid",
        name: str | None = None,
    ):
        super().__init__(name)
        self.kernel_size = _pair(pool_size, "pool_size")
        self.strides = self.kernel_size if strides is None else _pair(strides, "strides")
        if min(self.kernel_size) < 1 or min(self.strides) < 1:
            raise ModelError("pool_size and strides must be at least 1")
        self.padding = padding

    def build(self, input_shape, rng, dtype):
        self._geometry(input_shape)
        return super().build(input_shape, rng, dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.out_hw)

    def config(self):
        return {"pool_size": self.kernel_size, "strides": self.strides, "padding": self.padding}


class MaxPool2D(_Pool2D):
    """Maximum over each window. Padding counts as -inf (never selected).

    The maximum passes its gradient to the one input that won (the first, on ties, as
    PyTorch): ``dL/dx = g`` at the argmax position, 0 elsewhere.
    """

    def forward(self, x, training=False):
        xp = _pad(x, self.pads, value=-np.inf)
        self._padded_shape = xp.shape
        windows = _windows(xp, self.kernel_size, self.strides)
        flat = windows.reshape(*windows.shape[:4], -1)
        self._argmax = flat.argmax(axis=-1)
        return np.take_along_axis(flat, self._argmax[..., None], axis=-1)[..., 0]

    def backward(self, grad_output):
        kh, kw = self.kernel_size
        positions = np.arange(kh * kw).reshape(kh, kw)
        winners = self._argmax[..., None, None] == positions  # (N, C, Ho, Wo, kh, kw)
        return self._scatter(winners * grad_output[..., None, None], self._padded_shape)


class AvgPool2D(_Pool2D):
    """Mean over each window; zero padding counts in the divisor (PyTorch's default,
    ONNX ``count_include_pad=1``). Each input of a window receives ``g / (kh * kw)``."""

    def forward(self, x, training=False):
        xp = _pad(x, self.pads)
        self._padded_shape = xp.shape
        return _windows(xp, self.kernel_size, self.strides).mean(axis=(-2, -1))

    def backward(self, grad_output):
        kh, kw = self.kernel_size
        share = grad_output / grad_output.dtype.type(kh * kw)
        patch_grads = np.broadcast_to(share[..., None, None], (*share.shape, kh, kw))
        return self._scatter(patch_grads, self._padded_shape)
