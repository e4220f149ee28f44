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


def test_report_of_a_build_and_a_bad_task(trained_model, tmp_path, capsys):
    model, data = str(trained_model / "model.onnx"), str(trained_model / "test_data.npz")
    build = tmp_path / "build"
    assert main(["compile", model, "-o", str(build), "--precision", "fixed<10,4>", "-q"]) == 0
    fast = ["report", str(build), "--data", data, "--precisions", "", "--engines", "reference"]
    assert main([*fast, "-o", str(tmp_path / "r"), "-q"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert {r["type"] for r in report["layers"]} == {"fixed<10,4>"}
    assert report["design"]["given"] and report["task"] == "classification"
    capsys.readouterr()
    assert main([*fast, "-o", str(tmp_path / "bad"), "--task", "fit"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--task'" in err and err.count("\n") == 1
    assert (
        main(["report", str(tmp_path / "missing"), "--data", data, "-o", str(tmp_path / "m")]) == 2
    )
    assert "does not exist" in capsys.readouterr().err
