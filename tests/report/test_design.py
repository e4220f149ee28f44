"""The report of a given design: a compiled build (folder or CompiledModel) is reported as it
was compiled — its types, its accuracy, its reuse factor — without recompiling; a per-layer
precision config is reported as configured; the sweep's figure marks the design."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nnfx
from nnfx.cli import main
from nnfx.errors import ConfigError
from nnfx.report import plots, sweep
from nnfx.search import accuracy

FAST = {"engines": ("reference", "ort"), "progress": False}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from nnfx.trainer import recipe

    folder = tmp_path_factory.mktemp("digits")
    config = recipe.TrainConfig(epochs=8)
    recipe.save(recipe.train(config, verbose=0), folder / "model.onnx", config)
    data = np.load(folder / "test_data.npz")
    return folder, data["X"], data["y"]


@pytest.fixture(scope="module")
def narrow_build(digits, tmp_path_factory):
    """The digits MLP compiled at fixed<8,3> with reuse factor 4, saved: a design far from
    the report's default (auto, 16 bits, reuse 1)."""
    folder, _, _ = digits
    compiled = nnfx.compile(folder / "model.onnx", "fixed<8,3>", reuse_factor=4)
    return compiled, compiled.save(tmp_path_factory.mktemp("build") / "build")


def _types(data: dict) -> set[str]:
    return {r["type"] for r in data["layers"]}


def test_a_build_folder_is_reported_as_compiled_without_recompiling(
    digits, narrow_build, tmp_path, monkeypatch
):
    _, X, y = digits
    compiled, build = narrow_build

    def no_compile(*args, **kwargs):
        raise AssertionError("the report recompiled the design")

    monkeypatch.setattr(nnfx.compiled, "compile", no_compile)
    monkeypatch.setattr(nnfx, "compile", no_compile)
    data = nnfx.report(build, X, y, tmp_path / "r", precisions=(), **FAST).data
    expected = accuracy(compiled.predict(X), y)
    assert _types(data) == {"fixed<8,3>"}  # auto would give 16-bit types
    assert [r["type"] for r in data["precision_summary"]] == [
        r["type"] for r in compiled.layer_table()
    ]
    engines = {r["engine"]: r for r in data["engines"]}
    assert engines["reference"]["accuracy"] == engines["ort"]["accuracy"] == expected
    assert data["design"] == {
        "description": "fixed<8,3>",
        "given": True,
        "widths": [8],
        "width": 8,
        "uniform": True,
        "accuracy": expected,
    }
    assert data["reuse_factor"] == data["estimate"]["reuse_factor"] == 4
    assert data["accuracy_vs_width"] == [] and "no widths" in data["sweep_note"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "the compiled design as given: fixed<8,3>" in md
    assert "Note: no widths were given for the sweep." in md


def test_a_build_with_an_hls_project_is_estimated_with_its_options(digits, tmp_path):
    """The part, strategy, clock and reuse a project was written with are recorded in
    compile.json and are what the report's estimate uses."""
    folder, X, y = digits
    compiled = nnfx.compile(folder / "model.onnx", "fixed<8,3>")
    hls = {"reuse_factor": 2, "strategy": "resource", "part": "xc7z020clg400-1"}
    build = compiled.save(tmp_path / "build", hls={**hls, "clock_period_ns": 4.0})
    assert nnfx.load_compiled(build).options["hls"]["part"] == "xc7z020clg400-1"
    est = nnfx.report(build, X, y, tmp_path / "r", precisions=(), **FAST).data["estimate"]
    assert (est["reuse_factor"], est["strategy"], est["part"]) == (2, "resource", hls["part"])
    assert est["clock_period_ns"] == 4.0


def test_a_compiled_model_is_reported_as_it_is_with_the_sweep_marking_it(digits, tmp_path):
    folder, X, y = digits
    compiled = nnfx.compile(folder / "model.onnx", "fixed<8,3>")
    data = nnfx.report(compiled, X, y, tmp_path / "r", precisions=(6, 8), **FAST).data
    acc = accuracy(compiled.predict(X), y)
    assert _types(data) == {"fixed<8,3>"} and data["design"]["accuracy"] == acc
    assert {(s["width"], s["policy"]) for s in data["accuracy_vs_width"]} == {
        (w, p) for w in (6, 8) for p in ("uniform", "auto")
    }
    marked = [s for s in plots.sweep_series(data) if s["label"].startswith("this design")]
    assert len(marked) == 1 and marked[0]["kind"] == "point"
    assert marked[0]["x"] == [8] and marked[0]["y"] == [100 * acc]
    assert "fixed<8,3>" in marked[0]["label"]
    # a compiled design takes no precision: it is reported as it was compiled
    with pytest.raises(ConfigError, match="reported as it was compiled") as info:
        nnfx.report(compiled, X, y, tmp_path / "r2", precision="fixed<4,2>", **FAST)
    assert "\n" not in str(info.value) and not (tmp_path / "r2").exists()


def test_a_per_layer_config_is_reported_as_configured(digits, tmp_path):
    folder, X, y = digits
    config = tmp_path / "precision.yaml"
    config.write_text(
        "default: fixed<10,4,RND,SAT>\nlayers:\n  dense_1:\n    result: fixed<14,6,RND,SAT>\n"
    )
    expected = nnfx.compile(folder / "model.onnx", config=config, calibration=X)
    acc = accuracy(expected.predict(X), y)
    for how in ({"precision": str(config)}, {"config": config}):
        data = nnfx.report(
            folder / "model.onnx", X, y, tmp_path / "r", precisions=(8,), force=True, **FAST, **how
        ).data
        assert data["precision_summary"] == expected.layer_table()
        design = data["design"]
        assert design["widths"] == [10, 14] and not design["uniform"] and design["width"] == 14
        assert design["accuracy"] == acc and "per-layer types" in design["description"]
        series = plots.sweep_series(data)
        line = [s for s in series if s.get("design")]
        point = [s for s in series if s["label"].startswith("this design")]
        assert line[0]["kind"] == "hline" and line[0]["y"] == [100 * acc]
        assert point[0]["x"] == [14] and "widest type" in point[0]["label"]


def test_the_sweep_of_a_build_is_skipped_when_too_long(digits, narrow_build, tmp_path, monkeypatch):
    _, X, y = digits
    monkeypatch.setattr(sweep, "SWEEP_BUDGET_S", 0.0)
    data = nnfx.report(narrow_build[1], X, y, tmp_path / "r", precisions=(6, 8), **FAST).data
    assert data["accuracy_vs_width"] == [] and "sweep was skipped" in data["sweep_note"]
    assert data["design"]["accuracy"] == accuracy(narrow_build[0].predict(X), y)


def test_nnfx_report_build_dir_cli(digits, narrow_build, tmp_path, capsys):
    folder, X, y = digits
    compiled, build = narrow_build
    data_file = str(folder / "test_data.npz")
    out = tmp_path / "r"
    args = ["report", str(build), "--data", data_file, "--engines", "reference"]
    assert main([*args, "-o", str(out), "--precisions", "8"]) == 0
    shown = capsys.readouterr().out
    data = json.loads((out / "report.json").read_text())
    acc = accuracy(compiled.predict(X), y)
    assert _types(data) == {"fixed<8,3>"} and data["design"]["accuracy"] == acc
    assert f"reference {100 * acc:.2f}%" in shown and "design: fixed<8,3>" in shown
    assert data["estimate"]["reuse_factor"] == 4
    # the estimate's options can still be given; a precision cannot
    assert main([*args, "-o", str(tmp_path / "r2"), "--precisions", "", "--reuse-factor", "2"]) == 0
    data = json.loads((tmp_path / "r2" / "report.json").read_text())
    assert data["estimate"]["reuse_factor"] == 2 and _types(data) == {"fixed<8,3>"}
    capsys.readouterr()
    assert main([*args, "-o", str(tmp_path / "r3"), "--precision", "fixed<4,2>"]) == 2
    err = capsys.readouterr().err
    assert "reported as it was compiled" in err and err.count("\n") == 1
    assert not (tmp_path / "r3").exists()
    # the report never replaces the build it reads
    capsys.readouterr()
    assert main([*args, "-o", str(build), "--force"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert nnfx.load_compiled(build).layer_table() == compiled.layer_table()


def test_nnfx_report_onnx_with_a_precision_type_and_config(digits, tmp_path, capsys):
    folder, X, y = digits
    model, data_file = str(folder / "model.onnx"), str(folder / "test_data.npz")
    fast = ["report", model, "--data", data_file, "--engines", "reference", "--precisions", ""]
    assert main([*fast, "-o", str(tmp_path / "t"), "--precision", "fixed<8,3>"]) == 0
    data = json.loads((tmp_path / "t" / "report.json").read_text())
    assert _types(data) == {"fixed<8,3>"}
    config = tmp_path / "p.json"
    config.write_text(json.dumps({"default": "fixed<12,5,RND,SAT>"}))
    assert main([*fast, "-o", str(tmp_path / "c"), "--config", str(config)]) == 0
    data = json.loads((tmp_path / "c" / "report.json").read_text())
    assert _types(data) == {"fixed<12,5,RND,SAT>"}
