"""Hand-built ONNX models, one or a few per supported op: the float IR equals onnxruntime."""

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches_ort, make_model, ops, rand

N = 5


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=f"{op.lower()}_{outputs[0]}", **attrs)


@pytest.fixture
def w(rng):
    return lambda *shape: rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize(
    "trans_b,alpha,beta,bias_shape",
    [
        (0, 1.0, 1.0, (4,)),
        (1, 0.5, 2.0, (1, 4)),
        (0, 1.0, 1.0, None),
        (1, 1.0, 0.5, (1,)),
    ],
)
def test_gemm(rng, w, trans_b, alpha, beta, bias_shape):
    weight = w(4, 6) if trans_b else w(6, 4)
    inits = {"W": weight}
    inputs = ["x", "W"]
    if bias_shape:
        inits["b"] = w(*bias_shape)
        inputs.append("b")
    model = make_model(
        [node("Gemm", inputs, ["y"], transB=trans_b, alpha=alpha, beta=beta)],
        [("x", ["N", 6])],
        [("y", ["N", 4])],
        inits,
    )
    loaded = assert_matches_ort(model, rand(rng, N, 6))
    assert ops(loaded) == ["Dense"]


def test_matmul_add_becomes_one_dense(rng, w):
    model = make_model(
        [node("MatMul", ["x", "W"], ["h"]), node("Add", ["h", "b"], ["y"])],
        [("x", ["N", 6])],
        [("y", ["N", 3])],
        {"W": w(6, 3), "b": w(3)},
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 6))) == ["Dense"]


ARITHMETIC = [
    (op, shape, first)
    for op in ("Add", "Sub", "Mul", "Div")
    for shape, first in [((), False), ((3, 1, 1), False), ((3, 4, 4), True), ((1, 3, 1, 1), False)]
    if not (op == "Div" and first)  # constant / data is refused (tests/frontends/test_onnx.py)
]


@pytest.mark.parametrize("op,const_shape,const_first", ARITHMETIC)
def test_arithmetic_with_constants(rng, w, op, const_shape, const_first):
    k = w(*const_shape) if const_shape else np.float32(1.7)
    if op == "Div":
        k = np.abs(k) + 0.5
    inputs = ["k", "x"] if const_first else ["x", "k"]
    model = make_model(
        [node(op, inputs, ["y"])],
        [("x", ["N", 3, 4, 4])],
        [("y", ["N", 3, 4, 4])],
        {"k": np.asarray(k, np.float32)},
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 3, 4, 4))) == ["BatchNorm"]


def test_residual_add_of_two_tensors(rng, w):
    model = make_model(
        [
            node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
            node("Relu", ["c"], ["r"]),
            node("Add", ["r", "x"], ["y"]),
        ],
        [("x", ["N", 2, 5, 5])],
        [("y", ["N", 2, 5, 5])],
        {"W": w(2, 2, 3, 3)},
    )
    assert "Add" in ops(assert_matches_ort(model, rand(rng, N, 2, 5, 5)))


@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"pads": [1, 2, 1, 0], "strides": [2, 1]},
        {"dilations": [2, 2], "pads": [2, 2, 2, 2]},
        {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
        {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
        {"auto_pad": "VALID"},
    ],
)
def test_conv2d(rng, w, attrs):
    model = make_model(
        [node("Conv", ["x", "W", "B"], ["y"], **attrs)],
        [("x", ["N", 3, 7, 6])],
        [("y", None)],
        {"W": w(4, 3, 3, 2), "B": w(4)},
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 3, 7, 6))) == ["Conv"]


@pytest.mark.parametrize("attrs", [{}, {"pads": [2, 1], "strides": [2]}, {"dilations": [3]}])
def test_conv1d(rng, w, attrs):
    model = make_model(
        [node("Conv", ["x", "W"], ["c"], **attrs), node("Relu", ["c"], ["y"])],
        [("x", ["N", 2, 12])],
        [("y", None)],
        {"W": w(5, 2, 3)},
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 2, 12)))[0] == "Conv"


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize(
    "attrs",
    [
        {"kernel_shape": [2, 2], "strides": [2, 2]},
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
        {"kernel_shape": [3, 2], "strides": [1, 2], "pads": [1, 0, 1, 1], "count_include_pad": 1},
        {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"},
    ],
)
def test_pool2d(rng, op, attrs):
    if op == "MaxPool":
        attrs = {k: v for k, v in attrs.items() if k != "count_include_pad"}
    model = make_model([node(op, ["x"], ["y"], **attrs)], [("x", ["N", 3, 7, 8])], [("y", None)])
    assert_matches_ort(model, rand(rng, N, 3, 7, 8))


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool1d(rng, op):
    model = make_model(
        [node(op, ["x"], ["y"], kernel_shape=[3], strides=[2], pads=[1, 1])],
        [("x", ["N", 2, 11])],
        [("y", None)],
    )
    assert_matches_ort(model, rand(rng, N, 2, 11))


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool_then_flatten_then_gemm(rng, w, op):
    model = make_model(
        [node(op, ["x"], ["p"]), node("Flatten", ["p"], ["f"]), node("Gemm", ["f", "W"], ["y"])],
        [("x", ["N", 4, 5, 5])],
        [("y", ["N", 3])],
        {"W": w(4, 3)},
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 4, 5, 5)))[-1] == "Dense"


def test_reduce_mean_over_spatial_axes(rng):
    model = make_model(
        [node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=1)],
        [("x", ["N", 4, 3, 3])],
        [("y", None)],
        opset=17,
    )
    assert_matches_ort(model, rand(rng, N, 4, 3, 3))


@pytest.mark.parametrize("shape", [["N", 3, 4, 4], ["N", 3]])
def test_batchnormalization(rng, w, shape):
    c = 3
    inits = {"s": w(c), "b": w(c), "m": w(c), "v": np.abs(w(c)) + 0.5}
    model = make_model(
        [node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
        [("x", shape)],
        [("y", shape)],
        inits,
    )
    assert ops(assert_matches_ort(model, rand(rng, N, *shape[1:]))) == ["BatchNorm"]


def test_batchnorm_folds_into_conv_and_gemm(rng, w):
    def bn(x, y, c, tag):
        return node("BatchNormalization", [x, f"s{tag}", f"b{tag}", f"m{tag}", f"v{tag}"], [y])

    inits = {"W": w(4, 2, 3, 3), "G": w(64, 3)}
    for tag, c in (("1", 4), ("2", 3)):
        inits.update(
            {f"s{tag}": w(c), f"b{tag}": w(c), f"m{tag}": w(c), f"v{tag}": np.abs(w(c)) + 0.5}
        )
    model = make_model(
        [
            node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
            bn("c", "n", 4, "1"),
            node("Relu", ["n"], ["r"]),
            node("Flatten", ["r"], ["f"]),
            node("Gemm", ["f", "G"], ["g"]),
            bn("g", "y", 3, "2"),
        ],
        [("x", ["N", 2, 4, 4])],
        [("y", ["N", 3])],
        inits,
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 2, 4, 4))) == [
        "Conv",
        "Activation",
        "Flatten",
        "Dense",
    ]


@pytest.mark.parametrize(
    "op,attrs",
    [
        ("Relu", {}),
        ("LeakyRelu", {"alpha": 0.2}),
        ("LeakyRelu", {}),
        ("Elu", {"alpha": 0.6}),
        ("Elu", {}),
        ("Sigmoid", {}),
        ("Tanh", {}),
        ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
        ("Softmax", {}),
        ("Softmax", {"axis": 1}),
        ("LogSoftmax", {}),
        ("Identity", {}),
        ("Dropout", {}),
    ],
)
def test_activations(rng, op, attrs):
    model = make_model([node(op, ["x"], ["y"], **attrs)], [("x", ["N", 7])], [("y", ["N", 7])])
    assert_matches_ort(model, rand(rng, N, 7) * 3)


def test_softmax_over_image_channels(rng):
    model = make_model(
        [node("Softmax", ["x"], ["y"], axis=1)], [("x", ["N", 4, 3, 3])], [("y", None)]
    )
    assert_matches_ort(model, rand(rng, N, 4, 3, 3))


@pytest.mark.parametrize("bounds", [(0.0, 6.0), (None, 1.0), (-1.0, None), (0.0, None)])
def test_clip(rng, bounds):
    inits, names = {}, ["x"]
    for key, value in zip(("lo", "hi"), bounds, strict=True):
        if value is None:
            names.append("")
        else:
            inits[key] = np.float32(value)
            names.append(key)
    model = make_model([node("Clip", names, ["y"])], [("x", ["N", 9])], [("y", ["N", 9])], inits)
    assert_matches_ort(model, rand(rng, N, 9) * 4)


def test_reshape_with_zero_and_minus_one_then_gemm(rng, w):
    model = make_model(
        [node("Reshape", ["x", "shape"], ["r"]), node("Gemm", ["r", "W"], ["y"])],
        [("x", ["N", 2, 3, 4])],
        [("y", ["N", 5])],
        {"shape": np.array([0, -1], np.int64), "W": w(24, 5)},
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 2, 3, 4))) == ["Flatten", "Dense"]


def test_reshape_back_to_an_image_for_a_conv(rng, w):
    model = make_model(
        [node("Reshape", ["x", "shape"], ["r"]), node("Conv", ["r", "W"], ["y"])],
        [("x", ["N", 32])],
        [("y", None)],
        {"shape": np.array([-1, 2, 4, 4], np.int64), "W": w(3, 2, 3, 3)},
    )
    assert_matches_ort(model, rand(rng, N, 32))


def test_transpose_to_channels_last_costs_nothing(rng, w):
    """NHWC input (as Keras/tf2onnx write it) transposed to NCHW for a Conv."""
    model = make_model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
            node("Conv", ["t", "W"], ["c"]),
            node("Transpose", ["c"], ["u"], perm=[0, 2, 3, 1]),
            node("Flatten", ["u"], ["f"]),
            node("Gemm", ["f", "G"], ["y"]),
        ],
        [("x", ["N", 6, 6, 3])],
        [("y", ["N", 2])],
        {"W": w(4, 3, 3, 3), "G": w(64, 2)},
    )
    loaded = assert_matches_ort(model, rand(rng, N, 6, 6, 3))
    assert ops(loaded) == ["Conv", "Flatten", "Dense"]


def test_flatten_of_a_conv_output_keeps_onnx_order(rng, w):
    """The channels-last IR must still flatten in ONNX's (C, H, W) order."""
    model = make_model(
        [node("Conv", ["x", "W"], ["c"]), node("Flatten", ["c"], ["y"])],
        [("x", ["N", 2, 4, 4])],
        [("y", ["N", 12])],
        {"W": w(3, 2, 3, 3)},
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 2, 4, 4))) == ["Conv", "Transpose", "Flatten"]


@pytest.mark.parametrize(
    "axis,shape", [(1, ["N", 5, 3, 3]), (-1, ["N", 2, 3, 6]), (2, ["N", 2, 6, 3])]
)
def test_concat_of_images(rng, w, axis, shape):
    model = make_model(
        [
            node("Relu", ["x"], ["a"]),
            node("Sigmoid", ["x"], ["b"]),
            node("Concat", ["a", "b"], ["y"], axis=axis),
        ],
        [("x", ["N", 2, 3, 3])] if axis == 1 else [("x", ["N", 2, 3, 3])],
        [("y", None)],
    )
    assert_matches_ort(model, rand(rng, N, 2, 3, 3))


def test_concat_of_vectors_and_a_constant_shape_subgraph(rng, w):
    """The TorchScript exporter's x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat."""
    nodes = [
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes"], ["n1"]),
        node("Concat", ["n1", "minus_one"], ["target"], axis=0),
        node("Reshape", ["x", "target"], ["flat"]),
        node("Gemm", ["flat", "W"], ["a"]),
        node("Tanh", ["flat"], ["b"]),
        node("Concat", ["a", "b"], ["y"], axis=1),
    ]
    inits = {
        "zero": np.array(0, np.int64),
        "axes": np.array([0], np.int64),
        "minus_one": np.array([-1], np.int64),
        "W": w(12, 3),
    }
    model = make_model(nodes, [("x", ["N", 3, 2, 2])], [("y", ["N", 15])], inits)
    assert_matches_ort(model, rand(rng, N, 3, 2, 2))


def test_squeeze_unsqueeze_cast_and_constant_nodes(rng, w):
    nodes = [
        helper.make_node(
            "Constant",
            [],
            ["W"],
            value=helper.make_tensor("W", 1, [6, 2], w(6, 2).reshape(-1).tolist()),
        ),
        node("Identity", ["W"], ["W2"]),
        node("Cast", ["x"], ["xc"], to=1),
        node("Unsqueeze", ["xc", "axes"], ["u"]),
        node("Squeeze", ["u", "axes"], ["s"]),
        node("MatMul", ["s", "W2"], ["y"]),
    ]
    model = make_model(
        nodes, [("x", ["N", 6])], [("y", ["N", 2])], {"axes": np.array([2], np.int64)}
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 6))) == ["Dense"]


@pytest.mark.parametrize("opset", range(13, 22))
def test_every_opset_from_13_to_21(rng, w, opset):
    nodes = [
        node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"]),
        node("Relu", ["n"], ["r"]),
        node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Flatten", ["p"], ["f"]),
        node("Gemm", ["f", "G", "H"], ["g"], transB=1),
        node("Softmax", ["g"], ["y"]),
    ]
    inits = {
        "W": w(4, 1, 3, 3),
        "B": w(4),
        "s": w(4),
        "b": w(4),
        "m": w(4),
        "v": np.abs(w(4)) + 0.5,
        "G": w(3, 16),
        "H": w(3),
    }
    model = make_model(nodes, [("x", ["N", 1, 4, 4])], [("y", ["N", 3])], inits, opset=opset)
    assert_matches_ort(model, rand(rng, N, 1, 4, 4))


def test_static_batch_and_multiple_outputs(rng, w):
    model = make_model(
        [
            node("Gemm", ["x", "W"], ["a"]),
            node("Relu", ["a"], ["y1"]),
            node("Sigmoid", ["a"], ["y2"]),
        ],
        [("x", [4, 6])],
        [("y1", [4, 3]), ("y2", [4, 3])],
        {"W": w(6, 3)},
    )
    loaded = assert_matches_ort(model, rand(rng, 4, 6))
    assert loaded.output_names == ("y1", "y2")


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
def test_elementwise_ops_of_two_tensors(rng, op):
    model = make_model(
        [
            node("Tanh", ["x"], ["t"]),
            node("Transpose", ["x"], ["u"], perm=[0, 1, 3, 2]),
            node("Transpose", ["u"], ["v"], perm=[0, 1, 3, 2]),
            node(op, ["t", "v"], ["y"]),
        ],
        [("x", ["N", 2, 3, 3])],
        [("y", None)],
    )
    assert op in ops(assert_matches_ort(model, rand(rng, N, 2, 3, 3)))


def test_batchnorm_after_reshape_with_a_uniform_shift(rng):
    """A per-channel scale on a (C, L) tensor that is not channels-last takes the full sample
    shape while a uniform shift stays one row: both broadcast (found by the differential
    tester)."""
    params = {
        "shape": np.array([-1, 2, 4], np.int64),
        "gamma": np.array([1.0, 2.0], np.float32),
        "beta": np.zeros(2, np.float32),
        "mean": np.zeros(2, np.float32),
        "var": np.ones(2, np.float32),
    }
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("BatchNormalization", ["r", "gamma", "beta", "mean", "var"], ["y"]),
    ]
    model = make_model(nodes, [("x", ["N", 8])], [("y", ["N", 2, 4])], params)
    assert_matches_ort(model, rand(rng, 5, 8))
