"""C++ spelling of nnfx's types and values: ap_fixed/ac_fixed types, round-tripping double
literals, the wide internal types the writer sizes to hold their values exactly, the typedef
table, and model text made safe for a comment."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nnfx.compiler.fixed import EXTENSION_ROUNDING, FixedType
from nnfx.compiler.ir import INTEGER


def cpp_type(t, number: str) -> str:
    """The C++ spelling of a tensor type for ``number`` = ``ap`` (ap_fixed) or ``ac``. A type
    with nnfx's own rounding (CEIL, UP: :data:`EXTENSION_ROUNDING`) is ``nnfx::directed`` over
    its TRN type and a floor type two integer bits wider (templates/nnfx_directed.h)."""
    if t == INTEGER:
        return "int"
    if isinstance(t, BitsType):
        return f"ap_uint<{t.width}>" if number == "ap" else f"ac_int<{t.width}, false>"
    if t.rounding in EXTENSION_ROUNDING:
        base = cpp_type(WideType(t.width, t.integer, t.signed, "TRN", t.overflow), number)
        floor_overflow = "WRAP" if t.overflow == "WRAP" else "SAT"
        below = cpp_type(WideType(t.width + 2, t.integer + 2, True, "TRN", floor_overflow), number)
        any_sign = "true" if t.rounding == "CEIL" else "false"
        return f"nnfx::directed<{base}, {below}, {any_sign}>"
    if number == "ap":
        name = "ap_fixed" if t.signed else "ap_ufixed"
        return f"{name}<{t.width}, {t.integer}, AP_{t.rounding}, AP_{t.overflow}>"
    signed = "true" if t.signed else "false"
    return f"ac_fixed<{t.width}, {t.integer}, {signed}, AC_{t.rounding}, AC_{t.overflow}>"


def safe_comment(text: str) -> str:
    """Model text for a C++ comment or a README: printable, one line, no comment delimiters."""
    kept = "".join(c if c.isascii() and c.isalnum() else "_" for c in str(text))
    return "_".join(part for part in kept.split("_") if part)[:80] or "model"


def literal(value: float) -> str:
    """A double literal that parses back to exactly ``value`` (repr round-trips)."""
    text = repr(float(value))
    return text if ("." in text or "e" in text or "inf" in text) else text + ".0"


def _bits_for(count: int) -> int:
    return max(1, math.ceil(math.log2(max(count, 1) + 1)))


INDEX_TYPE = FixedType(32, 32, True, "TRN", "SAT")  # floor, then clamp: the table index
TABLE_START_BITS = 62  # a table's start and end are long long constants in the C++


@dataclass(frozen=True)
class WideType:
    """An internal C++ type the writer sizes so that it holds its values exactly: truncating
    and wrapping (neither ever acts), and as wide as needed — ap_fixed and ac_fixed allow
    more than :class:`FixedType`'s 62 bits (a softmax's max - x of a 62-bit input needs 63,
    a hard_sigmoid's x * alpha + beta up to 80 and more). Rendered by :func:`cpp_type`."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"

    @property
    def frac(self) -> int:
        return self.width - self.integer


@dataclass(frozen=True)
class BitsType:
    """An unsigned bit vector of ``width`` bits (a binary layer's packed signs):
    ``ap_uint<width>``, ``ac_int<width, false>``."""

    width: int


def exact_sum_type(t, count: int) -> WideType:
    """A signed type that holds the sum of ``count`` codes of ``t`` exactly (same LSB)."""
    bits = _bits_for(count) + 1
    return WideType(t.width + bits, t.integer + bits)


def exact_affine_type(x, a, b) -> WideType:
    """A signed type that holds ``x * a + b`` exactly for values of the types ``x``, ``a``,
    ``b``: ``|x * a| < 2**(I_x + I_a)`` and ``|b| < 2**I_b``, so the sum is below
    ``2**(max + 1)`` and a signed type with ``max + 2`` integer bits holds it; its LSB is fine
    enough for both terms and for 1 (hard_sigmoid compares with it)."""
    frac = max(x.frac + a.frac, b.frac, 0)
    integer = max(x.integer + a.integer, b.integer, 1) + 2
    return WideType(integer + frac, integer)


def struct(name: str, fields: dict[str, object], types: dict[str, str], extra=()) -> str:
    """A C++ struct of ``static const`` int/bool ``fields``, ``types`` typedefs and ``extra``
    member lines."""
    lines = [f"struct {name} {{"]
    for key, value in fields.items():
        if isinstance(value, bool):
            lines.append(f"    static const bool {key} = {'true' if value else 'false'};")
        else:
            lines.append(f"    static const int {key} = {int(value)};")
    for key, value in types.items():
        lines.append(f"    typedef {value} {key};")
    lines.extend(f"    {line}" for line in extra)
    lines.append("};")
    return "\n".join(lines)


class Types:
    """Named C++ types (typedefs), each defined once per number type."""

    def __init__(self):
        self.defs: dict[str, object] = {}

    def add(self, name: str, t) -> str:
        self.defs[name] = t
        return name

    def render(self, number: str) -> str:
        return "\n".join(f"typedef {cpp_type(t, number)} {n};" for n, t in self.defs.items())
