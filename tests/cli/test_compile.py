"""`nnfx compile`: each precision, a config file, the HLS backend, errors and --quiet (each
compiled model then run by `nnfx simulate`)."""

import numpy as np
import pytest

from nnfx.cli import main


@pytest.mark.parametrize(
    "args",
    [
        ["--precision", "fixed<16,6>"],
        ["--precision", "auto", "--width", "10", "--calibration", "{data}"],
        ["--precision", "search", "--calibration", "{data}", "--max-accuracy-drop", "2"],
    ],
)
def test_compile_then_simulate(trained_model, tmp_path, capsys, args):
    data = str(trained_model / "test_data.npz")
    args = [a.replace("{data}", data) for a in args]
    build = tmp_path / "build"
    assert main(["compile", str(trained_model / "model.onnx"), "-o", str(build), *args]) == 0
    out = capsys.readouterr().out
    assert "dense_1" in out and "fixed<" in out and "(exact)" in out
    assert {p.name for p in build.iterdir()} == {
        ".nnfx-output.json",  # the manifest: nnfx wrote this folder
        "model.json",
        "weights.npz",
        "compile.json",
        "float",
        "model_float.onnx",
        "model_fixed.onnx",
    }
    simulate = ["simulate", str(build), "--input", data, "--engines", "reference,ort"]
    assert main([*simulate, "--save", str(tmp_path / "o.npz")]) == 0
    out = capsys.readouterr().out
    rows = {
        cells[0]: cells
        for line in out.splitlines()
        if (cells := [c.strip() for c in line.strip("│").split("│")]) and len(cells) == 7
    }
    assert rows["reference"][2] == "yes" and rows["ort"][2] == "yes" and "accuracy %" in out
    assert "reference.output" in np.load(tmp_path / "o.npz").files


def test_compile_with_a_config_file(trained_model, tmp_path, capsys):
    config = tmp_path / "precision.yaml"
    config.write_text("default: fixed<12,5,RND,SAT>\nlayers:\n  dense_2:\n    weight: fixed<6,1>\n")
    assert (
        main(
            [
                "compile",
                str(trained_model / "model.onnx"),
                "-o",
                str(tmp_path / "b"),
                "--config",
                str(config),
            ]
        )
        == 0
    )
    assert "fixed<6,1>" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--precision", "fixed<16"], "cannot parse fixed-point type 'fixed<16'"),
        (["--precision", "fixed<0,3>"], "width must be an integer from 1 to 62"),
        (["--precision", "auto"], "--precision auto needs --calibration data.npz"),
        (
            ["--precision", "auto", "--calibration", "missing.npz"],
            "calibration file 'missing.npz' does not exist",
        ),
        (["--config", "{cfg}"], "names layer(s) nope that the model does not have"),
        (["--precision", "auto", "--calibration", "{wrong}"], "the model expects (batch, 64)"),
    ],
)
def test_compile_errors(trained_model, tmp_path, capsys, args, message):
    (tmp_path / "c.yaml").write_text("layers:\n  nope:\n    result: fixed<8,2>\n")
    np.savez(tmp_path / "wrong.npz", X=np.ones((4, 10)))
    args = [
        a.replace("{cfg}", str(tmp_path / "c.yaml")).replace("{wrong}", str(tmp_path / "wrong.npz"))
        for a in args
    ]
    build = tmp_path / "build"
    assert main(["compile", str(trained_model / "model.onnx"), "-o", str(build), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not build.exists()


def test_compile_with_the_hls_backend_and_simulate_every_engine(trained_model, tmp_path, capsys):
    build = tmp_path / "build"
    assert (
        main(
            [
                "compile",
                str(trained_model / "model.onnx"),
                "-o",
                str(build),
                "--backend",
                "hls",
                "--reuse-factor",
                "2",
                "--part",
                "xc7z020clg400-1",
            ]
        )
        == 0
    )
    assert "xc7z020clg400-1" in (build / "hls" / "build_prj.tcl").read_text()
    capsys.readouterr()
    data = str(trained_model / "test_data.npz")
    assert (
        main(["simulate", str(build), "--input", data, "--engines", "reference,ort,csim,csim-ap"])
        == 0
    )
    out = capsys.readouterr().out
    rows = {
        cells[0]: cells
        for line in out.splitlines()
        if (cells := [c.strip() for c in line.strip("│").split("│")]) and len(cells) == 7
    }
    assert all(rows[e][2] == "yes" for e in ("reference", "ort", "csim", "csim-ap"))


def test_compile_quiet_prints_the_table_only(trained_model, tmp_path, capsys):
    model = str(trained_model / "model.onnx")
    assert main(["compile", model, "-o", str(tmp_path / "a")]) == 0
    loud = capsys.readouterr().out
    assert main(["compile", model, "-o", str(tmp_path / "b"), "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert "compiled model written to" in loud and "compiled model written to" not in quiet
    assert "dense_1" in quiet and "fixed<" in quiet and len(quiet) < len(loud)


def test_compile_writes_testbench_vectors_that_the_testbench_checks(trained_model, tmp_path):
    import shutil

    from tests.helpers import run_strict_testbench

    data = str(trained_model / "test_data.npz")
    build = tmp_path / "build"
    args = ["compile", str(trained_model / "model.onnx"), "-o", str(build), "--backend", "hls"]
    assert main([*args, "--data", data, "--testbench-samples", "30", "-q"]) == 0
    tb_data = build / "hls" / "tb" / "tb_data"
    for name in ("tb_input_features.dat", "tb_output_predictions.dat"):
        assert len((tb_data / name).read_text().splitlines()) == 30
    if shutil.which("g++"):
        run_strict_testbench(build / "hls", "nnfx_top", "ap", samples=30)
    assert main([*args, "--data", data]) == 0  # 100 samples by default (of 270)
    assert len((tb_data / "tb_input_features.dat").read_text().splitlines()) == 100


@pytest.mark.parametrize(
    "args,message",
    [
        (["--data", "{data}"], "--data writes the HLS testbench's vectors; it needs --backend hls"),
        (["--backend", "hls", "--testbench-samples", "5"], "--testbench-samples needs --data"),
        (["--backend", "hls", "--data", "{wrong}"], "testbench data: input 'input' has shape"),
        (["--backend", "hls", "--data", "missing.npz"], "data file 'missing.npz' does not exist"),
    ],
)
def test_compile_testbench_data_errors(trained_model, tmp_path, capsys, args, message):
    np.savez(tmp_path / "wrong.npz", X=np.ones((4, 10)))
    subs = {"{data}": str(trained_model / "test_data.npz"), "{wrong}": str(tmp_path / "wrong.npz")}
    args = [subs.get(a, a) for a in args]
    build = tmp_path / "build"
    assert main(["compile", str(trained_model / "model.onnx"), "-o", str(build), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not build.exists()


@pytest.mark.parametrize(
    "part,reuse,expected",
    [
        ("xc7z020clg400-1", "2", "DSPs, 1,4"),  # ~3,150 DSPs: about 1,430% of 220
        ("xczu9eg-ffvb1156-2-e", "4", None),  # the README's HLS example: fits
        ("xc7a35tcpg236-1", "1", "capacity of part 'xc7a35tcpg236-1' is unknown"),
    ],
)
def test_compile_warns_when_the_design_does_not_fit_the_part(
    trained_model, tmp_path, capsys, part, reuse, expected
):
    model = str(trained_model / "model.onnx")
    args = ["compile", model, "-o", str(tmp_path / "b"), "--backend", "hls", "--part", part]
    assert main([*args, "--reuse-factor", reuse, "-q"]) == 0  # a warning, not an error
    err = capsys.readouterr().err
    if expected is None:
        assert err == ""
        return
    assert err.startswith("nnfx: warning: ") and err.count("\n") == 1 and expected in err
    if part == "xc7z020clg400-1":
        assert "of xc7z020clg400-1's 220" in err and "a larger reuse factor" in err
    assert main(["compile", model, "-o", str(tmp_path / "c"), "--part", part, "-q"]) == 0
    assert capsys.readouterr().err == ""  # no HLS project, no HLS estimate
