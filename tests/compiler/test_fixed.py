"""FixedType and quantize: parsing, and bit-exactness against the real ap_fixed (g++) and
against an independent slow oracle in exact rational arithmetic."""

from __future__ import annotations

import math
import os
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfx.compiler.fixed import (
    OVERFLOW,
    ROUNDING,
    FixedType,
    quantize,
    quantize_raw,
    requantize,
    to_raw,
)
from nnfx.errors import PrecisionError
from tests.oracles import oracle

# -- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("fixed<16,6>", FixedType(16, 6)),
        ("ufixed<8,0>", FixedType(8, 0, signed=False)),
        ("fixed<16,6,RND,SAT>", FixedType(16, 6, True, "RND", "SAT")),
        ("ap_fixed<16,6,AP_RND_CONV,AP_SAT_SYM>", FixedType(16, 6, True, "RND_CONV", "SAT_SYM")),
        ("ap_ufixed<10, -2, AP_TRN_ZERO>", FixedType(10, -2, False, "TRN_ZERO")),
        ("int<8>", FixedType(8, 8)),
        ("ap_uint<4>", FixedType(4, 4, signed=False)),
        (" fixed < 20 , 24 > ", FixedType(20, 24)),
    ],
)
def test_parse(text, expected):
    assert FixedType.parse(text) == expected
    assert FixedType.parse(str(expected)) == expected
    assert FixedType.parse(expected.ap_type()) == expected


@pytest.mark.parametrize(
    "text,message",
    [
        ("fixed<16>", "width, integer bits"),
        ("float<16,6>", "cannot parse"),
        ("fixed<0,0>", "from 1 to 62"),
        ("fixed<63,1>", "from 1 to 62"),
        ("fixed<16,6,ROUND>", "unknown rounding mode 'ROUND'"),
        ("fixed<16,6,RND,CLAMP>", "unknown overflow mode 'CLAMP'"),
        ("fixed<a,b>", "cannot parse"),
        ("fixed<16,300>", "within"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(PrecisionError, match=message):
        FixedType.parse(text)


def test_nnfx_own_rounding_modes_parse_without_a_vitis_spelling():
    """CEIL and UP (QONNX's modes, which ap_fixed lacks) are nnfx's own: written without AP_,
    printed back the same, and refused where a Vitis spelling is asked for."""
    t = FixedType.parse("fixed<8,2,CEIL,SAT>")
    assert t == FixedType(8, 2, True, "CEIL", "SAT")
    assert FixedType.parse(str(t)) == t
    assert FixedType.parse("ufixed<6,1,up>") == FixedType(6, 1, False, "UP")
    with pytest.raises(PrecisionError, match="AP_CEIL is not a Vitis mode"):
        FixedType.parse("ap_fixed<8,2,AP_CEIL,AP_SAT>")
    with pytest.raises(PrecisionError, match="has no Vitis spelling"):
        FixedType(8, 2, True, "UP").ap_type()


def test_directed_modes_by_hand():
    """CEIL goes toward plus infinity, UP away from zero, on both sides of zero and at exact
    codes (nothing to round), through quantize and requantize alike."""
    values = np.array([1.25, 1.0, -1.25, -1.0, 0.0, 0.125, -0.125, 3.5, -3.5])
    ceil = [2, 1, -1, -1, 0, 1, 0, 4, -3]
    up = [2, 1, -2, -1, 0, 1, -1, 4, -4]
    for mode, expected in (("CEIL", ceil), ("UP", up)):
        t = FixedType(8, 8, True, mode)
        assert quantize_raw(values, t).tolist() == expected
        assert requantize(to_raw(values, 3), 3, t).tolist() == expected
    # dropped bits far below the LSB: the int64 shortcut for shifts of 63 and more
    raw = np.array([5, -5, 0], dtype=np.int64)
    assert requantize(raw, 70, FixedType(8, 8, True, "CEIL")).tolist() == [1, 0, 0]
    assert requantize(raw, 70, FixedType(8, 8, True, "UP")).tolist() == [1, -1, 0]


def test_range_and_step():
    t = FixedType(8, 3)
    assert (t.min, t.max, t.step, t.frac) == (-4.0, 3.96875, 0.03125, 5)
    u = FixedType(8, 10, signed=False)  # integer bits above the width: steps of 4
    assert (u.min, u.max, u.step) == (0.0, 1020.0, 4.0)


# -- against the exact rational oracle (tests/oracles.py) ---------------------------------

types = st.builds(
    FixedType,
    width=st.integers(1, 40),
    integer=st.integers(-6, 46),
    signed=st.booleans(),
    rounding=st.sampled_from(ROUNDING),
    overflow=st.sampled_from(OVERFLOW),
)


@settings(max_examples=400, deadline=None)
@given(t=types, k=st.integers(-(2**50), 2**50), shift=st.integers(-8, 60))
def test_quantize_equals_the_rational_oracle(t, k, shift):
    value = math.ldexp(k, -shift)  # exact dyadic value (|k| < 2**53)
    assert int(quantize_raw([value], t)[0]) == oracle(Fraction(value), t)


@settings(max_examples=400, deadline=None)
@given(t=types, raw=st.integers(-(2**61), 2**61 - 1), frac=st.integers(-10, 80))
def test_requantize_equals_the_rational_oracle(t, raw, frac):
    expected = oracle(Fraction(raw) / Fraction(2) ** frac, t)
    assert int(requantize(np.array([raw]), frac, t)[0]) == expected


def test_quantize_rejects_nan():
    with pytest.raises(PrecisionError, match="NaN"):
        quantize([np.nan], FixedType(8, 4))


def test_to_raw_round_trip(rng):
    t = FixedType(20, 5)
    values = quantize(rng.standard_normal(100) * 10, t)
    assert np.array_equal(to_raw(values, t.frac), quantize_raw(values, t))


# -- the real ap_fixed --------------------------------------------------------------------

ALL_MODES = [(r, o) for r in ROUNDING for o in OVERFLOW]
AP_TYPES = [
    FixedType(w, w // 2, s, r, o) for w in range(1, 33) for s in (True, False) for r, o in ALL_MODES
]
# integer bits below zero and above the width, which ap_fixed allows
AP_TYPES += [
    FixedType(w, i, s, r, o)
    for w, i in ((5, -2), (6, 9), (12, 0), (16, 16), (3, 1))
    for s in (True, False)
    for r, o in ALL_MODES
]
VALUES_PER_TYPE = 384


def values_for(t: FixedType, rng: np.random.Generator) -> np.ndarray:
    """Ties at the dropped bit, values on and near the grid, the extremes and beyond, far
    out of range, and random values with extra fractional bits."""
    step = t.step
    span = t.raw_max - t.raw_min + 1
    ks = rng.integers(t.raw_min - span // 2 - 3, t.raw_max + span // 2 + 4, 96)
    parts = [
        (ks + 0.5) * step,  # exact ties
        ks * step,  # on the grid
        (ks + rng.choice([0.25, 0.75, 0.125, 0.875, 1 / 64], 96)) * step,
        np.array(
            [
                t.min,
                t.max,
                t.min - step,
                t.max + step,
                t.min - step / 2,
                t.max + step / 2,
                0.0,
                -0.0,
                step / 2,
                -step / 2,
                step / 4,
                -step / 4,
                -step,
                step,
                2.0**40,
                -(2.0**40),
                3.0 * 2**35,
                -(3.0 * 2**35),
            ]
        ),
        np.ldexp(rng.integers(-(2**30), 2**30, 78).astype(float), -(t.frac + 8)),
    ]
    values = np.concatenate(parts)
    return np.resize(values, VALUES_PER_TYPE)


@pytest.fixture(scope="session")
def ap_oracle():
    """Built once into $NNFX_CACHE_DIR (tests/conftest.py sets it), not pytest's cache plugin,
    so a warm run with ``-p no:cacheprovider`` reuses it too."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed: the ap_fixed oracle needs it")
    from tests.apfixed_oracle import ApFixedOracle

    return ApFixedOracle(AP_TYPES, Path(os.environ["NNFX_CACHE_DIR"]) / "ap-fixed-oracle")


def test_quantize_is_bit_exact_with_ap_fixed(ap_oracle):
    rng = np.random.default_rng(2024)
    values = {t: values_for(t, rng) for t in AP_TYPES}
    expected = ap_oracle.codes(values)
    failures = []
    for t in AP_TYPES:
        ours = quantize_raw(values[t], t)
        if not np.array_equal(ours, expected[t]):
            bad = np.flatnonzero(ours != expected[t])[0]
            failures.append(
                f"{t}: {values[t][bad]!r} -> ours {ours[bad]}, ap_fixed {expected[t][bad]}"
            )
    assert not failures, f"{len(failures)} types differ, e.g. " + "; ".join(failures[:5])


def test_requantize_is_bit_exact_with_ap_fixed(ap_oracle):
    """The integer path (what the fixed reference uses) on the same oracle."""
    rng = np.random.default_rng(7)
    values = {t: values_for(t, rng) for t in AP_TYPES}
    expected = ap_oracle.codes(values)
    for t in AP_TYPES:
        frac = t.frac + 12
        fits = np.abs(np.ldexp(values[t], frac)) < 2.0**62  # raw codes must fit int64
        raw = to_raw(values[t][fits], frac)
        assert np.array_equal(requantize(raw, frac, t), expected[t][fits]), str(t)
