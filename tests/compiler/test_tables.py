"""Table entries and constant bounds are codes of their type under its own overflow mode, and
softmax is exact at every table width: the rules of docs/semantics.md ("Tables", "clip",
"Exactness at every width"), checked bit for bit in every engine (reference, fixed-point ONNX
on onnxruntime, csim with ac_fixed, csim-ap with ap_fixed).

The repros: an ELU table into ``fixed<7,1,RND_CONV,SAT_SYM>`` held ``-64`` (quantized with SAT),
a code the type never holds, so the reference gave -64 and both C-simulations -63; a clip
bound likewise; and a softmax with ``table_width: 62`` summed its exp codes and multiplied
them by ``1/sum`` in int64 in the reference, which overflowed.

At the end: a table's index spec for a range (``spec_for_range``).
"""

from __future__ import annotations

import shutil
from fractions import Fraction

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.compiler import tables
from nnfx.compiler.fixed import OVERFLOW, FixedType, quantize, to_raw
from nnfx.compiler.tables import spec_for_range
from nnfx.errors import NnfxError, PrecisionError
from tests.helpers import make_model
from tests.oracles import run_oracle

HAVE_GXX = shutil.which("g++") is not None
ENGINES = ["reference", "ort", "csim", "csim-ap"]


def predict_everywhere(compiled, X) -> dict:
    """Raw codes from every engine (the C-simulations only with g++); an ort refusal must be
    one sentence naming the layer, and then it is left out."""
    results = {}
    for engine in ENGINES:
        if engine.startswith("csim") and not HAVE_GXX:
            continue
        try:
            results[engine] = compiled.predict_raw(X, engine)
        except NnfxError as e:
            assert engine == "ort", f"{engine}: {e}"
            assert "\n" not in str(e)
            assert any(f"node '{n.name}'" in str(e) for n in compiled.graph.nodes), str(e)
    return results


def assert_all_equal(results: dict) -> dict:
    reference = results["reference"]
    for engine, raw in results.items():
        assert raw.keys() == reference.keys(), engine
        for name in reference:
            assert np.array_equal(raw[name], reference[name]), (engine, name, raw[name])
    return reference


# -- the rule, on the tables themselves (no engine) ---------------------------------------
@pytest.mark.parametrize("overflow", OVERFLOW)
@pytest.mark.parametrize("width,integer", [(1, 1), (7, 1), (12, -2), (62, 1)])
@pytest.mark.parametrize("kind", ["elu", "tanh", "sigmoid"])
def test_every_table_entry_is_a_code_of_its_type(kind, width, integer, overflow):
    """Quantizing an entry again with the type's own mode leaves it unchanged, and a value
    beyond the range clamps (SAT_SYM: to -max; SAT_ZERO and WRAP: to the range's end)."""
    out = FixedType(width, integer, kind != "sigmoid", "RND_CONV", overflow)
    spec = tables.spec_for_range(*tables.DEFAULT_RANGES[kind], 64)
    table = tables.activation_table(kind, spec, out, alpha=3.0)
    assert np.array_equal(quantize(table, out), table)
    raw = to_raw(table, out.frac)
    low = -out.raw_max if out.overflow == "SAT_SYM" and out.signed and width > 1 else out.raw_min
    assert raw.min() >= low and raw.max() <= out.raw_max
    if kind != "sigmoid" and width < 62:  # the most negative value reaches the clamp
        assert raw.min() == low
    if kind == "elu" and width == 62:  # -max keeps its 53 leading bits, cut toward zero
        assert raw.min() == (-(2**61) if overflow != "SAT_SYM" else -((2**61 - 1) >> 8 << 8))


def test_saturating_keeps_the_rounding_and_clamps():
    t = FixedType(8, 2, True, "TRN_ZERO", "SAT_SYM")
    assert tables.saturating(t) == t
    assert tables.saturating(t, "RND") == t.with_(rounding="RND")
    for mode in ("WRAP", "SAT", "SAT_ZERO"):
        assert tables.saturating(t.with_(overflow=mode)).overflow == "SAT"


# -- ELU and clip into SAT_SYM and SAT_ZERO types, every engine ----------------------------
def elu_clip_model():
    """ELU and a clip whose upper bound lies below the type (so that the bound is the result),
    once into a SAT_SYM and once into a SAT_ZERO type."""
    nodes, outputs = [], []
    for mode in ("sym", "zero"):
        nodes.append(helper.make_node("Elu", ["x"], [f"elu_{mode}"], name=f"elu_{mode}"))
        nodes.append(
            helper.make_node("Clip", ["x", "lo", "hi"], [f"clip_{mode}"], name=f"clip_{mode}")
        )
        outputs += [(f"elu_{mode}", ["N", 4]), (f"clip_{mode}", ["N", 4])]
    inits = {"lo": np.float32(-4.0), "hi": np.float32(-1.5)}
    return make_model(nodes, [("x", ["N", 4])], outputs, inits)


def test_elu_and_clip_into_sat_sym_and_sat_zero_types_agree_in_every_engine():
    sym, zero = "fixed<7,1,RND_CONV,SAT_SYM>", "fixed<7,1,RND_CONV,SAT_ZERO>"
    precision = {
        "default": "fixed<16,8>",
        "table_size": 16,
        "tensors": {
            "elu_sym": sym,
            "clip_sym": sym,
            "elu_zero": zero,
            "clip_zero": zero,
        },
    }
    compiled = nnfx.compile(nnfx.load(elu_clip_model()), precision)
    X = np.array([[-8.0, -6.0, -1.0, 0.5], [-0.25, -0.75, 0.984375, 3.0]])
    results = predict_everywhere(compiled, X)
    assert "ort" in results
    y = assert_all_equal(results)
    # the repro: -1 (beyond -max) is -63 under SAT_SYM, clamped to -64 under SAT_ZERO
    assert y["elu_sym"][0].tolist() == [-63, -63, -34, 32]
    assert y["elu_zero"][0].tolist() == [-64, -64, -34, 32]
    # clip's bound -1.5 is beyond both types: +-max under SAT_SYM, min under SAT_ZERO
    assert y["clip_sym"].tolist() == [[-63] * 4, [-63] * 4]
    assert y["clip_zero"].tolist() == [[-64] * 4, [-64] * 4]
    assert y["elu_sym"].min() >= -63


# -- softmax at table_width 62 ----------------------------------------------------------
def test_softmax_at_table_width_62_is_exact_in_every_engine():
    """The exp table is ufixed<62,1>: E[0] = 2**61, so a sum of five codes and each product
    with 1/sum (124 bits) leave int64; the reference computes them on Python ints."""
    model = make_model(
        [helper.make_node("Softmax", ["x"], ["y"], name="softmax", axis=-1)],
        [("x", ["N", 5])],
        [("y", ["N", 5])],
    )
    precision = {
        "default": "fixed<16,6>",
        "table_width": 62,
        "table_size": 64,
        "tensors": {"y": "ufixed<20,1,RND,SAT>"},
    }
    compiled = nnfx.compile(nnfx.load(model), precision)
    assert compiled.graph.nodes[0].precision.table_type.width == 62
    X = np.array(
        [
            [0.0, 0.0, 0.0, 0.0, 0.0],  # sum 5 * 2**61: beyond int64
            [1.0, 0.5, -0.25, 3.0, 2.0],
            [0.01, 0.02, 0.03, 0.04, 0.05],
            [-20.0, 31.0, 31.0, -32.0, 30.5],
        ]
    )
    results = predict_everywhere(compiled, X)
    y = assert_all_equal(results)["y"]
    # against the exact rational oracle of docs/semantics.md
    raw_inputs = compiled.quantize_inputs(X)
    expected = run_oracle(compiled.graph, raw_inputs)["y"]
    scale = Fraction(2) ** compiled.graph.tensors["y"].dtype.frac
    want = np.vectorize(lambda v: int(v * scale), otypes=[object])(expected).astype(np.int64)
    assert np.array_equal(y, want)


def test_table_specs():
    spec = spec_for_range(-8.0, 8.0, 1024)
    assert (spec.shift, spec.start, spec.low, spec.high) == (6, -512, -8.0, 8.0)
    odd = spec_for_range(-3.0, 5.0, 100 * 0 + 128)  # step 1/16
    assert odd.low <= -3.0 and odd.high >= 5.0
    with pytest.raises(PrecisionError, match="power of two"):
        spec_for_range(0, 1, 1000)
