"""IR -> the fixed-point ONNX graph, bit-exact with the reference: one small writer per op,
in the table ``FIXED_WRITERS``.

Every tensor travels as its raw integer codes in float64 tensors (exact while below 2**53,
which the export proves per layer from the operand types, for every product, shift and sum,
and refuses otherwise with a PrecisionError naming the layer). Tables are Gather on constants;
convolution and pooling windows are strided Slices (onnxruntime has no float64 Conv).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from onnx import TensorProto

from nnfx.backends.onnx.builder import (
    Builder,
    slice_op,
)
from nnfx.backends.onnx.fixed_activation import _activation, _softmax
from nnfx.backends.onnx.fixed_norm import _layer_norm
from nnfx.backends.onnx.fixed_recurrent import write_recurrent
from nnfx.backends.onnx.quantize import (
    _align,
    _bits,
    _mag,
    half_exact,
    product_bounds,
    quantize,
    tick_wrap,
    tick_wrap_exact,
    type_bounds,
)
from nnfx.backends.onnx.threshold import write_fixed as write_threshold
from nnfx.compiler.fixed import ALPHA_TYPE, FixedType, fused_alpha_code, to_raw
from nnfx.compiler.ir import Graph, Node
from nnfx.compiler.ops import Activation, Op
from nnfx.compiler.resample import batched_pads, source_index
from nnfx.errors import PrecisionError, UnsupportedOpError

EXACT_BITS = 53  # float64 holds every integer below 2**53 exactly
FLOAT32_BITS = 24  # float32 holds every integer below 2**24 exactly
LIMITS: dict[int, tuple[int, str]] = {
    TensorProto.DOUBLE: (EXACT_BITS, "float64"),
    TensorProto.FLOAT: (FLOAT32_BITS, "float32"),
}


class FixedExport:
    """One export of ``graph``, its codes in ``b.dtype`` (float64 or float32, set per node).
    ``needed`` is the most bits any check asked for, ``needed_by`` the same per node: a node
    is exact in float32 when it is at most ``FLOAT32_BITS``."""

    def __init__(self, graph: Graph, dtype: int = TensorProto.DOUBLE):
        self.graph = graph
        self.b = Builder(dtype)
        self.raw: dict[str, str] = {}  # IR tensor -> ONNX name of its raw codes
        self.needed = 0
        self.needed_by: dict[str, int] = {}  # node name -> the most bits its checks asked for
        self.inexact_nodes: list[str] = []  # float32 nodes whose constants float32 would change

    def type_of(self, tensor: str) -> FixedType:
        return self.graph.tensors[tensor].dtype

    def const_raw(self, node: Node, role: str, t: FixedType, base: str) -> str:
        return self.b.const(to_raw(node.param(self.graph, role), t.frac).astype(np.float64), base)

    def check(self, node: Node, bits: int, what: str) -> None:
        """Every integer this step computes is below ``2**(bits - 1)`` in magnitude (and so is
        the sum of the magnitudes of what a MatMul adds up): refuse when the codes' type does
        not hold them all exactly."""
        self.needed = max(self.needed, bits)
        self.needed_by[node.name] = max(self.needed_by.get(node.name, 0), bits)
        limit, kind = LIMITS[self.b.dtype]
        if bits > limit:
            raise PrecisionError(
                f"node '{node.name}' ({node.op.value}): {what} needs {bits} bits, more than the "
                f"{limit} that {kind} holds exactly; narrow its types for the ONNX export"
            )


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


def _linear(
    e: FixedExport, node: Node, x_type: FixedType, w_raw: np.ndarray, matmul: Callable
) -> str:
    """Dense and Conv after the taps: ``matmul(scale)`` writes the products' sums against the
    weight codes ``w_raw`` (rows, Cout) times ``scale``, a power of two: the alignment to the
    bias's grid and the output's rescale are folded into the weights and bias (every partial
    sum is then the exact integer one times that power, and the accumulator's bound, the sum
    of |products| and |bias|, holds for any summation order). The overflow is left out where
    the sums' bounds from the weights and the input type fit the output type."""
    p, b = node.precision, e.b
    if not p.accum_sized:
        raise UnsupportedOpError(
            f"node '{node.name}' ({node.op.value}): a user-chosen accumulator ({p.accum}) has no "
            "fixed-point ONNX export; the export supports the compiler-sized accumulator"
        )
    fused = node.attrs.activation
    if fused not in (Activation.LINEAR, Activation.RELU, Activation.LEAKY_RELU):
        raise UnsupportedOpError(
            f"node '{node.name}' ({node.op.value}): a fused {node.attrs.activation} has no "
            "fixed-point rule; compile without fuse_activations"
        )
    e.check(node, p.accum.width, "the accumulator")
    out = e.type_of(node.outputs[0])
    frac = x_type.frac + p.weight.frac
    bias = to_raw(node.param(e.graph, "bias"), p.bias.frac) if "bias" in node.params else None
    target = frac if bias is None else max(frac, p.bias.frac)
    shift = target - out.frac
    fold = fused is not Activation.LEAKY_RELU and not (shift < 0 and out.overflow == "WRAP")
    scale = 2.0**-shift if fold else 1.0
    weight_scale = 2.0 ** (target - frac) * scale
    # the sums' bounds per output channel (exact: each is below the accumulator's 2**52)
    w_grid = w_raw * 2.0 ** (target - frac)
    lo = np.minimum(w_grid * x_type.raw_min, w_grid * x_type.raw_max).sum(axis=0)
    hi = np.maximum(w_grid * x_type.raw_min, w_grid * x_type.raw_max).sum(axis=0)
    if bias is not None:
        bias_grid = bias.astype(np.float64) * 2.0 ** (target - p.bias.frac)
        lo, hi = lo + bias_grid, hi + bias_grid
    bounds = (int(lo.min()), int(hi.max())) if lo.size else (0, 0)
    # RND as floor(q + 1/2), the half added with the bias (before a fused ReLU's Max: then
    # Max(q + 1/2, 1/2) = Max(q, 0) + 1/2, the same floor). onnxruntime may start the sums
    # from the bias (Gemm), so the bound that counts is |b| + sum |w| max|x| + the half
    magnitude = np.abs(w_grid).sum(axis=0) * max(-x_type.raw_min, x_type.raw_max)
    if bias is not None:
        magnitude = magnitude + np.abs(bias_grid)
    largest = int(magnitude.max()) if magnitude.size else 0
    halved = fold and half_exact(b, out, (-largest, largest), shift)
    if fused is Activation.RELU:
        bounds = (max(bounds[0], 0), max(bounds[1], 0))
    # TRN (or halved RND) and signed WRAP in four ops: the sums kept off the integers by a
    # tick of half their grid step, added with the bias (quantize.tick_wrap)
    ticked = (
        fold
        and fused is not Activation.LEAKY_RELU
        and tick_wrap_exact(b, out, largest, shift, halved, bounds)
    )
    extra = (0.5 if halved else 0.0) + (2.0 ** -(shift + 1) if ticked else 0.0)
    offset = None
    if bias is not None or extra:
        offset = b.const((bias_grid if bias is not None else 0.0) * scale + extra, "bias")
    products = matmul(weight_scale, offset)
    if fused is Activation.RELU:
        products = b.op("Max", [products, b.const(extra, "zero")], "relu")
    elif fused is Activation.LEAKY_RELU:  # Q(acc) for acc > 0, else Q(acc * a)
        fa = ALPHA_TYPE.frac
        e.check(node, 1 + _mag(p.accum) + max(fa, _mag(ALPHA_TYPE)), "acc * alpha")
        alpha = b.const(float(fused_alpha_code(e.graph, node)), "alpha")
        positive = b.op("Greater", [products, b.const(0.0, "zero")])
        products = b.op(
            "Where",
            [positive, _align(b, products, 0, fa), b.op("Mul", [products, alpha])],
            "leaky_relu",
        )
        return quantize(b, products, target + fa, out)
    if ticked:
        return tick_wrap(b, products, out)
    return quantize(b, products, target, out, bounds, scaled=fold, halved=halved)


def _dense(e, node, xs):
    w = to_raw(node.param(e.graph, "weight"), node.precision.weight.frac).astype(np.float64)
    return _linear(
        e,
        node,
        e.type_of(node.inputs[0]),
        w,
        lambda s, offset: _matmul_add(e, node, xs[0], w * s, offset),
    )


def _matmul_add(e: FixedExport, node: Node, x: str, w: np.ndarray, offset: str | None) -> str:
    """``x @ w + offset``: one Gemm on a (batch, features) input (the bias in the sums, which
    the accumulator's bound covers in any order), else MatMul then Add."""
    weight = e.b.const(w, "weight")
    if offset is not None and e.b.short_forms and len(e.graph.tensors[node.inputs[0]].shape) == 1:
        return e.b.op("Gemm", [x, weight, offset], "gemm")
    products = e.b.op("MatMul", [x, weight], "matmul")
    return products if offset is None else e.b.op("Add", [products, offset], "add_bias")


def _conv(e, node, xs):
    w = node.param(e.graph, "weight")  # (*k, Cin // group, Cout): rows in (tap, channel) order
    w_raw = to_raw(w, node.precision.weight.frac).reshape(-1, w.shape[-1]).astype(np.float64)
    taps = _taps(e, node, xs[0], 0.0)

    def matmul(scale: float, offset: str | None) -> str:
        if node.attrs.group == 1:
            patches = e.b.op("Concat", taps, "patches", axis=-1)
            products = e.b.op("MatMul", [patches, e.b.const(w_raw * scale, "weight")], "matmul")
        else:
            products = _grouped_products(e, node, taps, w_raw * scale)
        return products if offset is None else e.b.op("Add", [products, offset], "add_bias")

    return _linear(e, node, e.type_of(node.inputs[0]), w_raw, matmul)


def _grouped_products(e: FixedExport, node: Node, taps: list[str], w_raw: np.ndarray) -> str:
    """A grouped Conv's sums: the patches as (N, *out, G, 1, T * Cg) against each group's
    weights (G, T * Cg, M) in one batched MatMul, so an output channel sums only over its
    group's input channels (the same exact integer sums, each below 2**53)."""
    a, b = node.attrs, e.b
    out = list(e.graph.tensors[node.outputs[0]].shape[:-1])
    shape = b.ints([0, *out, a.group, 1, a.in_channels // a.group], "group_shape")
    parts = [b.op("Reshape", [tap, shape], "tap_groups") for tap in taps]
    patches = b.op("Concat", parts, "patches", axis=-1)
    m = a.out_channels // a.group
    w_groups = np.ascontiguousarray(w_raw.reshape(-1, a.group, m).transpose(1, 0, 2))
    products = b.op("MatMul", [patches, b.const(w_groups, "weight")], "matmul")
    merged = b.ints([0, *out, a.out_channels], "out_shape")
    return b.op("Reshape", [products, merged], "merge_groups")


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
        (a0, a1), (b0, b1) = (
            (lo << (target - t.frac), hi << (target - t.frac))
            for t, (lo, hi) in ((ta, type_bounds(ta)), (tb, type_bounds(tb)))
        )
        bounds = (a0 + b0, a1 + b1) if op_type == "Add" else (a0 - b1, a1 - b0)
        return quantize(b, total, target, e.type_of(node.outputs[0]), bounds)

    return write


def _mul(e, node, xs):
    ta, tb = e.type_of(node.inputs[0]), e.type_of(node.inputs[1])
    e.check(node, _bits(ta) + _bits(tb), "the product")
    product = e.b.op("Mul", xs, "product")
    bounds = product_bounds(type_bounds(ta), type_bounds(tb))
    return quantize(e.b, product, ta.frac + tb.frac, e.type_of(node.outputs[0]), bounds)


def _concat(e, node, xs):
    out = e.type_of(node.outputs[0])
    parts = [
        quantize(e.b, x, e.type_of(i).frac, out, type_bounds(e.type_of(i)))
        for x, i in zip(xs, node.inputs, strict=True)
    ]
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


def _upsample(e, node, xs):
    """Codes copied: one Gather per spatial axis reads input position ``i // s`` (onnxruntime
    has no float64 Resize)."""
    x, shape = xs[0], e.graph.tensors[node.inputs[0]].shape
    for axis, s in enumerate(node.attrs.scales):
        if s > 1:
            index = e.b.ints(source_index(shape[axis], s), "index")
            x = e.b.op("Gather", [x, index], "upsample", axis=axis + 1)
    return x


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
    Op.LAYER_NORM: _layer_norm,
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
    Op.SLICE: lambda e, n, xs: slice_op(e.b, n.attrs, xs[0]),  # codes copied
    Op.UPSAMPLE: _upsample,
    Op.PAD: lambda e, n, xs: e.b.op("Pad", [xs[0], e.b.ints(batched_pads(n.attrs), "pads")], "pad"),
    Op.RECURRENT: write_recurrent,
    Op.THRESHOLD: write_threshold,
}
