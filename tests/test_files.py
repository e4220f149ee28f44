"""Outputs: nnfx replaces only folders it wrote, atomically, never the current folder, a parent,
home, / or a folder holding an input; killed runs leave no staging behind; the umask holds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

import nnfx
from nnfx.cli import main
from nnfx.errors import ConfigError
from nnfx.files import (
    MANIFEST,
    atomic_file,
    check_output_folder,
    is_nnfx_output,
    remove_stale_siblings,
    staged_directory,
)
from tests.helpers import make_model


def small_model(path: Path) -> Path:
    """A 4 -> 3 Gemm, saved to ``path``."""
    rng = np.random.default_rng(0)
    model = make_model(
        [helper.make_node("Gemm", ["x", "W", "B"], ["y"], name="fc", transB=1)],
        [("x", ["N", 4])],
        [("y", ["N", 3])],
        {
            "W": rng.standard_normal((3, 4)).astype(np.float32),
            "B": rng.standard_normal(3).astype(np.float32),
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def hidden(folder: Path) -> list[str]:
    """The nnfx staging siblings in ``folder``."""
    return [p.name for p in folder.iterdir() if ".nnfx-" in p.name]


def one_sentence(capsys, *parts: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert all(part in err for part in parts), err
    return err


def contents(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


# -- the CLI refuses what it did not write -------------------------------------------------------
def test_compile_into_the_current_folder_is_refused(tmp_path, monkeypatch, capsys):
    model = small_model(tmp_path / "model.onnx")
    (tmp_path / "notes.txt").write_text("mine")
    before = contents(tmp_path)
    monkeypatch.chdir(tmp_path)
    for force in ([], ["--force"]):
        assert main(["compile", "model.onnx", "-o", ".", *force]) == 2
        one_sentence(capsys, "current folder")
    assert contents(tmp_path) == before and model.exists()


def test_compile_into_a_parent_is_refused(tmp_path, monkeypatch, capsys):
    small_model(tmp_path / "sub" / "model.onnx")
    (tmp_path / "other.txt").write_text("mine")
    before = contents(tmp_path)
    monkeypatch.chdir(tmp_path / "sub")
    for output in ("..", str(tmp_path), "../sub/.."):
        assert main(["compile", "model.onnx", "-o", output, "--force"]) == 2
        one_sentence(capsys, "one of its parents")
    assert contents(tmp_path) == before


def test_root_and_home_are_refused_before_anything_is_deleted(tmp_path, monkeypatch):
    def no_deletion(*args, **kwargs):
        raise AssertionError("nothing may be deleted")

    monkeypatch.setattr(shutil, "rmtree", no_deletion)
    with pytest.raises(ConfigError, match="current folder or one of its parents"):
        check_output_folder(Path("/"), force=True)
    with pytest.raises(ConfigError), staged_directory("/", force=True):
        raise AssertionError("never reached")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir("/")
    with pytest.raises(ConfigError, match="is home"):
        check_output_folder(tmp_path, force=True)


def test_the_model_file_is_never_the_output(tmp_path, monkeypatch, capsys):
    model = small_model(tmp_path / "model.onnx")
    before = model.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "model.onnx", "-o", "model.onnx", "--force"]) == 2
    one_sentence(capsys, "is the input 'model.onnx'")
    assert model.read_bytes() == before
    (tmp_path / "data.bin").write_text("a file")
    assert main(["compile", "model.onnx", "-o", "data.bin"]) == 2
    one_sentence(capsys, "is an existing file")
    assert (tmp_path / "data.bin").read_text() == "a file"


def test_a_folder_holding_an_input_is_refused_even_with_force(tmp_path, capsys):
    model = small_model(tmp_path / "data" / "deep" / "model.onnx")
    for args in ([], ["--force"]):
        assert main(["compile", str(model), "-o", str(tmp_path / "data"), *args]) == 2
        one_sentence(capsys, "holds the input")
    calibration = tmp_path / "calib" / "c.npz"
    calibration.parent.mkdir()
    np.savez(calibration, X=np.ones((4, 4)))
    args = ["--precision", "auto", "--calibration", str(calibration), "--force"]
    assert main(["compile", str(model), "-o", str(tmp_path / "calib"), *args]) == 2
    one_sentence(capsys, "holds the input")
    assert model.exists() and calibration.exists()


def test_symlinks_are_resolved_before_comparing(tmp_path, monkeypatch, capsys):
    model = small_model(tmp_path / "real" / "model.onnx")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert main(["compile", str(model), "-o", str(tmp_path / "link"), "--force"]) == 2
    one_sentence(capsys, "holds the input")
    monkeypatch.chdir(tmp_path / "real")
    (tmp_path / "here").symlink_to(tmp_path / "real")
    assert main(["compile", "model.onnx", "-o", str(tmp_path / "here"), "--force"]) == 2
    one_sentence(capsys, "current folder")
    assert model.exists()


def test_a_folder_of_other_files_needs_force(tmp_path, capsys):
    model = small_model(tmp_path / "model.onnx")
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    assert main(["compile", str(model), "-o", str(out)]) == 2
    one_sentence(capsys, "holds files nnfx did not write", "--force")
    assert (out / "thesis.tex").read_text() == "years of work"
    assert main(["compile", str(model), "-o", str(out), "--force"]) == 0
    assert not (out / "thesis.tex").exists() and (out / "model.json").exists()
    assert is_nnfx_output(out) and hidden(tmp_path) == []


def test_recompiling_into_its_own_output_and_an_empty_folder_work(tmp_path, capsys):
    model = small_model(tmp_path / "model.onnx")
    out = tmp_path / "build"
    out.mkdir()  # empty: fine
    assert main(["compile", str(model), "-o", str(out)]) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["format"] == "nnfx-output" and manifest["what"] == "compiled model"
    assert main(["compile", str(model), "-o", str(out), "--backend", "hls"]) == 0
    assert (out / "hls" / "build_prj.tcl").exists() and is_nnfx_output(out / "hls")
    assert nnfx.load_compiled(out).graph.nodes and hidden(tmp_path) == []
    assert main(["compile", str(model), "-o", str(out)]) == 0  # the inner manifest is harmless
    assert not (out / "hls").exists()


def test_an_unwritable_output_is_one_sentence(tmp_path, capsys):
    model = small_model(tmp_path / "model.onnx")
    (tmp_path / "somefile").write_text("")
    assert main(["compile", str(model), "-o", str(tmp_path / "somefile" / "out")]) == 2
    one_sentence(capsys, "a file is in the way")
    with pytest.raises(ConfigError, match="cannot"):
        nnfx.compile(model).save(tmp_path / "somefile" / "out")


def test_other_commands_refuse_too(tmp_path, monkeypatch, capsys):
    small_model(tmp_path / "model.onnx")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", X=rng.standard_normal((8, 4)), y=rng.integers(0, 3, 8))
    monkeypatch.chdir(tmp_path)
    assert main(["report", "model.onnx", "--data", "data.npz", "-o", ".", "--force"]) == 2
    one_sentence(capsys, "current folder")
    (tmp_path / "r").mkdir()
    shutil.copy(tmp_path / "data.npz", tmp_path / "r" / "data.npz")
    assert main(["report", "model.onnx", "--data", "r/data.npz", "-o", "r", "--force"]) == 2
    one_sentence(capsys, "holds the input")
    assert main(["demo", "-o", "."]) == 2
    one_sentence(capsys, "current folder")
    assert main(["demo", "-o", "r"]) == 2
    one_sentence(capsys, "holds files nnfx did not write")
    assert main(["inspect", "model.onnx", "--save-ir", ".", "--force"]) == 2
    one_sentence(capsys, "current folder")
    assert main(["inspect", "model.onnx", "--save-ir", "r"]) == 2
    one_sentence(capsys, "holds files nnfx did not write")
    assert main(["inspect", "model.onnx", "--save-ir", "ir"]) == 0
    assert main(["inspect", "model.onnx", "--save-ir", "ir"]) == 0  # its own output
    assert (tmp_path / "r" / "data.npz").exists() and (tmp_path / "model.onnx").exists()


# -- the library API has the same protection --------------------------------------------------
def test_the_library_refuses_and_accepts_force(tmp_path):
    from nnfx.backends.hls.writer import write_project

    model = small_model(tmp_path / "model.onnx")
    compiled = nnfx.compile(model)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("keep")
    for write in (
        lambda **kw: compiled.save(foreign, **kw),
        lambda **kw: compiled.write_hls(foreign, **kw),
        lambda **kw: compiled.graph.save(foreign, **kw),
        lambda **kw: write_project(compiled.graph, foreign, **kw),
    ):
        with pytest.raises(ConfigError, match="holds files nnfx did not write"):
            write()
        assert (foreign / "keep.txt").exists()
    with pytest.raises(ConfigError, match="holds the input"):
        compiled.save(tmp_path, force=True)  # the model file it was compiled from
    with pytest.raises(ConfigError, match="holds the input"):
        compiled.graph.save(tmp_path, force=True, inputs=[model])
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    with pytest.raises(ConfigError, match="holds the input"):
        nnfx.report(model, X, y, tmp_path, force=True, progress=False)
    compiled.graph.save(foreign, force=True)
    assert not (foreign / "keep.txt").exists() and (foreign / "model.json").exists()


# -- atomic replacement, stale staging, umask ----------------------------------------------------
def test_a_failure_leaves_the_old_output_and_no_staging(tmp_path):
    out = tmp_path / "out"
    with staged_directory(out) as staging:
        (staging / "a.txt").write_text("old")
    before = contents(out)
    with pytest.raises(RuntimeError), staged_directory(out) as staging:
        (staging / "a.txt").write_text("new")
        raise RuntimeError("boom")
    assert contents(out) == before and hidden(tmp_path) == []
    with pytest.raises(KeyboardInterrupt), staged_directory(out) as staging:
        raise KeyboardInterrupt
    assert contents(out) == before and hidden(tmp_path) == []
    with pytest.raises(ConfigError, match="cannot write the output to .*No space left on device"):
        with staged_directory(out) as staging:  # a full disk is one sentence
            raise OSError(28, "No space left on device", str(staging / "weights.npz"))
    assert contents(out) == before and hidden(tmp_path) == []


def test_the_old_output_survives_a_failed_move_in(tmp_path, monkeypatch):
    out = tmp_path / "out"
    with staged_directory(out) as staging:
        (staging / "a.txt").write_text("old")
    before = contents(out)
    real_rename = Path.rename

    def failing_rename(self, target):
        if ".nnfx-new-" in self.name:
            raise OSError(28, "No space left on device")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(ConfigError, match="No space left"), staged_directory(out) as staging:
        (staging / "a.txt").write_text("new")
    assert contents(out) == before and hidden(tmp_path) == []


def test_folders_and_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with staged_directory(tmp_path / "out") as staging:
            (staging / "sub").mkdir()
        with atomic_file(tmp_path / "f.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o644


# -- signals ------------------------------------------------------------------------------------
CHILD = """
import os, signal, sys, time
from pathlib import Path
import nnfx.cli
from nnfx.compiled import CompiledModel

signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the parent ignores it


READY = Path(sys.argv[1])


def hang(self, folder):  # inside the staging folder: say so, then wait for the signal
    READY.write_text(str(folder))
    time.sleep(60)


CompiledModel._write_onnx = hang
sys.argv = ["nnfx", *sys.argv[2:]]
nnfx.cli.run()
"""


def hanging_compile(tmp_path: Path, model: Path, out: Path) -> subprocess.Popen:
    """``nnfx compile`` in a child process, held inside its staging folder."""
    ready = tmp_path / "ready"
    command = ["compile", str(model), "-o", str(out), "--precision", "fixed<8,3>"]
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(ready), *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if not ready.exists():
        child.kill()
        raise AssertionError(f"the child did not reach its staging folder: {child.stderr.read()}")
    ready.unlink()
    return child


@pytest.mark.parametrize(
    "signum,status,word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_killed_compile_keeps_the_old_output_and_leaves_no_staging(
    tmp_path, capsys, signum, status, word
):
    model = small_model(tmp_path / "model.onnx")
    out = tmp_path / "build"
    assert main(["compile", str(model), "-o", str(out)]) == 0
    before = contents(out)
    child = hanging_compile(tmp_path, model, out)
    try:
        child.send_signal(signum)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == status and err.strip() == f"nnfx: {word}", err
    assert contents(out) == before and hidden(tmp_path) == []


def test_staging_of_a_killed_run_is_cleaned_on_the_next_start(tmp_path, capsys):
    model = small_model(tmp_path / "model.onnx")
    out = tmp_path / "build"
    assert main(["compile", str(model), "-o", str(out)]) == 0
    before = contents(out)
    child = hanging_compile(tmp_path, model, out)
    child.kill()  # SIGKILL: no cleanup can run
    child.communicate(timeout=30)
    [stale] = hidden(tmp_path)
    assert contents(out) == before and is_nnfx_output(tmp_path / stale)
    owner = stale.split(".nnfx-new-")[1].rsplit("-", 1)[0]  # "<pid>.<host>" of the dead run
    unmarked = tmp_path / f".build.nnfx-new-{owner}-foreign"  # no manifest: not ours, kept
    unmarked.mkdir()
    elsewhere = tmp_path / f".build.nnfx-new-{owner.split('.')[0]}.00000000-x"  # other host
    shutil.copytree(tmp_path / stale, elsewhere)
    (tmp_path / f".model.onnx.nnfx-tmp-{owner}-half").write_text("half")
    assert main(["compile", str(model), "-o", str(out)]) == 0  # the next start
    with atomic_file(model) as f:
        f.write(model.read_bytes())
    assert sorted(hidden(tmp_path)) == sorted([unmarked.name, elsewhere.name])
    with staged_directory(tmp_path / "live") as staging:  # a live run's staging is kept
        remove_stale_siblings(tmp_path / "live")
        assert staging.exists()
