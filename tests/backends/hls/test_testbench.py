"""The testbench's vectors (``write_hls(testbench_data=X)``, `nnfx compile --data`): inputs on
their types' grids, expected outputs from the fixed-point reference, both exact; the emitted
testbench built with g++ -Werror against ap_fixed agrees bit for bit on real data, and reports
a mismatch (exit status 1) when an expected value is one LSB off, missing or extra."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import nnfx
from nnfx.backends.hls.writer import TESTBENCH_INPUTS, TESTBENCH_OUTPUTS
from nnfx.compiler.fixed import to_float
from tests.helpers import run_strict_testbench, train_mlp_onnx
from tests.op_models import compile_for

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the testbench needs it"
)


def rows(path) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


def run(folder) -> subprocess.CompletedProcess:
    """The testbench that run_strict_testbench built, run again on the current tb_data."""
    return subprocess.run(["../tb_run"], cwd=folder / "tb", capture_output=True, text=True)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A digits MLP at a rounding, saturating type (the raw data is off the input grid), its
    project with the test split as vectors, and the testbench built (ap_fixed, -Werror)."""
    path, _, _, Xt, _ = train_mlp_onnx("digits", tmp_path_factory, hidden=(16,))
    compiled = nnfx.compile(path, "fixed<10,3,RND,SAT>")
    folder = compiled.write_hls(tmp_path_factory.mktemp("tb") / "prj", testbench_data=Xt)
    run_strict_testbench(folder, "nnfx_top", "ap", samples=len(Xt))
    return compiled, Xt, folder


def test_vectors_are_the_quantized_inputs_and_the_reference_outputs(digits):
    compiled, X, folder = digits
    g = compiled.graph
    (x_name,) = g.inputs
    inputs = np.array(rows(folder / TESTBENCH_INPUTS))
    quantized = to_float(compiled.quantize_inputs(X)[x_name], g.tensors[x_name].dtype.frac)
    assert np.array_equal(inputs, quantized) and not np.array_equal(inputs, X)
    expected = np.array(rows(folder / TESTBENCH_OUTPUTS))
    assert np.array_equal(expected, compiled.predict(X))  # bit for bit, as printed
    results = np.array(rows(folder / "tb" / "tb_data" / "csim_results.log"))
    assert np.array_equal(results, expected)  # what the C++ computed, printed exactly


def test_a_one_lsb_difference_is_a_mismatch_and_exit_status_1(digits):
    compiled, _, folder = digits
    path = folder / TESTBENCH_OUTPUTS
    original = path.read_text()
    lsb = 2.0 ** -compiled.graph.tensors[compiled.graph.outputs[0]].dtype.frac
    lines = original.splitlines()
    values = lines[5].split()
    values[3] = repr(float(values[3]) + lsb)
    lines[5] = " ".join(values)
    try:
        path.write_text("\n".join(lines) + "\n")
        result = run(folder)
        assert result.returncode == 1, result.stdout
        assert "1 mismatching values" in result.stdout
        assert "mismatch: sample 5, tensor_" in result.stdout and "[3]: expected" in result.stdout
        short = original.splitlines()
        short[2] = " ".join(short[2].split()[:-1])  # a missing expected value
        path.write_text("\n".join(short) + "\n")
        result = run(folder)
        assert result.returncode == 1 and "no expected value" in result.stdout
        path.write_text(original + original.splitlines()[0] + "\n")  # more lines than samples
        result = run(folder)
        assert result.returncode == 1 and "more expected lines" in result.stdout
        path.unlink()  # nothing to compare with: the outputs are still written
        result = run(folder)
        assert result.returncode == 0 and "0 mismatching values" in result.stdout
    finally:
        path.write_text(original)
    assert run(folder).returncode == 0


def test_a_short_input_line_fails(digits):
    _, _, folder = digits
    path = folder / TESTBENCH_INPUTS
    original = path.read_text()
    lines = original.splitlines()
    lines[1] = " ".join(lines[1].split()[:-1])
    try:
        path.write_text("\n".join(lines) + "\n")
        result = run(folder)
        assert result.returncode == 1 and "fewer input values" in result.stdout
    finally:
        path.write_text(original)


@pytest.mark.parametrize("name", ["conv", "argmax"])
def test_vectors_for_images_and_class_labels(name, tmp_path):
    compiled, X = compile_for(name, 0)
    folder = compiled.write_hls(tmp_path / "prj", testbench_data=X)
    run_strict_testbench(folder, "nnfx_top", "ap", samples=len(X))


def test_bad_testbench_data_is_one_sentence_and_writes_nothing(tmp_path):
    compiled, X = compile_for("dense", 0)
    with pytest.raises(nnfx.DataError, match=r"^testbench data: input .* has shape"):
        compiled.write_hls(tmp_path / "a", testbench_data=X[:, :1])
    with pytest.raises(nnfx.DataError, match="testbench data holds no samples"):
        compiled.write_hls(tmp_path / "b", testbench_data=X[:0])
    with pytest.raises(nnfx.DataError, match="testbench data: input .* holds NaN"):
        compiled.write_hls(tmp_path / "c", testbench_data=np.full_like(X, np.nan))
    assert not any(tmp_path.iterdir())
