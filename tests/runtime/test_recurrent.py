"""Recurrent layers (ONNX RNN, LSTM, GRU -> the IR's Recurrent): the float reference against
onnxruntime, the fixed reference against the exact oracle (tests/oracles.py) at random types
and every rounding and overflow mode, and the refusals, one sentence each."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import nnfx
from nnfx.compiler.ops import Op
from nnfx.errors import UnsupportedOpError
from nnfx.runtime.reference_fixed import run_fixed
from tests.helpers import assert_matches_ort, rand
from tests.op_models import random_type, recurrent_model
from tests.oracles import run_oracle

OPS = ["RNN", "LSTM", "GRU"]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("every,last", [(True, False), (False, True), (True, True)])
def test_float_reference_matches_onnxruntime(rng, op, every, last):
    model = recurrent_model(rng, op, every=every, last=last)
    loaded = assert_matches_ort(model, rand(rng, 16, 4, 3) * 2)
    (rec,) = [n for n in loaded.graph.nodes if n.op is Op.RECURRENT]
    assert rec.attrs.cell == op.lower() and rec.attrs.return_sequences == every


def _random_precision(rng, loaded, cell_type=True):
    layers = {}
    for n in loaded.graph.nodes:
        spec = {
            "result": str(random_type(rng)),
            "weight": str(random_type(rng)),
            "bias": str(random_type(rng)),
        }
        if n.op is Op.RECURRENT:
            spec["table_size"] = int(2 ** rng.integers(3, 9))
            if cell_type:
                spec["cell"] = str(random_type(rng))
        layers[n.name] = spec
    tensors = {loaded.graph.inputs[0]: str(random_type(rng))}
    return {"default": "fixed<12,4>", "layers": layers, "tensors": tensors}


def _codes(value, t):
    scale = Fraction(2) ** t.frac
    return np.vectorize(lambda v: int(v * scale), otypes=[object])(value).astype(np.int64)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("seed", range(3))
def test_fixed_reference_equals_the_oracle(op, seed):
    rng = np.random.default_rng(40 + seed)
    model = recurrent_model(rng, op, every=seed != 1, last=seed != 0)
    loaded = nnfx.load(model)
    compiled = nnfx.compile(loaded, precision=_random_precision(rng, loaded))
    X = rng.standard_normal((3, 4, 3)) * 3
    raw = compiled.quantize_inputs(X)
    ours = run_fixed(compiled.graph, raw, intermediate=True)
    expected = run_oracle(compiled.graph, raw)
    for tensor, value in expected.items():
        t = compiled.graph.tensors[tensor].dtype
        assert np.array_equal(ours[tensor], _codes(value, t)), f"{op}: tensor {tensor} ({t})"


@pytest.mark.parametrize("op", OPS)
def test_wide_types_take_the_exact_path(rng, op):
    """31-bit types: the bound on the gate sums passes 2**61 and the reference computes on
    Python ints."""
    model = recurrent_model(rng, op, last=True)
    loaded = nnfx.load(model)
    precision = {
        "default": "fixed<31,8>",
        "layers": {n.name: {"cell": "fixed<31,8,RND,SAT>"} for n in loaded.graph.nodes},
    }
    compiled = nnfx.compile(loaded, precision=precision)
    raw = compiled.quantize_inputs(rng.standard_normal((2, 4, 3)))
    ours = run_fixed(compiled.graph, raw, intermediate=True)
    for tensor, value in run_oracle(compiled.graph, raw).items():
        assert np.array_equal(ours[tensor], _codes(value, compiled.graph.tensors[tensor].dtype))


@pytest.mark.parametrize("op", OPS)
def test_auto_calibrates_the_state_and_the_cell_state(rng, op):
    model = recurrent_model(rng, op, last=True)
    X = rand(rng, 200, 4, 3)
    compiled = nnfx.compile(model, precision="auto", calibration=X)
    (rec,) = [n for n in compiled.graph.nodes if n.op is Op.RECURRENT]
    p = rec.precision
    assert p.accum_sized and p.accum.width <= 62
    assert (p.cell is not None) == (op == "LSTM")
    float_y = nnfx.load(model).predict(X)
    fixed_y = compiled.predict(X)
    for name in float_y:
        assert np.max(np.abs(fixed_y[name] - float_y[name])) < 0.05, name


@pytest.mark.parametrize(
    "attrs,message",
    [
        ({"direction": "sideways"}, "direction 'sideways' is not supported"),
        ({"clip": 1.0}, "the clip attribute is not supported"),
        ({"activations": ["Relu"]}, "activations ['Relu'] are not supported"),
        ({"linear_before_reset": 0}, "linear_before_reset=0 is not supported"),
    ],
)
def test_unsupported_attributes_are_refused_by_name(rng, attrs, message):
    op = "GRU" if "linear_before_reset" in attrs else "RNN"
    with pytest.raises(UnsupportedOpError, match="node 'rec'") as info:
        nnfx.load(recurrent_model(rng, op, **attrs))
    assert message in str(info.value)


def test_an_unsqueezed_time_major_state_is_refused_by_name(rng):
    from onnx import helper

    from tests.helpers import make_model

    W, R = rand(rng, 1, 5, 3), rand(rng, 1, 5, 5)
    model = make_model(
        [helper.make_node("RNN", ["x", "W", "R"], ["", "h"], name="rec", hidden_size=5)],
        [("x", [2, "N", 3])],  # PyTorch's batch_first=False export: steps first
        [("h", [1, "N", 5])],  # Y_h not squeezed: the batch on axis 1 of a computed output
        {"W": W, "R": R},
    )
    with pytest.raises(UnsupportedOpError, match="node 'rec' .RNN.: its input or outputs are"):
        nnfx.load(model)


def _nnfx_stack(rng, tmp_path):
    """nnfx's own export of an LSTM (every state) into a GRU (the last) and a Dense head."""
    from nnfx.trainer import GRU, LSTM, Dense, Sequential

    model = Sequential([LSTM(5, return_sequences=True), GRU(4), Dense(3)], input_shape=(6, 3))
    path = tmp_path / "stack.onnx"
    model.export_onnx(path)
    return path, rand(rng, 64, 6, 3)


def test_nnfx_exported_stacks_load_and_match_onnxruntime(rng, tmp_path):
    import onnx

    path, X = _nnfx_stack(rng, tmp_path)
    loaded = assert_matches_ort(onnx.load(str(path)), X)
    cells = [n.attrs.cell for n in loaded.graph.nodes if n.op is Op.RECURRENT]
    assert cells == ["lstm", "gru"]


def test_the_static_hls_form_equals_the_reference(rng, tmp_path):
    """The resource strategy's kernel (one step's datapath reused over time) gives the
    reference's codes, as the latency strategy's unrolled one does (the op models)."""
    import shutil

    from nnfx.backends.hls.options import HlsOptions
    from nnfx.compiler.fixed import to_float
    from nnfx.runtime.csim import CSimulation

    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    path, X = _nnfx_stack(rng, tmp_path)
    compiled = nnfx.compile(str(path), "auto", calibration=X)
    raw = compiled.quantize_inputs(X[:16])
    sim = CSimulation(
        compiled.graph, "csim", progress=False, options=HlsOptions(strategy="resource")
    )
    assert "nnfx::recurrent_static" in sim.files[f"firmware/{sim.top}.cpp"]
    values = {k: to_float(v, compiled.graph.tensors[k].dtype.frac) for k, v in raw.items()}
    out = sim.run(values)
    reference = run_fixed(compiled.graph, raw)
    for name, codes in reference.items():
        t = compiled.graph.tensors[name].dtype
        assert np.array_equal(np.round(out[name] * 2.0**t.frac).astype(np.int64), codes)


def test_the_estimate_prices_one_step_reused_over_time(rng):
    from nnfx.compiler.estimate import estimate

    model = recurrent_model(rng, "LSTM", steps=6, n_in=3, hidden=5, every=False, last=True)
    compiled = nnfx.compile(model, "fixed<10,3>")
    one = estimate(compiled.graph, reuse_factor=1).layers[0]
    four = estimate(compiled.graph, reuse_factor=4).layers[0]
    assert one.op == "Recurrent" and one.reuse_factor == 1 and four.reuse_factor == 4
    assert one.multipliers == (3 + 5) * 4 * 5 + 3 * 5  # gate sums + the state's products
    assert four.multipliers == 40 + 15
    assert one.latency_cycles % 6 == 0 and four.latency_cycles > one.latency_cycles


def test_the_report_shows_the_per_step_types_and_counts_overflows(rng):
    """The report's per-layer row of a recurrent layer names its state, cell, gate and sum
    types; its overflows count the state's and the cell state's over every step."""
    from nnfx.report.layers import layer_rows
    from nnfx.runtime.reference import run

    model = nnfx.load(recurrent_model(rng, "LSTM", every=False, last=True))
    X = rand(rng, 32, 4, 3) * 3
    precision = {
        "default": "fixed<12,4>",
        "layers": {"rec": {"result": "fixed<6,0,RND,SAT>", "cell": "fixed<6,0,RND,SAT>"}},
    }
    compiled = nnfx.compile(model, precision=precision)
    float_values = run(model.graph, model.to_ir_inputs(X), intermediate=True)
    (row,) = [r for r in layer_rows(model, compiled, X, float_values) if r["op"] == "Recurrent"]
    assert row["type"].startswith("h fixed<6,0,RND,SAT>; c fixed<6,0,RND,SAT>; gates ")
    assert "(per step, 4 steps)" in row["type"]
    assert row["overflows"] == compiled.overflow_counts(X)["rec"] > 0


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("accum", "fixed<20,6>", "gate sums are exact (the compiler sizes them); remove its accum"),
        ("table_range", [-2, 2], "gate tables have fixed ranges"),
    ],
)
def test_settings_a_recurrent_layer_has_no_use_for_are_refused(rng, key, value, message):
    from nnfx.errors import PrecisionError

    model = recurrent_model(rng, "GRU")
    with pytest.raises(PrecisionError, match="layer 'rec'") as info:
        nnfx.compile(model, {"default": "fixed<12,4>", "layers": {"rec": {key: value}}})
    assert message in str(info.value)


@pytest.mark.parametrize(
    "extra,message",
    [
        ({5: np.ones((1, 1, 5), np.float32)}, "its initial_h is not constant zeros"),
        ({4: np.array([3], np.int32)}, "sequence_lens other than the full length 4"),
        ({7: np.zeros((1, 15), np.float32)}, "peephole weights P are not supported"),
    ],
)
def test_unsupported_inputs_are_refused_by_name(rng, extra, message):
    from onnx import numpy_helper

    model = recurrent_model(rng, "LSTM")
    rec = next(n for n in model.graph.node if n.op_type == "LSTM")
    inputs = list(rec.input) + [""] * 4
    for index, value in extra.items():
        inputs[index] = f"extra{index}"
        model.graph.initializer.append(numpy_helper.from_array(value, f"extra{index}"))
    del rec.input[:]
    rec.input.extend(inputs[: max(extra) + 1])
    with pytest.raises(UnsupportedOpError, match="node 'rec' .LSTM.") as info:
        nnfx.load(model)
    assert message in str(info.value)
