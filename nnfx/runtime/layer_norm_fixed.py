"""The fixed-point reference's LayerNorm (docs/semantics.md): exact sums over the last axis,
the inverse square root from the table on the normalized sum of squares, the normalized value
quantized to its internal type, then ``Q(z * scale + bias)``. :mod:`nnfx.compiler.layer_norm`
holds the constants and the bounds this kernel sizes its integers by."""

from __future__ import annotations

import numpy as np

from nnfx.compiler.fixed import requantize
from nnfx.compiler.layer_norm import bounds, table_log2
from nnfx.runtime.fixed_core import WIDE, FixedContext, align, exact_ints, magnitude


def normalized(c: FixedContext, x: np.ndarray) -> np.ndarray:
    """``z_i = Q_z(d_i * T[u] * 2**-(s/2))``: codes of the normalized value's type."""
    a, p = c.node.attrs, c.p
    t_type, z_type = p.type_of("table_type"), p.type_of("inverse_type")
    size = p.spec("table").size
    e = int(c.node.constant(c.graph, "epsilon")[0])  # an integer in float64: exact
    b = bounds(c.types[0], a.size, e, size)
    wide = max(b.total, b.deviation + magnitude(t_type)) > WIDE
    (x,) = exact_ints(WIDE + 1 if wide else 0, x)
    total = x.sum(axis=-1, keepdims=True)  # S, exact
    d = x * a.size - total  # n X_i - S, exact
    u = (d * d).sum(axis=-1, keepdims=True) + (e if wide else np.int64(e))  # U = V + E
    half = np.zeros(u.shape, np.int64)  # s / 2: how many thresholds 2**(M + 2j) U reaches
    size_log2 = table_log2(size)
    for j in range(b.steps):
        half += np.asarray(u >= (1 << (size_log2 + 2 * j)), dtype=bool)
    shifts = 2 * half.astype(object) if wide else 2 * half
    index = np.asarray(u >> shifts).astype(np.int64)
    product = d * c.const("table", t_type)[index]  # d_i * T[u], exact
    z = np.zeros(product.shape, np.int64)
    for h in np.unique(half):  # the rows of one shift: product * 2**-(F_T + h) into z's type
        rows = np.broadcast_to(half == h, product.shape)
        z = np.where(rows, requantize(np.where(rows, product, 0), t_type.frac + int(h), z_type), z)
    return z


def layer_norm(c: FixedContext, inputs: list[np.ndarray]) -> np.ndarray:
    """``y = Q(z * scale + bias)``, exact product and sum (as BatchNorm's)."""
    p = c.p
    z_type, s_type, b_type = p.type_of("inverse_type"), p.type_of("weight"), p.type_of("bias")
    z = normalized(c, inputs[0])
    frac = z_type.frac + s_type.frac
    target = max(frac, b_type.frac)
    bound = 1 + max(
        magnitude(z_type) + magnitude(s_type) + target - frac,
        magnitude(b_type) + target - b_type.frac,
    )
    z, scale, bias = exact_ints(bound, z, c.const("scale", s_type), c.const("bias", b_type))
    acc = align(z * scale, frac, target) + align(bias, b_type.frac, target)
    return c.quantize(acc, target)
