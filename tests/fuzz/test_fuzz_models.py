"""Mutated model files: every outcome is success or an NnfxError with one printable sentence.

The budget test runs a fixed, seeded set of cases (``python -m tests.fuzz`` runs a long
campaign, docs/testing.md); the tests after it pin each defect the fuzzer found.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import nnfx
from nnfx import limits
from nnfx.errors import ConfigError, DataError, ModelError, NnfxError, UnsupportedOpError
from tests.fuzz.corpus import seeds
from tests.fuzz.mutate import INVALID_UTF8, UTF8_MARKER
from tests.fuzz.runner import message_problem, run_cases, summarize
from tests.helpers import make_model

BUDGET = 3000  # cases; a few seconds on one core


def test_mutated_models_give_success_or_one_sentence():
    outcomes = list(run_cases(seed=0, indices=range(BUDGET), jobs=1))
    assert len(outcomes) == BUDGET
    failed = [o for o in outcomes if o.failed]
    assert not failed, (
        summarize(outcomes, 0.0)
        + "\n"
        + "\n".join(f"{o.case}: {'; '.join(o.log)}" for o in failed[:10])
    )
    assert sum(o.kind == "ok" for o in outcomes) > BUDGET // 20  # the mutations reach compile


@pytest.mark.parametrize(
    "action, kind",
    [
        ("time.sleep(5)", "timeout"),
        ("bytearray(3 << 30)", "uncaught"),  # MemoryError under the memory limit
        ("os.kill(os.getpid(), signal.SIGSEGV)", "crash"),
        ("raise nnfx.ModelError('[bold]x[/]')", "bad-message"),
        ("raise nnfx.ModelError('fine')", "error"),
    ],
)
def test_the_runner_bounds_time_and_memory(monkeypatch, action, kind):
    from tests.fuzz import runner

    def exercise(path, rng):
        import os  # noqa: F401
        import signal  # noqa: F401
        import time  # noqa: F401

        exec(action)

    monkeypatch.setattr(runner, "exercise", exercise)
    (outcome,) = run_cases(seed=0, indices=[0], timeout_s=1.0)
    assert outcome.kind == kind, outcome


def test_every_seed_model_compiles_and_runs():
    """The corpus itself is sound: each seed loads, compiles at auto and runs."""
    import random

    from tests.fuzz.runner import random_inputs

    for name, data in seeds():
        model = nnfx.load(onnx.load_from_string(data))
        X = random_inputs(model, random.Random(name), batch=4)
        feed = X if len(X) > 1 else next(iter(X.values()))
        compiled = nnfx.compile(model, "auto", calibration=feed)
        assert compiled.predict(feed) is not None, name


# -- the defects found, one test each --------------------------------------------------------
def one_sentence(error: NnfxError) -> str:
    message = str(error)
    assert message_problem(message) is None, (message_problem(message), message)
    return message


def load_error(model, cls=ModelError, path=None) -> str:
    if path is not None:
        path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
        model = path
    with pytest.raises(cls) as info:
        nnfx.load(model)
    return one_sentence(info.value)


def dense(n_in=3, n_out=2, **attrs):
    return make_model(
        [helper.make_node("Gemm", ["x", "W"], ["y"], name="fc", **attrs)],
        [("x", ["N", n_in])],
        [("y", ["N", n_out])],
        {"W": np.ones((n_in, n_out), np.float32)},
    )


def conv(**attrs):
    return make_model(
        [helper.make_node("Conv", ["x", "K"], ["y"], name="conv", **attrs)],
        [("x", ["N", 1, 5, 5])],
        [("y", ["N", 2, None, None])],
        {"K": np.ones((2, 1, 3, 3), np.float32)},
    )


def test_initializer_data_of_the_wrong_length():
    model = dense()
    model.graph.initializer[0].raw_data = model.graph.initializer[0].raw_data + b"\0" * 4
    message = load_error(model)
    assert "initializer 'W' holds 28 bytes of data; its shape [3, 2] of float32 needs 24" in message
    model.graph.initializer[0].raw_data = model.graph.initializer[0].raw_data[:20]
    assert "20 bytes" in load_error(model)  # ONNX's checker sees this one first


def test_initializer_with_typed_data_of_the_wrong_length():
    model = dense()
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.float_data.extend([1.0] * 7)
    assert "initializer 'W' holds 7 values; its shape [3, 2] needs 6" in load_error(model)


def test_unknown_data_type_in_raw_data():
    model = dense()
    model.graph.initializer[0].data_type = 1000
    assert "data type" in load_error(model)


def test_unsupported_data_type_is_named():
    model = dense()
    model.graph.initializer[0].data_type = TensorProto.FLOAT8E4M3FN
    assert "data type FLOAT8E4M3FN, which nnfx does not read" in load_error(model)


def test_invalid_utf8_in_a_name(tmp_path):
    model = dense()
    model.graph.node[0].name = UTF8_MARKER
    data = model.SerializeToString().replace(UTF8_MARKER.encode(), INVALID_UTF8)
    message = load_error(data, path=tmp_path / "m.onnx")
    assert "text that is not UTF-8 in a field 'name'" in message


def test_invalid_utf8_in_a_string_attribute():
    model = conv(auto_pad="SAME_UPPER")
    model.graph.node[0].attribute[0].s = b"\xff\xfe"
    assert "attribute 'auto_pad' is not UTF-8 text" in load_error(model)


@pytest.mark.parametrize(
    "attrs, expected",
    [
        ({"strides": [0, 1]}, "strides [0, 1] must be 2 positive integer(s)"),
        ({"strides": [1]}, "strides [1] must be 2 positive integer(s)"),
        ({"dilations": [0, 0]}, "dilations [0, 0] must be 2 positive"),
        ({"pads": [1, 1, 1]}, "pads [1, 1, 1] must be 4 non-negative integers"),
        ({"pads": [-1, 0, 0, 0]}, "pads [-1, 0, 0, 0] must be 4 non-negative integers"),
        ({"kernel_shape": [2, 2]}, "kernel_shape [2, 2] does not match the weight's kernel"),
        ({"group": 2}, "group=2 does not fit 1 input channels"),
        ({"auto_pad": "SAME_LEFT"}, "auto_pad 'SAME_LEFT' is not supported"),
    ],
)
def test_bad_convolution_attributes(attrs, expected):
    message = load_error(conv(**attrs))
    assert message.startswith("node 'conv' (Conv): ")
    assert expected in message


def test_an_attribute_of_the_wrong_type():
    model = conv()
    model.graph.node[0].attribute.append(helper.make_attribute("strides", 2.5))
    message = load_error(model)  # ONNX's checker knows Conv's attribute types
    assert "strides" in message and "FLOAT" in message


def test_huge_pads_are_refused_before_padding():
    message = load_error(conv(pads=[2**31, 0, 0, 0]))
    assert "more than the limit of 4,096" in message
    assert "NNFX_MAX_PADS" in message


def test_transpose_perm_longer_than_the_rank():
    model = make_model(
        [helper.make_node("Transpose", ["x"], ["y"], name="t", perm=[0, 2, 1, 3])],
        [("x", ["N", 2, 3])],
        [("y", ["N", 3, 2])],
    )
    message = load_error(model)
    assert "perm [0, 2, 1, 3] is not a permutation of the input's 3 axes" in message


def test_a_huge_perm_is_cut_in_the_message():
    model = make_model(
        [helper.make_node("Transpose", ["x"], ["y"], name="t", perm=[10**8] * 1000)],
        [("x", ["N", 2, 3])],
        [("y", ["N", 3, 2])],
    )
    assert len(load_error(model)) < 300


def test_argmax_feeding_softmax():
    model = make_model(
        [
            helper.make_node("ArgMax", ["x"], ["i"], name="argmax", axis=1),
            helper.make_node("Softmax", ["i"], ["y"], name="softmax"),
        ],
        [("x", ["N", 4])],
        [("y", ["N", 1])],
    )
    message = load_error(model, UnsupportedOpError)
    assert "node 'softmax' (Softmax): input 'i' holds integer class indices" in message


def test_a_graph_with_no_outputs_is_refused():
    model = dense()
    del model.graph.output[:]
    assert "has no graph outputs; nnfx needs at least one" in load_error(model)


def test_concat_without_an_axis():
    model = make_model(
        [helper.make_node("Concat", ["x", "x"], ["y"], name="cat")],
        [("x", ["N", 2])],
        [("y", ["N", 4])],
    )
    model.graph.node[0].ClearField("attribute")
    assert "'axis' is missing" in load_error(model)


def test_cast_to_an_unknown_type():
    model = make_model(
        [helper.make_node("Cast", ["x"], ["y"], name="cast", to=1)],
        [("x", ["N", 2])],
        [("y", ["N", 2])],
    )
    model.graph.node[0].attribute[0].i = 1000
    assert "a cast to data type 1000 is not supported" in load_error(model, NnfxError)


def test_non_finite_weights_are_refused():
    model = dense()
    w = np.ones((3, 2), np.float32)
    w[1, 0] = np.inf
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "W"))
    assert "node 'fc' (Gemm): its weight holds inf at index (1, 0)" in load_error(model)


def test_batchnorm_with_a_zero_variance_and_epsilon():
    model = make_model(
        [
            helper.make_node(
                "BatchNormalization", ["x", "g", "b", "m", "v"], ["y"], name="bn", epsilon=0.0
            )
        ],
        [("x", ["N", 2, 3])],
        [("y", ["N", 2, 3])],
        {k: np.zeros(2, np.float32) for k in "gbmv"},
    )
    assert "var + epsilon must be positive" in load_error(model)


# -- size limits: refused before anything is allocated --------------------------------------
def test_a_20000_by_20000_dense_is_refused_from_its_dims():
    model = dense()
    w = model.graph.initializer[0]
    del w.dims[:]
    w.dims.extend([20000, 20000])  # the file holds 24 bytes: nothing may trust these dims
    message = load_error(model)
    assert "initializer 'W' needs 400,000,000 elements per tensor" in message
    assert "NNFX_MAX_TENSOR_ELEMENTS" in message


def test_a_wide_input_is_refused():
    model = dense()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 10**8
    message = load_error(model)
    assert "graph input 'x' needs 100,000,000 input features per sample" in message
    assert "NNFX_MAX_INPUT_WIDTH" in message


def test_a_limit_is_raised_by_its_variable(monkeypatch):
    monkeypatch.setenv("NNFX_MAX_INPUT_WIDTH", "2")
    assert "more than the limit of 2 (set NNFX_MAX_INPUT_WIDTH" in load_error(dense())
    monkeypatch.setenv("NNFX_MAX_INPUT_WIDTH", "3")
    nnfx.load(dense())


def test_a_huge_folded_constant_is_refused_before_folding():
    model = make_model(
        [
            helper.make_node("ConstantOfShape", ["s"], ["k"], name="fill"),
            helper.make_node("Add", ["x", "k"], ["y"], name="add"),
        ],
        [("x", ["N", 2])],
        [("y", ["N", 2])],
        {"s": np.array([2**31, 2**31], np.int64)},
    )
    message = load_error(model)
    assert "node 'fill' (ConstantOfShape): its constant result needs" in message


def test_a_huge_table_size_is_refused():
    model = make_model(
        [helper.make_node("Sigmoid", ["x"], ["y"], name="sigmoid")],
        [("x", ["N", 2])],
        [("y", ["N", 2])],
    )
    with pytest.raises(NnfxError) as info:
        nnfx.compile(model, {"default": "fixed<12,4>", "table_size": 2**31})
    message = one_sentence(info.value)
    assert "more than the limit of 65,536" in message and "NNFX_MAX_TABLE_SIZE" in message


def test_too_many_nodes(monkeypatch):
    monkeypatch.setenv("NNFX_MAX_NODES", "1")
    model = make_model(
        [
            helper.make_node("Relu", ["x"], ["h"], name="a"),
            helper.make_node("Relu", ["h"], ["y"], name="b"),
        ],
        [("x", ["N", 2])],
        [("y", ["N", 2])],
    )
    assert "needs 2 nodes, more than the limit of 1" in load_error(model)


def test_the_limits_have_defaults_far_above_fpga_models():
    assert limits.TENSOR_ELEMENTS.value >= 1 << 20
    assert limits.PADS.value >= 64


# -- names in messages ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["esc\x1b[31mred", "line\nbreak", "[/]", "[bold red]x[/bold red]", "a" * 5000]
)
def test_hostile_names_reach_messages_escaped(name):
    model = make_model(
        [helper.make_node("Cos", ["x"], ["y"], name=name)], [("x", ["N", 3])], [("y", ["N", 3])]
    )
    message = load_error(model, UnsupportedOpError)
    assert len(message) < 1000


# -- calibration data and options -------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_calibration_data_is_refused(bad):
    X = np.zeros((4, 3), np.float32)
    X[2, 1] = bad
    with pytest.raises(DataError) as info:
        nnfx.compile(dense(), "auto", calibration=X)
    message = one_sentence(info.value)
    assert f"input 'x' holds {bad} at index (2, 1)" in message


def test_non_finite_calibration_index_is_in_the_model_layout():
    data = dict(seeds())["cnn"]
    X = np.zeros((3, 2, 6, 6), np.float32)
    X[1, 1, 4, 2] = np.nan
    with pytest.raises(DataError, match=r"holds nan at index \(1, 1, 4, 2\)"):
        nnfx.compile(onnx.load_from_string(data), "auto", calibration=X)


def test_search_with_non_finite_data_is_refused():
    from nnfx.search import search_precision

    X = np.zeros((4, 3), np.float32)
    X[0, 0] = np.nan
    with pytest.raises(DataError, match="calibration needs finite values"):
        search_precision(nnfx.load(dense()), X, np.zeros(4, np.int64), per_layer=False)


@pytest.mark.parametrize("reuse_factor", [0, -1, 1.5])
def test_reuse_factor_must_be_positive(reuse_factor):
    with pytest.raises(ConfigError) as info:
        nnfx.compile(dense(), "fixed<12,4>", reuse_factor=reuse_factor)
    one_sentence(info.value)


# -- a saved IR read back is input too --------------------------------------------------------
@pytest.mark.parametrize(
    "edit",
    [
        lambda doc: doc.pop("nodes"),
        lambda doc: doc["tensors"][0].update(shape=[-3]),
        lambda doc: doc["tensors"][0].update(shape=[2**40, 2**40]),
        lambda doc: doc["nodes"][0].update(op="NoSuchOp"),
        lambda doc: doc["nodes"][0].update(attrs={"n_in": "x", "bogus": 1}),
        lambda doc: doc.update(outputs=[]),
        lambda doc: doc["nodes"].append(doc["nodes"][0]),
    ],
)
def test_a_damaged_ir_file_is_refused_with_one_sentence(tmp_path, edit):
    import json

    from nnfx.compiler.ir import Graph

    nnfx.load(dense()).graph.save(tmp_path / "ir")
    path = tmp_path / "ir" / "model.json"
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    with pytest.raises(ModelError) as info:
        Graph.load(tmp_path / "ir")
    one_sentence(info.value)


def test_weights_in_all_are_limited_before_they_are_read(monkeypatch):
    monkeypatch.setenv("NNFX_MAX_WEIGHTS", "10")
    message = load_error(dense(4, 3))
    assert "the model (its initializers through initializer 'W') needs 12 weights" in message


def test_ir_node_names_are_printable_and_bounded():
    model = make_model(
        [helper.make_node("Relu", ["x"], ["y"], name="r\x1b[1m" + "e" * 500)],
        [("x", ["N", 3])],
        [("y", ["N", 3])],
    )
    (node,) = nnfx.load(model).graph.nodes
    assert node.name.isprintable() and node.name.startswith("r\\x1b[1meee")
    assert len(node.name) < 250


def test_a_huge_range_is_refused_before_folding():
    model = make_model(
        [
            helper.make_node("Range", ["a", "b", "c"], ["k"], name="range"),
            helper.make_node("Add", ["x", "k"], ["y"], name="add"),
        ],
        [("x", ["N", 2])],
        [("y", ["N", 2])],
        {"a": np.array(0, np.int64), "b": np.array(10**12, np.int64), "c": np.array(1, np.int64)},
    )
    assert "node 'range' (Range): its constant result needs 1,000,000,000,000" in load_error(model)


def test_an_input_axis_of_size_zero():
    model = dense()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 0
    assert "has size 0 on axis 1" in load_error(model)


def test_sliding_windows_are_bounded_before_any_engine_runs():
    model = make_model(
        [helper.make_node("Conv", ["x", "K"], ["y"], name="conv")],
        [("x", ["N", 1, 1000, 1000])],
        [("y", ["N", 1, None, None])],
        {"K": np.ones((1, 1, 40, 40), np.float32)},
    )
    message = load_error(model)
    assert "node 'conv' (Conv): its sliding-window view needs" in message


@pytest.mark.parametrize("op", ["AveragePool", "MaxPool"])
def test_a_pooling_window_of_padding_only_is_refused(op):
    # An average over no values is 0/0 = NaN: found by the fuzzer as a crash in the precision
    # assignment (NaN calibrated range).
    model = make_model(
        [helper.make_node(op, ["x"], ["y"], name="pool", kernel_shape=[2, 2], pads=[0, 1, 0, 2])],
        [("x", ["N", 4, 2, 2])],
        [("y", ["N", 4, None, None])],
    )
    message = load_error(model)
    assert "pads [0, 1, 0, 2] must be smaller than the kernel [2, 2]" in message
