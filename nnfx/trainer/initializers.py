"""Weight initializers: Xavier/Glorot and He (uniform and normal), orthogonal, zeros, ones.

Each initializer is a function ``(shape, fan_in, fan_out, rng) -> array``. The fans are passed
explicitly because they depend on the layer (a Conv2D kernel's fan-in is ``in_ch * kh * kw``).

Why these scales: Glorot & Bengio (2010) keep the variance of activations *and* gradients
constant through a layer with a symmetric activation, Var(w) = 2 / (fan_in + fan_out).
He et al. (2015) account for ReLU zeroing half of its inputs, Var(w) = 2 / fan_in.
A uniform distribution on [-a, a] has variance a^2 / 3, which gives the uniform limits below.
Saxe et al. (2014) start recurrent weights orthogonal: every singular value is 1, so repeated
multiplication through time neither shrinks nor blows up a state at the start of training.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnfx.errors import ConfigError

Initializer = Callable[[tuple[int, ...], int, int, np.random.Generator], np.ndarray]


def glorot_uniform(shape, fan_in, fan_out, rng):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def glorot_normal(shape, fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def he_uniform(shape, fan_in, fan_out, rng):
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


def he_normal(shape, fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def orthogonal(shape, fan_in, fan_out, rng):
    """A matrix with orthonormal rows or columns (whichever are fewer): the Q of the QR
    decomposition of a Gaussian matrix, its signs fixed by R's diagonal so that Q is uniformly
    distributed (as Keras and PyTorch do). ``shape`` is read as ``(shape[0], rest)``."""
    rows, cols = shape[0], int(np.prod(shape[1:]))
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    return np.ascontiguousarray(q.T if rows < cols else q).reshape(shape)


def zeros(shape, fan_in, fan_out, rng):
    return np.zeros(shape)


def ones(shape, fan_in, fan_out, rng):
    return np.ones(shape)


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "xavier_uniform": glorot_uniform,
    "xavier_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "orthogonal": orthogonal,
    "zeros": zeros,
    "ones": ones,
}


def get_initializer(name_or_fn: str | Initializer) -> Initializer:
    """Look an initializer up by name; a callable is returned unchanged."""
    if callable(name_or_fn):
        return name_or_fn
    try:
        return INITIALIZERS[name_or_fn]
    except KeyError:
        raise ConfigError(
            f"unknown initializer '{name_or_fn}'; expected one of {', '.join(INITIALIZERS)}"
        ) from None
