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
import onnx
from onnx import TensorProto, helper

from nnfx.backends.onnx.builder import (
    OPSET,
    Builder,
    _model_shape,
    _safe,
    _transpose,
    slice_op,
)
from nnfx.backends.onnx.fixed_activation import _activation, _softmax
from nnfx.backends.onnx.fixed_norm import _layer_norm
from nnfx.backends.onnx.quantize import _align, _bits, _mag, _quantize_input, quantize
from nnfx.compiler.fixed import ALPHA_TYPE, FixedType, fused_alpha_code, to_raw
from nnfx.compiler.ir import INTEGER, Graph, Node
from nnfx.compiler.layout import batched, inverse
from nnfx.compiler.ops import Activation, Op
from nnfx.compiler.resample import batched_pads, source_index
from nnfx.errors import PrecisionError, UnsupportedOpError

EXACT_BITS = 53  # float64 holds every integer below 2**53 exactly


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
    fused = node.attrs.activation
    if fused not in (Activation.LINEAR, Activation.RELU, Activation.LEAKY_RELU):
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
    if fused is Activation.RELU:
        products = b.op("Max", [products, b.const(0.0, "zero")], "relu")
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
        frac += fa
    return quantize(b, products, frac, e.type_of(node.outputs[0]))


def _dense(e, node, xs):
    w = e.const_raw(node, "weight", node.precision.weight, "weight")
    return _linear(e, node, e.b.op("MatMul", [xs[0], w], "matmul"), e.type_of(node.inputs[0]))


def _conv(e, node, xs):
    w = node.param(e.graph, "weight")  # (*k, Cin // group, Cout): rows in (tap, channel) order
    w_raw = to_raw(w, node.precision.weight.frac).reshape(-1, w.shape[-1]).astype(np.float64)
    taps = _taps(e, node, xs[0], 0.0)
    if node.attrs.group == 1:
        patches = e.b.op("Concat", taps, "patches", axis=-1)
        products = e.b.op("MatMul", [patches, e.b.const(w_raw, "weight")], "matmul")
    else:
        products = _grouped_products(e, node, taps, w_raw)
    return _linear(e, node, products, e.type_of(node.inputs[0]))


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
}


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
        x = _transpose(b, _safe(tensor_name), batched(t.onnx_perm), "to_ir_layout")
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
        final = _transpose(b, value, batched(inverse(t.onnx_perm)), "to_model_layout")
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
