"""The `nnfx` command: train, demo, help and one-sentence errors with exit status 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

import nnfx
from nnfx.cli import main
from nnfx.runtime.ort import run

ISSUE_COMMAND = (
    "train --dataset digits --hidden 64,32 --activation relu --optimizer adam --lr 0.001 "
    "--epochs 30 --batch-size 32 --seed 0"
).split()


def test_train_reaches_95_percent_and_onnx_agrees(tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert main([*ISSUE_COMMAND, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "   30/30" in printed and "val_accuracy" in printed
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["test_metrics"]["accuracy"] >= 0.95
    assert len(record["history"]["loss"]) == 30 and "val_accuracy" in record["history"]
    data = np.load(tmp_path / "test_data.npz")
    probabilities = run(out, data["X"])
    assert np.mean(probabilities.argmax(1) == data["y"]) == pytest.approx(
        record["test_metrics"]["accuracy"]
    )
    assert record["onnx_test_agreement"] == 1.0


@pytest.mark.parametrize(
    "optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adamw"]
)
def test_train_with_every_optimizer(tmp_path, optimizer):
    args = [
        "train",
        "--dataset",
        "iris",
        "--optimizer",
        optimizer,
        "--lr",
        "0.05",
        "--epochs",
        "40",
        "--hidden",
        "8",
        "--schedule",
        "cosine",
        "-q",
        "-o",
        str(tmp_path / "m.onnx"),
    ]
    assert main(args) == 0
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["test_metrics"]["accuracy"] >= 0.8, optimizer


def test_train_with_regularization_options(tmp_path):
    args = [
        "train",
        "--dataset",
        "wine",
        "--hidden",
        "16,8",
        "--dropout",
        "0.2",
        "--batchnorm",
        "--l2",
        "1e-4",
        "--patience",
        "3",
        "--clip-norm",
        "1.0",
        "--batch-size",
        "0",
        "--epochs",
        "60",
        "--lr",
        "0.01",
        "-q",
        "-o",
        str(tmp_path / "sub" / "m.onnx"),
    ]
    assert main(args) == 0
    record = json.loads((tmp_path / "sub" / "history.json").read_text())
    assert record["config"]["batch_size"] is None and record["config"]["batchnorm"] is True


def test_train_on_an_npz_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert (
        main(
            [
                "train",
                "--dataset",
                str(tmp_path / "d.npz"),
                "--epochs",
                "20",
                "-q",
                "-o",
                str(tmp_path / "m.onnx"),
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--dataset", "missing.npz"], "data file 'missing.npz' does not exist"),
        (["train", "--dataset", "mnist"], "'mnist' is neither a built-in dataset"),
        (["train", "--optimizer", "lion"], "'lion' is not one of"),
        (["train", "--hidden", "64,x"], "not a comma-separated list of integers"),
        (["train", "--epochs", "0"], "--epochs"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_bad_arguments_are_one_sentence_and_exit_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and "Traceback" not in err


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"X": np.ones((10, 3)), "y": np.zeros(9)}, "y has 9 labels but X has 10 samples"),
        ({"X": np.array([[np.nan, 1.0], [1.0, 1.0]]), "y": np.array([0, 1])}, "NaN"),
    ],
)
def test_bad_data_files_are_one_sentence_and_exit_2(arrays, message, tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", **arrays)
    out = tmp_path / "out" / "m.onnx"
    assert main(["train", "--dataset", str(tmp_path / "bad.npz"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
    assert not out.exists()


def test_console_script_help_and_exit_status(tmp_path):
    nnfx = [sys.executable, "-m", "nnfx.cli"]
    done = subprocess.run([*nnfx, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "train" in done.stdout and "demo" in done.stdout
    done = subprocess.run([*nnfx, "train", "--help"], capture_output=True, text=True)
    assert "--optimizer" in done.stdout and "sgd|momentum|nesterov" in done.stdout
    done = subprocess.run([*nnfx, "train", "--dataset", "nope.npz"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("nnfx: error:")


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


def test_inspect_prints_the_ir_and_saves_it(tmp_path, capsys):
    from nnfx.trainer import Conv2D, Dense, Flatten, MaxPool2D, Sequential

    model = Sequential(
        [Conv2D(4, 3, activation="relu"), MaxPool2D(2), Flatten(), Dense(3)], input_shape=(1, 8, 8)
    )
    model.export_onnx(tmp_path / "cnn.onnx")
    assert main(["inspect", str(tmp_path / "cnn.onnx"), "-o", str(tmp_path / "ir")]) == 0
    out = capsys.readouterr().out
    assert "inputs input (batch, 1, 8, 8)" in out and "Conv2D" in out and "Dense" in out
    assert (tmp_path / "ir" / "model.json").exists() and "IR written to" in out
    # the old spelling still works; --quiet keeps the IR, drops the status line
    assert (
        main(["inspect", str(tmp_path / "cnn.onnx"), "--save-ir", str(tmp_path / "ir2"), "-q"]) == 0
    )
    quiet = capsys.readouterr().out
    assert (tmp_path / "ir2" / "model.json").exists() and "IR written to" not in quiet
    assert "Conv2D" in quiet and "inputs input (batch, 1, 8, 8)" in quiet


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "does not exist"),
        (b"garbage" * 10, "is not a readable ONNX model"),
    ],
)
def test_inspect_bad_files(tmp_path, capsys, content, message):
    path = tmp_path / "m.onnx"
    if content is not None:
        path.write_bytes(content)
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    assert main(["train", "--epochs", "10", "-q", "-o", str(folder / "model.onnx")]) == 0
    return folder


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


def test_train_writes_only_files_nnfx_wrote(tmp_path, capsys):
    quick = ["train", "--epochs", "1", "-q", "--hidden", "8"]
    out = tmp_path / "out"
    (out / "model.onnx").mkdir(parents=True)
    assert main([*quick, "-o", str(out / "model.onnx")]) == 2
    assert "is not a file" in capsys.readouterr().err
    (out / "model.onnx").rmdir()
    (out / "model.onnx").write_text("my own model")
    assert main([*quick, "-o", str(out / "model.onnx")]) == 2
    err = capsys.readouterr().err
    assert "nnfx did not write it" in err and "--force" in err and err.count("\n") == 1
    assert (out / "model.onnx").read_text() == "my own model"
    assert main([*quick, "-o", str(out / "model.onnx"), "--force"]) == 0
    record = json.loads((out / "history.json").read_text())
    assert record["nnfx_format"] == "nnfx-train-history"
    assert main([*quick, "-o", str(out / "model.onnx")]) == 0  # its own files: replaced
    (out / "history.json").write_text("{}")
    assert main([*quick, "-o", str(out / "model.onnx")]) == 2
    assert "history.json' exists and nnfx did not write it" in capsys.readouterr().err
    assert (out / "history.json").read_text() == "{}"
    assert main([*quick, "-o", str(out / "history.json"), "--force"]) == 2
    assert "the name of a file train writes" in capsys.readouterr().err
    data = out / "test_data.npz"
    for target in (data, out / "model.onnx"):  # the data set is never overwritten
        args = [*quick, "--dataset", str(data), "-o", str(target), "--force"]
        assert main(args) == 2
        assert "is the data file" in capsys.readouterr().err
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files


CHILD_INTERRUPTED_AT_START = """
import os, signal, sys
import nnfx.cli

signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the parent ignores it


def interrupted(*args, **kwargs):  # SIGINT before click parses anything
    os.kill(os.getpid(), signal.SIGINT)
    raise AssertionError("not reached")


nnfx.cli.cli.main = interrupted
sys.argv = ["nnfx", "--help"]
nnfx.cli.run()
"""


def test_sigint_before_click_runs_is_quiet():
    done = subprocess.run(
        [sys.executable, "-c", CHILD_INTERRUPTED_AT_START], capture_output=True, text=True
    )
    assert done.returncode == 130 and done.stderr.strip() == "nnfx: interrupted", done.stderr


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


def test_compile_quiet_prints_the_table_only(trained_model, tmp_path, capsys):
    model = str(trained_model / "model.onnx")
    assert main(["compile", model, "-o", str(tmp_path / "a")]) == 0
    loud = capsys.readouterr().out
    assert main(["compile", model, "-o", str(tmp_path / "b"), "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert "compiled model written to" in loud and "compiled model written to" not in quiet
    assert "dense_1" in quiet and "fixed<" in quiet and len(quiet) < len(loud)


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


def test_train_quiet_prints_the_test_metrics_only(tmp_path, capsys):
    quick = ["train", "--epochs", "2", "--hidden", "8"]
    assert main([*quick, "-o", str(tmp_path / "a.onnx")]) == 0
    loud = capsys.readouterr().out
    assert main([*quick, "-o", str(tmp_path / "b.onnx"), "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert "2/2" in loud and "dense_1" in loud and "history.json" in loud
    assert "accuracy" in quiet and "test set" in quiet
    assert "2/2" not in quiet and "dense_1" not in quiet and "history.json" not in quiet


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


@pytest.mark.parametrize(
    "command,hidden",
    [
        ("train", ()),
        ("demo", ()),
        ("inspect", ("--save-ir",)),
        ("compile", ()),
        ("simulate", ("--save", "--input")),
        ("report", ()),
    ],
)
def test_every_command_has_quiet_and_one_output_option(command, hidden, capsys):
    assert main([command, "--help"]) == 0
    shown = capsys.readouterr().out
    assert "-q, --quiet" in shown and "-o, --output" in shown
    assert not [name for name in hidden if name in shown]
