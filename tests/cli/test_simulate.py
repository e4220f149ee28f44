"""`nnfx simulate`: --data (and the old --input), -o (and the old --save), errors, and exit
status 1 when the engines disagree."""

import numpy as np

from nnfx.cli import main


def test_simulate_errors(trained_model, tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "nothing"), "--input", "x.npz"]) == 2
    assert "is not a compiled nnfx model" in capsys.readouterr().err
    build = tmp_path / "build"
    main(["compile", str(trained_model / "model.onnx"), "-o", str(build)])
    capsys.readouterr()
    np.savez(tmp_path / "bad.npz", X=np.ones((3, 5)))
    assert main(["simulate", str(build), "--input", str(tmp_path / "bad.npz")]) == 2
    assert "expects (batch, 64)" in capsys.readouterr().err
    assert (
        main(["simulate", str(build), "--input", str(tmp_path / "bad.npz"), "--engines", "fpga"])
        == 2
    )
    assert "unknown engine(s) fpga" in capsys.readouterr().err


def _table_rows(out: str) -> dict[str, list[str]]:
    return {
        cells[0]: cells
        for line in out.splitlines()
        if (cells := [c.strip() for c in line.strip("│").split("│")]) and len(cells) == 7
    }


def test_simulate_takes_data_and_still_the_old_input(trained_model, tmp_path, capsys):
    build = tmp_path / "build"
    assert main(["compile", str(trained_model / "model.onnx"), "-o", str(build), "-q"]) == 0
    capsys.readouterr()
    data = str(trained_model / "test_data.npz")
    for name in ("--data", "--input"):
        assert main(["simulate", str(build), name, data, "--engines", "reference,ort"]) == 0
        rows = _table_rows(capsys.readouterr().out)
        assert rows["ort"][2] == "yes" and rows["ort"][3] == "0" and "float" in rows
    assert main(["simulate", "--help"]) == 0
    shown = capsys.readouterr().out
    assert "--data" in shown and "--input" not in shown and "--quiet" in shown


def test_simulate_exits_1_when_engines_disagree(trained_model, tmp_path, capsys, monkeypatch):
    from nnfx.compiled import CompiledModel

    build = tmp_path / "build"
    assert main(["compile", str(trained_model / "model.onnx"), "-o", str(build), "-q"]) == 0
    honest = CompiledModel.predict_raw

    def one_code_off(self, X, engine="reference", overflows=None):
        raw = honest(self, X, engine, overflows)
        if engine == "ort" and len(X) > 1:
            raw = {k: v.copy() for k, v in raw.items()}
            first = next(iter(raw))
            raw[first].flat[0] += 1
        return raw

    monkeypatch.setattr(CompiledModel, "predict_raw", one_code_off)
    capsys.readouterr()
    data = str(trained_model / "test_data.npz")
    assert main(["simulate", str(build), "--data", data, "--engines", "reference,ort"]) == 1
    rows = _table_rows(capsys.readouterr().out)
    assert rows["reference"][2] == "yes" and rows["ort"][2] == "no" and rows["ort"][3] == "1"


def test_simulate_writes_with_output_and_still_the_old_save(trained_model, tmp_path, capsys):
    build = tmp_path / "build"
    assert main(["compile", str(trained_model / "model.onnx"), "-o", str(build), "-q"]) == 0
    data = str(trained_model / "test_data.npz")
    for name in ("-o", "--output", "--save"):
        out = tmp_path / f"{name.strip('-')}.npz"
        assert main(["simulate", str(build), "--data", data, name, str(out), "-q"]) == 0
        assert "reference.output" in np.load(out).files
    capsys.readouterr()
    assert main(["simulate", str(build), "--data", data]) == 0
    loud = capsys.readouterr().out
    rows = _table_rows(loud)
    assert rows["float"][4] != "-" and int(rows["reference"][5].replace(",", "")) >= 1
    assert "repeated to the batch shown" in loud


def test_simulate_takes_one_hot_labels(trained_model, tmp_path, capsys):
    """One-hot rows give the accuracy of the integer labels (they were refused as 'y has 2700
    labels but X has 270 samples')."""
    build = tmp_path / "build"
    assert main(["compile", str(trained_model / "model.onnx"), "-o", str(build), "-q"]) == 0
    data = np.load(trained_model / "test_data.npz")
    np.savez(tmp_path / "one_hot.npz", X=data["X"], y=np.eye(10)[data["y"]])
    shown = {}
    for name in ("test_data.npz", "one_hot.npz"):
        folder = trained_model if name == "test_data.npz" else tmp_path
        capsys.readouterr()
        assert main(["simulate", str(build), "--data", str(folder / name), "-q"]) == 0
        rows = _table_rows(capsys.readouterr().out)
        shown[name] = (rows["float"][1], rows["reference"][1])
    assert shown["one_hot.npz"] == shown["test_data.npz"]
    assert float(shown["one_hot.npz"][1]) > 50
