"""Regression and autoencoder models through the report and `nnfx simulate`: the task is found
from y (or forced), and every engine's MSE, MAE and max |error| against y and against float
equal the numbers computed here with NumPy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.cli import main
from nnfx.errors import ConfigError, DataError
from nnfx.report import plots
from tests.helpers import make_model

FAST = {"engines": ("reference", "ort"), "progress": False}


def _mlp(name_out: str, n_in: int, n_hidden: int, n_out: int, seed: int = 0):
    """x -> Dense -> Tanh -> Dense (linear output)."""
    rng = np.random.default_rng(seed)
    return make_model(
        [
            helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="enc"),
            helper.make_node("Tanh", ["h"], ["t"], name="act"),
            helper.make_node("Gemm", ["t", "w2", "b2"], [name_out], name="dec"),
        ],
        [("x", ["N", n_in])],
        [(name_out, ["N", n_out])],
        {
            "w1": rng.normal(0, 0.6, (n_in, n_hidden)).astype(np.float32),
            "b1": rng.normal(0, 0.1, n_hidden).astype(np.float32),
            "w2": rng.normal(0, 0.6, (n_hidden, n_out)).astype(np.float32),
            "b2": rng.normal(0, 0.1, n_out).astype(np.float32),
        },
    )


def _errors(predicted, target) -> dict:
    err = np.asarray(predicted, np.float64).reshape(len(target), -1) - np.asarray(
        target, np.float64
    ).reshape(len(target), -1)
    return {
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "max_abs_error": float(np.max(np.abs(err))),
    }


def _close(got: dict, expected: dict, rel=1e-12) -> None:
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=rel, abs=1e-15), key


@pytest.fixture(scope="module")
def three_outputs():
    """A 5-in, 3-out regression MLP, compiled at auto 12 bits, and float targets."""
    model = _mlp("y", 5, 8, 3)
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (200, 5)).astype(np.float32)
    y = nnfx.load(model).predict(X) + rng.normal(0, 0.05, (200, 3))
    return model, nnfx.compile(model, "auto", calibration=X, width=12), X, y


def test_regression_report_errors_per_engine_and_output(three_outputs, tmp_path):
    model, compiled, X, y = three_outputs
    data = nnfx.report(compiled, X, y, tmp_path / "r", precisions=(8, 12), **FAST).data
    assert data["task"] == "regression" and data["float_accuracy"] is None
    fixed = compiled.predict(X)
    engines = {r["engine"]: r for r in data["engines"]}
    for engine in ("reference", "ort"):
        _close(engines[engine]["errors"], _errors(fixed, y))
        _close(engines[engine]["vs_float"], _errors(fixed, compiled.float_model.predict(X)))
        columns = engines[engine]["errors"]["columns"]
        assert [c["output"] for c in columns] == ["output[0]", "output[1]", "output[2]"]
        for j, column in enumerate(columns):
            _close(column, _errors(fixed[:, j], y[:, j]))
    # float on onnxruntime computes in float32
    _close(engines["float"]["errors"], _errors(compiled.float_model.predict(X), y), rel=1e-5)
    assert data["design"]["mse"] == engines["reference"]["errors"]["mse"]
    assert {(s["width"], s["policy"]) for s in data["accuracy_vs_width"]} == {
        (w, p) for w in (8, 12) for p in ("uniform", "auto")
    }
    auto12 = nnfx.compile(model, "auto", calibration=X, width=12).predict(X)
    sweep = {(s["width"], s["policy"]): s["mse"] for s in data["accuracy_vs_width"]}
    assert sweep[12, "auto"] == pytest.approx(_errors(auto12, y)["mse"], rel=1e-12)
    marked = [s for s in plots.sweep_series(data) if s["label"].startswith("this design")]
    assert marked[0]["x"] == [12] and marked[0]["y"] == [data["design"]["mse"]]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "## Error of each engine against y" in md and "## Error per output" in md
    assert "## MSE against bit width" in md and "![MSE against bit width]" in md
    assert "regression; float MSE" in md and "Accuracy of each engine" not in md


def test_sklearn_regressor_through_report_and_simulate(tmp_path, capsys):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 4)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] + np.sin(X[:, 2]) - X[:, 3]).astype(np.float32)
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
    onx = skl2onnx.to_onnx(reg, X[:1], target_opset=17)
    data = nnfx.report(onx, X, y.reshape(-1, 1), tmp_path / "r", precisions=(10,), **FAST).data
    compiled = nnfx.compile(onx, "auto", calibration=X, width=16)
    engines = {r["engine"]: r for r in data["engines"]}
    assert data["task"] == "regression"
    _close(engines["ort"]["errors"], _errors(compiled.predict(X), y))
    # 1-D float targets are regression targets too, in `nnfx simulate`
    build = compiled.save(tmp_path / "build")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert main(["simulate", str(build), "--data", str(tmp_path / "d.npz"), "-q"]) == 0
    out = capsys.readouterr().out
    expected = _errors(compiled.predict(X), y)
    assert "regression" in out and f"{expected['mse']:.4g}" in out
    assert f"{expected['max_abs_error']:.4g}" in out


def test_autoencoder_report_and_simulate(tmp_path, capsys):
    """Output shape == input shape, y = X."""
    model = _mlp("recon", 8, 3, 8, seed=2)
    X = np.random.default_rng(3).uniform(-1, 1, (150, 8)).astype(np.float32)
    compiled = nnfx.compile(model, "auto", calibration=X, width=14)
    build = compiled.save(tmp_path / "build")
    np.savez(tmp_path / "d.npz", X=X, y=X)
    out = tmp_path / "r"
    args = ["report", str(build), "--data", str(tmp_path / "d.npz"), "--precisions", "10,14"]
    assert main([*args, "-o", str(out), "--engines", "reference,ort"]) == 0
    data = json.loads((out / "report.json").read_text())
    expected = _errors(compiled.predict(X), X)
    engines = {r["engine"]: r for r in data["engines"]}
    assert data["task"] == "regression" and len(engines["ort"]["errors"]["columns"]) == 8
    _close(engines["ort"]["errors"], expected)
    assert "MSE: float " in capsys.readouterr().out
    assert main(["simulate", str(build), "--data", str(tmp_path / "d.npz"), "-q"]) == 0
    shown = capsys.readouterr().out
    row = next(line for line in shown.splitlines() if "reference" in line)
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[1:4] == [f"{expected[k]:.4g}" for k in ("mse", "mae", "max_abs_error")]
    assert (
        cells[4]
        == f"{_errors(compiled.predict(X), compiled.float_model.predict(X))['max_abs_error']:.4g}"
    )


def test_the_task_can_be_forced_and_is_checked(three_outputs, tmp_path, capsys):
    model, compiled, X, y = three_outputs
    labels = y.argmax(axis=1)
    data = nnfx.report(compiled, X, labels, tmp_path / "c", precisions=(), **FAST).data
    assert data["task"] == "classification"  # integer labels of the 3 outputs
    one_hot = np.eye(3)[labels]
    data = nnfx.report(compiled, X, one_hot, tmp_path / "o", precisions=(), **FAST).data
    engines = {r["engine"]: r for r in data["engines"]}
    assert data["task"] == "classification"
    assert engines["reference"]["accuracy"] == np.mean(compiled.predict(X).argmax(1) == labels)
    forced = nnfx.report(
        compiled, X, one_hot, tmp_path / "f", precisions=(), task="regression", **FAST
    ).data
    assert forced["task"] == "regression"
    _close(forced["engines"][1]["errors"], _errors(compiled.predict(X), one_hot))
    with pytest.raises(DataError, match="classification needs y as integer labels") as info:
        nnfx.report(compiled, X, y, tmp_path / "x", task="classification", **FAST)
    assert "\n" not in str(info.value) and not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="unknown task 'fit'") as info:
        nnfx.report(compiled, X, y, tmp_path / "x", task="fit", **FAST)
    with pytest.raises(DataError, match="regression targets y have shape \\(200, 2\\)"):
        nnfx.report(compiled, X, y[:, :2], tmp_path / "x", **FAST)
    # the CLI: --task forces, a bad --task is one sentence and exit status 2
    build = compiled.save(tmp_path / "build")
    np.savez(tmp_path / "d.npz", X=X, y=one_hot)
    report = ["report", str(build), "--data", str(tmp_path / "d.npz"), "--precisions", ""]
    assert main([*report, "-o", str(tmp_path / "cli"), "--task", "regression", "-q"]) == 0
    assert json.loads((tmp_path / "cli" / "report.json").read_text())["task"] == "regression"
    capsys.readouterr()
    for command in (report, ["simulate", str(build), "--data", str(tmp_path / "d.npz")]):
        assert main([*command, "-o", str(tmp_path / "bad"), "--task", "fit"]) == 2
        err = capsys.readouterr().err
        assert "'--task'" in err and "classification" in err and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()


def test_several_outputs_are_compared_side_by_side(tmp_path):
    """Two output tensors: targets as a dict by output name, or one array of their values side
    by side in output order, give the same errors, per column named by output."""
    rng = np.random.default_rng(4)
    model = make_model(
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["a"], name="fa"),
            helper.make_node("Gemm", ["x", "w2", "b2"], ["c"], name="fc"),
        ],
        [("x", ["N", 4])],
        [("a", ["N", 2]), ("c", ["N", 1])],
        {
            "w": rng.normal(size=(4, 2)).astype(np.float32),
            "b": np.zeros(2, np.float32),
            "w2": rng.normal(size=(4, 1)).astype(np.float32),
            "b2": np.zeros(1, np.float32),
        },
    )
    X = rng.uniform(-1, 1, (50, 4)).astype(np.float32)
    compiled = nnfx.compile(model, "auto", calibration=X)
    y = {"a": rng.normal(size=(50, 2)), "c": rng.normal(size=(50, 1))}
    side_by_side = np.concatenate([y["a"], y["c"]], axis=1)
    predicted = compiled.predict(X)
    expected = _errors(np.concatenate([predicted["a"], predicted["c"]], axis=1), side_by_side)
    for targets in (y, side_by_side):
        data = nnfx.report(
            compiled, X, targets, tmp_path / "r", precisions=(), force=True, **FAST
        ).data
        errors = data["engines"][1]["errors"]
        _close(errors, expected)
        assert [c["output"] for c in errors["columns"]] == ["a[0]", "a[1]", "c[0]"]
        _close(nnfx.simulate(compiled, X, targets, timing=None)["reference"].errors, expected)
