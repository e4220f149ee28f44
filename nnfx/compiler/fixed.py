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

ROUNDING = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
OVERFLOW = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")
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
        """The Vitis HLS spelling, e.g. ``ap_fixed<16,6,AP_RND,AP_SAT>``."""
        name = "ap_fixed" if self.signed else "ap_ufixed"
        modes = ""
        if self.rounding != "TRN" or self.overflow != "WRAP":
            modes = f",AP_{self.rounding},AP_{self.overflow}"
        return f"{name}<{self.width},{self.integer}{modes}>"

    @staticmethod
    def parse(text: str) -> FixedType:
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
        modes = [m.upper().removeprefix("AP_") for m in modes]
        rounding = modes[0] if len(modes) > 0 else "TRN"
        overflow = modes[1] if len(modes) > 1 else "WRAP"
        return FixedType(width, integer, signed, rounding, overflow)


def _round_scaled(q: np.ndarray, mode: str) -> np.ndarray:
    """Round the exactly scaled values ``q`` (float64, or int64 numerator/denominator pairs
    via :func:`_round_ratio`) to integers by ``mode``."""
    floor = np.floor(q)
    if mode == "TRN":
        return floor
    if mode == "TRN_ZERO":
        return np.trunc(q)
    frac = q - floor  # exact: floor and q share the exponent range
    up = floor + 1
    nearest = np.where(frac > 0.5, up, floor)
    tie = frac == 0.5
    if mode == "RND":
        return np.where(tie, up, nearest)
    if mode == "RND_ZERO":
        return np.where(tie, np.where(q > 0, floor, up), nearest)
    if mode == "RND_MIN_INF":
        return np.where(tie, floor, nearest)
    if mode == "RND_INF":
        return np.where(tie, np.where(q > 0, up, floor), nearest)
    if mode == "RND_CONV":
        return np.where(tie, np.where(np.fmod(floor, 2) == 0, floor, up), nearest)
    raise PrecisionError(f"unknown rounding mode '{mode}'")


def _overflow(raw: np.ndarray, t: FixedType) -> np.ndarray:
    """Apply ``t.overflow`` to exactly rounded integers held in float64 or int64."""
    lo, hi = t.raw_min, t.raw_max
    if t.overflow == "WRAP":
        if raw.dtype == np.int64:  # keep the low width bits; sign-extend when signed
            offset = np.int64(-lo)
            mask = (np.int64(1) << np.int64(t.width)) - 1
            return ((raw + offset) & mask) - offset if t.signed else raw & mask
        span = float(2**t.width)
        wrapped = np.mod(raw, span)  # exact for float64 integers
        if t.signed:
            wrapped = np.where(wrapped > hi, wrapped - span, wrapped)
        return wrapped
    if t.overflow == "SAT":
        return np.clip(raw, lo, hi)
    if t.overflow == "SAT_ZERO":
        return np.where((raw < lo) | (raw > hi), 0, raw)
    # SAT_SYM: symmetric range for signed types (the most negative code is never produced,
    # except at width 1, where ap_fixed's "min | 1" is the only negative code, -1)
    low = -hi if t.signed and t.width > 1 else lo
    return np.clip(raw, low, hi)


def quantize_raw(values, t: FixedType) -> np.ndarray:
    """Raw int64 codes of ``values`` (float64, exactly as given) in type ``t``."""
    t = FixedType.parse(t)
    x = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise PrecisionError("cannot quantize NaN or infinity to a fixed-point type")
    q = np.ldexp(x, t.frac)  # exact: a power-of-two scaling
    rounded = _round_scaled(q, t.rounding)
    return _overflow(rounded, t).astype(np.int64)


def quantize(values, t: FixedType) -> np.ndarray:
    """``values`` rounded and overflowed into ``t``, as float64 (exact: width <= 62 and the
    values are multiples of 2**-frac... held exactly when width <= 53; see to_float)."""
    t = FixedType.parse(t)
    return to_float(quantize_raw(values, t), t.frac)


def requantize(raw: np.ndarray, frac: int, t: FixedType) -> np.ndarray:
    """Exact integers ``raw * 2**-frac`` (int64) into type ``t``; returns t's raw codes.

    The integer path used by the fixed reference: shifting drops ``frac - t.frac`` bits with
    ``t.rounding``, then ``t.overflow`` applies.
    """
    raw = np.asarray(raw, dtype=np.int64)
    shift = frac - t.frac
    if shift == 0:
        return _overflow(raw, t)
    if shift < 0:  # no bits dropped: scale up, then overflow
        k = -shift
        if t.overflow == "WRAP":  # only the low width - k bits of raw survive the shift
            if k >= t.width:
                return np.zeros_like(raw)
            raw = np.bitwise_and(raw, (np.int64(1) << np.int64(t.width - k)) - 1)
        else:  # anything beyond 2**(62 - k) overflows every type: clip before shifting
            limit = np.int64(1) << np.int64(max(62 - k, 0))
            raw = np.clip(raw, -limit, limit)
        return _overflow(raw << np.int64(k), t).astype(np.int64)
    if shift >= 63:  # |raw| < 2**62 is below half an LSB: only truncation can give -1
        below = np.where(raw < 0, -1, 0) if t.rounding == "TRN" else np.zeros_like(raw)
        return _overflow(below.astype(np.int64), t).astype(np.int64)
    floor = raw >> np.int64(shift)  # arithmetic shift: floor division by 2**shift
    mode = t.rounding
    if mode == "TRN":
        return _overflow(floor, t).astype(np.int64, copy=False)
    rest = raw - (floor << np.int64(shift))  # 0 <= rest < 2**shift
    half = np.int64(1) << np.int64(shift - 1)
    if mode == "TRN_ZERO":
        rounded = np.where((raw < 0) & (rest != 0), floor + 1, floor)
    else:
        nearest = np.where(rest > half, floor + 1, floor)
        tie = rest == half
        positive = raw > 0
        if mode == "RND":
            tie_up = np.ones_like(tie)
        elif mode == "RND_ZERO":
            tie_up = ~positive
        elif mode == "RND_MIN_INF":
            tie_up = np.zeros_like(tie)
        elif mode == "RND_INF":
            tie_up = positive
        else:  # RND_CONV
            tie_up = (floor & 1) == 1
        rounded = np.where(tie & tie_up, floor + 1, nearest)
    return _overflow(rounded, t).astype(np.int64)


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


def parse_type(text) -> FixedType:
    return FixedType.parse(text)
