"""Small ONNX models, one or a few per op, and ``random_compile``: each compiled with random
types for every layer (every rounding and overflow mode), random table sizes and, when asked,
narrow accumulators. Every engine's bit-exactness tests draw their cases from here."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

import nnfx
from nnfx.compiler.fixed import OVERFLOW, ROUNDING, FixedType
from nnfx.compiler.ops import ACTIVATION_KINDS, Op
from tests.helpers import make_model


def random_type(rng, signed=True, width=None) -> FixedType:
    w = int(width or rng.integers(4, 17))
    return FixedType(
        w,
        int(rng.integers(-1, w // 2 + 3)),
        signed,
        str(rng.choice(ROUNDING)),
        str(rng.choice(OVERFLOW)),
    )


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=outputs[0], **attrs)


def recurrent_model(rng, op, steps=4, n_in=3, hidden=5, every=True, last=False, **attrs):
    """An ONNX RNN/LSTM/GRU between the layout changes nnfx's and PyTorch's exports write:
    ``Transpose(perm=[1, 0, 2])`` of a batch-first input into it; ``Y`` squeezed and transposed
    back (output ``y``, when ``every``), ``Y_h`` squeezed (output ``h``, when ``last``)."""
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[op]
    f = lambda *s: (rng.standard_normal(s) * 0.6).astype(np.float32)  # noqa: E731
    if op == "GRU":
        attrs.setdefault("linear_before_reset", 1)
    outs = ["Y" if every else "", "Y_h" if last else ""]
    nodes = [
        node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node(op, ["xt", "W", "R", "B"], outs, name="rec", hidden_size=hidden, **attrs),
    ]
    inits = {
        "W": f(1, gates * hidden, n_in),
        "R": f(1, gates * hidden, hidden),
        "B": f(1, 2 * gates * hidden),
        "ax1": np.array([1], np.int64),
        "ax0": np.array([0], np.int64),
    }
    outputs = []
    if every:
        nodes += [
            node("Squeeze", ["Y", "ax1"], ["ys"]),
            node("Transpose", ["ys"], ["y"], perm=[1, 0, 2]),
        ]
        outputs.append(("y", ["N", steps, hidden]))
    if last:
        nodes.append(node("Squeeze", ["Y_h", "ax0"], ["h"]))
        outputs.append(("h", ["N", hidden]))
    return make_model(nodes, [("x", ["N", steps, n_in])], outputs, inits)


def models(rng):
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    image = [("x", ["N", 2, 5, 5])]
    vector = [("x", ["N", 6])]
    bn = {"s": f(2), "b": f(2), "m": f(2), "v": np.abs(f(2)) + 0.5}
    yield (
        "dense",
        make_model(
            [node("Gemm", ["x", "W", "B"], ["y"])], vector, [("y", None)], {"W": f(6, 4), "B": f(4)}
        ),
    )
    yield (
        "conv",
        make_model(
            [
                node(
                    "Conv",
                    ["x", "W", "B"],
                    ["y"],
                    pads=[1, 0, 1, 1],
                    strides=[2, 1],
                    dilations=[1, 2],
                )
            ],
            image,
            [("y", None)],
            {"W": f(3, 2, 3, 2), "B": f(3)},
        ),
    )
    image4 = [("x", ["N", 4, 5, 5])]
    for name, group, shape, pads in [
        ("conv_grouped", 2, (6, 2, 3, 2), [1, 0, 1, 1]),
        ("conv_depthwise", 4, (4, 1, 3, 3), [1, 1, 1, 1]),
        ("conv_depthwise_x2", 4, (8, 1, 2, 3), [0, 1, 1, 0]),
    ]:
        conv = node("Conv", ["x", "W", "B"], ["y"], group=group, pads=pads, strides=[1, 2])
        inits = {"W": f(*shape), "B": f(shape[0])}
        yield name, make_model([conv], image4, [("y", None)], inits)
    yield (
        "conv_separable",
        make_model(
            [
                node("Conv", ["x", "D"], ["d"], group=4, pads=[1, 1, 1, 1]),
                node("Relu", ["d"], ["r"]),
                node("Conv", ["r", "P", "B"], ["y"]),
            ],
            image4,
            [("y", None)],
            {"D": f(4, 1, 3, 3), "P": f(3, 4, 1, 1), "B": f(3)},
        ),
    )
    yield (
        "pools",
        make_model(
            [
                node(
                    "MaxPool", ["x"], ["m"], kernel_shape=[2, 2], strides=[1, 2], pads=[1, 1, 0, 0]
                ),
                node("AveragePool", ["m"], ["a"], kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
                node("AveragePool", ["a"], ["y"], kernel_shape=[2, 2], count_include_pad=1),
            ],
            image,
            [("y", None)],
        ),
    )
    yield (
        "global_pools",
        make_model(
            [
                node("GlobalAveragePool", ["x"], ["a"]),
                node("GlobalMaxPool", ["x"], ["b"]),
                node("Flatten", ["a"], ["fa"]),
                node("Flatten", ["b"], ["fb"]),
                node("Concat", ["fa", "fb"], ["y"], axis=1),
            ],
            image,
            [("y", None)],
        ),
    )
    yield (
        "batchnorm_add_transpose",
        make_model(
            [
                node("BatchNormalization", ["x", "s", "b", "m", "v"], ["n"]),
                node("Mul", ["x", "k"], ["k2"]),
                node("Add", ["n", "k2"], ["sum"]),
                node("Transpose", ["sum"], ["t"], perm=[0, 2, 1, 3]),
                node("Flatten", ["t"], ["y"]),
            ],
            image,
            [("y", None)],
            {**bn, "k": f(2, 5, 5)},
        ),
    )
    for kind, attrs in [
        ("Relu", {}),
        ("LeakyRelu", {"alpha": 0.15}),
        ("Sigmoid", {}),
        ("Tanh", {}),
        ("Elu", {"alpha": 0.8}),
        ("HardSigmoid", {"alpha": 0.3, "beta": 0.45}),
    ]:
        yield kind.lower(), make_model([node(kind, ["x"], ["y"], **attrs)], vector, [("y", None)])
    yield (
        "sub_mul",
        make_model(
            [
                node("Tanh", ["x"], ["t"]),
                node("Sigmoid", ["x"], ["s"]),
                node("Sub", ["x", "t"], ["d"]),
                node("Mul", ["d", "s"], ["y"]),
            ],
            vector,
            [("y", None)],
        ),
    )
    yield (
        "clip",
        make_model(
            [node("Clip", ["x", "lo", "hi"], ["y"])],
            vector,
            [("y", None)],
            {"lo": np.float32(-0.7), "hi": np.float32(1.3)},
        ),
    )
    yield "softmax", make_model([node("Softmax", ["x"], ["y"])], vector, [("y", None)])
    yield "logsoftmax", make_model([node("LogSoftmax", ["x"], ["y"])], vector, [("y", None)])
    argmax = make_model(
        [node("Gemm", ["x", "W"], ["h"]), node("ArgMax", ["h"], ["y"], axis=1, keepdims=0)],
        vector,
        [("y", ["N"])],
        {"W": f(6, 3)},
    )
    argmax.graph.output[0].type.tensor_type.elem_type = onnx.TensorProto.INT64
    yield "argmax", argmax
    # the kinds unbounded above (issue #14): a table, and the linear asymptote above it
    for name, kind, attrs, opset in [
        ("selu", "Selu", {"alpha": 1.5, "gamma": 1.1}, 17),
        ("softplus", "Softplus", {}, 17),
        ("hardswish", "HardSwish", {}, 17),
        ("mish", "Mish", {}, 18),
        ("gelu", "Gelu", {}, 20),
        ("gelu_tanh", "Gelu", {"approximate": "tanh"}, 20),
    ]:
        nodes = [node(kind, ["x"], ["y"], **attrs)]
        yield name, make_model(nodes, vector, [("y", None)], opset=opset)
    yield (  # PyTorch's GELU: x * 0.5 * (1 + erf(x / sqrt(2))), the 0.5 first
        "gelu_erf",
        make_model(
            [
                node("Div", ["x", "sqrt2"], ["d"]),
                node("Erf", ["d"], ["e"]),
                node("Add", ["e", "one"], ["a"]),
                node("Mul", ["x", "half"], ["h"]),
                node("Mul", ["h", "a"], ["y"]),
            ],
            vector,
            [("y", None)],
            {"sqrt2": np.float32(2**0.5), "one": np.float32(1), "half": np.float32(0.5)},
        ),
    )
    yield (
        "prelu",
        make_model(
            [node("PRelu", ["x", "slope"], ["y"])],
            vector,
            [("y", None)],
            {"slope": np.array([0.3], np.float32)},
        ),
    )
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    yield (  # Slice and Split on data (issue #14): channels, spatial axes, features
        "slice_split",
        make_model(
            [  # channels 1:3 and rows 1:-1 (two axes), a channel split swapped, then columns
                node("Slice", ["x", "st", "en", "ax"], ["y"]),
                node("Split", ["x", "sizes"], ["a", "b"], axis=1),
                node("Concat", ["b", "a"], ["ba"], axis=1),
                node("Split", ["ba"], ["c0", "c1", "c2"], axis=3, num_outputs=3),
                node("Add", ["c0", "c1"], ["z"]),
                node("Flatten", ["c2"], ["f"]),
                node("Slice", ["f", "fst", "fen"], ["w"]),
            ],
            image4,
            [("y", None), ("z", None), ("w", None)],
            {
                "st": i64(1, 1),
                "en": i64(3, -1),
                "ax": i64(1, 2),
                "sizes": i64(1, 3),
                "fst": i64(0, -7),
                "fen": i64(2**62, -2),
            },
            opset=18,
        ),
    )
    yield (  # per-channel PRelu (issue #14): per channel of a feature map, per feature
        "prelu_channels",
        make_model(
            [
                node("PRelu", ["x", "sc"], ["p"]),
                node("Flatten", ["p"], ["f"]),
                node("PRelu", ["f", "sf"], ["y"]),
            ],
            image,
            [("y", None)],
            {"sc": f(2, 1, 1) * 0.6, "sf": f(50) * 0.6},
        ),
    )
    sequence = [("x", ["N", 4, 7])]
    yield (  # a 1-D grouped Conv, then its channels split and swapped
        "conv1d_grouped",
        make_model(
            [
                node("Conv", ["x", "W", "B"], ["c"], group=2, pads=[1, 0], strides=[2]),
                node("Split", ["c", "sizes"], ["a", "b"], axis=1),
                node("Concat", ["b", "a"], ["y"], axis=1),
            ],
            sequence,
            [("y", None)],
            {"W": f(6, 2, 3), "B": f(6), "sizes": i64(2, 4)},
        ),
    )
    yield (  # nearest upsampling and zero padding (issue #14): Pad -> Add, Pad -> MaxPool
        "resize_pad",
        make_model(
            [
                node("Resize", ["x", "", "scales"], ["u"], mode="nearest"),
                node("Pad", ["x", "pads"], ["p"]),
                node("Add", ["u", "p"], ["a"]),
                node("Pad", ["a", "corner"], ["q"]),
                node("MaxPool", ["q"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
            ],
            image,  # (2, 5, 5): upsampled to (10, 15) and padded to (10, 15)
            [("y", None)],
            {
                "scales": np.array([1, 1, 2, 3], np.float32),
                "pads": np.array([0, 0, 2, 4, 0, 0, 3, 6], np.int64),
                "corner": np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64),
            },
        ),
    )
    yield (  # the 1-D forms: Resize by the size of one axis (half_pixel), Pad
        "resize_pad_1d",
        make_model(
            [
                node("Resize", ["x", "", "", "sizes"], ["u"], mode="nearest", axes=[2]),
                node("Pad", ["u", "pads"], ["p"]),
                node("Relu", ["p"], ["r"]),
                node("Pad", ["r", "tail"], ["y"]),
            ],
            [("x", ["N", 3, 4])],
            [("y", None)],
            {
                "sizes": np.array([12], np.int64),
                "pads": np.array([0, 0, 1, 0, 0, 2], np.int64),
                "tail": np.array([0, 0, 0, 0, 0, 2], np.int64),
            },
            opset=18,
        ),
    )

    # LayerNorm (issue #14): over a vector's features, and over the last axis of a rank-3
    # input (moved last in the IR's layout) without a bias
    yield (
        "layernorm",
        make_model(
            [node("LayerNormalization", ["x", "g", "b"], ["y"], epsilon=1e-3)],
            vector,
            [("y", None)],
            {"g": f(6), "b": f(6)},
            opset=17,
        ),
    )
    yield (
        "layernorm_rank3",
        make_model(
            [node("LayerNormalization", ["x", "g"], ["y"], axis=2)],
            [("x", ["N", 3, 4])],
            [("y", None)],
            {"g": f(4)},
            opset=17,
        ),
    )
    yield (  # QONNX's BipolarQuant after a Dense: the model's own 2-bit types, a sign step
        "bipolar",
        make_model(
            [
                node("Gemm", ["x", "W", "B"], ["h"]),
                helper.make_node(
                    "BipolarQuant", ["h", "s"], ["y"], name="y", domain="qonnx.custom_op.general"
                ),
            ],
            vector,
            [("y", ["N", 4])],
            {"W": f(6, 4), "B": f(4), "s": np.float32(0.5)},
        ),
    )
    thresholds = np.sort(rng.random((2, 5)), axis=1).astype(np.float32)
    yield (  # QONNX's MultiThreshold per channel, off the input type's grid (rounded up onto it)
        "multithreshold",
        make_model(
            [
                node("Sigmoid", ["x"], ["r"]),  # a config-typed input: the random types apply
                helper.make_node(
                    "MultiThreshold",
                    ["r", "t"],
                    ["y"],
                    name="y",
                    domain="qonnx.custom_op.general",
                    out_scale=0.75,
                    out_bias=-1.0,
                ),
            ],
            [("x", ["N", 2, 5, 5])],
            [("y", ["N", 2, 5, 5])],
            {"t": thresholds},
        ),
    )

    yield "rnn_sequence", recurrent_model(rng, "RNN")
    yield "lstm_last_state", recurrent_model(rng, "LSTM", every=False, last=True)
    yield "gru_both_outputs", recurrent_model(rng, "GRU", last=True)


MODEL_NAMES = [name for name, _ in models(np.random.default_rng(0))]


def random_compile(rng, name: str, narrow_accumulators: bool = False, max_table_log2: int = 8):
    """One of the op models compiled with a random type for every layer's result, weights and
    biases (every rounding and overflow mode), random table sizes and, when asked, narrow
    user-chosen accumulators. Returns (compiled, loaded float model)."""
    loaded = nnfx.load(dict(models(rng))[name])
    layers = {}
    for n in loaded.graph.nodes:
        spec = {
            "result": str(random_type(rng)),
            "weight": str(random_type(rng)),
            "bias": str(random_type(rng)),
        }
        if n.op in (Op.DENSE, Op.CONV) and narrow_accumulators:
            spec["accum"] = str(random_type(rng, width=int(rng.integers(8, 20))))
        if n.op is Op.ACTIVATION and ACTIVATION_KINDS[n.attrs.kind].table:
            spec["table_size"] = int(2 ** rng.integers(3, max_table_log2))
        if n.op is Op.LAYER_NORM:
            spec["table_size"] = int(2 ** rng.integers(2, max_table_log2))
        if n.op is Op.ACTIVATION and ACTIVATION_KINDS[n.attrs.kind].calibrated:
            low = float(rng.uniform(-6, -1))  # inputs below, inside and above the table
            spec["table_range"] = [low, low + float(rng.uniform(1.5, 6))]
        layers[n.name] = spec
    tensors = {loaded.graph.inputs[0]: str(random_type(rng))}
    precision = {"default": "fixed<12,4>", "layers": layers, "tensors": tensors}
    return nnfx.compile(loaded, precision=precision), loaded


def model_input_shape(loaded):
    from nnfx.frontends.onnx import inverse

    t = loaded.graph.tensors[loaded.graph.inputs[0]]
    return tuple(t.shape[i] for i in inverse(t.onnx_perm))


def compile_for(name: str, seed: int):
    """``random_compile`` of one op model with 48 inputs of its shape (the first 8 on a coarse
    grid: ties for every rounding mode), seeded by the model's name and ``seed``; narrow
    accumulators for seed 1. Returns (compiled, X)."""
    rng = np.random.default_rng(500 + 1000 * seed + MODEL_NAMES.index(name))
    compiled, loaded = random_compile(rng, name, narrow_accumulators=seed == 1)
    X = rng.standard_normal((48, *model_input_shape(loaded))) * 4
    X[:8] = np.round(X[:8] * 8) / 8
    return compiled, X
