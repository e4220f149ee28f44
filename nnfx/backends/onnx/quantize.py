"""Quantization from standard ONNX ops: rounding, overflow, alignment and table indices on
exact float64 codes, each the graph form of a rule in :mod:`nnfx.compiler.fixed`; and the
bits a type's codes need, which the exactness checks use."""

from __future__ import annotations

from onnx import TensorProto

from nnfx.backends.onnx.builder import Builder
from nnfx.compiler.fixed import OVERFLOW_RULES, ROUNDING_RULES, FixedType


def quantize(
    b: Builder,
    raw: str,
    frac: int,
    t: FixedType,
    bounds: tuple[int, int] | None = None,
    scaled: bool = False,
    halved: bool = False,
) -> str:
    """ONNX ops computing :func:`nnfx.compiler.fixed.requantize` on exact float64 codes
    (``|raw| <= 2**52``, which the export proves per layer; float32 codes below ``2**24``).

    ``bounds``: proven ``lo <= raw <= hi`` (from types and weights, never from data); the
    overflow step is left out where the result provably lies in ``t``'s codes (it could not
    change them). ``scaled``: ``raw`` already holds ``raw * 2**(t.frac - frac)`` (a writer
    folded the power of two into its constants), so only the rounding and overflow remain;
    ``halved``: it also holds the ``1/2`` of RND, where :func:`half_exact` allowed it. RND is
    ``floor(q + 1/2)`` wherever ``half_exact`` proves the sum exact."""
    shift = frac - t.frac
    if scaled and shift < 0 and t.overflow == "WRAP":
        raise ValueError("a scaled-up WRAP quantization cannot be pre-scaled")
    if shift < 0 and t.overflow == "WRAP" and not _fits(bounds, shift, t):
        k = -shift  # as requantize: only the low width - k bits survive
        if k >= t.width:
            return b.op("Mul", [raw, b.const(0.0, "zero")], "wrap")
        period = b.const(2.0 ** (t.width - k), "period")
        turns = b.op("Floor", [b.op("Mul", [raw, b.const(2.0 ** (k - t.width), "inverse")])])
        raw = b.op("Sub", [raw, b.op("Mul", [turns, period])], "low_bits")  # in [0, 2**(W-k))
    if shift == 0 or scaled:
        q = raw
    else:
        q = b.op("Mul", [raw, b.const(2.0**-shift, "scale")], "rescale")
    if shift > 0 and halved:
        q = b.op("Floor", [q], "rnd")  # the writer added the half: floor(q + 1/2) is RND
    elif shift > 0 and half_exact(b, t, bounds, shift):
        q = b.op("Floor", [b.op("Add", [q, b.const(0.5, "half")], "plus_half")], "rnd")
    elif shift > 0:
        q = _round(b, q, t.rounding)
    return q if _fits(bounds, shift, t) else _overflow(b, q, t)


def half_exact(b: Builder, t: FixedType, bounds: tuple[int, int] | None, shift: int) -> bool:
    """True when ``t`` rounds RND (nearest, ties up: ``floor(q + 1/2)``) and ``q + 1/2`` is
    exact in the codes' element type: ``q = raw * 2**-shift`` with ``raw`` in ``bounds``,
    so ``q + 1/2 = (raw + 2**(shift-1)) * 2**-shift``, an integer times a power of two, exact
    while that integer is at most ``2**24`` (float32) or ``2**53`` (float64) in magnitude."""
    if t.rounding != "RND" or shift <= 0 or bounds is None:
        return False
    limit = 53 if b.dtype == TensorProto.DOUBLE else 24
    return max(abs(bounds[0]), abs(bounds[1])) + (1 << (shift - 1)) <= 1 << limit


def _fits(bounds: tuple[int, int] | None, shift: int, t: FixedType) -> bool:
    """True when codes in ``bounds``, shifted right by ``shift`` and rounded (any mode: the
    result lies between the floor of the low end and the ceiling of the high end), are codes
    of ``t`` that no overflow mode changes."""
    if bounds is None:
        return False
    lo, hi = bounds
    if shift > 0:
        lo, hi = lo >> shift, -((-hi) >> shift)
    else:
        lo, hi = lo << -shift, hi << -shift
    low, high = t.clamp_range()
    return max(t.raw_min, low) <= lo and hi <= min(t.raw_max, high)


def type_bounds(t: FixedType) -> tuple[int, int]:
    """The codes of ``t``, as ``quantize``'s ``bounds``."""
    return t.raw_min, t.raw_max


def product_bounds(a: tuple[int, int], c: tuple[int, int]) -> tuple[int, int]:
    """The bounds of ``x * y`` for ``x`` in ``a`` and ``y`` in ``c``."""
    corners = [x * y for x in a for y in c]
    return min(corners), max(corners)


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
    if rule.nearest and rule.tie in ("always", "never"):
        # RND: f + floor(2r) (up where r >= 1/2) = floor(2q) - floor(q); RND_MIN_INF the same
        # with ceilings (down where the rest below the ceiling is >= 1/2). 2q is exact, the
        # floors are, and so is their difference: an integer no larger than |q| + 1 (or q
        # itself where q is already an integer); no Where, which is slow on onnxruntime
        op = "Floor" if rule.tie == "always" else "Ceil"
        double = b.op("Mul", [q, b.const(2.0, "two")], "double")
        return b.op("Sub", [b.op(op, [double]), b.op(op, [q])], mode.lower())
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
    (or +-inf, which the SAT modes clamp like quantize_raw: the scaled value is first clipped
    to ``+-2**W``, beyond every code, so that no rounding step meets an infinity). Under WRAP,
    ``x`` is first reduced modulo one period ``P = 2**integer`` of the type, exactly, so
    rounding (every mode) and wrapping give the same code while the scaled value stays below
    ``2**width`` (a huge ``x`` would leave float64's exact integers): see :func:`_reduce`.
    NaN, and infinity under WRAP, are refused before they reach the model
    (docs/semantics.md)."""
    if t.overflow == "WRAP":
        x = _reduce(b, x, t.width - t.frac, ROUNDING_RULES[t.rounding].tie)
    scaled = b.op("Mul", [x, b.const(2.0**t.frac, "scale")])  # exact
    if t.overflow != "WRAP":
        edge = 2.0**t.width
        scaled = b.op("Clip", [scaled, b.const(-edge, "below"), b.const(edge, "above")], "finite")
    return _overflow(b, _round(b, scaled, t.rounding), t, long_wrap=t.width > 52)


def tick_wrap_exact(
    b: Builder,
    t: FixedType,
    largest: int,
    shift: int,
    halved: bool,
    bounds: tuple[int, int] | None,
) -> bool:
    """True where :func:`tick_wrap` may write a scaled Dense or Conv's TRN (or halved RND)
    and signed WRAP: sums ``v = m * 2**-shift`` with ``|m| <= largest`` (``shift >= 0``),
    the half (RND) and the tick ``2**-(shift + 1)`` added with the bias. ``v + tick`` is then
    an integer in units of ``2**-(shift + 1)`` below ``2**p`` (``p`` the mantissa: 53 or
    24), so exact, and every partial sum too; the codes it rounds to are not proved inside
    ``t`` (else no wrap is written at all)."""
    if not b.short_forms or t.overflow != "WRAP" or not t.signed or shift < 0:
        return False
    if _fits(bounds, shift, t):
        return False
    if t.rounding != "TRN" and not halved:
        return False
    p = 53 if b.dtype == TensorProto.DOUBLE else 24
    units = 2 * largest + (1 << shift if halved else 0) + 1  # in units of 2**-(shift + 1)
    return units < 1 << p and units < 1 << (p - 1 + shift + t.width)


def tick_wrap(b: Builder, v: str, t: FixedType) -> str:
    """``wrap(floor(v))`` for ``v`` off every integer by the tick (:func:`tick_wrap_exact`),
    in four ops: ``R = (v + C) - C`` with ``C = 3 * 2**(p - 2 + W)`` (``p`` the mantissa) is
    ``v`` rounded to the nearest multiple of ``2**W`` (the float grid's spacing on
    ``[2**(p-1+W), 2**(p+W))``, which ``v + C`` stays in for ``|v| < 2**(p-2+W)``), exact by
    Sterbenz, and never a tie: a tie would be an odd multiple of ``2**(W-1)``, an integer,
    which ``v`` is not. ``u = v - R`` lies strictly within ``(-2**(W-1), 2**(W-1))``, exact
    (multiples of the tick's unit, smaller than ``v``), and ``floor(u) = floor(v) - R`` is the
    signed wrap of ``floor(v)``: congruent modulo ``2**W`` and in ``[-2**(W-1), 2**(W-1))``."""
    p = 53 if b.dtype == TensorProto.DOUBLE else 24
    magic = b.const(3.0 * 2.0 ** (p - 2 + t.width), "magic")
    nearest = b.op("Sub", [b.op("Add", [v, magic], "plus_magic"), magic], "nearest_period")
    return b.op("Floor", [b.op("Sub", [v, nearest], "wrap")], "trn")


def _reduce(b: Builder, x: str, integer: int, tie: str) -> str:
    """``x - P * Round(x * 2**-integer)``, ``P = 2**integer``: congruent to ``x`` modulo
    ``P``, in ``[-P/2, P/2]``, and exact for every finite float64 ``x`` where ``integer >= 0``
    (``Round`` is round-half-even, one cheap op where ``Mod`` is slow on onnxruntime).
    ``t = x * 2**-integer`` is exact unless subnormal, and then ``|t| < 1/2`` rounds to ``n = 0``
    whatever bits it lost, and ``x - 0 = x``. Otherwise ``n = Round(t)`` is an integer and
    ``n * P`` is exact; ``n = 0`` gives ``x``; for ``n != 0``, ``|x| >= P/2``: where
    ``ulp(x) <= P``, ``x`` and ``n * P`` are multiples of ``ulp(x)`` and so is their difference,
    of magnitude at most ``P/2 <= |x|``, so fewer than 53 significant bits: representable;
    where ``ulp(x) > P``, ``x`` is a multiple of ``2P``, ``t`` an integer, ``n = t`` and the
    result 0. The result may differ in sign from ``x``: it serves the rounding modes that
    commute with adding a multiple of ``2**W`` to the scaled value (``tie`` of ``never``,
    ``always`` or ``odd``: ``2**W`` is even); the modes that look at the sign (TRN_ZERO,
    RND_ZERO, RND_INF, UP) take ``Mod(fmod=1)`` (exact, of the sign of ``x``, below ``P`` in
    magnitude), as does a negative ``integer`` (``x * 2**-integer`` could overflow) and
    ``short_forms`` off (the form before nnfx issue #16, kept for comparison)."""
    period = b.const(2.0**integer, "period")
    if integer < 0 or not b.short_forms or tie not in ("never", "always", "odd"):
        return b.op("Mod", [x, period], "reduced", fmod=1)
    turns = b.op("Round", [b.op("Mul", [x, b.const(2.0**-integer, "inverse_period")])], "turns")
    return b.op("Sub", [x, b.op("Mul", [turns, period])], "reduced")


def _bits(t: FixedType) -> int:
    return t.width + (0 if t.signed else 1)


def _mag(t: FixedType) -> int:
    """The exponent ``e`` with ``|code| <= 2**e`` for every code of ``t``; a value bounded by
    ``2**e`` needs ``e + 1`` bits with its sign."""
    return t.width - 1 if t.signed else t.width
