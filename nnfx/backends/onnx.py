"""IR -> ONNX: the float graph, and a fixed-point graph bit-exact with the reference.

The fixed-point graph carries every tensor as its raw integer codes in float64 tensors (exact
while below 2**53, which the export proves per layer from the operand types, for every
product, shift and sum, and refuses otherwise with a PrecisionError naming the layer), and builds
quantization (rounding, wrap, saturation) from standard ops: Mul, Floor, Ceil, Round, Mod,
Clip, Where. Tables are Gather on constants; convolution and pooling windows are strided
Slices (onnxruntime has no float64 Conv). Standard domain only, checker-clean, one named
node group per IR node.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnfx.compiler.fixed import ALPHA_TYPE, FixedType, fused_alpha_code, to_raw
from nnfx.compiler.ir import INTEGER, Graph, Node
from nnfx.compiler.ops import Op
from nnfx.errors import PrecisionError, UnsupportedOpError

OPSET = 17
EXACT_BITS = 53  # float64 holds every integer below 2**53 exactly


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-/" else "_" for c in name)


class Builder:
    """Collects nodes and initializers with unique, readable names."""

    def __init__(self, dtype: int):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.names: set[str] = set()
        self.dtype = dtype
        self.np_dtype = np.float64 if dtype == TensorProto.DOUBLE else np.float32
        self.scope = ""

    def fresh(self, base: str) -> str:
        base = _safe(f"{self.scope}/{base}" if self.scope else base)
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def const(self, value, base: str = "c", dtype=None) -> str:
        name = self.fresh(base)
        array = np.asarray(value, dtype=dtype or self.np_dtype)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, values, base: str = "axes") -> str:
        return self.const(np.asarray(values, dtype=np.int64), base, np.int64)

    def op(self, op_type: str, inputs: list[str], base: str | None = None, **attrs) -> str:
        out = self.fresh(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


# -- quantization from standard ops ------------------------------------------------------
def quantize(b: Builder, raw: str, frac: int, t: FixedType) -> str:
    """ONNX ops computing :func:`nnfx.compiler.fixed.requantize` on exact float64 codes
    (``|raw| <= 2**52``, which the export proves per layer)."""
    shift = frac - t.frac
    if shift < 0 and t.overflow == "WRAP":  # as requantize: only the low width - k bits survive
        k = -shift
        if k >= t.width:
            return b.op("Mul", [raw, b.const(0.0, "zero")], "wrap")
        period = b.const(2.0 ** (t.width - k), "period")
        turns = b.op("Floor", [b.op("Mul", [raw, b.const(2.0 ** (k - t.width), "inverse")])])
        raw = b.op("Sub", [raw, b.op("Mul", [turns, period])], "low_bits")  # in [0, 2**(W-k))
    q = raw if shift == 0 else b.op("Mul", [raw, b.const(2.0**-shift, "scale")], "rescale")
    if shift > 0:
        q = _round(b, q, t.rounding)
    return _overflow(b, q, t)


def _round(b: Builder, q: str, mode: str) -> str:
    """Round exactly: ``f = floor(q)`` and ``r = q - f`` are exact in float64, and the
    decision compares ``r`` with one half (no ``q + 0.5`` that could itself round)."""
    if mode == "TRN":
        return b.op("Floor", [q], "trn")
    if mode == "RND_CONV":
        return b.op("Round", [q], "rnd_conv")  # ties to even
    floor = b.op("Floor", [q], "floor")
    up = b.op("Add", [floor, b.const(1.0, "one")], "up")
    if mode == "TRN_ZERO":
        raise_ = b.op("And", [b.op("Less", [q, b.const(0.0, "zero")]), b.op("Greater", [q, floor])])
        return b.op("Where", [raise_, up, floor], "trn_zero")
    rest = b.op("Sub", [q, floor], "rest")
    half = b.const(0.5, "half")
    above = b.op("Greater", [rest, half])
    tie = b.op("Equal", [rest, half])
    if mode == "RND":
        take_up = b.op("Or", [above, tie])
    elif mode == "RND_MIN_INF":
        take_up = above
    elif mode == "RND_INF":
        take_up = b.op(
            "Or", [above, b.op("And", [tie, b.op("Greater", [q, b.const(0.0, "zero")])])]
        )
    else:  # RND_ZERO
        take_up = b.op("Or", [above, b.op("And", [tie, b.op("Less", [q, b.const(0.0, "zero")])])])
    return b.op("Where", [take_up, up, floor], mode.lower())


def _overflow(b: Builder, q: str, t: FixedType, long_wrap: bool = False) -> str:
    """``t.overflow`` on rounded integers ``q``. WRAP computes ``q - span * floor((q - min) /
    span)``, exact while ``q - min`` is: ``|q| <= 2**52`` (a layer's codes), or ``q`` in
    ``[0, 2**W)`` a multiple of 2 (quantize's scaled-up case). ``long_wrap`` takes two more
    steps that are exact for any integer ``q`` below ``2**53`` in magnitude (no Where: it is
    slow on onnxruntime)."""
    lo, hi = float(t.raw_min), float(t.raw_max)
    if t.overflow == "WRAP":
        span = float(2**t.width)
        if long_wrap:  # r = q mod span in [0, span), then r - span where r >= 2**(W-1)
            turns = b.op("Floor", [b.op("Mul", [q, b.const(1.0 / span, "inverse_span")])])
            r = b.op("Sub", [q, b.op("Mul", [turns, b.const(span, "span")])], "low_bits")
            if not t.signed:
                return r
            upper = b.op("Floor", [b.op("Mul", [r, b.const(2.0 / span, "inverse_half")])])
            return b.op("Sub", [r, b.op("Mul", [upper, b.const(span, "span")])], "wrap")
        shifted = b.op("Sub", [q, b.const(lo, "min")]) if lo else q
        turns = b.op("Floor", [b.op("Mul", [shifted, b.const(1.0 / span, "inverse_span")])])
        return b.op("Sub", [q, b.op("Mul", [turns, b.const(span, "span")])], "wrap")
    if t.overflow == "SAT_ZERO":
        out = b.op(
            "Or", [b.op("Less", [q, b.const(lo, "min")]), b.op("Greater", [q, b.const(hi, "max")])]
        )
        return b.op("Where", [out, b.const(0.0, "zero"), q], "sat_zero")
    low = -hi if t.overflow == "SAT_SYM" and t.signed and t.width > 1 else lo
    return b.op("Clip", [q, b.const(low, "min"), b.const(hi, "max")], "sat")


def _align(b: Builder, raw: str, frac: int, target: int) -> str:
    return raw if target == frac else b.op("Mul", [raw, b.const(2.0 ** (target - frac), "align")])


# -- the fixed-point graph: one function per op ------------------------------------------
class FixedExport:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.b = Builder(TensorProto.DOUBLE)
        self.raw: dict[str, str] = {}  # IR tensor -> ONNX name of its raw codes

    def type_of(self, tensor: str) -> FixedType:
        return self.graph.tensors[tensor].dtype

    def const_raw(self, node: Node, role: str, t: FixedType, base: str) -> str:
        return self.b.const(to_raw(node.param(self.graph, role), t.frac).astype(np.float64), base)

    def check(self, node: Node, bits: int, what: str) -> None:
        if bits > EXACT_BITS:
            raise PrecisionError(
                f"node '{node.name}' ({node.op.value}): {what} needs {bits} bits, more than the "
                f"{EXACT_BITS} that float64 holds exactly; narrow its types for the ONNX export"
            )


def _bits(t: FixedType) -> int:
    return t.width + (0 if t.signed else 1)


def _mag(t: FixedType) -> int:
    """The exponent ``e`` with ``|code| <= 2**e`` for every code of ``t``; a value bounded by
    ``2**e`` needs ``e + 1`` bits with its sign."""
    return t.width - 1 if t.signed else t.width


def _taps(e: FixedExport, node: Node, x: str, pad_value: float) -> list[str]:
    """One strided Slice per kernel tap over the padded channels-last input."""
    a, b = node.attrs, e.b
    rank = len(a.kernel_shape)
    if any(a.pads):
        pads = [0, *a.pads[:rank], 0, 0, *a.pads[rank:], 0]
        x = b.op("Pad", [x, b.ints(pads, "pads"), b.const(pad_value, "pad_value")], "pad")
    out = e.graph.tensors[node.outputs[0]].shape[:rank]
    dilations = getattr(a, "dilations", (1,) * rank)
    taps = []
    for tap in np.ndindex(*a.kernel_shape):
        starts = [t * d for t, d in zip(tap, dilations, strict=True)]
        ends = [st + s * (n - 1) + 1 for st, s, n in zip(starts, a.strides, out, strict=True)]
        taps.append(
            b.op(
                "Slice",
                [
                    x,
                    b.ints(starts, "starts"),
                    b.ints(ends, "ends"),
                    b.ints(list(range(1, rank + 1)), "axes"),
                    b.ints(list(a.strides), "steps"),
                ],
                "tap",
            )
        )
    return taps


def _linear(e: FixedExport, node: Node, products: str, x_type: FixedType) -> str:
    p, b = node.precision, e.b
    if not p.accum_sized:
        raise UnsupportedOpError(
            f"node '{node.name}' ({node.op.value}): a user-chosen accumulator ({p.accum}) has no "
            "fixed-point ONNX export; the export supports the compiler-sized accumulator"
        )
    if node.attrs.activation not in ("linear", "relu", "leaky_relu"):
        raise UnsupportedOpError(
            f"node '{node.name}' ({node.op.value}): a fused {node.attrs.activation} has no "
            "fixed-point rule; compile without fuse_activations"
        )
    e.check(node, p.accum.width, "the accumulator")
    frac = x_type.frac + p.weight.frac
    if "bias" in node.params:
        target = max(frac, p.bias.frac)
        bias = e.const_raw(node, "bias", p.bias, "bias")
        products = b.op(
            "Add",
            [_align(b, products, frac, target), _align(b, bias, p.bias.frac, target)],
            "add_bias",
        )
        frac = target
    if node.attrs.activation == "relu":
        products = b.op("Max", [products, b.const(0.0, "zero")], "relu")
    elif node.attrs.activation == "leaky_relu":  # Q(acc) for acc > 0, else Q(acc * a)
        fa = ALPHA_TYPE.frac
        e.check(node, 1 + _mag(p.accum) + max(fa, _mag(ALPHA_TYPE)), "acc * alpha")
        alpha = b.const(float(fused_alpha_code(e.graph, node)), "alpha")
        positive = b.op("Greater", [products, b.const(0.0, "zero")])
        products = b.op(
            "Where",
            [positive, _align(b, products, 0, fa), b.op("Mul", [products, alpha])],
            "leaky_relu",
        )
        frac += fa
    return quantize(b, products, frac, e.type_of(node.outputs[0]))


def _dense(e, node, xs):
    w = e.const_raw(node, "weight", node.precision.weight, "weight")
    return _linear(e, node, e.b.op("MatMul", [xs[0], w], "matmul"), e.type_of(node.inputs[0]))


def _conv(e, node, xs):
    w = node.param(e.graph, "weight")  # (*k, Cin, Cout): rows in (tap, channel) order
    w_raw = to_raw(w, node.precision.weight.frac).reshape(-1, w.shape[-1]).astype(np.float64)
    patches = e.b.op("Concat", _taps(e, node, xs[0], 0.0), "patches", axis=-1)
    products = e.b.op("MatMul", [patches, e.b.const(w_raw, "weight")], "matmul")
    return _linear(e, node, products, e.type_of(node.inputs[0]))


def _max_pool(e, node, xs):
    return e.b.op("Max", _taps(e, node, xs[0], -(2.0**62)), "max")


def _reciprocal_product(e, node, total: str, count: int) -> str:
    t, x_type = node.precision.weight, e.type_of(node.inputs[0])
    e.check(node, _bits(x_type) + math.ceil(math.log2(max(count, 1))) + _bits(t), "the sum")
    r = to_raw(node.param(e.graph, "reciprocal"), t.frac).astype(np.float64)
    if r.size > 1:
        r = r.reshape(*r.shape, 1)
    product = e.b.op("Mul", [total, e.b.const(r, "reciprocal")], "times_reciprocal")
    return quantize(e.b, product, x_type.frac + t.frac, e.type_of(node.outputs[0]))


def _avg_pool(e, node, xs):
    taps = _taps(e, node, xs[0], 0.0)
    total = e.b.op("Sum", taps, "sum")
    return _reciprocal_product(e, node, total, len(taps))


def _spatial_axes(e, node) -> list[int]:
    return list(range(1, len(e.graph.tensors[node.inputs[0]].shape)))


def _global_avg_pool(e, node, xs):
    axes = _spatial_axes(e, node)
    total = e.b.op("ReduceSum", [xs[0], e.b.ints(axes)], "sum", keepdims=0)
    count = int(np.prod(e.graph.tensors[node.inputs[0]].shape[:-1]))
    return _reciprocal_product(e, node, total, count)


def _global_max_pool(e, node, xs):
    return e.b.op("ReduceMax", [xs[0]], "max", axes=_spatial_axes(e, node), keepdims=0)


def _batch_norm(e, node, xs):
    p, b = node.precision, e.b
    x_type = e.type_of(node.inputs[0])
    frac = x_type.frac + p.weight.frac
    target = max(frac, p.bias.frac)
    bound = max(_mag(x_type) + _mag(p.weight) + target - frac, _mag(p.bias) + target - p.bias.frac)
    e.check(node, bound + 2, "x * scale + bias")
    product = b.op("Mul", [xs[0], e.const_raw(node, "scale", p.weight, "scale")], "scale")
    total = b.op(
        "Add",
        [
            _align(b, product, frac, target),
            _align(b, e.const_raw(node, "bias", p.bias, "bias"), p.bias.frac, target),
        ],
        "shift",
    )
    return quantize(b, total, target, e.type_of(node.outputs[0]))


def table_index(b: Builder, raw: str, frac: int, spec) -> str:
    scaled = b.op("Floor", [b.op("Mul", [raw, b.const(2.0 ** (spec.shift - frac), "index_scale")])])
    shifted = b.op("Sub", [scaled, b.const(float(spec.start), "start")])
    clipped = b.op("Clip", [shifted, b.const(0.0, "first"), b.const(float(spec.size - 1), "last")])
    return b.op("Cast", [clipped], "index", to=TensorProto.INT64)


def _lookup(e, node, role, t: FixedType, index: str, base: str) -> str:
    return e.b.op("Gather", [e.const_raw(node, role, t, base), index], "lookup", axis=0)


def _activation(e, node, xs):
    a, b, p = node.attrs, e.b, node.precision
    x, x_type, out = xs[0], e.type_of(node.inputs[0]), e.type_of(node.outputs[0])
    if a.kind == "linear":
        return quantize(b, x, x_type.frac, out)
    if a.kind == "relu":
        relu = b.op("Max", [x, b.const(0.0, "zero")], "relu")
        return relu if x_type == out else quantize(b, relu, x_type.frac, out)  # already a code
    if a.kind == "leaky_relu":
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
    if a.kind == "clip":
        y = quantize(b, x, x_type.frac, out)
        if "low" in node.params:
            y = b.op("Max", [y, e.const_raw(node, "low", out, "low")], "clip_low")
        if "high" in node.params:
            y = b.op("Min", [y, e.const_raw(node, "high", out, "high")], "clip_high")
        return y
    if a.kind == "hard_sigmoid":
        frac = x_type.frac + p.weight.frac
        target = max(frac, p.bias.frac)
        bound = max(
            _mag(x_type) + _mag(p.weight) + target - frac, _mag(p.bias) + target - p.bias.frac
        )
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
    looked_up = _lookup(e, node, "table", out, table_index(b, x, x_type.frac, p.table), "table")
    if a.kind == "elu":
        positive = b.op("Greater", [x, b.const(0.0, "zero")])
        return b.op("Where", [positive, quantize(b, x, x_type.frac, out), looked_up], "elu")
    return looked_up


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
    return quantize(
        b, b.op("Mul", [exps, inv], "normalize"), p.table_type.frac + p.inverse_type.frac, out
    )


def _aligned_sum(op_type: str):
    """Add or Sub: both codes aligned to the larger fraction, exact, then one quantization."""

    def write(e, node, xs):
        b = e.b
        ta, tb = e.type_of(node.inputs[0]), e.type_of(node.inputs[1])
        target = max(ta.frac, tb.frac)
        e.check(node, max(ta.integer, tb.integer) + 2 + target, f"the {op_type.lower()}")
        total = b.op(
            op_type, [_align(b, xs[0], ta.frac, target), _align(b, xs[1], tb.frac, target)]
        )
        return quantize(b, total, target, e.type_of(node.outputs[0]))

    return write


def _mul(e, node, xs):
    ta, tb = e.type_of(node.inputs[0]), e.type_of(node.inputs[1])
    e.check(node, _bits(ta) + _bits(tb), "the product")
    product = e.b.op("Mul", xs, "product")
    return quantize(e.b, product, ta.frac + tb.frac, e.type_of(node.outputs[0]))


def _concat(e, node, xs):
    out = e.type_of(node.outputs[0])
    parts = [quantize(e.b, x, e.type_of(i).frac, out) for x, i in zip(xs, node.inputs, strict=True)]
    axis = node.attrs.axis % len(e.graph.tensors[node.inputs[0]].shape) + 1
    return e.b.op("Concat", parts, "concat", axis=axis)


def _reshape(e, node, xs):
    shape = e.graph.tensors[node.outputs[0]].shape
    return e.b.op("Reshape", [xs[0], e.b.ints([-1, *shape], "shape")], "reshape")


def _argmax(e, node, xs):
    a = node.attrs
    axis = a.axis % len(e.graph.tensors[node.inputs[0]].shape) + 1
    index = e.b.op("ArgMax", [xs[0]], "argmax", axis=axis, keepdims=int(a.keepdims))
    if a.classes is None:
        return index
    classes = e.b.const(np.asarray(a.classes, np.int64), "classes", np.int64)
    return e.b.op("Gather", [classes, index], "label", axis=0)


FIXED_WRITERS: dict[Op, Callable[[FixedExport, Node, list[str]], str]] = {
    Op.DENSE: _dense,
    Op.CONV: _conv,
    Op.MAX_POOL: _max_pool,
    Op.AVG_POOL: _avg_pool,
    Op.GLOBAL_AVG_POOL: _global_avg_pool,
    Op.GLOBAL_MAX_POOL: _global_max_pool,
    Op.BATCH_NORM: _batch_norm,
    Op.ACTIVATION: _activation,
    Op.SOFTMAX: _softmax,
    Op.ADD: _aligned_sum("Add"),
    Op.SUB: _aligned_sum("Sub"),
    Op.MUL: _mul,
    Op.CONCAT: _concat,
    Op.FLATTEN: lambda e, n, xs: e.b.op("Flatten", [xs[0]], "flatten", axis=1),
    Op.RESHAPE: _reshape,
    Op.TRANSPOSE: lambda e, n, xs: e.b.op(
        "Transpose", [xs[0]], "transpose", perm=[0, *(p + 1 for p in n.attrs.perm)]
    ),
    Op.IDENTITY: lambda e, n, xs: xs[0],
    Op.ARGMAX: _argmax,
}


def _boundary_perm(perm: tuple[int, ...]) -> list[int]:
    return [0, *(p + 1 for p in perm)]


def _transpose(b: Builder, x: str, perm: list[int], base: str) -> str:
    """A Transpose node, or nothing when the permutation is the identity."""
    if perm == sorted(perm):
        return x
    return b.op("Transpose", [x], base, perm=perm)


def _inverse(perm) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


def _model_shape(t) -> list:
    return ["N", *(t.shape[i] for i in _inverse(t.onnx_perm))]


def _quantize_input(b: Builder, x: str, t: FixedType) -> str:
    """:func:`nnfx.compiler.fixed.quantize_raw` from standard ops. ``x * 2**frac`` is exact
    (or +-inf, which the SAT modes clamp like quantize_raw). Under WRAP, ``x`` is first reduced
    by ``Mod(x, 2**integer, fmod=1)``: exact, of the sign of ``x``, and congruent to it modulo
    one period of the type, so rounding (every mode) and wrapping give the same code while the
    scaled value stays below ``2**width`` (a huge ``x`` would leave float64's exact integers).
    NaN, and infinity under WRAP, are refused before they reach the model (docs/semantics.md)."""
    if t.overflow == "WRAP":
        x = b.op("Mod", [x, b.const(2.0 ** (t.width - t.frac), "period")], "reduced", fmod=1)
    scaled = b.op("Mul", [x, b.const(2.0**t.frac, "scale")])  # exact
    return _overflow(b, _round(b, scaled, t.rounding), t, long_wrap=t.width > 52)


def to_fixed_onnx(graph: Graph, name: str = "nnfx_fixed") -> onnx.ModelProto:
    """The fixed-point model: float64 inputs in the model's layout, quantized to the input
    types; outputs are the float64 values of the fixed-point results (labels as int64)."""
    e = FixedExport(graph)
    b = e.b
    inputs, outputs = [], []
    for tensor_name in graph.inputs:
        t = graph.tensors[tensor_name]
        e.check(Node(tensor_name, Op.IDENTITY, (), (), None), _bits(t.dtype), "the input type")
        inputs.append(
            helper.make_tensor_value_info(_safe(tensor_name), TensorProto.DOUBLE, _model_shape(t))
        )
        b.scope = _safe(tensor_name) + "/quantize_input"
        x = _transpose(b, _safe(tensor_name), _boundary_perm(t.onnx_perm), "to_ir_layout")
        e.raw[tensor_name] = _quantize_input(b, x, t.dtype)
    for node in graph.nodes:
        writer = FIXED_WRITERS[node.op]
        b.scope = _safe(node.name)
        out_type = graph.tensors[node.outputs[0]].dtype
        if out_type != INTEGER:
            e.check(node, _bits(out_type), "the output type")
        e.raw[node.outputs[0]] = writer(e, node, [e.raw[i] for i in node.inputs])
    for tensor_name in graph.outputs:
        t = graph.tensors[tensor_name]
        b.scope = _safe(tensor_name) + "/output"
        raw = e.raw[tensor_name]
        if t.dtype == INTEGER:
            value, elem = raw, TensorProto.INT64
        else:
            value, elem = (
                b.op("Mul", [raw, b.const(2.0**-t.dtype.frac, "lsb")], "value"),
                TensorProto.DOUBLE,
            )
        final = _transpose(b, value, _boundary_perm(_inverse(t.onnx_perm)), "to_model_layout")
        b.nodes.append(
            helper.make_node(
                "Identity", [final], [_safe(tensor_name)], name=f"{_safe(tensor_name)}/result"
            )
        )
        outputs.append(helper.make_tensor_value_info(_safe(tensor_name), elem, _model_shape(t)))
    onnx_graph = helper.make_graph(b.nodes, name, inputs, outputs, b.inits)
    model = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnfx"
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def save(model: onnx.ModelProto, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        onnx.save(model, str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# -- the float graph ---------------------------------------------------------------------
def _f_layout(b: Builder, x: str, rank: int, to_channels_first: bool) -> str:
    """Channels-last <-> channels-first around the ops ONNX defines on NCHW."""
    perm = [0, rank, *range(1, rank)] if to_channels_first else [0, *range(2, rank + 1), 1]
    return b.op("Transpose", [x], "nchw" if to_channels_first else "nhwc", perm=perm)


def _f_fused(b: Builder, node: Node, y: str) -> str:
    """The activation fuse_activations folded into a Dense or Conv (relu or leaky_relu)."""
    a = node.attrs
    if a.activation == "relu":
        return b.op("Relu", [y], "relu")
    if a.activation == "leaky_relu":
        return b.op("LeakyRelu", [y], "leaky_relu", alpha=float(a.activation_alpha))
    if a.activation != "linear":
        raise UnsupportedOpError(
            f"node '{node.name}' ({node.op.value}): a fused {a.activation} has no float ONNX "
            "export; compile without fuse_activations"
        )
    return y


def _f_dense(b, g, node, xs):
    y = b.op("MatMul", [xs[0], b.const(node.param(g, "weight"), "weight")], "matmul")
    if "bias" in node.params:
        y = b.op("Add", [y, b.const(node.param(g, "bias"), "bias")], "bias")
    return _f_fused(b, node, y)


def _f_spatial(b, g, node, xs, op_type, **attrs):
    a = node.attrs
    rank = len(a.kernel_shape) + 1
    x = _f_layout(b, xs[0], rank, True)
    inputs = [x]
    if node.op is Op.CONV:
        w = node.param(g, "weight")  # (*k, in, out) -> (out, in, *k)
        k = len(a.kernel_shape)
        inputs.append(b.const(w.transpose(k + 1, k, *range(k)), "weight"))
        if "bias" in node.params:
            inputs.append(b.const(node.param(g, "bias"), "bias"))
        attrs["dilations"] = list(a.dilations)
    y = b.op(
        op_type,
        inputs,
        op_type.lower(),
        kernel_shape=list(a.kernel_shape),
        strides=list(a.strides),
        pads=list(a.pads),
        **attrs,
    )
    y = _f_layout(b, y, rank, False)
    return _f_fused(b, node, y) if node.op is Op.CONV else y


def _f_activation(b, g, node, xs):
    a = node.attrs
    x = xs[0]
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
    if a.kind == "linear":
        return x
    if a.kind in simple:
        return b.op(simple[a.kind], [x])
    if a.kind == "leaky_relu":
        return b.op("LeakyRelu", [x], alpha=a.alpha)
    if a.kind == "elu":
        return b.op("Elu", [x], alpha=a.alpha)
    if a.kind == "hard_sigmoid":
        return b.op("HardSigmoid", [x], alpha=a.alpha, beta=a.beta)
    lo = b.const(a.min if math.isfinite(a.min) else -3.4e38, "min")
    hi = b.const(a.max if math.isfinite(a.max) else 3.4e38, "max")
    return b.op("Clip", [x, lo, hi])


def _f_global(op_type):
    def write(b, g, node, xs):
        axes = list(range(1, len(g.tensors[node.inputs[0]].shape)))
        return b.op(op_type, [xs[0]], op_type.lower(), axes=axes, keepdims=0)

    return write


def _f_argmax(b, g, node, xs):
    a = node.attrs
    axis = a.axis % len(g.tensors[node.inputs[0]].shape) + 1
    index = b.op("ArgMax", [xs[0]], "argmax", axis=axis, keepdims=int(a.keepdims))
    if a.classes is None:
        return index
    return b.op("Gather", [b.const(np.asarray(a.classes), "classes", np.int64), index], axis=0)


FLOAT_WRITERS = {
    Op.DENSE: _f_dense,
    Op.CONV: lambda b, g, n, xs: _f_spatial(b, g, n, xs, "Conv"),
    Op.MAX_POOL: lambda b, g, n, xs: _f_spatial(b, g, n, xs, "MaxPool"),
    Op.AVG_POOL: lambda b, g, n, xs: _f_spatial(
        b, g, n, xs, "AveragePool", count_include_pad=int(n.attrs.count_include_pad)
    ),
    Op.GLOBAL_AVG_POOL: _f_global("ReduceMean"),
    Op.GLOBAL_MAX_POOL: _f_global("ReduceMax"),
    Op.BATCH_NORM: lambda b, g, n, xs: b.op(
        "Add",
        [
            b.op("Mul", [xs[0], b.const(n.param(g, "scale"), "scale")]),
            b.const(n.param(g, "bias"), "bias"),
        ],
        "batchnorm",
    ),
    Op.ACTIVATION: _f_activation,
    Op.SOFTMAX: lambda b, g, n, xs: b.op(
        "LogSoftmax" if n.attrs.log else "Softmax",
        [xs[0]],
        "softmax",
        axis=n.attrs.axis % len(g.tensors[n.inputs[0]].shape) + 1,
    ),
    Op.ADD: lambda b, g, n, xs: b.op("Add", xs, "add"),
    Op.SUB: lambda b, g, n, xs: b.op("Sub", xs, "sub"),
    Op.MUL: lambda b, g, n, xs: b.op("Mul", xs, "mul"),
    Op.CONCAT: lambda b, g, n, xs: b.op(
        "Concat", xs, "concat", axis=n.attrs.axis % len(g.tensors[n.inputs[0]].shape) + 1
    ),
    Op.FLATTEN: lambda b, g, n, xs: b.op("Flatten", [xs[0]], "flatten", axis=1),
    Op.RESHAPE: lambda b, g, n, xs: b.op(
        "Reshape", [xs[0], b.ints([-1, *g.tensors[n.outputs[0]].shape], "shape")], "reshape"
    ),
    Op.TRANSPOSE: lambda b, g, n, xs: b.op(
        "Transpose", [xs[0]], "transpose", perm=[0, *(p + 1 for p in n.attrs.perm)]
    ),
    Op.IDENTITY: lambda b, g, n, xs: xs[0],
    Op.ARGMAX: _f_argmax,
}


def to_float_onnx(graph: Graph, name: str = "nnfx_float") -> onnx.ModelProto:
    """The optimized float IR (BatchNorm folded, canonical ops) as float32 ONNX, taking and
    giving data in the original model's layout."""
    b = Builder(TensorProto.FLOAT)
    values: dict[str, str] = {}
    inputs, outputs = [], []
    for tensor_name in graph.inputs:
        t = graph.tensors[tensor_name]
        inputs.append(
            helper.make_tensor_value_info(_safe(tensor_name), TensorProto.FLOAT, _model_shape(t))
        )
        b.scope = _safe(tensor_name)
        values[tensor_name] = _transpose(
            b, _safe(tensor_name), _boundary_perm(t.onnx_perm), "to_ir_layout"
        )
    for node in graph.nodes:
        b.scope = _safe(node.name)
        values[node.outputs[0]] = FLOAT_WRITERS[node.op](
            b, graph, node, [values[i] for i in node.inputs]
        )
    for tensor_name in graph.outputs:
        t = graph.tensors[tensor_name]
        b.scope = _safe(tensor_name) + "/output"
        final = _transpose(
            b, values[tensor_name], _boundary_perm(_inverse(t.onnx_perm)), "to_model_layout"
        )
        b.nodes.append(
            helper.make_node(
                "Identity", [final], [_safe(tensor_name)], name=f"{_safe(tensor_name)}/result"
            )
        )
        elem = TensorProto.INT64 if t.dtype == INTEGER else TensorProto.FLOAT
        outputs.append(helper.make_tensor_value_info(_safe(tensor_name), elem, _model_shape(t)))
    model = helper.make_model(
        helper.make_graph(b.nodes, name, inputs, outputs, b.inits),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="nnfx",
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model
