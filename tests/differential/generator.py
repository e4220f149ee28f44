"""Random cases for the differential tester: a small ONNX network, a precision and inputs.

Everything is drawn from ``numpy.random.default_rng([seed, index, stream])``, so a case is
reproduced from ``(seed, index)`` alone: stream 0 draws the network, stream 1 the precision,
stream 2 the inputs and the calibration data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnfx.compiler.fixed import OVERFLOW, ROUNDING, FixedType
from nnfx.compiler.ops import ACTIVATION_KINDS, Op

IO_MAX_WIDTH = 53  # the C-simulation exchanges model inputs and outputs as doubles
PASS_CHOICES = ("default", "default", "default", "fuse", "nofold")
ACTIVATIONS = (
    "Relu",
    "LeakyRelu",
    "Elu",
    "Sigmoid",
    "Tanh",
    "HardSigmoid",
    "Clip",
    "ClipRelu",
    "Selu",
    "Softplus",
    "HardSwish",
    "GeluErf",
    "Mish",
    "Gelu",
)
# The opset an op needs beyond the generator's 17 (Mish: 18; Gelu: 20).
OPSETS = {"Mish": 18, "Gelu": 20}
QONNX = "qonnx.custom_op.general"  # MultiThreshold's domain


def rng_for(seed: int, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, index, stream])


# -- networks ------------------------------------------------------------------------------
@dataclass
class Net:
    """A network under construction: ONNX nodes, initializers, and what has been used."""

    rng: np.random.Generator
    nodes: list = field(default_factory=list)
    inits: dict = field(default_factory=dict)
    ops: list = field(default_factory=list)
    count: int = 0

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}{self.count}"

    def const(self, base: str, array) -> str:
        name = self.fresh(base)
        self.inits[name] = np.asarray(array, np.float32)
        return name

    def int_const(self, base: str, values) -> str:
        name = self.fresh(base)
        self.inits[name] = np.asarray(values, np.int64)
        return name

    def node(self, op: str, inputs: list[str], tag: str | None = None, **attrs) -> str:
        out = self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.ops.append(tag or op)
        return out

    def weights(self, *shape) -> np.ndarray:
        """Random weights; half the time on a coarse grid, so that products meet ties."""
        w = self.rng.standard_normal(shape) * float(self.rng.choice([0.25, 0.6, 1.0, 2.5]))
        if self.rng.random() < 0.5:
            w = np.round(w * 2 ** int(self.rng.integers(0, 4))) / 2 ** int(self.rng.integers(0, 4))
        return w.astype(np.float32)


def _out_size(size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int) -> int:
    return (size + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1


def _spatial(net: Net, shape: tuple, pooling: bool) -> dict | None:
    """Random kernel/stride/pads/dilations that give a non-empty output, or None."""
    rng = net.rng
    sizes = shape[1:]
    kernel, strides, begins, ends, dilations, out = [], [], [], [], [], []
    for size in sizes:
        k = int(rng.integers(1, 4))
        d = 1 if pooling or rng.random() < 0.8 else 2
        s = int(rng.integers(1, 3))
        pb = int(rng.integers(0, min(k, 2))) if rng.random() < 0.5 else 0
        pe = int(rng.integers(0, min(k, 2))) if rng.random() < 0.5 else 0
        o = _out_size(size, k, s, (pb, pe), d)
        if o < 1:
            return None
        kernel.append(k), strides.append(s), begins.append(pb), ends.append(pe)
        dilations.append(d), out.append(o)
    attrs = {"kernel_shape": kernel, "strides": strides, "pads": begins + ends}
    if not pooling and any(d != 1 for d in dilations):
        attrs["dilations"] = dilations
    return {"attrs": attrs, "out": tuple(out)}


def _activation(net: Net, x: str, kind: str | None = None) -> str:
    rng = net.rng
    kind = kind or str(rng.choice(ACTIVATIONS))
    if kind == "LeakyRelu":
        return net.node("LeakyRelu", [x], alpha=float(rng.choice([0.01, 0.1, 0.3, 0.7])))
    if kind == "Elu":
        return net.node("Elu", [x], alpha=float(rng.choice([0.5, 1.0, 1.7])))
    if kind == "HardSigmoid":
        return net.node("HardSigmoid", [x], alpha=float(rng.choice([0.2, 0.3])), beta=0.5)
    if kind == "Clip":
        low = float(np.round(-rng.random() * 2, 2))
        high = float(np.round(rng.random() * 3 + 0.1, 2))
        return net.node("Clip", [x, net.const("lo", low), net.const("hi", high)])
    if kind == "Selu":
        return net.node("Selu", [x], alpha=float(rng.choice([1.0, 1.6733])), gamma=1.0507)
    if kind == "GeluErf":  # PyTorch's GELU: x * 0.5 * (1 + erf(x / sqrt(2))), one table
        erf = net.node("Erf", [net.node("Div", [x, net.const("sqrt2", 2**0.5)])])
        one_plus = net.node("Add", [erf, net.const("one", 1.0)])
        return net.node("Mul", [net.node("Mul", [x, one_plus]), net.const("half", 0.5)])
    if kind == "ClipRelu":  # Clip(min=0): a relu by another spelling
        return net.node("Clip", [x, net.const("lo", 0.0)], tag="Clip(min=0)")
    if kind == "Gelu":  # ONNX's own (opset 20), exact or tanh
        return net.node("Gelu", [x], approximate=str(rng.choice(["none", "tanh"])))
    return net.node(kind, [x])


def _prelu(net: Net, x: str, shape: tuple) -> tuple[str, tuple]:
    """PRelu: one slope per channel (nn.PReLU(C)'s (C, 1, ...)), sometimes one for all."""
    if shape[0] == 1 or net.rng.random() < 0.25:
        return net.node("PRelu", [x, net.const("slope", net.weights(1))]), shape
    slope = net.weights(shape[0], *([1] * (len(shape) - 1)))
    return net.node("PRelu", [x, net.const("slope", slope)], tag="PRelu(channels)"), shape


def _slice(net: Net, x: str, shape: tuple) -> tuple[str, tuple]:
    """Slice of one or two sample axes, step 1, bounds sometimes negative or beyond the end."""
    rng = net.rng
    axes = [a for a in range(len(shape)) if shape[a] >= 2]
    if not axes:
        return _activation(net, x), shape
    count = int(rng.integers(1, min(2, len(axes)) + 1))
    chosen = sorted(int(a) for a in rng.choice(axes, size=count, replace=False))
    starts, ends, out = [], [], list(shape)
    for a in chosen:
        n = shape[a]
        start = int(rng.integers(0, n))
        end = int(rng.integers(start + 1, n + 1))
        out[a] = end - start
        starts.append(start - n if rng.random() < 0.3 else start)
        if end == n:
            ends.append(n if rng.random() < 0.5 else 2**62)
        else:
            ends.append(end - n if rng.random() < 0.3 else end)
    inputs = [x, net.int_const("starts", starts), net.int_const("ends", ends)]
    axes_name = net.int_const("axes", [a + 1 for a in chosen])
    return net.node("Slice", [*inputs, axes_name]), tuple(out)


def _split(net: Net, x: str, shape: tuple) -> tuple[str, tuple]:
    """Split of one sample axis into 2 or 3 parts, concatenated again in reverse order."""
    rng = net.rng
    axes = [a for a in range(len(shape)) if shape[a] >= 2]
    if not axes:
        return _activation(net, x), shape
    axis = int(rng.choice(axes))
    n = shape[axis]
    cuts = sorted(int(c) for c in rng.choice(range(1, n), size=min(n - 1, 2), replace=False))
    sizes = np.diff([0, *cuts, n])
    parts = [net.fresh("split") for _ in sizes]
    sizes_name = net.int_const("sizes", sizes)
    split = helper.make_node("Split", [x, sizes_name], parts, name=parts[0], axis=axis + 1)
    net.nodes.append(split)
    net.ops.append("Split")
    return net.node("Concat", parts[::-1], axis=axis + 1), shape


def _upsample(net: Net, x: str, shape: tuple) -> tuple[str, tuple]:
    """Nearest Resize by whole scales (1 to 3 per spatial axis) with a coordinate mode and
    nearest mode that repeat each value; at most 512 values per sample."""
    rng = net.rng
    scales = [int(rng.integers(1, 4)) for _ in shape[1:]]
    scales[-1] = max(scales[-1], 2)
    out = (shape[0], *(n * s for n, s in zip(shape[1:], scales, strict=True)))
    if math.prod(out) > 512:
        return _activation(net, x), shape
    transform, nearest = [
        ("asymmetric", "floor"),
        ("half_pixel", "round_prefer_floor"),
        ("pytorch_half_pixel", "round_prefer_ceil"),
    ][int(rng.integers(0, 3))]
    scales_name = net.const("scales", [1.0, 1.0, *scales])
    attrs = {"coordinate_transformation_mode": transform, "nearest_mode": nearest}
    return net.node("Resize", [x, "", scales_name], mode="nearest", **attrs), out


def _pad(net: Net, x: str, shape: tuple) -> tuple[str, tuple]:
    """Zero padding of the spatial axes, 0 to 2 at each side."""
    rng = net.rng
    begins = [int(rng.integers(0, 3)) for _ in shape[1:]]
    ends = [int(rng.integers(0, 3)) for _ in shape[1:]]
    out = (shape[0], *(n + b + e for n, b, e in zip(shape[1:], begins, ends, strict=True)))
    pads = net.int_const("pads", [0, 0, *begins, 0, 0, *ends])
    return net.node("Pad", [x, pads]), out


def _branch(net: Net, x: str, shape: tuple) -> tuple[str, tuple]:
    """A second tensor of the same shape computed from ``x`` (for Add/Sub/Mul/Concat)."""
    rng = net.rng
    choice = rng.integers(0, 4)
    if choice == 0:
        return x, shape  # the tensor with itself: Mul(x, x), Add(x, x)
    if choice == 1 or len(shape) == 1 and choice == 2:
        return _activation(net, x), shape
    if len(shape) == 1:
        w = net.weights(shape[0], shape[0])
        b = net.const("B", net.weights(shape[0]))
        return net.node("Gemm", [x, net.const("W", w), b]), shape
    # a 'same' convolution keeps the shape
    c = shape[0]
    k = 3 if all(s >= 3 for s in shape[1:]) else 1
    w = net.weights(c, c, *([k] * (len(shape) - 1)))
    pads = [k // 2] * (2 * (len(shape) - 1))
    return net.node("Conv", [x, net.const("W", w)], pads=pads), shape


def _recurrent(net: Net, x: str, shape: tuple) -> tuple[str, tuple]:
    """An RNN, LSTM or GRU over a (steps, features) sample, between the layout changes of
    nnfx's and PyTorch's exports: every state (steps, hidden) or the last one (hidden,)."""
    rng = net.rng
    steps, features = shape
    op = str(rng.choice(["RNN", "LSTM", "GRU"]))
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[op]
    hidden = int(rng.integers(1, 6))
    time_major = net.node("Transpose", [x], tag="Transpose(time-major)", perm=[1, 0, 2])
    inputs = [
        time_major,
        net.const("W", net.weights(1, gates * hidden, features) * 0.5),
        net.const("R", net.weights(1, gates * hidden, hidden) * 0.5),
        net.const("B", net.weights(1, 2 * gates * hidden)),
    ]
    attrs = {"hidden_size": hidden}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    every = rng.random() < 0.5
    out = net.fresh(op.lower())
    outputs = [out] if every else ["", out]
    net.nodes.append(helper.make_node(op, inputs, outputs, name=out, **attrs))
    net.ops.append(op)
    axis = net.int_const("axes", [1 if every else 0])
    y = net.node("Squeeze", [out, axis])
    if not every:
        return y, (hidden,)
    return net.node("Transpose", [y], tag="Transpose(batch-first)", perm=[1, 0, 2]), (
        steps,
        hidden,
    )


def _threshold(net: Net, x: str, shape: tuple) -> tuple[str, tuple]:
    """QONNX's MultiThreshold on features: a row of sorted thresholds per feature or one row
    for all, an output scale and bias."""
    rng = net.rng
    rows = shape[0] if rng.random() < 0.6 else 1
    thresholds = np.sort(net.weights(rows, int(rng.integers(1, 8))) * 2, axis=1)
    out = net.fresh("multithreshold")
    attrs = {
        "out_scale": float(rng.choice([0.25, 0.5, 1.0, 2.0])),
        "out_bias": float(rng.choice([-1.0, -0.5, 0.0])),
        "out_dtype": "FLOAT32",
    }
    inputs = [x, net.const("T", thresholds)]
    net.nodes.append(
        helper.make_node("MultiThreshold", inputs, [out], name=out, domain=QONNX, **attrs)
    )
    net.ops.append("MultiThreshold")
    return out, shape


def _step(net: Net, x: str, shape: tuple) -> tuple[str, tuple]:
    """One random op on ``x`` (shape without the batch axis)."""
    rng = net.rng
    if len(shape) == 1:
        d = shape[0]
        kind = rng.choice(
            ["gemm", "matmul", "act", "softmax", "bn", "const", "binary", "concat", "reshape"]
            + ["slice", "split", "prelu", "layernorm", "threshold"],
            p=[0.15, 0.08, 0.12, 0.06, 0.08, 0.09, 0.11, 0.07, 0.07, 0.03, 0.03, 0.04, 0.04, 0.03],
        )
        if kind == "threshold":
            return _threshold(net, x, shape)
        if kind == "gemm":
            m = int(rng.integers(1, 9))
            trans = bool(rng.random() < 0.3)
            w = net.weights(d, m)
            inputs = [x, net.const("W", w.T if trans else w)]
            if rng.random() < 0.8:
                inputs.append(net.const("B", net.weights(m)))
            attrs = {"transB": 1} if trans else {}
            if rng.random() < 0.2:
                attrs["alpha"] = float(rng.choice([0.5, 2.0]))
                attrs["beta"] = float(rng.choice([0.5, 1.0, 2.0]))
            return net.node("Gemm", inputs, **attrs), (m,)
        if kind == "matmul":  # MatMul (+ Add of a bias): a Dense once folded
            m = int(rng.integers(1, 9))
            y = net.node("MatMul", [x, net.const("W", net.weights(d, m))])
            if rng.random() < 0.7:
                y = net.node("Add", [y, net.const("B", net.weights(m))], tag="Add(bias)")
            return y, (m,)
        if kind == "softmax":
            if rng.random() < 0.2:
                return net.node("LogSoftmax", [x], axis=-1), shape
            return net.node("Softmax", [x], axis=-1), shape
        if kind == "reshape":
            for c in (2, 3, 1):
                if d % c == 0 and d // c >= 2:
                    target = [0, c, d // c] if rng.random() < 0.5 else [-1, c, d // c]
                    y = net.node("Reshape", [x, net.int_const("shape", target)])
                    return y, (c, d // c)
            return _activation(net, x), shape
    else:
        kind = rng.choice(
            [
                "conv",
                "maxpool",
                "avgpool",
                "global",
                "bn",
                "act",
                "const",
                "binary",
                "concat",
                "flatten",
                "softmax",
                "slice",
                "split",
                "prelu",
                "layernorm",
                "upsample",
                "pad",
                "recurrent",
            ],
            p=[
                *(0.11, 0.08, 0.08, 0.06, 0.08, 0.1, 0.05),
                *(0.08, 0.05, 0.06, 0.03, 0.03, 0.03, 0.04, 0.03, 0.03, 0.03, 0.03),
            ],
        )
        if kind == "recurrent" and len(shape) == 2:
            return _recurrent(net, x, shape)
        if kind == "conv":
            spatial = _spatial(net, shape, pooling=False)
            if spatial is None:
                return _activation(net, x), shape
            c_in, attrs, group = shape[0], spatial["attrs"], 1
            divisors = [g for g in range(2, c_in + 1) if c_in % g == 0]
            if divisors and rng.random() < 0.4:  # grouped, or depthwise (group = channels)
                group = int(rng.choice(divisors))
                attrs = {**attrs, "group": group}
            c_out = group * int(rng.integers(1, 3 if group > 1 else 4))
            w = net.weights(c_out, c_in // group, *spatial["attrs"]["kernel_shape"])
            inputs = [x, net.const("W", w)]
            if rng.random() < 0.7:
                inputs.append(net.const("B", net.weights(c_out)))
            tag = f"Conv{len(shape) - 1}D"
            if group > 1:
                tag += "(depthwise)" if group == c_in else "(grouped)"
            return net.node("Conv", inputs, tag=tag, **attrs), (c_out, *spatial["out"])
        if kind in ("maxpool", "avgpool"):
            spatial = _spatial(net, shape, pooling=True)
            if spatial is None:
                return _activation(net, x), shape
            attrs = spatial["attrs"]
            if kind == "avgpool":
                attrs["count_include_pad"] = int(rng.integers(0, 2))
                op = "AveragePool"
            else:
                op = "MaxPool"
            return net.node(op, [x], **attrs), (shape[0], *spatial["out"])
        if kind == "global":
            op = "GlobalAveragePool" if rng.random() < 0.5 else "GlobalMaxPool"
            y = net.node(op, [x])
            return net.node("Flatten", [y]), (shape[0],)
        if kind == "flatten":
            if rng.random() < 0.5:
                return net.node("Flatten", [x]), (math.prod(shape),)
            y = net.node("Reshape", [x, net.int_const("shape", [0, -1])])
            return y, (math.prod(shape),)
        if kind == "softmax":
            return net.node("Softmax", [x], axis=1, tag="Softmax(channels)"), shape
        if kind == "upsample":
            return _upsample(net, x, shape)
        if kind == "pad":
            return _pad(net, x, shape)
    if kind == "act" or kind == "recurrent":
        return _activation(net, x), shape
    if kind == "layernorm":  # over the last ONNX axis, a bias or none
        n = shape[-1]
        inputs = [x, net.const("g", np.abs(net.weights(n)) + 0.25)]
        if rng.random() < 0.7:
            inputs.append(net.const("b", net.weights(n)))
        axis = -1 if rng.random() < 0.5 else len(shape)
        epsilon = float(rng.choice([1e-5, 1e-3, 0.1]))
        y = net.node("LayerNormalization", inputs, axis=axis, epsilon=epsilon)
        return y, shape
    if kind in ("slice", "split", "prelu"):
        return {"slice": _slice, "split": _split, "prelu": _prelu}[str(kind)](net, x, shape)
    if kind == "bn":
        c = shape[0]
        gamma, beta = net.weights(c), net.weights(c)
        mean, var = net.weights(c), np.abs(net.weights(c)) + 0.25
        ins = [net.const(n, v) for n, v in zip("sbmv", (gamma, beta, mean, var), strict=True)]
        return net.node("BatchNormalization", [x, *ins], epsilon=1e-3), shape
    if kind == "const":  # x op constant: a BatchNorm in the IR
        op = str(rng.choice(["Mul", "Add", "Sub", "Div"]))
        per_channel = (shape[0],) + (1,) * (len(shape) - 1)
        k = net.weights(*(per_channel if rng.random() < 0.5 else shape))
        if op == "Div":
            k = np.where(np.abs(k) < 0.25, 0.5, k).astype(np.float32)
        name = net.const("k", k)
        inputs = [name, x] if op in ("Mul", "Add", "Sub") and rng.random() < 0.3 else [x, name]
        return net.node(op, inputs, tag=f"{op}(const)"), shape
    if kind == "binary":
        other, _ = _branch(net, x, shape)
        op = str(rng.choice(["Add", "Sub", "Mul"]))
        inputs = [x, other] if rng.random() < 0.5 else [other, x]
        return net.node(op, inputs, tag=f"{op}(tensors)"), shape
    if kind == "concat":
        other, _ = _branch(net, x, shape)
        y = net.node("Concat", [x, other], axis=1)
        return y, (2 * shape[0], *shape[1:])
    return _activation(net, x), shape


def make_onnx(net: Net, inputs, outputs) -> onnx.ModelProto:
    """The model; outputs are (name, elem_type) with shapes from ONNX shape inference."""
    graph = helper.make_graph(
        net.nodes,
        "differential",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", *s]) for n, s in inputs],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs],
        [numpy_helper.from_array(v, k) for k, v in net.inits.items()],
    )
    opset = max([17, *(OPSETS.get(op, 17) for op in net.ops)])
    opsets = [helper.make_opsetid("", opset)]
    if any(n.domain == QONNX for n in net.nodes):
        opsets.append(helper.make_opsetid(QONNX, 2))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8 if opset <= 18 else 10
    shaped = onnx.ModelProto()  # ONNX infers no custom op: MultiThreshold keeps the shape
    shaped.CopyFrom(model)
    for n in shaped.graph.node:
        if n.domain == QONNX:
            n.CopyFrom(helper.make_node("Relu", [n.input[0]], list(n.output), name=n.name))
    inferred = onnx.shape_inference.infer_shapes(shaped)
    known = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
    for out in model.graph.output:
        if out.name in known and known[out.name].type.tensor_type.HasField("shape"):
            out.type.CopyFrom(known[out.name].type)
    return model


def random_network(rng: np.random.Generator, max_ops: int = 6) -> tuple[onnx.ModelProto, list]:
    """A small random network with one input: (model, the op tags used)."""
    net = Net(rng)
    kind = rng.choice(["vector", "sequence", "image"], p=[0.45, 0.2, 0.35])
    if kind == "vector":
        shape = (int(rng.integers(1, 9)),)
    elif kind == "sequence":
        shape = (int(rng.integers(1, 4)), int(rng.integers(2, 9)))
    else:
        shape = (int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    x, current = "x", shape
    tensors = []
    for _ in range(int(rng.integers(1, max_ops + 1))):
        x, current = _step(net, x, current)
        tensors.append((x, current))
    outputs = [(x, TensorProto.FLOAT)]
    if len(current) == 1 and rng.random() < 0.12:  # a classifier's label
        keep = int(rng.integers(0, 2))
        outputs = [(net.node("ArgMax", [x], axis=1, keepdims=keep), TensorProto.INT64)]
        if rng.random() < 0.5:
            outputs.append((x, TensorProto.FLOAT))
    if len(tensors) > 1 and rng.random() < 0.2:  # an intermediate tensor as a second output
        name = tensors[int(rng.integers(0, len(tensors) - 1))][0]
        if name not in [o for o, _ in outputs]:
            outputs.append((name, TensorProto.FLOAT))
    model = make_onnx(net, [("x", shape)], outputs)
    return model, net.ops


# -- precisions ----------------------------------------------------------------------------
def random_width(rng: np.random.Generator, max_width: int, min_width: int = 2) -> int:
    """Mostly narrow (2..12), often medium (13..24), sometimes wide (25..max_width); with
    ``min_width`` > 2, uniform in min_width..max_width."""
    if min_width > 2:
        return int(rng.integers(min(min_width, max_width), max_width + 1))
    u = rng.random()
    if u < 0.6 or max_width <= 12:
        return int(rng.integers(2, min(12, max_width) + 1))
    if u < 0.85 or max_width <= 24:
        return int(rng.integers(13, min(24, max_width) + 1))
    return int(rng.integers(25, max_width + 1))


def random_type(
    rng: np.random.Generator, max_width: int, signed: bool | None = None, min_width: int = 2
) -> FixedType:
    """Any width 2..max_width; integer bits mostly in [-1, W+1], sometimes I < 0 or I > W;
    every rounding and overflow mode."""
    w = random_width(rng, max_width, min_width)
    u = rng.random()
    if u < 0.75:
        i = int(rng.integers(max(-1, 1 - w // 2), min(w, 10) + 2))
    elif u < 0.88:
        i = -int(rng.integers(1, 6))
    else:
        i = w + int(rng.integers(1, 6))
    if signed is None:
        signed = bool(rng.random() < 0.85)
    return FixedType(w, i, signed, str(rng.choice(ROUNDING)), str(rng.choice(OVERFLOW)))


def random_precision(rng: np.random.Generator, graph, max_width: int) -> tuple[dict, str]:
    """A precision config (PrecisionConfig's dict form) for a loaded float IR ``graph`` and
    its kind: one uniform type, per-layer/per-tensor mixes, or ``auto`` (needs calibration
    data). When ``max_width`` > 32, a third of the cases are *wide*: results and tensors of
    33..max_width bits (weights and biases mostly narrow, 2..12 bits, so that exact
    accumulators still fit). The model inputs and outputs stay within IO_MAX_WIDTH bits."""
    wide = max_width > 32 and rng.random() < 0.35
    least = 33 if wide else 2

    def any_type(signed=None) -> str:
        return str(random_type(rng, max_width, signed, least))

    def constant_type() -> str:
        narrow = wide and rng.random() < 0.8
        return str(random_type(rng, 12 if narrow else max_width, True, 2 if narrow else least))

    u = rng.random()
    config: dict = {}
    if u < 0.3 and not wide:
        mode = "uniform"
        config["default"] = any_type()
    elif u < 0.75 or wide:
        mode = "mixed"
        config["default"] = any_type()
    else:
        mode = "auto"
        config["default"] = "auto"
        config["width"] = int(rng.integers(2, min(32, max_width) + 1))
        config["margin_bits"] = int(rng.integers(0, 3))
    if rng.random() < 0.2:
        config["table_width"] = int(rng.integers(8, 25))
    layers: dict = {}
    tensors: dict = {}
    if mode != "uniform":
        share = 0.7 if mode == "mixed" else 0.3
        for node in graph.nodes:
            if node.op in (Op.FLATTEN, Op.RESHAPE, Op.TRANSPOSE, Op.IDENTITY, Op.ARGMAX, Op.SLICE):
                continue
            if rng.random() >= share and not (wide and node.op in (Op.DENSE, Op.CONV)):
                continue
            spec: dict = {}
            if node.op not in (Op.MAX_POOL, Op.GLOBAL_MAX_POOL, Op.CONCAT):
                spec["result"] = any_type()
            if node.op in (Op.DENSE, Op.CONV, Op.BATCH_NORM, Op.LAYER_NORM):
                if rng.random() < 0.7 or wide:
                    spec["weight"] = constant_type()
                if rng.random() < 0.7 or wide:
                    spec["bias"] = constant_type()
            if node.op in (Op.DENSE, Op.CONV) and rng.random() < 0.2:
                spec["accum"] = str(random_type(rng, min(max_width, 40), True, least))
            tabled = node.op in (Op.SOFTMAX, Op.LAYER_NORM) or (
                node.op is Op.ACTIVATION and ACTIVATION_KINDS[node.attrs.kind].table
            )
            if tabled and rng.random() < 0.5:
                spec["table_size"] = int(2 ** rng.integers(2, 11))
            if tabled and node.op is Op.ACTIVATION and rng.random() < 0.3:
                low = -float(rng.choice([1, 2, 4, 6, 8]))
                high = 0.0 if node.attrs.kind == "elu" else float(rng.choice([1, 2, 4, 8]))
                spec["table_range"] = [low, high]
            if mode == "auto" and "result" in spec and rng.random() < 0.5:
                del spec["result"]
                spec["width"] = int(rng.integers(2, 33))
            if spec:
                layers[node.name] = spec
        if mode == "mixed":
            for name in graph.tensors:
                if name not in graph.inputs and rng.random() < 0.15:
                    tensors[name] = any_type()
    # model inputs and outputs: at most IO_MAX_WIDTH bits (doubles at the C-simulation boundary)
    if mode != "auto" or rng.random() < 0.3:
        for name in graph.inputs:
            if mode != "uniform" or FixedType.parse(config["default"]).width > IO_MAX_WIDTH:
                tensors[name] = str(random_type(rng, min(max_width, IO_MAX_WIDTH), None, least))
    if max_width > IO_MAX_WIDTH:
        producers = {o: n for n in graph.nodes for o in n.outputs}
        for name in graph.outputs:
            source = _typed_source(graph, producers, name)
            if source is not None and source not in graph.inputs:
                tensors[source] = str(random_type(rng, min(max_width, IO_MAX_WIDTH), None, least))
    if layers:
        config["layers"] = layers
    if tensors:
        config["tensors"] = tensors
    return config, f"{mode}-wide" if wide else mode


def _typed_source(graph, producers: dict, name: str) -> str | None:
    """The tensor whose type an output takes: itself, or (through pass-through ops, which
    keep their input's type) the first tensor upstream that gets a type of its own."""
    passing = (Op.FLATTEN, Op.RESHAPE, Op.TRANSPOSE, Op.IDENTITY, Op.MAX_POOL, Op.GLOBAL_MAX_POOL)
    passing += (Op.SLICE,)
    while name in producers:
        node = producers[name]
        if node.op is Op.ARGMAX:
            return None
        if node.op not in passing:
            return name
        name = node.inputs[0]
    return name


# -- inputs --------------------------------------------------------------------------------
def random_values(rng: np.random.Generator, t: FixedType, shape: tuple) -> np.ndarray:
    """Values for an input of type ``t``: ordinary values, exact grid points, halfway points
    (ties for every rounding mode), quarter points, coarse-grid points (ties further down the
    network), the type's limits, values beyond the type, and zero."""
    n = math.prod(shape)
    step = 2.0**-t.frac
    lo, hi = t.raw_min, t.raw_max
    span = max(abs(t.min), abs(t.max), step)
    codes = rng.integers(lo, hi, size=n, endpoint=True).astype(np.float64)
    kind = rng.choice(8, size=n, p=[0.22, 0.16, 0.16, 0.08, 0.12, 0.1, 0.1, 0.06])
    v = np.empty(n)
    v[:] = rng.standard_normal(n) * span * rng.choice([0.05, 0.3, 1.0], size=n)  # 0: ordinary
    v = np.where(kind == 1, codes * step, v)  # exact grid points
    v = np.where(kind == 2, (codes + 0.5) * step, v)  # halfway points: ties
    v = np.where(kind == 3, (codes + rng.choice([0.25, 0.75], size=n)) * step, v)
    coarse = 2.0 ** rng.integers(1, 5, size=n)
    v = np.where(kind == 4, np.round(codes / coarse) * coarse * step, v)  # coarse grids
    v = np.where((kind == 4) & (rng.random(n) < 0.5), (np.round(codes / coarse) + 0.5) * step, v)
    edges = np.array([lo, hi, lo - 1, hi + 1, lo - 0.5, hi + 0.5, -hi, -hi - 0.5], np.float64)
    v = np.where(kind == 5, rng.choice(edges, size=n) * step, v)  # limits and just beyond
    far = span * rng.uniform(1.0, 6.0, size=n) * rng.choice([-1.0, 1.0], size=n)
    v = np.where(kind == 6, far, v)  # well beyond the type
    small = rng.choice([0.0, 0.5, 1.0, 1.5, -0.5, -1.0, -1.5], size=n) * step
    v = np.where(kind == 7, small, v)  # zero and a step around it
    return v.reshape(shape)


def add_specials(rng: np.random.Generator, X: np.ndarray) -> None:
    """Put NaN, +Inf and -Inf into a few elements of ``X`` (in place)."""
    flat = X.reshape(-1)
    count = max(1, flat.size // 50)
    where = rng.choice(flat.size, size=count, replace=False)
    flat[where] = rng.choice([np.nan, np.inf, -np.inf], size=count)


def calibration_data(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    n = int(rng.integers(8, 65))
    scale = float(rng.choice([0.01, 0.3, 1.0, 4.0, 50.0]))
    return rng.standard_normal((n, *shape)) * scale
