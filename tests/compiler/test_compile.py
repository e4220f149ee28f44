"""nnfx.compile: accuracy at fixed<16,6> and auto, configs, save/load, search, errors."""

import json

import numpy as np
import pytest

import nnfx
import nnfx.runtime.reference
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.tables import spec_for_range
from nnfx.errors import DataError, PrecisionError
from nnfx.search import accuracy, search_precision
from nnfx.trainer import (
    Adam,
    Dense,
    Sequential,
    Standardizer,
    load_dataset,
    train_val_test_split,
)


def trained(name, tmp_path_factory, hidden=(64, 32), last="softmax"):
    """A model trained as `nnfx train` trains it (Adam 0.001, batch 32, 30 epochs)."""
    data = load_dataset(name)
    (X, y), _, (Xt, yt) = train_val_test_split(data.X, data.y, seed=0)
    scaler = Standardizer().fit(X)
    X, Xt = scaler.transform(X).astype(np.float32), scaler.transform(Xt).astype(np.float32)
    layers = [Dense(h, activation="relu", kernel_initializer="he_uniform") for h in hidden]
    if last == "sigmoid":
        layers.append(Dense(1, activation="sigmoid"))
        loss = "binary_crossentropy"
    else:
        layers.append(Dense(data.n_classes, activation="softmax"))
        loss = "categorical_crossentropy"
    model = Sequential(layers, input_shape=(X.shape[1],), seed=0)
    model.compile(Adam(0.001), loss)
    model.fit(X, y, epochs=30, verbose=0)
    path = tmp_path_factory.mktemp(name) / "model.onnx"
    model.export_onnx(path)
    return path, X, y, Xt, yt


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return trained("digits", tmp_path_factory)


CASES = [("digits", "softmax"), ("wine", "softmax"), ("breast_cancer", "softmax")]


@pytest.mark.parametrize("name,last", CASES)
def test_accuracy_within_budget(name, last, tmp_path_factory):
    path, X, y, Xt, yt = trained(name, tmp_path_factory, last=last)
    float_acc = accuracy(nnfx.load(path).predict(Xt), yt)
    default = accuracy(nnfx.compile(path, "fixed<16,6>").predict(Xt), yt)
    auto = accuracy(nnfx.compile(path, "auto", calibration=X, width=10).predict(Xt), yt)
    assert 100 * (float_acc - default) <= 1.0, (float_acc, default)
    assert 100 * (float_acc - auto) <= 2.0, (float_acc, auto)


def test_wrap_overflow_is_counted_and_saturation_avoids_it(tmp_path_factory):
    """A confident sigmoid classifier's logits can leave fixed<16,6>'s [-32, 32): WRAP turns
    them around (the counters show it), SAT keeps the accuracy."""
    path, X, y, Xt, yt = trained("breast_cancer", tmp_path_factory, last="sigmoid")
    float_model = nnfx.load(path)
    logits = nnfx.runtime.reference.run(
        float_model.graph, float_model.to_ir_inputs(Xt), intermediate=True
    )["dense_3_out"]
    counts = nnfx.compile(path, "fixed<16,6>").overflow_counts(Xt)
    assert (counts["dense_3"] > 0) == bool(np.any(np.abs(logits) > 32.5))
    saturating = nnfx.compile(path, "fixed<16,6,TRN,SAT>")
    float_acc = accuracy(float_model.predict(Xt), yt)
    assert 100 * (float_acc - accuracy(saturating.predict(Xt), yt)) <= 1.0


def test_save_and_load_compiled_round_trip_bit_exactly(digits, tmp_path):
    path, X, _, Xt, _ = digits
    compiled = nnfx.compile(path, "auto", calibration=X, width=9, reuse_factor=4)
    compiled.save(tmp_path / "build")
    again = nnfx.load_compiled(tmp_path / "build")
    assert again.reuse_factor == 4 and again.options["precision"] == "auto"
    ours, theirs = compiled.predict_raw(Xt), again.predict_raw(Xt)
    assert all(np.array_equal(ours[k], theirs[k]) for k in ours)
    assert again.summary() == compiled.summary()


def test_predict_returns_values_of_the_fixed_types(digits):
    path, X, _, Xt, _ = digits
    compiled = nnfx.compile(path, "fixed<12,4>")
    t = compiled.graph.tensors[compiled.graph.outputs[0]].dtype
    out = compiled.predict(Xt)
    assert out.dtype == np.float64
    assert np.array_equal(out * 2.0**t.frac, np.round(out * 2.0**t.frac))


def test_summary_shows_every_tensor_type(digits):
    path, X, *_ = digits
    text = nnfx.compile(path, "fixed<16,6,RND,SAT>").summary()
    assert "fixed<16,6,RND,SAT>" in text and "(exact)" in text and "1024@[0,16)" in text


def test_per_layer_overrides_from_yaml_and_json(digits, tmp_path):
    path, X, *_ = digits
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


def test_overflow_counts(digits):
    path, X, *_ = digits
    assert sum(nnfx.compile(path, "fixed<24,12>").overflow_counts(X).values()) == 0
    counts = nnfx.compile(path, "fixed<6,1>").overflow_counts(X)
    assert counts["dense_1"] > 0


def test_search_finds_a_narrow_configuration(digits):
    path, X, y, Xt, yt = digits
    model = nnfx.load(path)
    result = search_precision(model, X[:300], y[:300], max_accuracy_drop=1.0, widths=range(4, 14))
    assert 100 * (result.float_accuracy - result.accuracy) <= 1.0
    assert result.config.width < 14 and len(result.trials) > 1
    compiled = nnfx.compile(model, precision=result.config, calibration=X[:300])
    assert accuracy(compiled.predict(X[:300]), y[:300]) == result.accuracy


def test_table_specs():
    spec = spec_for_range(-8.0, 8.0, 1024)
    assert (spec.shift, spec.start, spec.low, spec.high) == (6, -512, -8.0, 8.0)
    odd = spec_for_range(-3.0, 5.0, 100 * 0 + 128)  # step 1/16
    assert odd.low <= -3.0 and odd.high >= 5.0
    with pytest.raises(PrecisionError, match="power of two"):
        spec_for_range(0, 1, 1000)


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
def test_bad_input_is_one_clear_sentence(digits, kwargs, error, message):
    path = digits[0]
    with pytest.raises(error, match=message) as info:
        nnfx.compile(path, **kwargs)
    assert "\n" not in str(info.value)


def test_calibration_in_blocks_gives_the_same_ranges(digits):
    from nnfx.runtime.calibration import observed_ranges

    path, X, *_ = digits
    model = nnfx.load(path)
    inputs = model.to_ir_inputs(X)
    assert observed_ranges(model.graph, inputs, block=100) == observed_ranges(
        model.graph, inputs, block=10_000
    )


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
