"""Quantization from standard ONNX ops: rounding, overflow, alignment and table indices on
exact float64 codes, each the graph form of a rule in :mod:`nnfx.compiler.fixed`; and the
bits a type's codes need, which the exactness checks use."""

from __future__ import annotations

from onnx import TensorProto

from nnfx.backends.onnx.builder import Builder
from nnfx.compiler.fixed import OVERFLOW_RULES, ROUNDING_RULES, FixedType


def quantize(b: Builder, raw: str, frac: int, t: FixedType) -> str:
    """ONNX ops computing :func:`nnfx.compiler.fixed.requantize` on exact float64 codes
    (``|raw| <= 2**52``, which the export proves per layer)."""
    shift = frac - t.frac
    if shift < 0 and t.overflow == "WRAP":  # as requantize: only the low width - k bits survive
        k = -shift
        if k >= t.width:
            return b.op("Mul", [raw, b.const(0.0, "zero")], "wrap")
        period = b.const(2.0 ** (t.width - k), "period")
        turns = b.op("Floor", [b.op("Mul", [raw, b.const(2.0 ** (k - t.width), "inverse")])])
        raw = b.op("Sub", [raw, b.op("Mul", [turns, period])], "low_bits")  # in [0, 2**(W-k))
    q = raw if shift == 0 else b.op("Mul", [raw, b.const(2.0**-shift, "scale")], "rescale")
    if shift > 0:
        q = _round(b, q, t.rounding)
    return _overflow(b, q, t)


def _round(b: Builder, q: str, mode: str) -> str:
    """Round exactly, by the graph form of ``mode``'s rule in
    :data:`nnfx.compiler.fixed.ROUNDING_RULES`: ``f = floor(q)`` and ``r = q - f`` are exact
    in float64, and the decision compares ``r`` with one half (no ``q + 0.5`` that could
    itself round)."""
    rule = ROUNDING_RULES[mode]
    if rule.tie == "always" and not rule.nearest:  # CEIL: up on any non-zero rest, one op
        return b.op("Ceil", [q], mode.lower())
    floor = b.op("Floor", [q], "floor" if mode != "TRN" else "trn")
    if rule.tie == "never" and not rule.nearest:  # TRN: floor
        return floor
    if rule.tie == "odd":  # ties to even: onnx's Round is exactly this rule, in one op
        return b.op("Round", [q], mode.lower())
    when = {
        "always": None,
        "never": None,
        "negative": lambda: b.op("Less", [q, b.const(0.0, "zero")]),
        "positive": lambda: b.op("Greater", [q, b.const(0.0, "zero")]),
    }[rule.tie]
    if rule.nearest:
        rest = b.op("Sub", [q, floor], "rest")
        half = b.const(0.5, "half")
        above = b.op("Greater", [rest, half])
        if rule.tie == "never":
            take_up = above
        else:
            tie = b.op("Equal", [rest, half])
            take_up = b.op("Or", [above, tie if when is None else b.op("And", [tie, when()])])
    else:  # a directed mode: up on any non-zero rest where the condition holds
        take_up = b.op("And", [when(), b.op("Greater", [q, floor])])
    up = b.op("Add", [floor, b.const(1.0, "one")], "up")
    return b.op("Where", [take_up, up, floor], mode.lower())


def _overflow(b: Builder, q: str, t: FixedType, long_wrap: bool = False) -> str:
    """``t.overflow`` on rounded integers ``q``. WRAP computes ``q - span * floor((q - min) /
    span)``, exact while ``q - min`` is: ``|q| <= 2**52`` (a layer's codes), or ``q`` in
    ``[0, 2**W)`` a multiple of 2 (quantize's scaled-up case). ``long_wrap`` takes two more
    steps that are exact for any integer ``q`` below ``2**53`` in magnitude (no Where: it is
    slow on onnxruntime)."""
    lo, hi = float(t.raw_min), float(t.raw_max)
    rule = OVERFLOW_RULES[t.overflow]
    if rule == "wrap":
        span = float(2**t.width)
        if long_wrap:  # r = q mod span in [0, span), then r - span where r >= 2**(W-1)
            turns = b.op("Floor", [b.op("Mul", [q, b.const(1.0 / span, "inverse_span")])])
            r = b.op("Sub", [q, b.op("Mul", [turns, b.const(span, "span")])], "low_bits")
            if not t.signed:
                return r
            upper = b.op("Floor", [b.op("Mul", [r, b.const(2.0 / span, "inverse_half")])])
            return b.op("Sub", [r, b.op("Mul", [upper, b.const(span, "span")])], "wrap")
        shifted = b.op("Sub", [q, b.const(lo, "min")]) if lo else q
        turns = b.op("Floor", [b.op("Mul", [shifted, b.const(1.0 / span, "inverse_span")])])
        return b.op("Sub", [q, b.op("Mul", [turns, b.const(span, "span")])], "wrap")
    if rule == "zero":
        out = b.op(
            "Or", [b.op("Less", [q, b.const(lo, "min")]), b.op("Greater", [q, b.const(hi, "max")])]
        )
        return b.op("Where", [out, b.const(0.0, "zero"), q], "sat_zero")
    low, high = (float(c) for c in t.clamp_range())
    return b.op("Clip", [q, b.const(low, "min"), b.const(high, "max")], "sat")


def _align(b: Builder, raw: str, frac: int, target: int) -> str:
    return raw if target == frac else b.op("Mul", [raw, b.const(2.0 ** (target - frac), "align")])


def table_index(b: Builder, raw: str, frac: int, spec) -> str:
    scaled = b.op("Floor", [b.op("Mul", [raw, b.const(2.0 ** (spec.shift - frac), "index_scale")])])
    shifted = b.op("Sub", [scaled, b.const(float(spec.start), "start")])
    clipped = b.op("Clip", [shifted, b.const(0.0, "first"), b.const(float(spec.size - 1), "last")])
    return b.op("Cast", [clipped], "index", to=TensorProto.INT64)


def _quantize_input(b: Builder, x: str, t: FixedType) -> str:
    """:func:`nnfx.compiler.fixed.quantize_raw` from standard ops. ``x * 2**frac`` is exact
    (or +-inf, which the SAT modes clamp like quantize_raw). Under WRAP, ``x`` is first reduced
    by ``Mod(x, 2**integer, fmod=1)``: exact, of the sign of ``x``, and congruent to it modulo
    one period of the type, so rounding (every mode) and wrapping give the same code while the
    scaled value stays below ``2**width`` (a huge ``x`` would leave float64's exact integers).
    NaN, and infinity under WRAP, are refused before they reach the model (docs/semantics.md)."""
    if t.overflow == "WRAP":
        x = b.op("Mod", [x, b.const(2.0 ** (t.width - t.frac), "period")], "reduced", fmod=1)
    scaled = b.op("Mul", [x, b.const(2.0**t.frac, "scale")])  # exact
    return _overflow(b, _round(b, scaled, t.rounding), t, long_wrap=t.width > 52)


def _bits(t: FixedType) -> int:
    return t.width + (0 if t.signed else 1)


def _mag(t: FixedType) -> int:
    """The exponent ``e`` with ``|code| <= 2**e`` for every code of ``t``; a value bounded by
    ``2**e`` needs ``e + 1`` bits with its sign."""
    return t.width - 1 if t.signed else t.width
