"""The exported ONNX model, run by onnxruntime, equals ``predict()`` for every layer type.

Tolerance: 1e-5 relative to the largest output magnitude. Both sides compute in float32, but
onnxruntime and NumPy sum in different orders, so the last bits differ.
"""

import numpy as np
import onnx
import pytest

from nnfx.errors import ModelError
from nnfx.runtime.ort import run
from nnfx.trainer import (
    ELU,
    GRU,
    LSTM,
    SGD,
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    Sigmoid,
    SimpleRNN,
    Tanh,
)
from nnfx.trainer.onnx_recurrent import onnx_weights

RTOL = 1e-5


def trained_briefly(model, X, rng):
    """A few SGD steps so BatchNorm statistics and weights are not at their initial values."""
    out = model.output_shape
    model.compile(SGD(0.01), loss="mse", metrics=[])
    model.fit(X, rng.standard_normal((len(X), *out)), epochs=2, batch_size=8, verbose=0)
    return model


def assert_matches_onnxruntime(model, X, tmp_path, opset=17):
    path = tmp_path / "model.onnx"
    proto = model.export_onnx(path, opset=opset)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    assert proto.opset_import[0].version == opset
    ours = model.predict(X)
    theirs = run(path, X)
    assert theirs.shape == ours.shape
    scale = np.max(np.abs(ours))
    assert np.max(np.abs(theirs - ours)) <= RTOL * scale, np.max(np.abs(theirs - ours)) / scale
    return proto


MLP_LAYERS = {
    "relu": lambda: [Dense(12), ReLU(), Dense(3)],
    "leaky_relu": lambda: [Dense(12), LeakyReLU(0.2), Dense(3)],
    "elu": lambda: [Dense(12), ELU(0.5), Dense(3)],
    "sigmoid": lambda: [Dense(12), Sigmoid(), Dense(1), Sigmoid()],
    "tanh": lambda: [Dense(12), Tanh(), Dense(3), Linear()],
    "softmax": lambda: [Dense(12, activation="relu"), Dense(4, activation="softmax")],
    "batchnorm1d": lambda: [Dense(12), BatchNorm1D(), ReLU(), Dense(3)],
    "dropout": lambda: [Dense(12), ReLU(), Dropout(0.5), Dense(3), Dropout(0.2)],
    "no_bias": lambda: [Dense(12, use_bias=False), ReLU(), Dense(3)],
}


@pytest.mark.parametrize("name", list(MLP_LAYERS))
def test_mlp_layers(name, tmp_path, rng):
    model = Sequential(MLP_LAYERS[name](), input_shape=(7,), seed=3)
    X = rng.standard_normal((64, 7)).astype(np.float32)
    proto = assert_matches_onnxruntime(trained_briefly(model, X, rng), X, tmp_path)
    ops = [n.op_type for n in proto.graph.node]
    if name == "dropout":
        assert ops == ["Gemm", "Relu", "Gemm"]  # Dropout is absent at inference
    if name == "batchnorm1d":
        assert "BatchNormalization" in ops


CNN_LAYERS = {
    "conv_valid": lambda: [Conv2D(4, 3), ReLU(), Flatten(), Dense(3)],
    "conv_same_strided": lambda: [
        Conv2D(4, 3, strides=2, padding="same"),
        Tanh(),
        Flatten(),
        Dense(3),
    ],
    "conv_padded_rect": lambda: [Conv2D(3, (2, 3), padding=(1, 2)), ReLU(), Flatten(), Dense(2)],
    "maxpool": lambda: [Conv2D(4, 3, padding=1), ReLU(), MaxPool2D(2), Flatten(), Dense(3)],
    "maxpool_overlapping_padded": lambda: [MaxPool2D(3, strides=2, padding=1), Flatten(), Dense(3)],
    "avgpool": lambda: [Conv2D(4, 3), AvgPool2D(2), Flatten(), Dense(3)],
    "avgpool_padded": lambda: [AvgPool2D(3, strides=1, padding=1), Flatten(), Dense(3)],
    "batchnorm2d": lambda: [
        Conv2D(4, 3),
        BatchNorm2D(),
        ReLU(),
        Flatten(),
        Dense(3, activation="softmax"),
    ],
    "digits_cnn": lambda: [
        Conv2D(8, 3, padding="same", activation="relu"),
        MaxPool2D(2),
        Conv2D(16, 3, padding="same"),
        BatchNorm2D(),
        ReLU(),
        AvgPool2D(2),
        Flatten(),
        Dropout(0.25),
        Dense(10, activation="softmax"),
    ],
}


@pytest.mark.parametrize("name", list(CNN_LAYERS))
def test_cnn_layers(name, tmp_path, rng):
    model = Sequential(CNN_LAYERS[name](), input_shape=(2, 8, 9), seed=4)
    X = rng.standard_normal((32, 2, 8, 9)).astype(np.float32)
    assert_matches_onnxruntime(trained_briefly(model, X, rng), X, tmp_path)


@pytest.mark.parametrize("opset", [13, 15, 17, 19, 21])
def test_opsets(opset, tmp_path, rng):
    model = Sequential(CNN_LAYERS["batchnorm2d"](), input_shape=(1, 6, 6), seed=0)
    X = rng.standard_normal((16, 1, 6, 6)).astype(np.float32)
    assert_matches_onnxruntime(trained_briefly(model, X, rng), X, tmp_path, opset=opset)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU], ids=lambda c: c.__name__)
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
def test_recurrent_layers(cls, return_sequences, tmp_path, rng):
    """The standard RNN/LSTM/GRU operator between Transposes, then Squeeze of Y_h (the last
    state) or of Y's num_directions axis and a Transpose back (the whole sequence)."""
    layer = cls(6, return_sequences=return_sequences)
    model = Sequential([layer] if return_sequences else [layer, Dense(3)], input_shape=(7, 4))
    X = rng.standard_normal((32, 7, 4)).astype(np.float32)
    proto = assert_matches_onnxruntime(trained_briefly(model, X, rng), X, tmp_path)
    ops = [n.op_type for n in proto.graph.node]
    tail = ["Squeeze", "Transpose"] if return_sequences else ["Squeeze", "Gemm"]
    assert ops == ["Transpose", layer.onnx_op, *tail]
    node = proto.graph.node[1]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["hidden_size"] == 6 and attrs.get("layout", 0) == 0
    assert attrs.get("linear_before_reset", 0) == (1 if cls is GRU else 0)
    used = [f"{layer.name}_Y"] if return_sequences else ["", f"{layer.name}_Y_h"]
    assert list(node.output) == used  # Y (steps, 1, N, 6) or Y_h (1, N, 6) alone
    shapes = {i.name: tuple(i.dims) for i in proto.graph.initializer}
    gates = layer.gates * 6
    assert shapes[f"{layer.name}.W"] == (1, gates, 4)
    assert shapes[f"{layer.name}.R"] == (1, gates, 6)
    assert shapes[f"{layer.name}.B"] == (1, 2 * gates)


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [LSTM(8, return_sequences=True), GRU(5), Dense(4, activation="softmax")],
        lambda: [GRU(6, return_sequences=True), SimpleRNN(4, return_sequences=True)],
        lambda: [SimpleRNN(5, return_sequences=True), LSTM(3, return_sequences=True), Flatten()],
    ],
    ids=["lstm-gru-dense", "gru-rnn-sequences", "rnn-lstm-flatten"],
)
def test_recurrent_stacks(layers, tmp_path, rng):
    model = Sequential(layers(), input_shape=(9, 3), seed=1)
    X = rng.standard_normal((32, 9, 3)).astype(np.float32)
    assert_matches_onnxruntime(trained_briefly(model, X, rng), X, tmp_path)


@pytest.mark.parametrize(
    "cls,onnx_order", [(SimpleRNN, [0]), (LSTM, [0, 3, 1, 2]), (GRU, [1, 0, 2])]
)
def test_recurrent_weights_in_the_spec_gate_order(cls, onnx_order):
    """Ours (PyTorch's) i, f, g, o and r, z, n; ONNX's i, o, f, c and z, r, h: each gate's
    block filled with its own index shows where it lands."""
    layer = cls(2)
    layer.name = "r"
    layer.build((3, 5), np.random.default_rng(0), np.dtype(np.float32))
    marks = np.repeat(np.arange(layer.gates), 2).astype(np.float32)
    layer.W.value[...] = marks
    layer.R.value[...] = marks
    layer.b.value[...] = marks
    layer.rb.value[...] = marks + 10
    w, r, b = onnx_weights(layer)
    expected = np.repeat(onnx_order, 2)
    np.testing.assert_array_equal(w[0][:, 0], expected)  # (gates * units, features)
    np.testing.assert_array_equal(r[0][:, 1], expected)  # (gates * units, units)
    np.testing.assert_array_equal(b[0], np.concatenate([expected, expected + 10]))


def test_recurrent_opsets(tmp_path, rng):
    for opset in (13, 21):
        model = Sequential([GRU(4, return_sequences=True), LSTM(3), Dense(2)], input_shape=(5, 2))
        X = rng.standard_normal((8, 5, 2)).astype(np.float32)
        assert_matches_onnxruntime(model, X, tmp_path, opset=opset)


def test_graph_shape_names_and_dynamic_batch(tmp_path, rng):
    model = Sequential([Dense(5, activation="relu"), Dense(2)], input_shape=(3,), name="tiny")
    proto = model.export_onnx(tmp_path / "m.onnx")
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "input" and out.name == "output"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 3]
    assert {i.name for i in proto.graph.initializer} == {
        "dense_1.W",
        "dense_1.b",
        "dense_2.W",
        "dense_2.b",
    }
    for batch in (1, 5, 300):  # any batch size runs
        X = rng.standard_normal((batch, 3)).astype(np.float32)
        assert run(tmp_path / "m.onnx", X).shape == (batch, 2)


def test_float64_models_export_double(tmp_path, rng):
    model = Sequential([Dense(4, activation="tanh"), Dense(2)], input_shape=(3,), dtype="float64")
    proto = model.export_onnx(tmp_path / "m.onnx")
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    X = rng.standard_normal((10, 3))
    np.testing.assert_allclose(run(tmp_path / "m.onnx", X), model.predict(X), rtol=1e-12)


def test_unsupported_opset_and_unbuilt_model_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="opset 12"):
        Sequential([Dense(2)], input_shape=(3,)).export_onnx(tmp_path / "m.onnx", opset=12)
    with pytest.raises(ModelError, match="not built"):
        Sequential([Dense(2)]).export_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
