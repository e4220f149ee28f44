"""The HLS project writer (nnfx/backends/hls/writer.py): the project is complete,
deterministic, warning-free (its testbench builds with -Werror and agrees) and safe against
hostile model names; the generated source size is limited before rendering."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from onnx import helper

import nnfx
from tests.helpers import make_model, raw_equal, run_strict_testbench
from tests.op_models import compile_for

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)
ENGINES = ["csim", "csim-ap"]


EVIL = '"; system("rm -rf /"); //'


def evil_model():
    nodes = [
        helper.make_node("Gemm", ["in put", "W"], [EVIL], name=EVIL),
        helper.make_node("Relu", [EVIL], ["int"], name="class"),
        helper.make_node("Sigmoid", ["int"], ["out/../../x"], name="Sigmoid"),
    ]
    model = make_model(
        nodes,
        [("in put", ["N", 4])],
        [("out/../../x", ["N", 3])],
        {"W": np.ones((4, 3), np.float32)},
    )
    model.graph.name = 'net */\n#include "/etc/passwd"\nsystem("rm -rf /");'
    return model


def test_model_names_become_safe_unique_identifiers(tmp_path, rng):
    compiled = nnfx.compile(evil_model(), "fixed<12,5>")
    folder = compiled.write_hls(tmp_path / "prj")
    text = "\n".join(p.read_text() for p in folder.rglob("*") if p.is_file())
    assert "system(" not in text and "rm -rf" not in text and '"/etc/passwd"' not in text
    assert "net_include_etc_passwd_system_rm_rf" in text  # the name, defused
    assert all(p.resolve().is_relative_to(folder.resolve()) for p in folder.rglob("*"))
    X = rng.standard_normal((20, 4))
    for engine in ENGINES:
        assert raw_equal(compiled.predict_raw(X, engine), compiled.predict_raw(X))


@pytest.mark.parametrize("number", ["ap", "ac"])
def test_project_compiles_without_warnings_and_its_testbench_agrees(number, tmp_path, rng):
    compiled, X = compile_for("conv", 0)
    folder = compiled.write_hls(tmp_path / "prj", top="my_net", testbench_data=X)
    raw_inputs = compiled.quantize_inputs(X)
    t = compiled.graph.tensors[compiled.graph.inputs[0]].dtype
    lines = [
        " ".join(repr(float(v)) for v in row.reshape(-1) * 2.0**-t.frac)
        for row in raw_inputs[compiled.graph.inputs[0]]
    ]
    data = folder / "tb" / "tb_data"  # the vectors write_hls wrote, spelled out by hand
    assert (data / "tb_input_features.dat").read_text() == "\n".join(lines) + "\n"
    out = compiled.graph.outputs[0]
    values = compiled.predict_raw(X)[out] * 2.0 ** -compiled.graph.tensors[out].dtype.frac
    assert (data / "tb_output_predictions.dat").read_text() == (
        "\n".join(" ".join(repr(float(v)) for v in row.reshape(-1)) for row in values) + "\n"
    )
    run_strict_testbench(folder, "my_net", number, samples=48)


def test_project_layout_options_and_pragmas(tmp_path):
    compiled, _ = compile_for("dense", 0)
    folder = compiled.write_hls(
        tmp_path / "prj",
        part="xc7z020clg400-1",
        clock_period_ns=4.0,
        reuse_factor=4,
        strategy="resource",
    )
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {
        "firmware/nnfx_top.cpp",
        "firmware/nnfx_top.h",
        "firmware/defines.h",
        "firmware/parameters.h",
        "firmware/nnfx_kernels.h",
        "tb/nnfx_top_tb.cpp",
        "build_prj.tcl",
        "README.md",
    } <= files
    assert any(f.startswith("firmware/weights/") for f in files)
    tcl = (folder / "build_prj.tcl").read_text()
    assert "xc7z020clg400-1" in tcl and "create_clock -period 4.0" in tcl
    assert "csim_design" in tcl and "csynth_design" in tcl and "export_design" in tcl
    top = (folder / "firmware" / "nnfx_top.cpp").read_text()
    assert "cyclic factor=4" in top and "DATAFLOW" in top
    default = compiled.write_hls(tmp_path / "prj2")
    assert "PIPELINE II=1" in (default / "firmware" / "nnfx_top.cpp").read_text()
    again = compiled.write_hls(tmp_path / "prj3")
    for p in default.rglob("*"):
        if p.is_file():  # deterministic output: two runs diff clean
            assert p.read_text() == (again / p.relative_to(default)).read_text()
    with pytest.raises(nnfx.ConfigError, match="names layer"):
        compiled.write_hls(tmp_path / "x", layer_reuse_factor={"nope": 2})


def test_the_generated_source_size_is_limited_before_rendering(tmp_path, monkeypatch):
    from nnfx.backends.hls.writer import HlsWriter, estimate_source_bytes

    compiled, _ = compile_for("conv", 0)
    files = HlsWriter(compiled.graph).files()
    assert sum(len(t.encode()) for t in files.values()) <= estimate_source_bytes(compiled.graph)
    monkeypatch.setenv("NNFX_MAX_SOURCE_BYTES", "1000")
    with pytest.raises(nnfx.ModelError, match="NNFX_MAX_SOURCE_BYTES"):
        compiled.write_hls(tmp_path / "prj")
    assert not (tmp_path / "prj").exists()
