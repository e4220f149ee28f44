"""Batch normalization (Ioffe & Szegedy, 2015), for feature vectors and for NCHW images.

Training normalizes with the statistics of the current batch and updates running averages;
inference uses the running averages, so the layer becomes a fixed per-channel affine map
``y = gamma * (x - mean) / sqrt(var + eps) + beta`` (which the compiler later folds into the
preceding Dense or Conv).
"""

from __future__ import annotations

import numpy as np

from nnfx.errors import ModelError
from nnfx.trainer.layers import Layer, Parameter


class BatchNorm(Layer):
    """Normalize each feature (rank-1 input) or each channel (rank-3 NCHW input).

    ``momentum`` weights the old running value: ``running = momentum * running + (1 -
    momentum) * batch`` (Keras' convention; PyTorch's ``momentum=0.1`` is ours 0.9). The running
    variance uses the unbiased batch variance, as PyTorch does.

    Backward, with ``xhat = (x - mu) / s``, ``s = sqrt(var + eps)``, m values per channel and
    ``d = g * gamma``: ``dx = (d - mean(d) - xhat * mean(d * xhat)) / s`` — the batch mean and
    variance depend on every x, which is where the two subtracted terms come from.
    """

    expected_rank: tuple[int, ...] = (1, 3)

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-5, name: str | None = None):
        super().__init__(name)
        if not 0.0 <= momentum < 1.0:
            raise ModelError(f"BatchNorm momentum must be in [0, 1), got {momentum}")
        if epsilon <= 0:
            raise ModelError(f"BatchNorm epsilon must be positive, got {epsilon}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape, rng, dtype):
        if len(input_shape) not in self.expected_rank:
            raise ModelError(
                f"layer '{self.name}' ({type(self).__name__}) got input shape "
                f"{('batch', *input_shape)}; expected rank "
                f"{' or '.join(str(r + 1) for r in self.expected_rank)} with the batch axis"
            )
        channels = input_shape[0]
        # Reduce over the batch (and the spatial axes for images); broadcast per channel.
        self._axes = (0,) if len(input_shape) == 1 else (0, 2, 3)
        self._bshape = (1, channels) + (1,) * (len(input_shape) - 1)
        one, zero = np.ones(channels, dtype), np.zeros(channels, dtype)
        self.gamma = Parameter("gamma", one.copy(), zero.copy(), decay=False)
        self.beta = Parameter("beta", zero.copy(), zero.copy(), decay=False)
        self.running_mean = zero.copy()
        self.running_var = one.copy()
        return super().build(input_shape, rng, dtype)

    def forward(self, x, training=False):
        self._training = training
        if training:
            mean = x.mean(axis=self._axes)
            var = x.var(axis=self._axes)
            m = x.size // x.shape[1]
            unbiased = var * (m / max(m - 1, 1))
            a = self.momentum
            self.running_mean = (a * self.running_mean + (1 - a) * mean).astype(x.dtype)
            self.running_var = (a * self.running_var + (1 - a) * unbiased).astype(x.dtype)
        else:
            mean, var = self.running_mean, self.running_var
        self._inv_std = (1.0 / np.sqrt(var + self.epsilon)).astype(x.dtype).reshape(self._bshape)
        self._xhat = (x - mean.reshape(self._bshape)) * self._inv_std
        return self.gamma.value.reshape(self._bshape) * self._xhat + self.beta.value.reshape(
            self._bshape
        )

    def backward(self, grad_output):
        xhat = self._xhat
        self.gamma.grad = (grad_output * xhat).sum(axis=self._axes)
        self.beta.grad = grad_output.sum(axis=self._axes)
        d = grad_output * self.gamma.value.reshape(self._bshape)
        if not self._training:  # fixed statistics: a plain per-channel affine map
            return d * self._inv_std
        mean_d = d.mean(axis=self._axes, keepdims=True)
        mean_dx = (d * xhat).mean(axis=self._axes, keepdims=True)
        return (d - mean_d - xhat * mean_dx) * self._inv_std

    def parameters(self):
        return [self.gamma, self.beta]

    def buffers(self):
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def set_buffers(self, buffers: dict[str, np.ndarray]) -> None:
        self.running_mean = buffers["running_mean"].copy()
        self.running_var = buffers["running_var"].copy()

    def config(self):
        return {"momentum": self.momentum, "epsilon": self.epsilon}


class BatchNorm1D(BatchNorm):
    """BatchNorm over feature vectors ``(batch, features)``."""

    expected_rank = (1,)


class BatchNorm2D(BatchNorm):
    """BatchNorm over images ``(batch, channels, height, width)``, one statistic per channel."""

    expected_rank = (3,)
