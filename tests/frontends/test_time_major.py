"""A graph input or output whose batch is not its first axis (``Tensor.batch_axis``): the
time-major ``(steps, batch, features)`` arrays of a recurrent layer read straight from a graph
input (PyTorch's ``batch_first=False``), on hand-built ONNX graphs. The IR stays batch-first;
data goes in and comes out in the model's layout, in float against onnxruntime and in every
fixed-point engine; the property survives saving; a wrong size or layout is refused in one
sentence."""

import numpy as np
import pytest
from onnx import helper, numpy_helper

import nnfx
from nnfx.compiled import load_compiled
from nnfx.compiler import serialize
from nnfx.compiler.layout import model_to_ir, to_ir, to_onnx
from nnfx.errors import DataError, ModelError, UnsupportedOpError
from tests.helpers import assert_matches_ort, make_model

STEPS, FEATURES, HIDDEN = 5, 3, 4


def time_major_gru(sequence=True, last=True, direction="forward"):
    """GRU on x (steps, N, features): Y squeezed to (steps, N, hidden) returned as it is (the
    whole sequence, time-major) and Y_h squeezed to (N, hidden) (the last state)."""
    rng = np.random.default_rng(0)
    gates, d = 3 * HIDDEN, 2 if direction == "bidirectional" else 1
    weights = {
        "W": rng.normal(0, 0.5, (d, gates, FEATURES)).astype(np.float32),
        "R": rng.normal(0, 0.5, (d, gates, HIDDEN)).astype(np.float32),
        "B": rng.normal(0, 0.2, (d, 2 * gates)).astype(np.float32),
        "axis1": np.array([1]),
        "axis0": np.array([0]),
    }
    nodes = [
        helper.make_node(
            "GRU",
            ["x", "W", "R", "B"],
            ["Y", "Y_h"],
            name="gru",
            hidden_size=HIDDEN,
            linear_before_reset=1,
            direction=direction,
        ),
    ]
    outputs = []
    if sequence:
        nodes.append(helper.make_node("Squeeze", ["Y", "axis1"], ["every"]))
        outputs.append(("every", [STEPS, "N", HIDDEN]))
    if last:
        nodes.append(helper.make_node("Squeeze", ["Y_h", "axis0"], ["last"]))
        outputs.append(("last", ["N", HIDDEN]))
    return make_model(nodes, [("x", [STEPS, "N", FEATURES])], outputs, weights)


def data(n=64, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, (STEPS, n, FEATURES)).astype(np.float32)


def test_layout_moves_the_batch_axis_and_back():
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # (steps, batch, features)
    ir = to_ir(x, (0, 1), 1)
    assert np.array_equal(ir, x.transpose(1, 0, 2))
    assert np.array_equal(to_onnx(ir, (0, 1), 1), x)
    assert model_to_ir((1, 2, 0), 0) == (0, 2, 3, 1)  # channels-last, batch first: unchanged


def test_time_major_outputs_match_onnxruntime_in_the_model_layout():
    model = time_major_gru()
    loaded = assert_matches_ort(model, data())
    tensors = loaded.graph.tensors
    assert [tensors[n].batch_axis for n in (*loaded.graph.inputs, *loaded.graph.outputs)] == [
        1,
        1,
        0,
    ]
    assert tensors["x"].shape == (STEPS, FEATURES)  # the IR is batch-first
    out = loaded.predict(data(7))
    assert out["every"].shape == (STEPS, 7, HIDDEN) and out["last"].shape == (7, HIDDEN)
    np.testing.assert_array_equal(out["every"][-1], out["last"])


def test_a_wrong_batch_axis_size_is_refused_in_one_sentence():
    loaded = nnfx.load(time_major_gru())
    with pytest.raises(DataError) as info:
        loaded.predict(data().transpose(1, 0, 2))  # batch-first data for a time-major input
    message = str(info.value)
    assert f"the model expects ({STEPS}, batch, {FEATURES})" in message and "\n" not in message


def test_batch_axis_survives_save_and_load_and_every_engine_agrees(tmp_path):
    X = data(40)
    compiled = nnfx.compile(time_major_gru(), "auto", calibration=X)
    compiled.save(tmp_path / "saved")
    again = load_compiled(tmp_path / "saved")
    assert again.graph.tensors["every"].batch_axis == 1
    reference = compiled.predict_raw(X)
    for raw in (again.predict_raw(X), compiled.predict_raw(X, "ort")):
        for name, codes in reference.items():
            np.testing.assert_array_equal(raw[name], codes, err_msg=name)
    assert compiled.predict(X)["every"].shape == (STEPS, 40, HIDDEN)


def test_a_batch_axis_outside_the_tensor_is_refused_on_load(tmp_path):
    compiled = nnfx.compile(time_major_gru(last=False), "auto", calibration=data(20))
    serialize.save(compiled.graph, tmp_path / "ir")
    path = tmp_path / "ir" / "model.json"
    path.write_text(path.read_text().replace('"batch_axis": 1', '"batch_axis": 5'))
    with pytest.raises(ModelError, match="has batch axis 5, outside its 3 axes"):
        serialize.load(tmp_path / "ir")


def test_a_time_major_input_with_a_dynamic_steps_axis_is_refused():
    model = time_major_gru(sequence=False)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "T"
    with pytest.raises(ModelError, match="only the batch axis .1. may be dynamic"):
        nnfx.load(model)


def test_another_layout_of_the_sequence_is_refused_naming_the_layer():
    model = time_major_gru(last=False)
    swap = helper.make_node("Transpose", ["every"], ["swapped"], perm=[0, 2, 1])
    model.graph.node.append(swap)
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info("swapped", 1, [STEPS, HIDDEN, "N"]))
    with pytest.raises(UnsupportedOpError, match="node 'gru' .GRU.: its input or outputs") as e:
        nnfx.load(model)
    assert "\n" not in str(e.value)


def test_a_reverse_layer_reads_the_steps_backwards_in_every_engine():
    model = time_major_gru(last=False, direction="reverse")
    loaded = assert_matches_ort(model, data())
    assert [n.op.value for n in loaded.graph.nodes].count("Recurrent") == 1
    X = data(30, seed=2)
    compiled = nnfx.compile(model, "auto", calibration=X)
    reference = compiled.predict_raw(X)
    np.testing.assert_array_equal(compiled.predict_raw(X, "ort")["every"], reference["every"])


def test_a_reverse_layers_last_state_is_refused_naming_the_layer():
    with pytest.raises(UnsupportedOpError, match="node 'gru' .GRU.: its input or outputs") as e:
        nnfx.load(time_major_gru(sequence=False, direction="reverse"))
    assert "\n" not in str(e.value)


def test_a_sweep_refuses_a_time_major_input_in_one_sentence(tmp_path):
    from nnfx.sweep import sweep

    with pytest.raises(DataError, match="input 'x' has it on axis 1 .time-major.") as e:
        sweep(time_major_gru(), data(10), np.zeros(10), tmp_path / "sweep")
    assert "\n" not in str(e.value)


def test_the_shape_of_a_time_major_input_holds_the_batch_on_its_axis():
    """Shape(x) of a time-major input is (steps, batch, features): its entry 1 is the batch,
    so zeros of shape (Shape(x)[1], hidden) added to the last state broadcast per sample."""
    model = time_major_gru(sequence=False)
    nodes = list(model.graph.node)
    nodes[-1].output[0] = "last_state"
    starts, ends = np.array([1]), np.array([2])
    nodes += [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "s1", "e1"], ["batch"]),
        helper.make_node("Concat", ["batch", "hidden"], ["zeros_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["zeros_shape"], ["zeros"]),
        helper.make_node("Add", ["last_state", "zeros"], ["last"]),
    ]
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weights.update({"s1": starts, "e1": ends, "hidden": np.array([HIDDEN])})
    model = make_model(nodes, [("x", [STEPS, "N", FEATURES])], [("last", ["N", HIDDEN])], weights)
    X = data()
    assert_matches_ort(model, X)
