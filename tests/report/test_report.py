"""The report: its three files, its contents, models from elsewhere, bad input, and a real
browser rendering the HTML (headless Chromium, where installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

import nnfx
from nnfx.cli import main
from nnfx.errors import ConfigError, DataError
from tests.helpers import export_torch_digits_cnn


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from nnfx.trainer import recipe

    folder = tmp_path_factory.mktemp("digits")
    result = recipe.train(recipe.TrainConfig(epochs=8), verbose=0)
    config = recipe.TrainConfig(epochs=8)
    recipe.save(result, folder / "model.onnx", config)
    return folder


@pytest.fixture(scope="module")
def built(digits, tmp_path_factory):
    data = np.load(digits / "test_data.npz")
    out = tmp_path_factory.mktemp("report") / "report"
    return nnfx.report(
        digits / "model.onnx", data["X"], data["y"], out, precisions=(6, 10, 16), progress=False
    )


def test_report_files_and_contents(built):
    folder = built.folder
    assert {p.name for p in folder.iterdir()} == {
        "report.html",
        "report.md",
        "report.json",
        "accuracy_vs_width.png",
        "layer_ranges.png",
        "layer_error.png",
        ".nnfx-output.json",
    }
    data = json.loads((folder / "report.json").read_text())
    engines = {r["engine"]: r for r in data["engines"]}
    assert engines["ort"]["bit_exact"] and engines["csim"]["bit_exact"]
    assert {(s["width"], s["policy"]) for s in data["accuracy_vs_width"]} == {
        (w, p) for w in (6, 10, 16) for p in ("uniform", "auto")
    }
    auto16 = next(s for s in data["accuracy_vs_width"] if s == {**s, "width": 16, "policy": "auto"})
    assert abs(auto16["accuracy"] - data["float_accuracy"]) <= 0.02
    layers = [layer["layer"] for layer in data["layers"]]
    # the standardization in the model is the input's steps (float64, before the input
    # quantizer), not layers of the datapath
    assert layers[:3] == ["input 'input'", "dense_1", "relu_1"]
    assert all(layer["relative_rms_error"] < 0.1 for layer in data["layers"])
    assert data["estimate"]["total"]["dsp"] > 0 and "not synthesis" in data["estimate"]["note"]
    timing = {r["engine"]: r for r in data["timing"]}
    assert list(timing) == [
        "float (ORT CPU)",
        "fixed reference (NumPy)",
        "fixed ONNX (ORT CPU)",
        "C-simulation (ac_fixed)",
        "FPGA estimate at 5 ns",
    ]
    for row in list(timing.values())[:-1]:  # measured by nnfx.simulate on a large batch
        assert data["samples"] < row["batch"] <= row["samples_timed"]
        assert row["samples_per_s"] > 0 and row["batch1_latency_us"] > 0
    assert timing["FPGA estimate at 5 ns"]["batch"] is None
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and page.count("<table>") == 5
    assert "src='accuracy" not in page  # self-contained: nothing to fetch
    assert "<script" not in page  # nothing runs in the reader's browser
    md = (folder / "report.md").read_text()
    assert "![Accuracy against bit width](accuracy_vs_width.png)" in md and "| dense_1 |" in md


def test_overflow_counts_on_a_constructed_case(tmp_path):
    """Calibrated on [-1, 1], the report's data holds 8 values far outside: the input
    quantization overflows on exactly those 8 (counted by hand), and nothing does on data
    inside the calibrated range."""
    from onnx import helper

    from tests.helpers import make_model

    model = make_model(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc")],
        [("x", ["N", 4])],
        [("y", ["N", 4])],
        {"w": np.eye(4, dtype=np.float32) / 2, "b": np.zeros(4, np.float32)},
    )
    rng = np.random.default_rng(0)
    calibration = rng.uniform(-1, 1, (200, 4)).astype(np.float32)
    calibration[0] = [1, -1, 1, -1]  # the calibrated range is [-1, 1] exactly
    X = rng.uniform(-0.5, 0.5, (40, 4)).astype(np.float32)
    X[:5, 0], X[5:8, 2] = 40.0, -40.0
    y = X.argmax(1)
    kwargs = {"precisions": (8,), "engines": ("reference",), "progress": False}
    data = nnfx.report(model, X, y, tmp_path / "r", calibration=calibration, **kwargs).data
    overflows = {r["layer"]: r["overflows"] for r in data["layers"]}
    row = data["layers"][0]
    assert row["layer"] == "input 'x'" and row["type_max"] < 40
    outside = int(np.count_nonzero((X < row["type_min"]) | (X > row["type_max"])))
    assert overflows["input 'x'"] == outside == 8
    assert (
        "Overflow: values saturated or wrapped in input 'x' (8 values)"
        in (tmp_path / "r" / "report.md").read_text()
    )
    clean = nnfx.report(model, X[8:], y[8:], tmp_path / "c", calibration=calibration, **kwargs)
    assert all(r["overflows"] == 0 for r in clean.data["layers"])


def test_nnfx_report_is_the_module_and_callable(digits, tmp_path):
    import types

    import nnfx.report

    assert nnfx.report.__name__ == "nnfx.report"
    assert isinstance(nnfx.report, types.ModuleType) and nnfx.report.Report is nnfx.Report
    data = np.load(digits / "test_data.npz")
    result = nnfx.report(
        digits / "model.onnx",
        data["X"][:60],
        data["y"][:60],
        tmp_path / "r",
        precisions=(8,),
        engines=("reference",),
        progress=False,
    )
    assert isinstance(result, nnfx.Report) and (tmp_path / "r" / "report.html").exists()


def test_report_on_pytorch_and_sklearn_models(tmp_path):
    path, X, y = export_torch_digits_cnn(tmp_path)
    X, y = X[:300], y[:300]
    result = nnfx.report(path, X, y, tmp_path / "r1", precisions=(8, 12), progress=False)
    assert (result.folder / "report.html").exists()
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.neural_network import MLPClassifier

    flat = X.reshape(len(X), -1)
    clf = MLPClassifier((16,), max_iter=200, random_state=0).fit(flat, y)
    onx = skl2onnx.to_onnx(clf, flat[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    result = nnfx.report(onx, flat, y, tmp_path / "r2", precisions=(8, 12), progress=False)
    engines = {r["engine"]: r for r in result.data["engines"]}
    assert engines["ort"]["bit_exact"] and engines["csim"]["bit_exact"]


@pytest.mark.parametrize(
    "case,error,message",
    [
        ("shape", DataError, "expects \\(batch, 64\\)"),
        ("labels", DataError, "needs labels"),
        ("length", DataError, "y has 3 labels but X has 10"),
        ("output", ConfigError, "cannot write the report"),
        ("widths", ConfigError, "precisions must be widths"),
    ],
)
def test_bad_input_is_one_sentence_and_leaves_nothing(digits, tmp_path, case, error, message):
    X, y = np.ones((10, 64)), np.zeros(10, int)
    out = tmp_path / "out"
    kwargs = {}
    if case == "shape":
        X = np.ones((10, 5))
    elif case == "labels":
        y = None
    elif case == "length":
        y = np.zeros(3, int)
    elif case == "output":
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "report"
    else:
        kwargs["precisions"] = (1, 40)
    with pytest.raises(error, match=message) as info:
        nnfx.report(digits / "model.onnx", X, y, out, progress=False, **kwargs)
    assert "\n" not in str(info.value)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_report_cli(digits, tmp_path, capsys):
    out = tmp_path / "r"
    assert (
        main(
            [
                "report",
                str(digits / "model.onnx"),
                "--data",
                str(digits / "test_data.npz"),
                "-o",
                str(out),
                "--precisions",
                "8,12",
            ]
        )
        == 0
    )
    assert (out / "report.html").exists() and "report.html" in capsys.readouterr().out
    np.savez(tmp_path / "nolabels.npz", X=np.ones((4, 64)))
    assert (
        main(
            [
                "report",
                str(digits / "model.onnx"),
                "--data",
                str(tmp_path / "nolabels.npz"),
                "-o",
                str(tmp_path / "r2"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "has no labels 'y'" in err and err.count("\n") == 1
    assert not (tmp_path / "r2").exists()


IMAGES_LOADED = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-loaded", ok ? images.length : -1);
});
"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(
    _chromium() is None,
    reason="Chromium is not installed "
    "(Debian: apt-get install chromium); the rendering test needs a browser",
)
def test_report_renders_in_headless_chromium(built, tmp_path):
    flags = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    # The report has no script; the test renders a copy with one that marks the page once
    # every image has decoded, for the DOM dump below (the page is self-contained: it moves).
    probe = tmp_path / "report.html"
    probe.write_text(
        (built.folder / "report.html")
        .read_text()
        .replace("</body>", f"<script>{IMAGES_LOADED}</script></body>")
    )
    page = probe.as_uri()
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1200,2400", page],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = subprocess.run(
        [*flags, "--dump-dom", page], capture_output=True, text=True, timeout=120
    ).stdout
    assert re.search(r'data-images-loaded="3"', dom), "the page's three plots did not load"
    assert dom.count("<table>") == 5 and "Accuracy of each engine" in dom
