"""`nnfx sweep`: a run, its resume, and one sentence with exit status 2 for what is wrong."""

import json

import numpy as np

from nnfx.cli import main


def test_sweep_command(tiny_mlp, tmp_path, capsys):
    path, X, y = tiny_mlp
    data = tmp_path / "eval.npz"
    np.savez(data, X=X, y=y)
    out = str(tmp_path / "s")
    args = ["sweep", str(path), "--data", str(data), "--widths", "6,40", "-o", out]
    assert main([*args, "--reuse-factor", "1,2", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "8 points, 8 run now, 4 failed" in printed and "an exact accumulator" in printed
    record = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert [r["reuse_factor"] for r in record["points"][:2]] == [1, 2]
    assert main([*args, "--reuse-factor", "1,2", "--workers", "1", "-q"]) == 0
    assert "8 points, 0 run now, 4 failed" in capsys.readouterr().out
    for extra, message in (
        (["--policies", "best"], "unknown sweep policy 'best'"),
        (["--widths", "9:4"], "runs backwards"),
        (["--reuse-factor", "x"], "--reuse-factor 'x' is not a comma-separated list"),
        (["--strategy", "fast"], "unknown strategy 'fast'"),
        (["--part", "xc7z020clg400-1"], "holds a sweep of other settings (part)"),
        (["--workers", "0"], "Invalid value for '--workers'"),
    ):
        assert main([*args, *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert main(["sweep", str(tmp_path / "none.onnx"), "--data", str(data), "-o", out]) == 2
    assert "does not exist" in capsys.readouterr().err
    np.savez(tmp_path / "nolabels.npz", X=X)
    assert main(["sweep", str(path), "--data", str(tmp_path / "nolabels.npz"), "-o", out]) == 2
    assert "has no labels 'y'" in capsys.readouterr().err
