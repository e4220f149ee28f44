"""Sampled CLI invocations on mutated models, options and data files: every one exits 0, or 2
with one printable sentence on stderr (nnfx.cli.main returns the exit status)."""

from __future__ import annotations

import os
import random
import stat

import numpy as np
import onnx
import pytest

from nnfx.cli import main
from tests.fuzz.corpus import seeds
from tests.fuzz.runner import make_case, message_problem

INVOCATIONS = 60
PRECISIONS = (
    "fixed<12,4>",
    "auto",
    "search",
    "fixed<0,0>",
    "garbage",
    "ap_fixed<8,3,AP_RND,AP_SAT>",
)
PARTS = ("xcvu13p-flga2577-2-e", "x} ; exec touch pwned ; #", "")


def check(argv: list[str], capsys) -> str | None:
    """Run the CLI; what is wrong with the outcome, or None."""
    try:
        status = main(argv)
    except BaseException as e:  # noqa: BLE001  (anything escaping main is the failure)
        capsys.readouterr()
        return f"raised {type(e).__name__}: {str(e)[:200]}"
    err = capsys.readouterr().err
    if status == 0:
        return None
    if status != 2:
        return f"exit status {status}, stderr {err[-300:]!r}"
    lines = [line for line in err.splitlines() if line.strip()]
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr: {err[-300:]!r}"
    problem = message_problem(lines[0])
    return f"{problem}: {lines[0][:300]!r}" if problem else None


class Files:
    """Models, data files and output paths for the sampled invocations."""

    def __init__(self, folder, rng: random.Random):
        self.folder, self.rng = folder, rng
        self.count = 0
        readonly = folder / "readonly"
        readonly.mkdir()
        (readonly / "keep.txt").write_text("not nnfx's\n")
        readonly.chmod(stat.S_IRUSR | stat.S_IXUSR)
        self.readonly = readonly

    def path(self, suffix: str) -> str:
        self.count += 1
        return str(self.folder / f"f{self.count}{suffix}")

    def model(self) -> tuple[str, onnx.ModelProto | None]:
        rng = self.rng
        path = self.path(".onnx")
        if rng.random() < 0.5:  # a seed as it is: the deeper options get exercised
            name, data = rng.choice(seeds())
        else:
            _, name, data, _ = make_case(rng.randrange(1000), rng.randrange(10**6))
        with open(path, "wb") as f:
            f.write(data)
        try:
            return path, onnx.load_from_string(data)
        except Exception:  # noqa: BLE001  (a mutated file need not parse)
            return path, None

    def data(self, proto: onnx.ModelProto | None, kind: str = "good") -> str:
        """An .npz for the model: good, NaN, Inf, wrong shape, no X, not an npz, missing."""
        rng = self.rng
        path = self.path(".npz")
        shape = (3,)
        if proto is not None and proto.graph.input:
            dims = proto.graph.input[0].type.tensor_type.shape.dim[1:]
            shape = tuple(min(max(d.dim_value, 1), 16) for d in dims)
        X = np.random.default_rng(rng.randrange(2**32)).standard_normal((6, *shape))
        y = np.arange(6) % 2
        if kind == "nan":
            X.reshape(-1)[rng.randrange(X.size)] = np.nan
        elif kind == "inf":
            X.reshape(-1)[0] = -np.inf
        elif kind == "shape":
            X = X.reshape(6, -1)[:, :1]
        if kind == "no-x":
            np.savez(path, Z=X)
        elif kind == "text":
            with open(path, "w") as f:
                f.write("not an archive")
        elif kind != "missing":
            np.savez(path, X=X.astype(np.float32), y=y)
        return path

    def output(self, model: str) -> str:
        return self.rng.choice(
            (
                self.path(""),
                str(self.readonly),
                str(self.readonly / "sub"),
                str(self.readonly / "keep.txt"),
                model,
                str(self.folder),
            )
        )


BAD_DATA = ("nan", "inf", "shape", "no-x", "text", "missing")


def invocation(files: Files) -> list[str]:
    """A valid command with, most of the time, one thing wrong: a mutated model, an option,
    the data file or the output path."""
    rng = files.rng
    model, proto = files.model()
    fault = rng.choice(("none", "model", "option", "data", "output"))
    if fault == "model" and rng.random() < 0.2:
        model = files.path(".onnx")  # missing
    output = files.output(model) if fault == "output" else files.path("")
    command = rng.choice(("compile", "compile", "compile", "inspect", "report"))
    if command == "inspect":
        argv = ["inspect", model]
        if rng.random() < 0.5:
            argv += ["--save-ir", output]
        return argv
    if command == "report":  # only data that fails before anything is built or run
        data = files.data(proto, rng.choice(BAD_DATA))
        return ["report", model, "--data", data, "-o", output, "--precisions", "8"]
    precision = rng.choice(("fixed<12,4>", "auto", "auto", "ap_fixed<8,3,AP_RND,AP_SAT>"))
    options = {"--precision": precision, "--width": "8"}
    if rng.random() < 0.1:
        options["--precision"] = "search"
    if rng.random() < 0.4:
        options.update({"--backend": "hls", "--clock-period": "4", "--part": "xc7z020clg400-1"})
    if fault == "option":
        key, values = rng.choice(
            (
                ("--precision", ("fixed<0,0>", "garbage", "fixed<99,3>", "", "auto")),
                ("--width", ("0", "1", "33", "-4", "nan")),
                ("--reuse-factor", ("0", "-1", "2.5", "x")),
                ("--clock-period", ("nan", "0", "inf", "-1", "1e-9")),
                ("--part", ("x} ; exec touch pwned ; #", "", "a b", "[/]")),
                ("--strategy", ("resource", "fast")),
                ("--config", ("missing.yaml",)),
            )
        )
        options[key] = rng.choice(values)
        if key in ("--clock-period", "--part", "--strategy"):
            options["--backend"] = "hls"
    data_kind = rng.choice(BAD_DATA) if fault == "data" else "good"
    if options["--precision"] in ("auto", "search") or fault == "data":
        options["--calibration"] = files.data(proto, data_kind)
    argv = ["compile", model, "-o", output]
    for key, value in options.items():
        argv += [key, value]
    return argv


@pytest.fixture
def files(tmp_path):
    yield Files(tmp_path, random.Random(11))
    files_readonly = tmp_path / "readonly"
    files_readonly.chmod(stat.S_IRWXU)


def test_sampled_cli_invocations_exit_0_or_2_with_one_sentence(files, capsys, monkeypatch):
    monkeypatch.chdir(files.folder)
    failures = []
    for _ in range(INVOCATIONS):
        argv = invocation(files)
        problem = check(argv, capsys)
        if problem:
            failures.append(f"nnfx {' '.join(argv)}: {problem}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "options",
    [
        ["--reuse-factor", "0"],
        ["--backend", "hls", "--clock-period", "nan"],
        ["--backend", "hls", "--clock-period", "0"],
        ["--backend", "hls", "--part", "x} ; exec touch pwned ; #"],
        ["--precision", "auto"],  # without calibration data
        ["--precision", "auto", "--calibration", "missing.npz"],
    ],
)
def test_bad_options_are_refused_with_one_sentence(files, capsys, monkeypatch, options):
    monkeypatch.chdir(files.folder)
    model = files.path(".onnx")
    with open(model, "wb") as f:
        f.write(dict(seeds())["mlp_gemm"])
    argv = ["compile", model, "-o", files.path(""), *options]
    assert check(argv, capsys) is None
    assert main(argv) == 2
    assert not os.path.exists(files.folder / "pwned")


def test_nan_calibration_data_is_refused(files, capsys, monkeypatch):
    monkeypatch.chdir(files.folder)
    model = files.path(".onnx")
    with open(model, "wb") as f:
        f.write(dict(seeds())["mlp_gemm"])
    X = np.zeros((4, 6), np.float32)
    X[3, 2] = np.nan
    data = files.path(".npz")
    np.savez(data, X=X, y=np.zeros(4, np.int64))
    for precision in ("auto", "search"):
        argv = ["compile", model, "-o", files.path(""), "--precision", precision]
        assert main([*argv, "--calibration", data]) == 2
        err = capsys.readouterr().err
        assert "input 'x' holds nan at index (3, 2)" in err, err


def test_a_read_only_output_is_refused(files, capsys, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    model = files.path(".onnx")
    with open(model, "wb") as f:
        f.write(dict(seeds())["mlp_gemm"])
    assert check(["compile", model, "-o", str(files.readonly / "sub")], capsys) is None
    assert main(["compile", model, "-o", str(files.readonly / "sub")]) == 2
    assert sorted(p.name for p in files.readonly.iterdir()) == ["keep.txt"]
