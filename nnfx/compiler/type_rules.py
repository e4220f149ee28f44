"""The rules by which precision assignment makes up types of its own: the fewest integer bits
for a range, and the integer bits of the constants it invents (docs/semantics.md, "Precision
assignment")."""

from __future__ import annotations

import math

from nnfx.compiler.fixed import ALPHA_TYPE, FixedType
from nnfx.errors import PrecisionError

# The rules for the constant types precision makes up itself: all ``table_width`` bits wide,
# rounded to nearest and saturated (docs/semantics.md, "Precision assignment"). Integer bits:
UNIT_INTEGER_BITS = 1  # unsigned values in [0, 1]: window-count reciprocals, exp(-d), 1/sum
SLOPE_INTEGER_BITS = ALPHA_TYPE.integer  # a leaky_relu slope, signed: |alpha| < 2 (as fused)
HARD_SIGMOID_INTEGER_BITS = 3  # hard_sigmoid's alpha and beta, signed: |value| < 4
# The inputs d = max(x) - x that softmax's exp table covers; exp(-16) < 2**-23, below the
# table type's step at the default width, so the table is flat (0) beyond it.
SOFTMAX_EXP_RANGE = (0.0, 16.0)


def integer_bits(max_abs: float, signed: bool) -> int:
    """The fewest integer bits (sign included) whose range holds ``max_abs``."""
    if not math.isfinite(max_abs):
        raise PrecisionError(f"a range of {max_abs} has no fixed-point type; use finite data")
    if max_abs <= 0:
        return 1 if signed else 0
    bits = math.floor(math.log2(max_abs)) + 1
    return bits + 1 if signed else bits


def fit_type(
    max_abs: float,
    width: int,
    signed: bool,
    margin: int = 0,
    rounding: str = "RND",
    overflow: str = "SAT",
) -> FixedType:
    return FixedType(width, integer_bits(max_abs, signed) + margin, signed, rounding, overflow)
