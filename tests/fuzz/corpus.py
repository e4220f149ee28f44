"""The seed corpus: small models built in code, one per family of ops the frontend reads."""

from __future__ import annotations

import functools
import warnings

import numpy as np
from onnx import TensorProto, helper

from tests.helpers import make_model

node = helper.make_node


def _weights(rng, *shape) -> np.ndarray:
    return (rng.standard_normal(shape) * 0.5).astype(np.float32)


def mlp_gemm(rng):
    return make_model(
        [
            node("Gemm", ["x", "W1", "b1"], ["h1"], name="fc1"),
            node("Relu", ["h1"], ["a1"], name="relu1"),
            node("Gemm", ["a1", "W2", "b2"], ["h2"], name="fc2", transB=1),
            node("Softmax", ["h2"], ["y"], name="softmax", axis=-1),
        ],
        [("x", ["N", 6])],
        [("y", ["N", 3])],
        {
            "W1": _weights(rng, 6, 8),
            "b1": _weights(rng, 8),
            "W2": _weights(rng, 3, 8),
            "b2": _weights(rng, 3),
        },
    )


def mlp_matmul(rng):
    return make_model(
        [
            node("MatMul", ["x", "W1"], ["m1"], name="mm1"),
            node("Add", ["m1", "b1"], ["h1"], name="add1"),
            node("Sigmoid", ["h1"], ["a1"], name="sigmoid"),
            node("MatMul", ["a1", "W2"], ["m2"], name="mm2"),
            node("Add", ["m2", "b2"], ["h2"], name="add2"),
            node("Tanh", ["h2"], ["y"], name="tanh"),
        ],
        [("x", ["N", 5])],
        [("y", ["N", 4])],
        {
            "W1": _weights(rng, 5, 7),
            "b1": _weights(rng, 7),
            "W2": _weights(rng, 7, 4),
            "b2": _weights(rng, 4),
        },
    )


def cnn(rng):
    return make_model(
        [
            node("Conv", ["x", "K1", "c1"], ["h1"], name="conv1", pads=[1, 1, 1, 1]),
            node("BatchNormalization", ["h1", "gamma", "beta", "mean", "var"], ["n1"], name="bn1"),
            node("Relu", ["n1"], ["a1"], name="relu1"),
            node("MaxPool", ["a1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
            node("Conv", ["p1", "K2"], ["h2"], name="conv2", kernel_shape=[2, 2]),
            node(
                "AveragePool",
                ["h2"],
                ["p2"],
                name="pool2",
                kernel_shape=[2, 2],
                pads=[0, 0, 1, 1],
            ),
            node("Flatten", ["p2"], ["f"], name="flatten"),
            node("Gemm", ["f", "W", "b"], ["z"], name="fc", transB=1),
            node("Softmax", ["z"], ["y"], name="softmax"),
        ],
        [("x", ["N", 2, 6, 6])],
        [("y", ["N", 3])],
        {
            "K1": _weights(rng, 3, 2, 3, 3),
            "c1": _weights(rng, 3),
            "gamma": np.abs(_weights(rng, 3)) + 0.5,
            "beta": _weights(rng, 3),
            "mean": _weights(rng, 3),
            "var": np.abs(_weights(rng, 3)) + 0.5,
            "K2": _weights(rng, 4, 3, 2, 2),
            "W": _weights(rng, 3, 4 * 2 * 2),
            "b": _weights(rng, 3),
        },
    )


def cnn_global(rng):
    return make_model(
        [
            node("Conv", ["x", "K"], ["h"], name="conv", strides=[2], pads=[1, 1]),
            node("LeakyRelu", ["h"], ["a"], name="leaky", alpha=0.1),
            node("GlobalAveragePool", ["a"], ["g"], name="gap"),
            node("Flatten", ["g"], ["f"], name="flatten"),
            node("Gemm", ["f", "W"], ["y"], name="fc"),
        ],
        [("x", ["N", 2, 9])],
        [("y", ["N", 2])],
        {"K": _weights(rng, 4, 2, 3), "W": _weights(rng, 4, 2)},
    )


def elementwise(rng):
    return make_model(
        [
            node("Gemm", ["x", "Wa"], ["a"], name="fa"),
            node("Gemm", ["x", "Wb"], ["b"], name="fb"),
            node("Add", ["a", "b"], ["s"], name="add"),
            node("Sub", ["a", "b"], ["d"], name="sub"),
            node("Mul", ["s", "d"], ["m"], name="mul"),
            node("Mul", ["m", "k"], ["mk"], name="scale"),
            node("Concat", ["mk", "s"], ["c"], name="concat", axis=1),
            node("Elu", ["c"], ["e"], name="elu", alpha=0.7),
            node("LeakyRelu", ["e"], ["y"], name="leaky", alpha=0.05),
        ],
        [("x", ["N", 4])],
        [("y", ["N", 6])],
        {"Wa": _weights(rng, 4, 3), "Wb": _weights(rng, 4, 3), "k": _weights(rng, 3)},
    )


def classifier(rng):
    model = make_model(
        [
            node("Gemm", ["x", "W", "b"], ["z"], name="fc"),
            node("Softmax", ["z"], ["p"], name="softmax", axis=1),
            node("ArgMax", ["p"], ["label"], name="argmax", axis=1, keepdims=0),
        ],
        [("x", ["N", 5])],
        [("p", ["N", 4])],
        {"W": _weights(rng, 5, 4), "b": _weights(rng, 4)},
    )
    model.graph.output.append(helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]))
    return model


def layout(rng):
    return make_model(
        [
            node("Transpose", ["x"], ["t"], name="transpose", perm=[0, 2, 1]),
            node("Reshape", ["t", "shape"], ["r"], name="reshape"),
            node("Gemm", ["r", "W"], ["h"], name="fc"),
            node("Reshape", ["h", "shape2"], ["y"], name="reshape2"),
        ],
        [("x", ["N", 3, 4])],
        [("y", ["N", 2, 3])],
        {
            "shape": np.array([-1, 12], np.int64),
            "W": _weights(rng, 12, 6),
            "shape2": np.array([0, 2, 3], np.int64),
        },
    )


def two_inputs(rng):
    return make_model(
        [
            node("Add", ["a", "b"], ["s"], name="add"),
            node("Concat", ["s", "b"], ["c"], name="concat", axis=-1),
            node("Gemm", ["c", "W"], ["h"], name="fc"),
            node("HardSigmoid", ["h"], ["y"], name="hard_sigmoid"),
        ],
        [("a", ["N", 4]), ("b", ["N", 4])],
        [("y", ["N", 3])],
        {"W": _weights(rng, 8, 3)},
    )


def misc_ops(rng):
    """Ops the other seeds lack: ReduceMean, Squeeze/Unsqueeze, Clip, Div, Dropout,
    Identity, LogSoftmax."""
    return make_model(
        [
            node("ReduceMean", ["x"], ["m"], name="mean", axes=[2, 3], keepdims=1),
            node("Squeeze", ["m", "axes"], ["q"], name="squeeze"),
            node("Clip", ["q", "lo", "hi"], ["k"], name="clip"),
            node("Div", ["k", "d"], ["v"], name="div"),
            node("Dropout", ["v"], ["o"], name="dropout"),
            node("Unsqueeze", ["o", "axis1"], ["u"], name="unsqueeze"),
            node("Flatten", ["u"], ["f"], name="flatten"),
            node("Identity", ["f"], ["i"], name="identity"),
            node("LogSoftmax", ["i"], ["y"], name="log_softmax"),
        ],
        [("x", ["N", 3, 4, 4])],
        [("y", ["N", 3])],
        {
            "axes": np.array([2, 3], np.int64),
            "lo": np.array(-1.0, np.float32),
            "hi": np.array(2.0, np.float32),
            "d": np.array([2.0, 4.0, 0.5], np.float32),
            "axis1": np.array([2], np.int64),
        },
    )


def label_chain(rng):
    """A scikit-learn-like classifier: probabilities and an ArgMax -> ArrayFeatureExtractor
    label, as skl2onnx writes it."""
    model = make_model(
        [
            node("Gemm", ["x", "W", "b"], ["z"], name="fc"),
            node("Softmax", ["z"], ["probabilities"], name="softmax", axis=1),
            node("ArgMax", ["probabilities"], ["index"], name="argmax", axis=1),
            node(
                "ArrayFeatureExtractor",
                ["classes", "index"],
                ["label"],
                name="labels",
                domain="ai.onnx.ml",
            ),
        ],
        [("x", ["N", 4])],
        [("probabilities", ["N", 3])],
        {"W": _weights(rng, 4, 3), "b": _weights(rng, 3), "classes": np.array([2, 5, 7])},
        ml=True,
    )
    model.graph.output.append(helper.make_tensor_value_info("label", TensorProto.INT64, ["N", 1]))
    return model


def sklearn_mlp(rng):
    """A real skl2onnx export (skipped from the corpus when skl2onnx is absent)."""
    try:
        import skl2onnx
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    X = rng.standard_normal((30, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, y)
    return skl2onnx.to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=17)


def exporter_plumbing(rng):
    """What exporters write around the layers: TorchScript's zeros shaped like the batch
    (Shape -> Gather -> Unsqueeze -> Concat -> ConstantOfShape, and Expand), Split and Slice of
    a shape, and PyTorch 0.3's BatchNorm1d between Unsqueeze and Squeeze."""
    i64 = functools.partial(np.array, dtype=np.int64)
    return make_model(
        [
            node("Shape", ["x"], ["shape"], name="shape"),
            node("Split", ["shape", "sizes"], ["batch", "features"], name="split", axis=0),
            node("Slice", ["features", "start", "end"], ["one"], name="slice"),
            node("Concat", ["batch", "five"], ["target"], name="target", axis=0),
            node("ConstantOfShape", ["target"], ["zeros"], name="zeros"),
            node("Expand", ["bias", "target"], ["expanded"], name="expand"),
            node("Gemm", ["x", "W", "b"], ["h"], name="fc"),
            node("Add", ["h", "zeros"], ["h0"], name="add_zeros"),
            node("Unsqueeze", ["h0", "axes"], ["u"], name="unsqueeze"),
            node("BatchNormalization", ["u", "g", "beta", "mean", "var"], ["n"], name="bn"),
            node("Squeeze", ["n", "axes"], ["s"], name="squeeze"),
            node("Add", ["s", "expanded"], ["y0"], name="add_bias"),
            node("Reshape", ["y0", "flat"], ["y"], name="reshape"),
        ],
        [("x", ["N", 4])],
        [("y", ["N", 5])],
        {
            "sizes": i64([1, 1]),
            "start": i64([0]),
            "end": i64([1]),
            "five": i64([5]),
            "bias": _weights(rng, 5),
            "W": _weights(rng, 4, 5),
            "b": _weights(rng, 5),
            "axes": i64([2]),
            "g": _weights(rng, 5),
            "beta": _weights(rng, 5),
            "mean": _weights(rng, 5),
            "var": np.abs(_weights(rng, 5)) + 0.5,
            "flat": i64([-1, 5]),
        },
    )


def batch_one(rng):
    """A Keras/tf2onnx habit: the batch fixed to 1 in the file, Flatten with axis=0."""
    return make_model(
        [
            node("Transpose", ["x"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2]),
            node("Conv", ["nchw", "K"], ["c"], name="conv", kernel_shape=[2, 2]),
            node("Relu", ["c"], ["r"], name="relu"),
            node("Flatten", ["r"], ["f"], name="flatten", axis=0),
            node("Gemm", ["f", "W"], ["y"], name="fc"),
        ],
        [("x", [1, 4, 4, 2])],
        [("y", [1, 3])],
        {"K": _weights(rng, 3, 2, 2, 2), "W": _weights(rng, 27, 3)},
    )


def separable(rng):
    """A MobileNet-style block: depthwise 3x3 (group = channels, multiplier 2), BatchNorm,
    ReLU6 (Clip), pointwise 1x1, then a grouped (group=2) convolution."""
    return make_model(
        [
            node("Conv", ["x", "D"], ["d"], name="depthwise", group=2, pads=[1, 1, 1, 1]),
            node("BatchNormalization", ["d", "gamma", "beta", "mean", "var"], ["n"], name="bn"),
            node("Clip", ["n", "lo", "hi"], ["r"], name="relu6"),
            node("Conv", ["r", "P", "c"], ["p"], name="pointwise"),
            node("Conv", ["p", "G"], ["g"], name="grouped", group=2, kernel_shape=[2, 2]),
            node("GlobalAveragePool", ["g"], ["a"], name="gap"),
            node("Flatten", ["a"], ["y"], name="flatten"),
        ],
        [("x", ["N", 2, 5, 5])],
        [("y", ["N", 4])],
        {
            "D": _weights(rng, 4, 1, 3, 3),
            "gamma": np.abs(_weights(rng, 4)) + 0.5,
            "beta": _weights(rng, 4),
            "mean": _weights(rng, 4),
            "var": np.abs(_weights(rng, 4)) + 0.5,
            "lo": np.float32(0.0),
            "hi": np.float32(6.0),
            "P": _weights(rng, 6, 4, 1, 1),
            "c": _weights(rng, 6),
            "G": _weights(rng, 4, 3, 2, 2),
        },
    )


def transformer_mlp(rng):
    """A pre-norm transformer's MLP: LayerNormalization, Gemm, Gelu, Gemm, the residual Add,
    then a LayerNormalization without a bias and a head."""
    return make_model(
        [
            node("LayerNormalization", ["x", "g1", "b1"], ["n"], name="norm", epsilon=1e-5),
            node("Gemm", ["n", "W1", "c1"], ["h"], name="fc1"),
            node("Gelu", ["h"], ["a"], name="gelu"),
            node("Gemm", ["a", "W2", "c2"], ["m"], name="fc2"),
            node("Add", ["x", "m"], ["r"], name="residual"),
            node("LayerNormalization", ["r", "g2"], ["n2"], name="head_norm", axis=1),
            node("Gemm", ["n2", "W3"], ["y"], name="head"),
        ],
        [("x", ["N", 6])],
        [("y", ["N", 3])],
        {
            "g1": np.abs(_weights(rng, 6)) + 0.5,
            "b1": _weights(rng, 6),
            "W1": _weights(rng, 6, 8),
            "c1": _weights(rng, 8),
            "W2": _weights(rng, 8, 6),
            "c2": _weights(rng, 6),
            "g2": np.abs(_weights(rng, 6)) + 0.5,
            "W3": _weights(rng, 6, 3),
        },
        opset=20,
    )


def recurrent(rng):
    """An LSTM (every state) into a GRU (the last state) and a head, written as nnfx's and
    PyTorch's exports write them: Transposes to and from the time-major operators."""
    h1, h2 = 5, 4
    return make_model(
        [
            node("Transpose", ["x"], ["xt"], name="time_major", perm=[1, 0, 2]),
            node("LSTM", ["xt", "W1", "R1", "B1"], ["Y1"], name="lstm", hidden_size=h1),
            node("Squeeze", ["Y1", "ax1"], ["s1"], name="squeeze1"),
            node("Transpose", ["s1"], ["t1"], name="batch_first", perm=[1, 0, 2]),
            node("Transpose", ["t1"], ["t2"], name="time_major2", perm=[1, 0, 2]),
            node(
                "GRU",
                ["t2", "W2", "R2", "B2"],
                ["", "H2"],
                name="gru",
                hidden_size=h2,
                linear_before_reset=1,
            ),
            node("Squeeze", ["H2", "ax0"], ["s2"], name="last_state"),
            node("Gemm", ["s2", "W3"], ["y"], name="head"),
        ],
        [("x", ["N", 6, 3])],
        [("y", ["N", 3])],
        {
            "W1": _weights(rng, 1, 4 * h1, 3),
            "R1": _weights(rng, 1, 4 * h1, h1),
            "B1": _weights(rng, 1, 8 * h1),
            "W2": _weights(rng, 1, 3 * h2, h1),
            "R2": _weights(rng, 1, 3 * h2, h2),
            "B2": _weights(rng, 1, 6 * h2),
            "W3": _weights(rng, h2, 3),
            "ax1": np.array([1], np.int64),
            "ax0": np.array([0], np.int64),
        },
    )


def slice_split_prelu(rng):
    """Slice and Split of data (issue #14): a Conv's channels split 1 + 3 into a PRelu and a
    1x1 Conv, concatenated, a per-channel PRelu, rows 1:-1 sliced, flattened, features 2:10."""
    i64 = functools.partial(np.array, dtype=np.int64)
    return make_model(
        [
            node("Conv", ["x", "K"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            node("Split", ["c", "sizes"], ["a", "b"], name="split", axis=1),
            node("PRelu", ["a", "slope"], ["p"], name="prelu"),
            node("Conv", ["b", "P"], ["q"], name="pointwise"),
            node("Concat", ["q", "p"], ["j"], name="concat", axis=1),
            node("PRelu", ["j", "slopes"], ["k"], name="prelu_channels"),
            node("Slice", ["k", "rows0", "rows1", "rows_axis"], ["s"], name="rows"),
            node("Flatten", ["s"], ["f"], name="flatten"),
            node("Slice", ["f", "f0", "f1", "f_axis"], ["y"], name="features"),
        ],
        [("x", ["N", 2, 4, 4])],
        [("y", ["N", 8])],
        {
            "K": _weights(rng, 4, 2, 3, 3),
            "sizes": i64([1, 3]),
            "slope": np.array([0.2], np.float32),
            "P": _weights(rng, 2, 3, 1, 1),
            "slopes": _weights(rng, 3, 1, 1),
            "rows0": i64([1]),
            "rows1": i64([-1]),
            "rows_axis": i64([2]),
            "f0": i64([2]),
            "f1": i64([10]),
            "f_axis": i64([-1]),
        },
    )


def unet(rng):
    """A U-Net level (issue #14): Conv, MaxPool, Conv, a nearest Resize by 2 (PyTorch's
    asymmetric/floor), Concat with the skip, zero Pad before a Conv, global pooling."""
    return make_model(
        [
            node("Conv", ["x", "K1", "c1"], ["e"], name="enc", pads=[1, 1, 1, 1]),
            node("Relu", ["e"], ["skip"], name="relu1"),
            node("MaxPool", ["skip"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
            node("Conv", ["p", "K2"], ["m"], name="mid", pads=[1, 1, 1, 1]),
            node(
                "Resize",
                ["m", "", "scales"],
                ["u"],
                name="up",
                mode="nearest",
                coordinate_transformation_mode="asymmetric",
                nearest_mode="floor",
            ),  # fmt: skip
            node("Concat", ["u", "skip"], ["j"], name="concat", axis=1),
            node("Pad", ["j", "pads"], ["q"], name="pad"),
            node("Conv", ["q", "K3"], ["d"], name="dec"),
            node("GlobalAveragePool", ["d"], ["g"], name="gap"),
            node("Flatten", ["g"], ["y"], name="flatten"),
        ],
        [("x", ["N", 1, 4, 4])],
        [("y", ["N", 3])],
        {
            "K1": _weights(rng, 2, 1, 3, 3),
            "c1": _weights(rng, 2),
            "K2": _weights(rng, 3, 2, 3, 3),
            "scales": np.array([1, 1, 2, 2], np.float32),
            "pads": np.array([0, 0, 0, 1, 0, 0, 2, 1], np.int64),
            "K3": _weights(rng, 3, 5, 3, 3),
        },
    )


def qonnx_ops(rng):
    """QONNX's quantization ops (the model's own types): Quant, AveragePool then Trunc,
    MultiThreshold per channel, binary weights and the sign step of BipolarQuant."""
    general = {"domain": "qonnx.custom_op.general"}
    model = make_model(
        [
            node(
                "Quant",
                ["x", "s3", "zero", "b6"],
                ["q"],
                name="quant",
                signed=1,
                narrow=0,
                rounding_mode="ROUND",
                **general,
            ),
            node("AveragePool", ["q"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
            node(
                "Trunc",
                ["p", "s5", "zero", "b8", "s2", "b5"],
                ["t"],
                name="trunc",
                rounding_mode="FLOOR",
                **general,
            ),
            node(
                "MultiThreshold",
                ["t", "T"],
                ["m"],
                name="threshold",
                out_bias=-1.0,
                out_dtype="INT2",
                **general,
            ),
            node("Flatten", ["m"], ["f"], name="flatten"),
            node("BipolarQuant", ["W", "one"], ["wb"], name="binary_weights", **general),
            node("Gemm", ["f", "wb"], ["g"], name="fc"),
            node("BipolarQuant", ["g", "one"], ["y"], name="sign", **general),
        ],
        [("x", ["N", 2, 4, 4])],
        [("y", ["N", 3])],
        {
            "s3": np.float32(0.125),
            "s5": np.float32(2.0**-5),
            "s2": np.float32(0.25),
            "zero": np.float32(0.0),
            "b6": np.float32(6.0),
            "b8": np.float32(8.0),
            "b5": np.float32(5.0),
            "T": np.sort(_weights(rng, 2, 3), axis=1),
            "W": _weights(rng, 8, 3),
            "one": np.float32(1.0),
        },
    )
    model.opset_import.append(helper.make_opsetid("qonnx.custom_op.general", 2))
    return model


def binary_mlp(rng):
    """A binary network: BipolarQuant on the input, binary weights with a per-output scale and
    a quantized bias, the sign step between the layers (both Gemms the XNOR-popcount form)."""
    general = {"domain": "qonnx.custom_op.general"}
    model = make_model(
        [
            node("BipolarQuant", ["x", "one"], ["xb"], name="sign_in", **general),
            node("BipolarQuant", ["W1", "s1"], ["w1"], name="binary_w1", **general),
            node(
                "Quant",
                ["B1", "s2", "zero", "b6"],
                ["b1"],
                name="bias",
                signed=1,
                narrow=0,
                rounding_mode="ROUND",
                **general,
            ),
            node("Gemm", ["xb", "w1", "b1"], ["h"], name="fc1", transB=1),
            node("BipolarQuant", ["h", "one"], ["hb"], name="sign", **general),
            node("BipolarQuant", ["W2", "one"], ["w2"], name="binary_w2", **general),
            node("Gemm", ["hb", "w2"], ["y"], name="fc2", transB=1),
        ],
        [("x", ["N", 20])],
        [("y", ["N", 3])],
        {
            "W1": _weights(rng, 8, 20),
            "s1": np.ldexp(1.0, -np.arange(8) % 3).reshape(8, 1).astype(np.float32),
            "B1": _weights(rng, 8),
            "s2": np.float32(0.25),
            "zero": np.float32(0.0),
            "b6": np.float32(6.0),
            "W2": _weights(rng, 3, 8),
            "one": np.float32(1.0),
        },
    )
    model.opset_import.append(helper.make_opsetid("qonnx.custom_op.general", 2))
    return model


def input_steps(rng):
    """A standardization (x - mean) / std and a scaling x / 255 on NCHW images: input steps
    (docs/semantics.md) ahead of a Conv."""
    return make_model(
        [
            node("Div", ["x", "k255"], ["u"], name="scale"),
            node("Sub", ["u", "mean"], ["c"], name="centre"),
            node("Div", ["c", "std"], ["z"], name="standardize"),
            node("Conv", ["z", "W", "b"], ["h"], name="conv", pads=[1, 1, 1, 1]),
            node("Relu", ["h"], ["y"], name="relu"),
        ],
        [("x", ["N", 2, 4, 4])],
        [("y", ["N", 3, 4, 4])],
        {
            "k255": np.float32(255.0),
            "mean": np.array([0.4, 0.5], np.float32).reshape(2, 1, 1),
            "std": np.array([0.2, 0.3], np.float32).reshape(2, 1, 1),
            "W": _weights(rng, 3, 2, 3, 3),
            "b": _weights(rng, 3),
        },
    )


BUILDERS = (
    mlp_gemm,
    mlp_matmul,
    cnn,
    cnn_global,
    elementwise,
    classifier,
    layout,
    two_inputs,
    misc_ops,
    label_chain,
    sklearn_mlp,
    exporter_plumbing,
    batch_one,
    separable,
    slice_split_prelu,
    transformer_mlp,
    unet,
    recurrent,
    qonnx_ops,
    input_steps,
    binary_mlp,
)


@functools.cache
def seeds() -> tuple[tuple[str, bytes], ...]:
    """(name, serialized model) of every seed, built once per process."""
    rng = np.random.default_rng(0)
    out = []
    for build in BUILDERS:
        model = build(rng)
        if model is not None:
            out.append((build.__name__, model.SerializeToString()))
    return tuple(out)
