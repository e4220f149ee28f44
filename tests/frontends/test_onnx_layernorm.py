"""ONNX LayerNormalization (issue #14): over the last axis of a vector or of a rank-3 input (the
axis written -1 or positive; scale and bias, or scale alone; unread Mean/InvStdDev outputs)
loads and agrees with onnxruntime in float within 1e-5; the float ONNX export writes the
standard op back; other axes and read statistics are refused in one sentence naming the node."""

import numpy as np
import onnx
import pytest
from onnx import helper

import nnfx
from nnfx.backends.onnx import to_float_onnx
from nnfx.compiler.ops import Op
from nnfx.errors import UnsupportedOpError
from tests.helpers import assert_matches_ort, make_model, session


def _layer_norm(shape, axis=-1, bias=True, outputs=1, epsilon=1e-5, rng=None):
    rng = rng or np.random.default_rng(0)
    n = shape[-1]
    inits = {"g": rng.uniform(0.5, 1.5, n).astype(np.float32)}
    inputs = ["x", "g"]
    if bias:
        inits["b"] = rng.standard_normal(n).astype(np.float32)
        inputs.append("b")
    names = ["y", "mean", "inv_std"][:outputs]
    ln = helper.make_node(
        "LayerNormalization", inputs, names, name="ln", axis=axis, epsilon=epsilon
    )
    return make_model([ln], [("x", ["N", *shape])], [("y", None)], inits, opset=17)


@pytest.mark.parametrize(
    "shape,axis,bias",
    [((8,), -1, True), ((8,), 1, False), ((3, 5), -1, True), ((3, 5), 2, False)],
    ids=["vector", "vector_positive_axis", "rank3", "rank3_positive_axis"],
)
def test_layer_normalization_matches_onnxruntime(shape, axis, bias, rng):
    model = _layer_norm(shape, axis, bias, epsilon=1e-3)
    X = rng.standard_normal((40, *shape)) * 3 + rng.standard_normal((40, *[1] * len(shape)))
    loaded = assert_matches_ort(model, X.astype(np.float32))
    assert [n.op for n in loaded.graph.nodes if n.op is Op.LAYER_NORM]
    exported = to_float_onnx(loaded.graph)
    assert "LayerNormalization" in {n.op_type for n in exported.graph.node}
    sess = session(exported)
    theirs = sess.run(None, {sess.get_inputs()[0].name: X.astype(np.float32)})[0]
    mine = loaded.predict(X.astype(np.float32))
    assert np.max(np.abs(theirs - mine)) <= 1e-5 * np.max(np.abs(mine))


def test_unread_statistics_outputs_are_allowed(rng):
    model = _layer_norm((6,), outputs=3)
    assert_matches_ort(model, rng.standard_normal((10, 6)).astype(np.float32))


def test_other_axes_and_read_statistics_are_refused():
    with pytest.raises(UnsupportedOpError, match=r"node 'ln'.*axis 1 .*last axis only"):
        nnfx.load(_layer_norm((3, 5), axis=1))
    model = _layer_norm((6,), outputs=2)
    model.graph.node.append(helper.make_node("Identity", ["mean"], ["m"], name="reads_mean"))
    model.graph.output.append(helper.make_tensor_value_info("m", onnx.TensorProto.FLOAT, ["N", 1]))
    with pytest.raises(UnsupportedOpError, match=r"node 'ln'.*Mean output is read") as e:
        nnfx.load(model)
    assert "\n" not in str(e.value)


def test_fixed_point_layer_norm_is_close_to_float(rng):
    """At ``auto`` (16 bits) over inputs whose scale spans three orders of magnitude, the
    fixed-point result is the float LayerNorm of the same (quantized) inputs to within the
    table's relative error (a bin's half width over the smallest normalized U, 2**-9 with
    1024 entries, halved by the square root, plus the entry's rounding) and two output LSBs:
    the same relative error at every variance."""
    model = _layer_norm((16,), epsilon=1e-5)
    X = rng.standard_normal((300, 16)) * 10.0 ** rng.uniform(-1.5, 1.5, (300, 1))
    compiled = nnfx.compile(model, "auto", calibration=X)
    x_type = compiled.graph.tensors["x"].dtype
    quantized = compiled.quantize_inputs(X)["x"] * x_type.step
    exact = nnfx.load(model).predict(quantized)
    bias = model.graph.initializer[1]
    normalized = np.abs(exact - onnx.numpy_helper.to_array(bias))  # |(x - mean) / std * g|
    lsb = compiled.graph.tensors[compiled.graph.outputs[0]].dtype.step
    error = np.abs(compiled.predict(X) - exact)
    assert np.all(error <= 2 * lsb + normalized * 2.0**-9)
    assert np.max(error) > lsb  # the bound is not vacuous: the table's error shows


def test_table_settings_are_checked(rng):
    model = _layer_norm((6,))
    X = rng.standard_normal((20, 6))
    small = nnfx.compile(model, {"default": "auto", "layers": {"ln": {"table_size": 4}}}, X)
    assert small.graph.node("ln").precision.table.size == 4
    with pytest.raises(nnfx.PrecisionError, match="power of two >= 4, got 2"):
        nnfx.compile(model, {"default": "auto", "layers": {"ln": {"table_size": 2}}}, X)
    with pytest.raises(nnfx.PrecisionError, match="layer 'ln'.*remove its table_range"):
        nnfx.compile(model, {"default": "auto", "layers": {"ln": {"table_range": [0, 4]}}}, X)
