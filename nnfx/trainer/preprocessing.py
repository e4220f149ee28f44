"""``Standardize``: the standardization ``(x - mean) / std`` as the model's first layer, so that
the model (and its ONNX file: ``Sub`` then ``Div``) takes the raw features a user has.

The constants are fixed (a :class:`~nnfx.trainer.data.Standardizer` fitted on the training
split); nothing here is trained. Backward is ``dL/dx = g / std``.
"""

from __future__ import annotations

import numpy as np

from nnfx.errors import ModelError
from nnfx.trainer.layers import Layer


class Standardize(Layer):
    """``(x - mean) / std`` per feature (``mean``, ``std`` of the input's shape, or broadcast
    to it); a constant feature's ``std`` of 0 is taken as 1 (only centred)."""

    def __init__(self, mean, std, name: str | None = None):
        super().__init__(name)
        self.mean = np.asarray(mean, np.float64)
        std = np.asarray(std, np.float64)
        self.std = np.where(std > 0, std, 1.0)

    def build(self, input_shape, rng, dtype):
        try:
            np.broadcast_shapes(self.mean.shape, self.std.shape, tuple(input_shape))
        except ValueError:
            raise ModelError(
                f"layer '{self.name}' (Standardize): mean {self.mean.shape} and std "
                f"{self.std.shape} do not broadcast to the input shape {tuple(input_shape)}"
            ) from None
        self._set_constants(dtype)
        return super().build(input_shape, rng, dtype)

    def _set_constants(self, dtype) -> None:
        # The constants as the float32 ONNX file holds them, in the model's dtype: a float64
        # model computes (x - m32) / s32 in float64, one rounding, as a compiler folding the
        # step into its float64 input quantization would.
        self._mean = self.mean.astype(np.float32).astype(dtype)
        self._std = self.std.astype(np.float32).astype(dtype)

    def forward(self, x, training=False):
        return (x - self._mean) / self._std

    def backward(self, grad_output):
        return grad_output / self._std

    def buffers(self):
        return {"mean": self.mean, "std": self.std}

    def set_buffers(self, buffers):
        self.mean = np.asarray(buffers["mean"], np.float64)
        self.std = np.asarray(buffers["std"], np.float64)
        self._set_constants(self._mean.dtype)
