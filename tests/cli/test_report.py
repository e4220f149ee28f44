"""`nnfx report`: it runs the engines it is given, --quiet, and unknown engines."""

import json

from nnfx.cli import main


def test_report_runs_the_engines_it_is_given(trained_model, tmp_path, capsys):
    model, data = str(trained_model / "model.onnx"), str(trained_model / "test_data.npz")
    fast = ["report", model, "--data", data, "--precisions", "8", "--engines", "reference"]
    assert main([*fast, "-o", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr().out
    assert main([*fast, "-o", str(tmp_path / "quiet"), "-q"]) == 0
    quiet = capsys.readouterr().out
    report = json.loads((tmp_path / "quiet" / "report.json").read_text())
    assert [r["engine"] for r in report["engines"]] == ["float", "reference"]
    assert "accuracy: " in quiet and "report.html" in loud and "report.html" not in quiet
    assert main([*fast, "-o", str(tmp_path / "bad"), "--engines", "reference,fpga"]) == 2
    assert "unknown engine(s) fpga" in capsys.readouterr().err
