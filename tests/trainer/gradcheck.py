"""Central finite differences in float64: the independent oracle for every backward pass."""

from __future__ import annotations

import numpy as np

EPS = 1e-6


def numerical_gradient(f, x: np.ndarray, indices=None) -> np.ndarray:
    """dF/dx at ``x`` by central differences (``f`` takes no argument and reads ``x``)."""
    grad = np.zeros_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        old = flat[i]
        flat[i] = old + EPS
        up = f()
        flat[i] = old - EPS
        down = f()
        flat[i] = old
        out[i] = (up - down) / (2 * EPS)
    return grad


def built(layer, input_shape, rng):
    """``layer`` built in float64 for ``input_shape``, its parameters drawn from a standard
    normal (non-trivial values: biases start at zero)."""
    layer.name = layer.name or type(layer).__name__.lower()
    layer.build(input_shape, rng, np.dtype(np.float64))
    for p in layer.parameters():
        p.value[...] = rng.standard_normal(p.value.shape)
    return layer


def check_layer(layer, x: np.ndarray, rng, training: bool = True, before_forward=None):
    """Compare the layer's backward with finite differences of ``sum(forward(x) * g)``
    for the input and every parameter; returns the worst relative error."""
    before_forward = before_forward or (lambda: None)
    before_forward()
    y = layer.forward(x, training=training)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    analytic = {"input": dx, **{p.name: p.grad.copy() for p in layer.parameters()}}

    def objective():
        before_forward()
        return float(np.sum(layer.forward(x, training=training) * g))

    numeric = {"input": numerical_gradient(objective, x)}
    for p in layer.parameters():
        numeric[p.name] = numerical_gradient(objective, p.value)
    worst = 0.0
    for key, value in analytic.items():
        expected = numeric[key]
        assert value.shape == expected.shape, key
        scale = max(np.max(np.abs(expected)), 1e-3)
        err = float(np.max(np.abs(value - expected)) / scale)
        assert err < 1e-6, f"{type(layer).__name__} d/d{key}: relative error {err:.2e}"
        worst = max(worst, err)
    return worst
