"""nnfx.simulate: every engine on the data, compared bit for bit with the first; timed apart,
on the data repeated to a large batch."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx import simulation
from nnfx.search import accuracy
from tests.helpers import make_model


@pytest.fixture(scope="module")
def compiled_and_data():
    """x (4 features) -> Dense 'fc' -> Relu, in fixed<16,6>; 40 samples with labels."""
    rng = np.random.default_rng(0)
    model = make_model(
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc"),
            helper.make_node("Relu", ["h"], ["y"], name="act"),
        ],
        [("x", ["N", 4])],
        [("y", ["N", 3])],
        {
            "w": rng.uniform(-1, 1, (4, 3)).astype(np.float32),
            "b": rng.uniform(-0.5, 0.5, 3).astype(np.float32),
        },
    )
    X = rng.uniform(-2, 2, (40, 4)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    return nnfx.compile(model, "fixed<16,6>"), X, y


def test_reference_and_ort_agree_bit_for_bit(compiled_and_data):
    compiled, X, y = compiled_and_data
    result = nnfx.simulate(compiled, X, y, engines=("reference", "ort"))
    assert result.samples == 40 and [r.engine for r in result.runs] == ["reference", "ort"]
    assert result.agree
    reference, ort = result["reference"], result["ort"]
    assert ort.bit_exact and ort.mismatches == 0 and reference.mismatches == 0
    assert set(ort.raw) == set(reference.raw) == {"y"}
    np.testing.assert_array_equal(ort.raw["y"], reference.raw["y"])
    np.testing.assert_array_equal(ort.raw["y"], compiled.predict_raw(X, "reference")["y"])
    np.testing.assert_array_equal(ort.values, compiled.predict(X, "ort"))
    assert ort.accuracy == accuracy(compiled.predict(X), y)
    assert result.float_accuracy == accuracy(compiled.float_model.predict(X), y)
    assert ort.seconds > 0 and result.float_seconds > 0


def test_timing_runs_a_large_batch_for_the_budget(compiled_and_data):
    compiled, X, y = compiled_and_data
    result = nnfx.simulate(compiled, X, y, engines=("reference", "ort"), timing=0.05)
    for timing in (result["reference"].timing, result["ort"].timing, result.float_timing):
        # the 40 samples repeated: a batch far larger than the data, run for the budget
        assert 40 < timing.batch <= simulation.TIMING_BATCH
        assert timing.samples % timing.batch == 0 and timing.seconds >= 0.05
        assert timing.samples_per_second == pytest.approx(timing.samples / timing.seconds)
        assert 0 < timing.latency_s < timing.seconds
    ort = result["ort"]
    assert ort.samples_per_second == ort.timing.samples_per_second
    assert result.float_samples_per_second == result.float_timing.samples_per_second
    assert ort.samples == 40 and ort.raw["y"].shape[0] == 40  # accuracy: the data alone


def test_timing_can_be_left_out_and_is_bounded_by_memory(compiled_and_data, monkeypatch):
    compiled, X, y = compiled_and_data
    result = nnfx.simulate(compiled, X, y, engines="ort", timing=None)
    assert result["ort"].timing is None and result.float_timing is None
    assert result["ort"].samples_per_second == pytest.approx(40 / result["ort"].seconds)
    largest = max(t.size for t in compiled.graph.tensors.values())
    monkeypatch.setattr(simulation, "MEMORY_BUDGET", 3 * 8 * largest * 50)  # 50 samples
    result = nnfx.simulate(compiled, X, y, engines="ort", timing=0.01)
    assert result["ort"].timing.batch <= 50 and result.float_timing.batch <= 50


def test_a_planted_mismatch_is_counted(compiled_and_data, monkeypatch):
    compiled, X, y = compiled_and_data
    honest = type(compiled).predict_raw

    def one_code_off(X, engine="reference", overflows=None):
        raw = honest(compiled, X, engine, overflows)
        if engine == "ort" and len(X) > 1:  # not the warm-up call on one sample
            raw["y"] = raw["y"].copy()
            raw["y"][5, 1] += 1
            raw["y"][9, 0] -= 3
        return raw

    monkeypatch.setattr(compiled, "predict_raw", one_code_off)
    result = nnfx.simulate(compiled, X, engines=["reference", "ort"], timing=None)
    assert not result.agree
    assert result["reference"].bit_exact and result["ort"].mismatches == 2
    assert result["ort"].accuracy is None and result.float_accuracy is None


def test_engines_are_checked_before_any_work(compiled_and_data):
    compiled, X, _ = compiled_and_data
    with pytest.raises(nnfx.ConfigError, match="unknown engine.s. fpga; available: reference"):
        nnfx.simulate(compiled, X, engines=("reference", "fpga"))
    with pytest.raises(nnfx.ConfigError, match="no engine"):
        nnfx.simulate(compiled, X, engines=())
    assert [r.engine for r in nnfx.simulate(compiled, X, engines="ort").runs] == ["ort"]


def test_save_writes_each_engines_values(compiled_and_data, tmp_path):
    compiled, X, y = compiled_and_data
    result = nnfx.simulate(compiled, X, y, engines=("reference", "ort"))
    saved = np.load(result.save(tmp_path / "out.npz"))
    assert sorted(saved.files) == ["ort.output", "reference.output"]
    np.testing.assert_array_equal(saved["ort.output"], compiled.predict(X))


def test_one_hot_labels_give_the_accuracy_of_integer_labels(compiled_and_data):
    compiled, X, y = compiled_and_data
    as_labels = nnfx.simulate(compiled, X, y, engines="reference", timing=None)
    one_hot = nnfx.simulate(compiled, X, np.eye(3)[y], engines="reference", timing=None)
    assert one_hot.task == as_labels.task == "classification"
    assert one_hot["reference"].accuracy == as_labels["reference"].accuracy
    assert one_hot.float_accuracy == as_labels.float_accuracy
    assert one_hot["reference"].errors is None and one_hot.float_errors is None


def test_regression_targets_give_errors_against_y_and_float(compiled_and_data):
    compiled, X, _ = compiled_and_data
    targets = np.random.default_rng(5).normal(0, 1, (40, 3))
    result = nnfx.simulate(compiled, X, targets, engines=("reference", "ort"), timing=None)
    assert result.task == "regression" and result.float_accuracy is None
    fixed, float_values = compiled.predict(X), compiled.float_model.predict(X)
    for run in result.runs:
        assert run.accuracy is None
        err = fixed - targets
        assert run.errors["mse"] == pytest.approx(np.mean(err**2), rel=1e-12)
        assert run.errors["mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
        assert run.errors["max_abs_error"] == np.max(np.abs(err))
        assert run.errors["columns"][2]["mse"] == pytest.approx(np.mean(err[:, 2] ** 2))
        assert run.float_errors["max_abs_error"] == np.max(np.abs(fixed - float_values))
    assert result.float_errors["mse"] == pytest.approx(np.mean((float_values - targets) ** 2))
    # integer labels read as regression targets when forced
    labels = np.arange(40) % 3
    forced = nnfx.simulate(compiled, X, np.eye(3)[labels], task="regression", timing=None)
    assert forced.task == "regression"
    assert forced["reference"].errors["mse"] == pytest.approx(
        np.mean((fixed - np.eye(3)[labels]) ** 2)
    )
    with pytest.raises(nnfx.ConfigError, match="unknown task 'fit'"):
        nnfx.simulate(compiled, X, labels, task="fit")
    with pytest.raises(nnfx.DataError, match="regression targets y have shape \\(40, 2\\)"):
        nnfx.simulate(compiled, X, targets[:, :2])
