"""The fixed-point reference's activation kinds (docs/semantics.md): one function per
:class:`~nnfx.compiler.ops.Activation` in :data:`FIXED_ACTIVATIONS`, each mapping the input
codes ``x`` of type ``t`` to codes of the node's output type.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnfx.compiler import tables
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ops import ACTIVATION_KINDS, Activation
from nnfx.runtime.fixed_core import WIDE, FixedContext, align, exact_ints, magnitude, table_index


def _relu(c: FixedContext, x: np.ndarray, t: FixedType) -> np.ndarray:
    y = np.maximum(x, 0)  # already a code of the type when it is the output type
    return y if t == c.out and c.overflows is None else c.quantize(y, t.frac)


def _leaky_relu(c: FixedContext, x: np.ndarray, t: FixedType) -> np.ndarray:
    w = c.p.type_of("weight")
    x, alpha = exact_ints(magnitude(t) + max(w.frac, magnitude(w)), x, c.const("alpha", w))
    return c.quantize(np.where(x > 0, x << w.frac, x * alpha), t.frac + w.frac)


def _clip(c: FixedContext, x: np.ndarray, t: FixedType) -> np.ndarray:
    y = c.quantize(x, t.frac)
    low = c.const("low", c.out) if "low" in c.node.params else None
    high = c.const("high", c.out) if "high" in c.node.params else None
    return np.clip(y, low, high) if (low is not None or high is not None) else y


def _hard_sigmoid(c: FixedContext, x: np.ndarray, t: FixedType) -> np.ndarray:
    w_t, b_t = c.p.type_of("weight"), c.p.type_of("bias")
    alpha, beta = c.const("alpha", w_t), c.const("beta", b_t)
    frac = t.frac + w_t.frac
    target = max(frac, b_t.frac)
    bound = 1 + max(
        magnitude(t) + magnitude(w_t) + target - frac,
        magnitude(b_t) + target - b_t.frac,
        target,
    )
    x, alpha, beta = exact_ints(bound, x, alpha, beta)
    v = align(x * alpha, frac, target) + align(beta, b_t.frac, target)
    one = 1 << target if bound > WIDE else np.int64(1) << np.int64(target)
    return c.quantize(np.clip(v, 0, one), target)


def _lookup(c: FixedContext, x: np.ndarray, t: FixedType) -> np.ndarray:
    return c.const("table", c.out)[table_index(x, t.frac, c.p.spec("table"))]


def _linear_above(c: FixedContext, x: np.ndarray, t: FixedType) -> np.ndarray:
    """The table below its end, ``Q(x * slope)`` at or above it (docs/semantics.md, Tables):
    elu and the kinds unbounded above. Only the codes above are quantized (the rest as 0),
    so that overflows count the results taken."""
    w = c.p.type_of("weight")
    above = x >= tables.linear_threshold(c.p.spec("table"), t.frac)
    chosen, slope = exact_ints(
        magnitude(t) + max(w.frac, magnitude(w)), np.where(above, x, 0), c.const("slope", w)
    )
    linear = c.quantize(chosen * slope, t.frac + w.frac)
    return np.where(above, linear, _lookup(c, x, t)).astype(np.int64)


FIXED_ACTIVATIONS: dict[Activation, Callable[[FixedContext, np.ndarray, FixedType], np.ndarray]] = {
    Activation.LINEAR: lambda c, x, t: c.quantize(x, t.frac),
    Activation.RELU: _relu,
    Activation.LEAKY_RELU: _leaky_relu,
    Activation.ELU: _linear_above,
    Activation.SIGMOID: _lookup,
    Activation.TANH: _lookup,
    Activation.CLIP: _clip,
    Activation.HARD_SIGMOID: _hard_sigmoid,
    Activation.BIPOLAR: lambda c, x, t: np.where(
        x >= 0, c.const("high", c.out), c.const("low", c.out)
    ),
    **{k: _linear_above for k, p in ACTIVATION_KINDS.items() if p.linear_above},
}
