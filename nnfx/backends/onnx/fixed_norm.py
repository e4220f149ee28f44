"""LayerNorm in the fixed-point graph (docs/semantics.md): exact float64 sums over the last
axis, the normalizing shift counted by comparisons with the thresholds ``2**(M + 2j)``, Gather
on the compiled table, the normalized value rounded to its type, then ``Q(z * scale + bias)``.
Every intermediate is proved below ``2**53`` from the types, or the export is refused."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from nnfx.backends.onnx.quantize import _align, _mag, _overflow, _round, quantize
from nnfx.compiler.layer_norm import bounds, table_log2


def _layer_norm(e, node, xs):
    a, b, p = node.attrs, e.b, node.precision
    x_type, out = e.type_of(node.inputs[0]), e.type_of(node.outputs[0])
    t_type, z_type = p.table_type, p.inverse_type
    size = p.table.size
    eps = float(node.param(e.graph, "epsilon")[0])
    bound = bounds(x_type, a.size, int(eps), size)
    e.check(node, bound.total + 1, "the sum of squared deviations")
    e.check(node, bound.deviation + _mag(t_type) + 1, "deviation * table entry")
    axis = [-1]
    total = b.op("ReduceSum", [xs[0], b.ints(axis)], "sum", keepdims=1)
    d = b.op("Sub", [b.op("Mul", [xs[0], b.const(float(a.size), "n")]), total], "deviation")
    squares = b.op("ReduceSum", [b.op("Mul", [d, d]), b.ints(axis)], "squares", keepdims=1)
    u = b.op("Add", [squares, b.const(eps, "epsilon")], "with_epsilon")
    size_log2 = table_log2(size)
    steps = np.array([2.0 ** (size_log2 + 2 * j) for j in range(bound.steps)] or [np.inf])
    reached = b.op("GreaterOrEqual", [u, b.const(steps, "thresholds")])  # (..., steps)
    half = b.op(
        "ReduceSum",
        [b.op("Cast", [reached], "reached", to=TensorProto.INT64), b.ints(axis)],
        "half_shift",
        keepdims=1,
    )  # s / 2, an index into the powers below
    count = bound.steps + 1
    quarter = b.const(np.array([4.0**-k for k in range(count)]), "quarter_powers")
    index = b.op("Floor", [b.op("Mul", [u, b.op("Gather", [quarter, half], axis=0)])])
    table = e.const_raw(node, "table", t_type, "rsqrt_table")
    looked_up = b.op(
        "Gather", [table, b.op("Cast", [index], "index", to=TensorProto.INT64)], "lookup", axis=0
    )
    # d * T[u] * 2**-(F_T + s/2), on z's grid: a power of two times an exact product
    scales = np.array([2.0 ** (z_type.frac - t_type.frac - k) for k in range(count)])
    scale = b.op("Gather", [b.const(scales, "z_scale"), half], axis=0)
    q = b.op("Mul", [b.op("Mul", [d, looked_up], "times_rsqrt"), scale], "on_z_grid")
    z = _overflow(b, _round(b, q, z_type.rounding), z_type)
    frac = z_type.frac + p.weight.frac
    target = max(frac, p.bias.frac)
    affine = max(_mag(z_type) + _mag(p.weight) + target - frac, _mag(p.bias) + target - p.bias.frac)
    e.check(node, affine + 2, "z * scale + bias")
    product = b.op("Mul", [z, e.const_raw(node, "scale", p.weight, "scale")], "scale")
    y = b.op(
        "Add",
        [
            _align(b, product, frac, target),
            _align(b, e.const_raw(node, "bias", p.bias, "bias"), p.bias.frac, target),
        ],
        "shift",
    )
    return quantize(b, y, target, out)
