"""Fixed-point types and quantization: the arithmetic's single source of truth.

``FixedType(width, integer, signed, rounding, overflow)`` follows Vitis HLS ``ap_fixed`` /
``ap_ufixed`` exactly. A value of the type is an integer ``raw`` scaled by ``2**-frac`` with
``frac = width - integer``; ``integer`` counts the sign bit and may be negative or larger than
the width, as ap_fixed allows. Quantization is defined on exact representations: float64
values (every float64 is a dyadic rational, and scaling by a power of two is exact) or integers
with a known number of fractional bits. The tests check it bit for bit against ap_fixed
compiled with g++.

Rounding applies to the bits dropped below ``2**-frac``:

- ``TRN``: toward minus infinity (floor) — the default
- ``TRN_ZERO``: toward zero
- ``RND``: to nearest, ties toward plus infinity
- ``RND_ZERO``: to nearest, ties toward zero
- ``RND_MIN_INF``: to nearest, ties toward minus infinity
- ``RND_INF``: to nearest, ties away from zero
- ``RND_CONV``: to nearest, ties to even
- ``CEIL``: toward plus infinity (nnfx's own mode, which ap_fixed lacks: QONNX's CEIL)
- ``UP``: away from zero (nnfx's own mode, which ap_fixed lacks: QONNX's UP)

Overflow applies to the rounded integer: ``WRAP`` keeps the low ``width`` bits (two's
complement when signed) — the default; ``SAT`` clamps to the range; ``SAT_ZERO`` gives 0 on
overflow; ``SAT_SYM`` clamps a signed type to ``[-max, max]``, so its most negative code is
never produced (ap_fixed maps it to ``-max`` too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from nnfx.errors import PrecisionError


@dataclass(frozen=True)
class Rounding:
    """One rounding mode as a rule on the split ``value = floor + rest`` (``0 <= rest < 1``
    in units of the last kept bit): the result is ``floor + 1`` where :meth:`up` holds, else
    ``floor``. A *nearest* mode goes up above one half, and at exactly one half where ``tie``
    holds; a *directed* mode goes up on any non-zero rest where ``tie`` holds. ``tie`` names
    a condition: ``always``, ``never``, ``negative`` or ``positive`` (the value's sign), or
    ``odd`` (``floor`` is odd)."""

    nearest: bool
    tie: str

    def up(self, floor, rest, half, value):
        """Where to add one to ``floor``: numpy arrays of float64 (``half = 0.5``) or of
        integers (int64 or Python ints, ``half = 2**(shift - 1)``); the one rule both use."""
        if self.tie == "negative":
            when = value < 0
        elif self.tie == "positive":
            when = value > 0
        elif self.tie == "odd":
            when = floor % 2 == 1  # a modulo (never negative), so any floor's sign works
        else:
            when = self.tie == "always"
        if self.nearest:
            return (rest > half) | ((rest == half) & when)
        return (rest != 0) & when


# The seven ap_fixed rounding modes and nnfx's two directed extensions, CEIL and UP (the module
# docstring says each in words). Every engine follows this table: quantize (float in) and
# requantize (integer in) call :meth:`Rounding.up`; the fixed ONNX writer builds the same
# decision as graph ops; the C++ writes the extensions as a floor plus an explicit step.
ROUNDING_RULES = {
    "TRN": Rounding(nearest=False, tie="never"),
    "TRN_ZERO": Rounding(nearest=False, tie="negative"),
    "RND": Rounding(nearest=True, tie="always"),
    "RND_ZERO": Rounding(nearest=True, tie="negative"),
    "RND_INF": Rounding(nearest=True, tie="positive"),
    "RND_MIN_INF": Rounding(nearest=True, tie="never"),
    "RND_CONV": Rounding(nearest=True, tie="odd"),
    "CEIL": Rounding(nearest=False, tie="always"),
    "UP": Rounding(nearest=False, tie="positive"),
}
ROUNDING = tuple(ROUNDING_RULES)
# The modes ap_fixed and ac_fixed do not have: spelled without an AP_ prefix, and written in the
# C++ as a TRN type plus an explicit rounding step (backends/hls/render.py).
EXTENSION_ROUNDING = ("CEIL", "UP")
# The four ap_fixed overflow modes, by what happens to a rounded code outside the type's range
# ([raw_min, raw_max], or FixedType.clamp_range for the clamping modes): WRAP keeps the low
# width bits, the SAT modes clamp to clamp_range, SAT_ZERO gives 0.
OVERFLOW_RULES = {"WRAP": "wrap", "SAT": "clamp", "SAT_ZERO": "zero", "SAT_SYM": "clamp"}
OVERFLOW = tuple(OVERFLOW_RULES)
MAX_WIDTH = 62  # raw values and exact products fit int64 with room for a sign
MAX_ABS_INTEGER = 256  # |integer bits| limit: keeps scale factors inside float64's exponent

_PATTERN = re.compile(
    r"^\s*(?P<kind>ap_fixed|ap_ufixed|fixed|ufixed|ap_int|ap_uint|int|uint)\s*<\s*(?P<args>[^<>]*)>\s*$"
)


@dataclass(frozen=True)
class FixedType:
    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"

    def __post_init__(self):
        if not isinstance(self.width, int | np.integer) or not 1 <= self.width <= MAX_WIDTH:
            raise PrecisionError(
                f"fixed-point width must be an integer from 1 to {MAX_WIDTH}, got {self.width}"
            )
        if not isinstance(self.integer, int | np.integer) or abs(self.integer) > MAX_ABS_INTEGER:
            raise PrecisionError(
                f"integer bits must be an integer within +-{MAX_ABS_INTEGER}, got {self.integer}"
            )
        if self.rounding not in ROUNDING:
            raise PrecisionError(
                f"unknown rounding mode '{self.rounding}'; expected one of {', '.join(ROUNDING)}"
            )
        if self.overflow not in OVERFLOW:
            raise PrecisionError(
                f"unknown overflow mode '{self.overflow}'; expected one of {', '.join(OVERFLOW)}"
            )
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "integer", int(self.integer))

    # -- derived ---------------------------------------------------------------------------
    @property
    def frac(self) -> int:
        """Fractional bits: ``width - integer`` (negative when integer > width)."""
        return self.width - self.integer

    @property
    def raw_min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def min(self) -> float:
        return float(np.ldexp(float(self.raw_min), -self.frac))

    @property
    def max(self) -> float:
        return float(np.ldexp(float(self.raw_max), -self.frac))

    @property
    def step(self) -> float:
        """The value of one least-significant bit."""
        return float(np.ldexp(1.0, -self.frac))

    def clamp_range(self) -> tuple[int, int]:
        """The codes a clamping overflow mode gives for values beyond the range: ``raw_min``
        and ``raw_max``, except SAT_SYM on a signed type, whose most negative code is never
        produced (``-raw_max``; at width 1 ap_fixed's ``min | 1`` is the only negative code,
        -1, which is ``raw_min``)."""
        if self.overflow == "SAT_SYM" and self.signed and self.width > 1:
            return -self.raw_max, self.raw_max
        return self.raw_min, self.raw_max

    def with_(self, **changes) -> FixedType:
        values = {
            k: getattr(self, k) for k in ("width", "integer", "signed", "rounding", "overflow")
        }
        values.update(changes)
        return FixedType(**values)

    # -- text ------------------------------------------------------------------------------
    def __str__(self) -> str:
        name = "fixed" if self.signed else "ufixed"
        modes = ""
        if self.rounding != "TRN" or self.overflow != "WRAP":
            modes = f",{self.rounding},{self.overflow}"
        return f"{name}<{self.width},{self.integer}{modes}>"

    def ap_type(self) -> str:
        """The Vitis HLS spelling, e.g. ``ap_fixed<16,6,AP_RND,AP_SAT>``; a type with one of
        nnfx's own rounding modes (CEIL, UP) has none and is refused."""
        if self.rounding in EXTENSION_ROUNDING:
            raise PrecisionError(
                f"{self} has no Vitis spelling: ap_fixed has no {self.rounding} rounding (nnfx's "
                "C++ writes it as a TRN type with an explicit rounding step)"
            )
        name = "ap_fixed" if self.signed else "ap_ufixed"
        modes = ""
        if self.rounding != "TRN" or self.overflow != "WRAP":
            modes = f",AP_{self.rounding},AP_{self.overflow}"
        return f"{name}<{self.width},{self.integer}{modes}>"

    @staticmethod
    def parse(text: str | FixedType) -> FixedType:
        """``fixed<16,6>``, ``ufixed<8,0>``, ``fixed<16,6,RND,SAT>``,
        ``ap_fixed<16,6,AP_RND_CONV,AP_SAT_SYM>``, ``int<8>``, ``uint<4>``."""
        if isinstance(text, FixedType):
            return text
        match = _PATTERN.match(str(text))
        if not match:
            raise PrecisionError(
                f"cannot parse fixed-point type '{text}'; expected e.g. fixed<16,6>, "
                "ufixed<8,0>, fixed<16,6,RND,SAT> or ap_fixed<16,6,AP_RND,AP_SAT>"
            )
        kind = match["kind"]
        args = [a.strip() for a in match["args"].split(",")]
        signed = not kind.startswith(("ap_u", "u"))
        is_int = kind in ("ap_int", "ap_uint", "int", "uint")
        try:
            if is_int:
                if len(args) != 1:
                    raise ValueError
                width = integer = int(args[0])
                modes = []
            else:
                if len(args) < 2 or len(args) > 5:
                    raise ValueError
                width, integer = int(args[0]), int(args[1])
                modes = args[2:4]
        except ValueError:
            raise PrecisionError(
                f"cannot parse fixed-point type '{text}': expected "
                f"{'a width' if is_int else 'width, integer bits and optional modes'}"
            ) from None
        for m in modes:
            if m.upper().removeprefix("AP_") in EXTENSION_ROUNDING and m.upper().startswith("AP_"):
                raise PrecisionError(
                    f"cannot parse fixed-point type '{text}': {m} is not a Vitis mode; CEIL and "
                    "UP are nnfx's own and are written without AP_, e.g. fixed<8,2,CEIL,SAT>"
                )
        modes = [m.upper().removeprefix("AP_") for m in modes]
        rounding = modes[0] if len(modes) > 0 else "TRN"
        overflow = modes[1] if len(modes) > 1 else "WRAP"
        return FixedType(width, integer, signed, rounding, overflow)


def _round_split(floor, rest, half, value, mode: str):
    """``floor`` or ``floor + 1`` by ``mode``'s rule (see :class:`Rounding`)."""
    if mode == "TRN":  # the default mode: nothing to decide
        return floor
    up = ROUNDING_RULES[mode].up(floor, rest, half, value)
    return np.where(up, floor + 1, floor)


def _round_scaled(q: np.ndarray, mode: str) -> np.ndarray:
    """Round the exactly scaled float64 values ``q`` to integers (still float64) by ``mode``."""
    floor = np.floor(q)
    return _round_split(floor, q - floor, 0.5, q, mode)  # q - floor: exact (same exponent range)


def _overflow(raw: np.ndarray, t: FixedType) -> np.ndarray:
    """Apply ``t.overflow`` (:data:`OVERFLOW_RULES`) to exactly rounded int64 integers with
    ``|raw| <= 2**62``."""
    lo, hi = t.raw_min, t.raw_max
    rule = OVERFLOW_RULES[t.overflow]
    if rule == "wrap":  # keep the low width bits; sign-extend when signed
        offset = np.int64(-lo)
        mask = (np.int64(1) << np.int64(t.width)) - 1
        return ((raw + offset) & mask) - offset if t.signed else raw & mask
    if rule == "zero":
        return np.where((raw < lo) | (raw > hi), np.int64(0), raw)
    return np.clip(raw, *t.clamp_range())


INT64_SAFE = 62  # the int64 path of requantize holds |raw| < 2**62; wider goes to Python ints


def quantize_raw(values, t: FixedType) -> np.ndarray:
    """Raw int64 codes of ``values`` (float64, exactly as given) in type ``t``.

    Exact for every finite float64 at every width: a value whose scaled magnitude reaches
    2**62 is beyond every type, so SAT modes clamp it before scaling and WRAP keeps the low
    ``width`` bits of its (integral) scaled value. ``+-inf`` gives the saturated code under the
    SAT modes (SAT: max/min, SAT_ZERO: 0, SAT_SYM: +-max) and is refused under WRAP; NaN is
    refused (docs/semantics.md, "Special values").
    """
    t = FixedType.parse(t)
    x = np.asarray(values, dtype=np.float64)
    if np.isnan(x).any():
        raise PrecisionError("cannot quantize NaN to a fixed-point type")
    limit = float(np.ldexp(1.0, INT64_SAFE - t.frac))  # |x| >= limit: |x * 2**frac| >= 2**62
    if t.overflow != "WRAP":
        q = np.ldexp(np.clip(x, -limit, limit), t.frac)  # exact; +-2**62 saturates any type
        return _overflow(_round_scaled(q, t.rounding).astype(np.int64), t)
    if np.isinf(x).any():
        raise PrecisionError(f"cannot quantize infinity to {t}: WRAP has no largest value")
    big = np.abs(x) >= limit
    q = np.ldexp(np.where(big, 0.0, x), t.frac)  # |q| < 2**62: rounds to an exact int64
    raw = _round_scaled(q, t.rounding).astype(np.int64)
    if big.any():  # x = m * 2**e with |m| < 2**53 and e >= 9: an integer; keep its low bits
        mantissa, exponent = np.frexp(x[big])
        m = np.ldexp(mantissa, 53).astype(np.int64)
        e = exponent.astype(np.int64) - 53 + t.frac
        keep = np.clip(t.width - e, 0, 62)  # the bits of m that land below 2**width
        low = (m & ((np.int64(1) << keep) - 1)) << np.clip(e, 0, 62)
        raw[big] = np.where(e >= t.width, 0, low)
    return _overflow(raw, t)


def quantize(values, t: FixedType) -> np.ndarray:
    """``values`` rounded and overflowed into ``t``, as float64: how the IR stores constants.

    Exact while the codes are below 2**53 in magnitude. A wider code (a saturated constant of a
    type wider than 53 bits, e.g. a clip bound at the type's maximum) keeps its 53 leading bits,
    cut toward zero, so that the float64 is still a code of ``t`` and every engine reads the
    same one (rounding to nearest could give ``2**(width-1)``, beyond the type)."""
    t = FixedType.parse(t)
    raw = quantize_raw(values, t)
    drop = np.maximum(_bit_length(np.abs(raw)) - 53, 0)
    if drop.any():
        raw = np.sign(raw) * ((np.abs(raw) >> drop) << drop)
    return to_float(raw, t.frac)


def _bit_length(magnitude: np.ndarray) -> np.ndarray:
    """The bit length of non-negative int64 values below 2**62."""
    _, exponent = np.frexp(magnitude.astype(np.float64))
    exponent = exponent.astype(np.int64)  # one too many where the float rounded up to 2**e
    return np.maximum(exponent - ((np.int64(1) << np.maximum(exponent - 1, 0)) > magnitude), 0)


def _round_shift(raw: np.ndarray, shift: int, mode: str) -> np.ndarray:
    """``raw / 2**shift`` rounded by ``mode`` (``shift > 0``): int64 codes with
    ``|raw| < 2**62``, or Python ints of any size (object arrays)."""
    wide = raw.dtype == object
    if not wide and shift >= 63:  # |raw| < 2**62 is below half an LSB
        if ROUNDING_RULES[mode].nearest:  # the rest is above half below 0, below half above
            return np.zeros_like(raw)
        floor = np.where(raw < 0, np.int64(-1), np.int64(0))
        return _round_split(floor, raw != 0, None, raw, mode)  # rest != 0 where raw != 0
    s = shift if wide else np.int64(shift)
    one = 1 if wide else np.int64(1)
    floor = raw >> s  # arithmetic shift: floor division by 2**shift
    rest = raw - (floor << s)  # 0 <= rest < 2**shift
    return _round_split(floor, rest, one << (s - one), raw, mode)


def _overflow_wide(rounded: np.ndarray, t: FixedType) -> np.ndarray:
    """``t.overflow`` on Python ints (object arrays) of any size; returns int64 codes."""
    if t.overflow == "WRAP":  # the low width bits, then the int64 sign extension
        low = (rounded & ((1 << t.width) - 1)).astype(np.int64)
        return _overflow(low, t)
    bound = 1 << INT64_SAFE  # beyond every type's range: saturating to it changes nothing
    clipped = np.where(rounded > bound, bound, np.where(rounded < -bound, -bound, rounded))
    return _overflow(clipped.astype(np.int64), t)


def requantize(raw: np.ndarray, frac: int, t: FixedType) -> np.ndarray:
    """Exact integers ``raw * 2**-frac`` into type ``t``; returns t's raw int64 codes.

    The integer path used by the fixed reference: shifting drops ``frac - t.frac`` bits with
    ``t.rounding``, then ``t.overflow`` applies. ``raw`` is int64 with ``|raw| < 2**62`` (the
    fast path), or an object array of Python ints of any size (the wide path, for products
    and sums that int64 cannot hold).
    """
    raw = np.asarray(raw)
    shift = frac - t.frac
    if raw.dtype == object:
        rounded = raw << -shift if shift <= 0 else _round_shift(raw, shift, t.rounding)
        return _overflow_wide(rounded, t)
    raw = raw.astype(np.int64, copy=False)
    if shift == 0:
        return _overflow(raw, t)
    if shift < 0:  # no bits dropped: scale up, then overflow
        k = -shift
        if t.overflow == "WRAP":  # only the low width - k bits of raw survive the shift
            if k >= t.width:
                return np.zeros_like(raw)
            raw = np.bitwise_and(raw, (np.int64(1) << np.int64(t.width - k)) - 1)
            return _overflow(raw << np.int64(k), t)
        if k >= INT64_SAFE:  # every non-zero value lands beyond every type
            return _overflow(np.sign(raw) << np.int64(INT64_SAFE), t)
        limit = np.int64(1) << np.int64(INT64_SAFE - k)  # beyond it overflows every type
        return _overflow(np.clip(raw, -limit, limit) << np.int64(k), t)
    return _overflow(_round_shift(raw, shift, t.rounding), t)


def overflowed(raw: np.ndarray, frac: int, t: FixedType) -> np.ndarray:
    """Where the exact ``raw * 2**-frac``, rounded to ``t``'s grid, falls outside ``t``'s
    range (so that ``t.overflow`` changes it). Same ``raw`` as :func:`requantize`."""
    raw = np.asarray(raw)
    if raw.dtype != object:
        raw = raw.astype(np.int64, copy=False)
    shift = frac - t.frac
    lo, hi = t.raw_min, t.raw_max
    if shift <= 0:  # raw * 2**k in [lo, hi]  <=>  ceil(lo / 2**k) <= raw <= floor(hi / 2**k)
        k = -shift
        return (raw < -((-lo) >> k)) | (raw > (hi >> k))
    rounded = _round_shift(raw, shift, t.rounding)
    return (rounded < lo) | (rounded > hi)


def to_float(raw: np.ndarray, frac: int) -> np.ndarray:
    """The values ``raw * 2**-frac`` as float64 (exact for |raw| < 2**53)."""
    return np.ldexp(np.asarray(raw, dtype=np.float64), -frac)


def to_raw(values: np.ndarray, frac: int) -> np.ndarray:
    """Exact inverse of :func:`to_float` for values on the ``2**-frac`` grid."""
    scaled = np.ldexp(np.asarray(values, dtype=np.float64), frac)
    raw = scaled.astype(np.int64)
    if not np.array_equal(raw, scaled):
        raise PrecisionError(f"values are not on the 2**-{frac} grid")
    return raw


# The slope of a leaky_relu fused into a Dense or Conv (docs/semantics.md, Accumulators): the
# type an unfused leaky_relu's alpha gets by default.
ALPHA_TYPE = FixedType(18, 2, True, "RND", "SAT")


def fused_alpha_code(graph, node) -> int:
    """The code in :data:`ALPHA_TYPE` of the slope of a Dense/Conv ``node``'s fused leaky_relu:
    ``Q_a(alpha)`` of its stored ``alpha`` constant when it has one, else of the attribute."""
    stored = node.param(graph, "alpha") if "alpha" in node.params else None
    alpha = stored.reshape(-1)[0] if stored is not None else node.attrs.activation_alpha
    return int(quantize_raw(np.array([alpha], np.float64), ALPHA_TYPE)[0])
