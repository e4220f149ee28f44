"""nnfx.compile (nnfx/compiled.py) on a trained digits MLP (tests/conftest.py's
``digits_mlp``): save/load, predict's values, the summary, per-layer configs, overflow
counts, errors. Accuracy after compiling trained models: tests/e2e/test_accuracy.py."""

import json

import numpy as np
import pytest

import nnfx
import nnfx.runtime.reference
from nnfx.compiler.fixed import FixedType
from nnfx.errors import DataError, PrecisionError


def test_save_and_load_compiled_round_trip_bit_exactly(digits_mlp, tmp_path):
    path, X, _, Xt, _ = digits_mlp
    compiled = nnfx.compile(path, "auto", calibration=X, width=9, reuse_factor=4)
    compiled.save(tmp_path / "build")
    again = nnfx.load_compiled(tmp_path / "build")
    assert again.reuse_factor == 4 and again.options["precision"] == "auto"
    ours, theirs = compiled.predict_raw(Xt), again.predict_raw(Xt)
    assert all(np.array_equal(ours[k], theirs[k]) for k in ours)
    assert again.summary() == compiled.summary()


def test_predict_returns_values_of_the_fixed_types(digits_mlp):
    path, X, _, Xt, _ = digits_mlp
    compiled = nnfx.compile(path, "fixed<12,4>")
    t = compiled.graph.tensors[compiled.graph.outputs[0]].dtype
    out = compiled.predict(Xt)
    assert out.dtype == np.float64
    assert np.array_equal(out * 2.0**t.frac, np.round(out * 2.0**t.frac))


def test_summary_shows_every_tensor_type(digits_mlp):
    path, X, *_ = digits_mlp
    text = nnfx.compile(path, "fixed<16,6,RND,SAT>").summary()
    assert "fixed<16,6,RND,SAT>" in text and "(exact)" in text and "1024@[0,16)" in text


def test_per_layer_overrides_from_yaml_and_json(digits_mlp, tmp_path):
    path, X, *_ = digits_mlp
    (tmp_path / "p.yaml").write_text(
        "default: fixed<16,6>\n"
        "layers:\n"
        "  dense_1:\n"
        "    result: fixed<10,4,RND,SAT>\n"
        "    weight: fixed<6,1>\n"
        "    accum: fixed<20,8>\n"
        "tensors:\n"
        "  input: fixed<12,5>\n"
    )
    compiled = nnfx.compile(path, config=tmp_path / "p.yaml")
    dense = compiled.graph.node("dense_1")
    assert dense.precision.weight == FixedType(6, 1)
    assert dense.precision.accum == FixedType(20, 8) and not dense.precision.accum_sized
    assert compiled.graph.tensors[dense.outputs[0]].dtype == FixedType(10, 4, True, "RND", "SAT")
    assert compiled.graph.tensors["input"].dtype == FixedType(12, 5)
    (tmp_path / "p.json").write_text(json.dumps({"default": "auto", "width": 8}))
    auto = nnfx.compile(path, config=tmp_path / "p.json", calibration=X)
    assert all(
        t.dtype.width == 8
        for t in auto.graph.tensors.values()
        if isinstance(t.dtype, FixedType) and t.name != "input"
    )


def test_overflow_counts(digits_mlp):
    path, X, *_ = digits_mlp
    assert sum(nnfx.compile(path, "fixed<24,12>").overflow_counts(X).values()) == 0
    counts = nnfx.compile(path, "fixed<6,1>").overflow_counts(X)
    assert counts["dense_1"] > 0


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"precision": "fixed<16>"}, PrecisionError, "width, integer bits"),
        ({"precision": "fixed<0,0>"}, PrecisionError, "from 1 to 62"),
        ({"precision": "fixed<99,6>"}, PrecisionError, "from 1 to 62"),
        ({"precision": "auto"}, PrecisionError, "needs calibration data"),
        (
            {"precision": "auto", "calibration": np.ones((5, 63))},
            DataError,
            "calibration data: input 'input' has shape \\(5, 63\\); "
            "the model expects \\(batch, 64\\)",
        ),
        (
            {"precision": {"layers": {"fc9": {"result": "fixed<8,3>"}}}},
            PrecisionError,
            "names layer\\(s\\) fc9 that the model does not have; its layers are dense_1",
        ),
        ({"precision": {"layers": {"dense_1": {"colour": 3}}}}, PrecisionError, "unknown key"),
        (
            {"precision": "auto", "width": 1, "calibration": np.ones((5, 64))},
            PrecisionError,
            "width must be an integer from 2 to 32",
        ),
    ],
)
def test_bad_input_is_one_clear_sentence(digits_mlp, kwargs, error, message):
    path = digits_mlp[0]
    with pytest.raises(error, match=message) as info:
        nnfx.compile(path, **kwargs)
    assert "\n" not in str(info.value)


def test_integer_bits_above_the_width_give_a_valid_accumulator():
    """fixed<3,7> rounds a weight of 0.3 to 0: the exact accumulator still has a width >= 1,
    and every engine agrees (found by the differential tester)."""
    from onnx import helper

    from tests.helpers import make_model

    weight = {"w": np.full((1, 1), 0.3, np.float32)}
    gemm = helper.make_node("Gemm", ["x", "w"], ["y"])
    model = make_model([gemm], [("x", ["N", 1])], [("y", ["N", 1])], weight)
    compiled = nnfx.compile(model, "fixed<3,7>")
    accum = compiled.graph.nodes[0].precision.accum
    assert accum.width >= 1 and accum.frac == -8
    X = np.array([[64.0], [-128.0], [0.0]], np.float32)
    assert np.array_equal(compiled.predict_raw(X)["y"], np.zeros((3, 1), np.int64))
    assert np.array_equal(compiled.predict_raw(X, "ort")["y"], np.zeros((3, 1), np.int64))


def test_ranges_observed_once_compile_like_the_calibration_data(digits_mlp):
    # a sweep calibrates once and compiles every auto design from the observed ranges
    from nnfx.errors import ConfigError
    from nnfx.runtime.calibration import observed_ranges

    path, X, _, Xt, _ = digits_mlp
    model = nnfx.load(path)
    ranges = observed_ranges(model.graph, model.to_ir_inputs(X))
    for width in (6, 11):
        direct = nnfx.compile(model, "auto", calibration=X, width=width)
        again = nnfx.compile(model, "auto", width=width, ranges=ranges)
        assert again.summary() == direct.summary()
        ours, theirs = direct.predict_raw(Xt), again.predict_raw(Xt)
        assert all(np.array_equal(ours[k], theirs[k]) for k in ours)
    with pytest.raises(ConfigError, match="calibration data or ranges, not both"):
        nnfx.compile(model, "auto", calibration=X, ranges=ranges)
