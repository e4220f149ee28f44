"""`nnfx demo`: the artifacts it writes, the compiled model reloads, and --quiet."""

import json

import nnfx
from nnfx.cli import main


def test_demo_writes_its_artifacts(tmp_path, capsys):
    target = tmp_path / "demo"
    assert main(["demo", "-o", str(target)]) == 0
    assert {p.name for p in target.iterdir()} == {
        ".nnfx-output.json",  # the manifest: nnfx wrote this folder
        "model.onnx",
        "history.json",
        "test_data.npz",
        "build",
        "report",
    }
    assert (target / "report" / "report.html").exists()
    assert (target / "build" / "model_fixed.onnx").exists()
    out = capsys.readouterr().out
    assert "onnxruntime agrees" in out
    for engine in ("ONNX on onnxruntime", "HLS C-simulation"):
        row = next(line for line in out.splitlines() if engine in line)
        assert row.rstrip(" │").endswith("yes")
    assert (target / "build" / "hls" / "build_prj.tcl").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    again = nnfx.load_compiled(target / "build")  # the demo's compiled model reloads
    assert again.options["precision"] == "auto" and again.options["width"] == 10
    timing = json.loads((target / "report" / "report.json").read_text())["timing"]
    assert all(r["samples_timed"] >= r["batch"] > 0 for r in timing if r["batch"] is not None)
    assert main(["demo", "-o", str(target), "-q"]) == 0  # again, into its own folder, quiet
    quiet = capsys.readouterr().out
    assert "HLS C-simulation" in quiet and "test accuracy" in quiet
    assert "epoch" not in quiet and "dense_1" not in quiet and "report.html" not in quiet
