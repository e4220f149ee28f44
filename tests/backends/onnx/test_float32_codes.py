"""The fixed-point ONNX graph in float32 where the export proves it exact
(nnfx/backends/onnx/fixed_model.py): at the edge, Dense sums whose every partial sum reaches
just below 2**23 run in float32 and equal the reference bit for bit; one bit more and that
node falls back to float64, still bit-exact; the choice is in the model's metadata."""

from __future__ import annotations

import numpy as np
import pytest

import nnfx
from nnfx.backends.onnx import FLOAT32_BITS, codes_dtype, to_fixed_onnx
from nnfx.compiler.fixed import OVERFLOW, ROUNDING
from tests.helpers import make_model, raw_equal
from tests.op_models import models, node


def _dense(rng, n: int, t: str, w_max: float, result: str | None = None):
    signs = rng.choice([-1.0, 1.0], (n, 3))
    model = make_model(
        [node("MatMul", ["x", "W"], ["y"])],
        [("x", ["N", n])],
        [("y", None)],
        {"W": (signs * w_max).astype(np.float32)},
    )
    precision = t if result is None else {"default": t, "layers": {"y": {"result": result}}}
    return nnfx.compile(model, precision), signs


def _dense_at(rng, accum_width: int):
    """A Dense whose weights are all +-max of a random type (random modes) and whose
    accumulator is ``accum_width`` bits wide, with inputs at the type's extremes, signed like
    the weights, so that the sums (and every partial sum, in any order) reach its bound."""
    rounding, overflow = str(rng.choice(ROUNDING)), str(rng.choice(OVERFLOW))
    while True:
        width = int(rng.integers(6, 12))
        integer = int(rng.integers(1, width))
        t = f"fixed<{width},{integer},{rounding},{overflow}>"
        w_max = (2 ** (width - 1) - 1) * 2.0 ** (integer - width)
        lo, hi = 1, 2 ** (accum_width - 2 * width + 3)  # the width grows with n: bisect
        while lo < hi:
            n = (lo + hi) // 2
            compiled, signs = _dense(rng, n, t, w_max)
            if compiled.graph.nodes[0].precision.accum.width < accum_width:
                lo = n + 1
            else:
                hi = n
        compiled, signs = _dense(rng, lo, t, w_max)
        accum = compiled.graph.nodes[0].precision.accum
        if accum.width == accum_width:  # the output keeps every bit of the sums
            result = f"fixed<{accum.width},{accum.integer},{rounding},{overflow}>"
            compiled, signs = _dense(rng, lo, t, w_max, result)
            break
    low = -(2.0 ** (integer - 1))  # the type's minimum: the largest magnitude
    X = rng.standard_normal((64, lo)) * 2.0**integer
    X[:3] = low * -signs.T  # sums at -bound: every product at its most negative
    X[3:6] = low * signs.T  # ... and at +bound
    high = (2 ** (width - 1) - 1) * 2.0 ** (integer - width)  # odd codes: odd sums near it
    X[6:9] = high * signs.T
    X[9:12] = -high * signs.T
    return compiled, X, lo * (2 ** (width - 1) - 1) * 2 ** (width - 1)  # |sum| at the bound


@pytest.mark.parametrize("seed", range(4))
def test_sums_just_below_2_24_run_in_float32_bit_exact(seed):
    rng = np.random.default_rng(900 + seed)
    compiled, X, reached = _dense_at(rng, FLOAT32_BITS)
    assert 2**22 <= reached < 2**23  # the sums' codes need all 24 bits
    model = compiled.fixed_onnx()
    assert codes_dtype(model) == "float32"
    assert compiled.ort_precision == "float32"
    assert raw_equal(compiled.predict_raw(X, "ort"), compiled.predict_raw(X, "reference"))


@pytest.mark.parametrize("seed", range(4))
def test_one_bit_more_falls_back_to_float64_bit_exact(seed):
    rng = np.random.default_rng(950 + seed)
    compiled, X, reached = _dense_at(rng, FLOAT32_BITS + 1)
    assert 2**23 <= reached < 2**24
    assert codes_dtype(compiled.fixed_onnx()) == "float64"
    assert raw_equal(compiled.predict_raw(X, "ort"), compiled.predict_raw(X, "reference"))
    with pytest.raises(nnfx.PrecisionError, match="not exact in float32"):
        to_fixed_onnx(compiled.graph, precision="float32")


def test_the_float64_graph_can_be_forced_and_gives_the_same_codes(rng):
    compiled = nnfx.compile(dict(models(rng))["conv"], "fixed<8,3,RND_CONV,SAT>")
    auto, forced = to_fixed_onnx(compiled.graph), to_fixed_onnx(compiled.graph, precision="float64")
    assert codes_dtype(auto) == "float32" and codes_dtype(forced) == "float64"
    meta = {p.key: p.value for p in auto.metadata_props}
    assert int(meta["nnfx.codes_bits"]) <= FLOAT32_BITS
    from nnfx.runtime.ort import run

    X = np.round(rng.standard_normal((32, 2, 5, 5)) * 64) / 16
    assert np.array_equal(run(auto, X), run(forced, X))
    with pytest.raises(nnfx.ConfigError, match="unknown ONNX precision 'half'"):
        to_fixed_onnx(compiled.graph, precision="half")


def test_a_wide_softmax_stays_float64_while_the_dense_runs_in_float32(rng):
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    model = make_model(
        [node("Gemm", ["x", "W", "B"], ["h"]), node("Softmax", ["h"], ["y"])],
        [("x", ["N", 6])],
        [("y", None)],
        {"W": f(6, 4), "B": f(4)},
    )
    compiled = nnfx.compile(model, "fixed<8,3>")  # its softmax tables are 18 bits wide
    meta = {p.key: p.value for p in compiled.fixed_onnx().metadata_props}
    assert meta["nnfx.codes_dtype"] == "mixed" and compiled.ort_precision == "mixed"
    assert meta["nnfx.float32_nodes"] == compiled.graph.nodes[0].name
    X = rng.standard_normal((64, 6)) * 4
    assert raw_equal(compiled.predict_raw(X, "ort"), compiled.predict_raw(X, "reference"))


NARROW = ["dense", "conv", "conv_grouped", "conv_separable", "batchnorm_add_transpose", "sub_mul"]


@pytest.mark.parametrize("name", NARROW)
def test_narrow_random_types_run_in_float32_bit_exact(name):
    """Every layer's types random and narrow (every rounding and overflow mode): the chosen
    graph (float32 nodes, RND as floor(q + 1/2), left-out overflows) equals the reference bit
    for bit, and so does the all-float32 graph wherever the export proves it exact."""
    from nnfx.runtime.ort import run

    rng = np.random.default_rng(4000 + NARROW.index(name))
    channels = 4 if "grouped" in name or "separable" in name else 2
    shape = (6,) if name in ("dense", "sub_mul") else (channels, 5, 5)
    all_float32 = 0
    for _ in range(6):
        loaded = nnfx.load(dict(models(rng))[name])
        layers = {
            n.name: {k: _narrow(rng) for k in ("result", "weight", "bias")}
            for n in loaded.graph.nodes
        }
        compiled = nnfx.compile(loaded, precision={"default": _narrow(rng), "layers": layers})
        X = rng.standard_normal((48, *shape)) * 4
        X[:8] = np.round(X[:8] * 8) / 8  # ties for every rounding mode
        assert raw_equal(compiled.predict_raw(X, "ort"), compiled.predict_raw(X, "reference"))
        try:
            model32 = to_fixed_onnx(compiled.graph, precision="float32")
        except nnfx.PrecisionError:
            continue
        all_float32 += 1
        assert codes_dtype(model32) == "float32"
        assert np.array_equal(run(model32, X), compiled.predict(X))
    assert all_float32 >= 2


def _narrow(rng) -> str:
    w = int(rng.integers(3, 9))
    return (
        f"fixed<{w},{int(rng.integers(-1, w // 2 + 3))},"
        f"{rng.choice(ROUNDING)},{rng.choice(OVERFLOW)}>"
    )
