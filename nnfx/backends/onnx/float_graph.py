"""IR -> the float ONNX graph: one small writer per op, in the table ``FLOAT_WRITERS``."""

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
from nnfx.backends.onnx.float_recurrent import write_recurrent
from nnfx.backends.onnx.input_steps import input_steps
from nnfx.backends.onnx.threshold import write_float as write_threshold
from nnfx.compiler.ir import INTEGER, Graph, Node
from nnfx.compiler.layout import inverse, model_to_ir
from nnfx.compiler.ops import Activation, Op, activation_rule
from nnfx.compiler.resample import batched_pads
from nnfx.errors import UnsupportedOpError


def _f_layout(b: Builder, x: str, rank: int, to_channels_first: bool) -> str:
    """Channels-last <-> channels-first around the ops ONNX defines on NCHW."""
    perm = [0, rank, *range(1, rank)] if to_channels_first else [0, *range(2, rank + 1), 1]
    return b.op("Transpose", [x], "nchw" if to_channels_first else "nhwc", perm=perm)


def _f_fused(b: Builder, node: Node, y: str) -> str:
    """The activation fuse_activations folded into a Dense or Conv (relu or leaky_relu)."""
    a = node.attrs
    if a.activation is Activation.RELU:
        return b.op("Relu", [y], "relu")
    if a.activation is Activation.LEAKY_RELU:
        return b.op("LeakyRelu", [y], "leaky_relu", alpha=float(a.activation_alpha))
    if a.activation is not Activation.LINEAR:
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
        attrs["group"] = a.group
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


def _f_clip(b: Builder, a, x: str) -> str:
    lo = b.const(a.min if math.isfinite(a.min) else -3.4e38, "min")
    hi = b.const(a.max if math.isfinite(a.max) else 3.4e38, "max")
    return b.op("Clip", [x, lo, hi])


def _f_gelu(b: Builder, a, x: str) -> str:
    """x * 0.5 * (1 + erf(x / sqrt(2))): opset 17 has no Gelu."""
    erf = b.op("Erf", [b.op("Mul", [x, b.const(1.0 / math.sqrt(2.0), "inv_sqrt2")])])
    half = b.op("Mul", [x, b.const(0.5, "half")])
    return b.op("Mul", [half, b.op("Add", [erf, b.const(1.0, "one")])], "gelu")


def _f_gelu_tanh(b: Builder, a, x: str) -> str:
    """x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))."""
    cube = b.op("Mul", [b.op("Mul", [x, x]), x])
    inner = b.op("Add", [x, b.op("Mul", [cube, b.const(0.044715, "c")])])
    t = b.op("Tanh", [b.op("Mul", [inner, b.const(math.sqrt(2.0 / math.pi), "k")])])
    half = b.op("Mul", [x, b.const(0.5, "half")])
    return b.op("Mul", [half, b.op("Add", [t, b.const(1.0, "one")])], "gelu")


# Activation kind -> its float ONNX writer fn(builder, attrs, x).
FLOAT_ACTIVATIONS: dict[Activation, Callable[[Builder, object, str], str]] = {
    Activation.LINEAR: lambda b, a, x: x,
    Activation.RELU: lambda b, a, x: b.op("Relu", [x]),
    Activation.LEAKY_RELU: lambda b, a, x: b.op("LeakyRelu", [x], alpha=a.alpha),
    Activation.ELU: lambda b, a, x: b.op("Elu", [x], alpha=a.alpha),
    Activation.SIGMOID: lambda b, a, x: b.op("Sigmoid", [x]),
    Activation.TANH: lambda b, a, x: b.op("Tanh", [x]),
    Activation.CLIP: _f_clip,
    Activation.HARD_SIGMOID: lambda b, a, x: b.op("HardSigmoid", [x], alpha=a.alpha, beta=a.beta),
    Activation.SELU: lambda b, a, x: b.op("Selu", [x], alpha=a.alpha, gamma=a.beta),
    Activation.SOFTPLUS: lambda b, a, x: b.op("Softplus", [x]),
    Activation.HARD_SWISH: lambda b, a, x: b.op("HardSwish", [x]),
    Activation.GELU: _f_gelu,
    Activation.GELU_TANH: _f_gelu_tanh,
    Activation.MISH: lambda b, a, x: b.op("Mul", [x, b.op("Tanh", [b.op("Softplus", [x])])]),
    Activation.BIPOLAR: lambda b, a, x: b.op(
        "Where",
        [
            b.op("GreaterOrEqual", [x, b.const(0.0, "zero")]),
            b.const(a.alpha, "alpha"),
            b.const(-a.alpha, "minus_alpha"),
        ],
        "bipolar",
    ),
}


def _f_activation(b, g, node, xs):
    writer = activation_rule(FLOAT_ACTIVATIONS, node.attrs.kind, "float ONNX export")
    if node.attrs.kind is Activation.LEAKY_RELU and "alpha" in node.params:  # per channel
        return b.op("PRelu", [xs[0], b.const(node.param(g, "alpha"), "slope")], "prelu")
    return writer(b, node.attrs, xs[0])


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
    Op.LAYER_NORM: lambda b, g, n, xs: b.op(
        "LayerNormalization",
        [xs[0], b.const(n.param(g, "scale"), "scale"), b.const(n.param(g, "bias"), "bias")],
        "layer_norm",
        axis=-1,
        epsilon=float(n.attrs.epsilon),
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
    Op.SLICE: lambda b, g, n, xs: slice_op(b, n.attrs, xs[0]),
    Op.UPSAMPLE: lambda b, g, n, xs: b.op(
        "Resize",
        [xs[0], "", b.const([1.0, *n.attrs.scales, 1.0], "scales", np.float32)],
        "upsample",
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    ),
    Op.PAD: lambda b, g, n, xs: b.op("Pad", [xs[0], b.ints(batched_pads(n.attrs), "pads")], "pad"),
    Op.RECURRENT: write_recurrent,
    Op.THRESHOLD: write_threshold,
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
            b,
            input_steps(b, _safe(tensor_name), t.steps),
            model_to_ir(t.onnx_perm, t.batch_axis),
            "to_ir_layout",
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
            b,
            values[tensor_name],
            inverse(model_to_ir(t.onnx_perm, t.batch_axis)),
            "to_model_layout",
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
