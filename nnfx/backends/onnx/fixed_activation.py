"""Activation and softmax in the fixed-point graph: exact arithmetic for the piecewise-linear
kinds, Gather on the compiled tables for the rest."""

from __future__ import annotations

import math
from collections.abc import Callable

from nnfx.backends.onnx.quantize import (
    _align,
    _bits,
    _mag,
    product_bounds,
    quantize,
    table_index,
    type_bounds,
)
from nnfx.compiler import tables
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ops import ACTIVATION_KINDS, Activation, activation_rule


def _lookup(e, node, role, t: FixedType, index: str, base: str) -> str:
    return e.b.op("Gather", [e.const_raw(node, role, t, base), index], "lookup", axis=0)


def _relu(e, node, x: str, x_type: FixedType, out: FixedType) -> str:
    relu = e.b.op("Max", [x, e.b.const(0.0, "zero")], "relu")
    if x_type == out:  # already a code
        return relu
    return quantize(e.b, relu, x_type.frac, out, (0, max(x_type.raw_max, 0)))


def _leaky_relu(e, node, x: str, x_type: FixedType, out: FixedType) -> str:
    b, p = e.b, node.precision
    fa = p.weight.frac
    e.check(node, 1 + _mag(x_type) + max(fa, _mag(p.weight)), "x * alpha")
    positive = b.op("Greater", [x, b.const(0.0, "zero")])
    v = b.op(
        "Where",
        [
            positive,
            _align(b, x, 0, fa),
            b.op("Mul", [x, e.const_raw(node, "alpha", p.weight, "alpha")]),
        ],
    )
    return quantize(b, v, x_type.frac + fa, out)


def _clip(e, node, x: str, x_type: FixedType, out: FixedType) -> str:
    b = e.b
    y = quantize(b, x, x_type.frac, out)
    if "low" in node.params:
        y = b.op("Max", [y, e.const_raw(node, "low", out, "low")], "clip_low")
    if "high" in node.params:
        y = b.op("Min", [y, e.const_raw(node, "high", out, "high")], "clip_high")
    return y


def _hard_sigmoid(e, node, x: str, x_type: FixedType, out: FixedType) -> str:
    b, p = e.b, node.precision
    frac = x_type.frac + p.weight.frac
    target = max(frac, p.bias.frac)
    bound = max(_mag(x_type) + _mag(p.weight) + target - frac, _mag(p.bias) + target - p.bias.frac)
    e.check(node, bound + 2, "alpha * x + beta")
    v = b.op(
        "Add",
        [
            _align(
                b, b.op("Mul", [x, e.const_raw(node, "alpha", p.weight, "alpha")]), frac, target
            ),
            _align(b, e.const_raw(node, "beta", p.bias, "beta"), p.bias.frac, target),
        ],
    )
    v = b.op("Clip", [v, b.const(0.0, "zero"), b.const(2.0**target, "one")])
    return quantize(b, v, target, out)


def _table(e, node, x: str, x_type: FixedType, out: FixedType) -> str:
    """sigmoid, tanh: Gather on the compiled table."""
    index = table_index(e.b, x, x_type.frac, node.precision.table)
    return _lookup(e, node, "table", out, index, "table")


def _linear_above(e, node, x: str, x_type: FixedType, out: FixedType) -> str:
    """elu and the kinds unbounded above: the table below its end, Q(x * slope) at or
    above it (the threshold code clamped to just beyond x's codes, so that float64 holds it)."""
    b, p = e.b, node.precision
    fa = p.weight.frac
    e.check(node, 1 + _mag(x_type) + max(fa, _mag(p.weight)), "x * slope")
    looked_up = _table(e, node, x, x_type, out)
    edge = 2 ** _mag(x_type) + 1
    threshold = min(max(tables.linear_threshold(p.table, x_type.frac), -edge), edge)
    above = b.op("GreaterOrEqual", [x, b.const(float(threshold), "threshold")])
    chosen = b.op("Where", [above, x, b.const(0.0, "zero")])
    slope = e.const_raw(node, "slope", p.weight, "slope")
    linear = quantize(b, b.op("Mul", [chosen, slope]), x_type.frac + fa, out)
    return b.op("Where", [above, linear, looked_up], "linear_above")


# Activation kind -> its fixed-point ONNX writer fn(export, node, x, x_type, out).
FIXED_ACTIVATIONS: dict[Activation, Callable[..., str]] = {
    Activation.LINEAR: lambda e, node, x, x_type, out: quantize(
        e.b, x, x_type.frac, out, type_bounds(x_type)
    ),
    Activation.RELU: _relu,
    Activation.LEAKY_RELU: _leaky_relu,
    Activation.ELU: _linear_above,
    Activation.SIGMOID: _table,
    Activation.TANH: _table,
    Activation.CLIP: _clip,
    Activation.HARD_SIGMOID: _hard_sigmoid,
    Activation.BIPOLAR: lambda e, node, x, x_type, out: e.b.op(
        "Where",
        [
            e.b.op("GreaterOrEqual", [x, e.b.const(0.0, "zero")]),
            e.const_raw(node, "high", out, "high"),
            e.const_raw(node, "low", out, "low"),
        ],
        "bipolar",
    ),
    **{k: _linear_above for k, p in ACTIVATION_KINDS.items() if p.linear_above},
}


def _activation(e, node, xs):
    writer = activation_rule(FIXED_ACTIVATIONS, node.attrs.kind, "fixed-point ONNX export")
    return writer(e, node, xs[0], e.type_of(node.inputs[0]), e.type_of(node.outputs[0]))


def _softmax(e, node, xs):
    a, b, p = node.attrs, e.b, node.precision
    x_type, out = e.type_of(node.inputs[0]), e.type_of(node.outputs[0])
    axis = a.axis % len(e.graph.tensors[node.inputs[0]].shape) + 1
    e.check(node, _mag(x_type) + 2, "x - max(x)")
    top = b.op("ReduceMax", [xs[0]], "max", axes=[axis], keepdims=1)
    d = b.op("Sub", [xs[0], top], "minus_max")
    negated = b.op("Neg", [d])
    exps = _lookup(
        e, node, "table", p.table_type, table_index(b, negated, x_type.frac, p.table), "exp_table"
    )
    n = e.graph.tensors[node.inputs[0]].shape[axis - 1]
    e.check(node, _mag(p.table_type) + math.ceil(math.log2(max(n, 1))) + 1, "sum of exp codes")
    total = b.op("ReduceSum", [exps, b.ints([axis])], "sum", keepdims=1)
    inv = _lookup(
        e,
        node,
        "inverse_table",
        p.inverse_type,
        table_index(b, total, p.table_type.frac, p.inverse_table),
        "inverse_table",
    )
    if a.log:
        target = max(x_type.frac, p.inverse_type.frac)
        bound = max(
            _mag(x_type) + 1 + target - x_type.frac,
            _mag(p.inverse_type) + target - p.inverse_type.frac,
        )
        e.check(node, bound + 2, "(x - max) - log(sum)")
        v = b.op(
            "Sub",
            [_align(b, d, x_type.frac, target), _align(b, inv, p.inverse_type.frac, target)],
            "log_softmax",
        )
        return quantize(b, v, target, out)
    e.check(node, _bits(p.table_type) + _bits(p.inverse_type), "exp * (1 / sum)")
    bounds = product_bounds(type_bounds(p.table_type), type_bounds(p.inverse_type))
    product = b.op("Mul", [exps, inv], "normalize")
    return quantize(b, product, p.table_type.frac + p.inverse_type.frac, out, bounds)
