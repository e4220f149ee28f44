"""Overflow is never invisible: the input quantization counts as a layer, and `nnfx compile
--calibration` and `nnfx simulate` print where values wrapped or saturated and what to try."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.cli import main
from tests.helpers import make_model

HINT = "docs/precision.md"


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """x (4 features) -> Dense 'fc' (weights 1.5) -> Relu. Under fixed<8,3> (range [-4, 4),
    WRAP) the inputs +-10 wrap at the input, and sums above 4 wrap in 'fc'. ``calm`` stays
    inside every range; ``wild`` is calm with six values set to +-10 and one sample to 3.5."""
    rng = np.random.default_rng(0)
    model = make_model(
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc"),
            helper.make_node("Relu", ["h"], ["y"], name="act"),
        ],
        [("x", ["N", 4])],
        [("y", ["N", 4])],
        {"w": np.full((4, 4), 1.5, np.float32), "b": np.zeros(4, np.float32)},
    )
    calm = rng.uniform(-0.5, 0.5, (50, 4)).astype(np.float32)
    wild = calm.copy()
    wild[[3, 3, 7, 11, 20, 41], [0, 2, 1, 3, 0, 2]] = [10, -10, 10, -10, 10, 10]
    wild[45] = 3.5  # fits the input type; 1.5 * 4 * 3.5 = 21 does not fit fc's
    folder = tmp_path_factory.mktemp("ranges")
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    y = np.zeros(50, int)
    np.savez(folder / "calm.npz", X=calm, y=y)
    np.savez(folder / "wild.npz", X=wild, y=y)
    return path, calm, wild


def test_input_quantization_counts_as_the_first_layer(wide):
    path, calm, wild = wide
    compiled = nnfx.compile(path, "fixed<8,3>")
    counts = compiled.overflow_counts(wild)
    assert list(counts)[0] == "input 'x'" and counts["input 'x'"] == 6
    assert counts["fc"] >= 4 and counts["act"] == 0
    assert sum(compiled.overflow_counts(calm).values()) == 0
    saturating = nnfx.compile(path, "fixed<8,3,TRN,SAT>")
    assert saturating.overflow_counts(wild)["input 'x'"] == 6  # saturated values count too
    infinite = np.array([[np.inf, 0, 0, -np.inf]])  # SAT clamps them (docs/semantics.md)
    assert saturating.overflow_counts(infinite)["input 'x'"] == 2


def test_counting_changes_no_code(wide):
    path, _, wild = wide
    compiled = nnfx.compile(path, "fixed<8,3>")
    before = compiled.predict_raw(wild)
    compiled.overflow_counts(wild)
    after = compiled.predict_raw(wild)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_compile_prints_overflows_and_what_to_try(wide, tmp_path, capsys):
    path, *_ = wide
    folder = path.parent
    args = ["compile", str(path), "--precision", "fixed<8,3>", "-o", str(tmp_path / "b")]
    assert main([*args, "--calibration", str(folder / "wild.npz")]) == 0
    out = capsys.readouterr().out
    assert "values overflowed (50 samples)" in out and HINT in out
    table = out[out.index("values overflowed") : out.index(HINT)]
    assert "input 'x'" in table and "fc" in table and "act" not in table  # non-zero rows only
    assert main(["simulate", str(tmp_path / "b"), "--input", str(folder / "wild.npz")]) == 0
    out = capsys.readouterr().out
    assert "input 'x'" in out and HINT in out and "SAT" in out


def test_nothing_is_printed_when_nothing_overflows(wide, tmp_path, capsys):
    path, *_ = wide
    folder = path.parent
    args = ["compile", str(path), "--precision", "fixed<8,3>", "-o", str(tmp_path / "b")]
    assert main([*args, "--calibration", str(folder / "calm.npz")]) == 0
    assert main(["simulate", str(tmp_path / "b"), "--input", str(folder / "calm.npz")]) == 0
    out = capsys.readouterr().out
    assert "values overflowed" not in out and HINT not in out


def test_auto_precision_gets_its_own_hint(wide, tmp_path, capsys):
    """auto sizes the types from the calibration data; data beyond it saturates."""
    path, *_ = wide
    folder = path.parent
    args = ["compile", str(path), "--precision", "auto", "-o", str(tmp_path / "b")]
    assert main([*args, "--calibration", str(folder / "calm.npz")]) == 0
    assert "values overflowed" not in capsys.readouterr().out
    assert main(["simulate", str(tmp_path / "b"), "--input", str(folder / "wild.npz")]) == 0
    out = capsys.readouterr().out
    assert "input 'x'" in out and "calibrat" in out and HINT in out


def test_report_and_its_plot_show_the_input_layer(wide, tmp_path):
    path, calm, wild = wide
    result = nnfx.report(
        path,
        wild,
        np.zeros(len(wild), int),
        tmp_path / "r",
        precisions=(8,),
        engines=("reference",),
        progress=False,
        calibration=calm,
    )
    t = nnfx.compile(path, "auto", calibration=calm).graph.tensors["x"].dtype
    beyond = int(np.count_nonzero((wild > t.max) | (wild < t.min)))  # the 10s and the 3.5s
    first = result.data["layers"][0]
    assert (first["layer"], first["op"], first["type"]) == ("input 'x'", "Input", str(t))
    assert first["overflows"] == beyond == 10
    assert (result.folder / "layer_ranges.png").stat().st_size > 0
    md = (result.folder / "report.md").read_text()
    assert "| input 'x' | Input |" in md
    assert "Overflow: values saturated or wrapped in input 'x' (10 values)" in md
    assert (
        "<strong>Overflow: values saturated or wrapped in input &#x27;x&#x27; (10"
        in (result.folder / "report.html").read_text()
    )


def test_the_report_says_nothing_of_overflow_when_there_is_none(wide, tmp_path):
    path, calm, _ = wide
    y = np.zeros(len(calm), int)
    result = nnfx.report(
        path, calm, y, tmp_path / "r", precisions=(8,), engines=("reference",), progress=False
    )
    assert all(layer["overflows"] == 0 for layer in result.data["layers"])
    assert "Overflow" not in (result.folder / "report.md").read_text()
