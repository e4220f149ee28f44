"""Lookup tables for the non-linear functions: computed once in float64, quantized, stored as
constants in the IR. Every engine reads these numbers; none recomputes them.

A :class:`TableSpec` maps an input ``x`` to ``clip(floor(x * 2**shift) - start, 0, size - 1)``.
Because the step is a power of two, the index is a shift of the input's raw code in hardware.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnfx import limits
from nnfx.compiler.fixed import FixedType, quantize
from nnfx.compiler.ir import TableSpec
from nnfx.compiler.ops import ACTIVATION_KINDS, Activation
from nnfx.errors import PrecisionError


def spec_for_range(low: float, high: float, size: int) -> TableSpec:
    """The table of ``size`` entries (a power of two) covering [low, high): the step is the
    power of two ``(high - low) / size`` rounded up, the start rounded down to a step."""
    if size < 2 or size & (size - 1):
        raise PrecisionError(f"table size must be a power of two >= 2, got {size}")
    limits.TABLE_SIZE.check(size, "a lookup table")
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise PrecisionError(f"table range must be finite and increasing, got [{low}, {high})")
    shift = -math.ceil(math.log2((high - low) / size))
    start = math.floor(low * 2.0**shift)
    return TableSpec(size=size, shift=shift, start=start)


def bin_midpoints(spec: TableSpec) -> np.ndarray:
    return (spec.start + np.arange(spec.size) + 0.5) * 2.0**-spec.shift


def bin_starts(spec: TableSpec) -> np.ndarray:
    return (spec.start + np.arange(spec.size)) * 2.0**-spec.shift


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# The table of each kind that has one (ACTIVATION_KINDS[kind].table): f(x, alpha) in float64.
FUNCTIONS: dict[Activation, Callable[[np.ndarray, float], np.ndarray]] = {
    Activation.SIGMOID: lambda x, alpha: _sigmoid(x),
    Activation.TANH: lambda x, alpha: np.tanh(x),
    Activation.ELU: lambda x, alpha: alpha * np.expm1(np.minimum(x, 0.0)),  # its x <= 0 half
}

# Default input ranges (from ACTIVATION_KINDS): outside them the functions are flat to
# within the table's precision.
DEFAULT_RANGES = {k: p.table_range for k, p in ACTIVATION_KINDS.items() if p.table}


def saturating(t: FixedType, rounding: str | None = None) -> FixedType:
    """The type a table entry or a constant bound of type ``t`` is quantized with, so that it
    is one of ``t``'s own codes: a value beyond the range clamps to the nearest code ``t``
    holds. ``SAT_SYM`` when ``t`` is ``SAT_SYM`` (``-2**(W-1)`` is no code of it), else ``SAT``:
    also for ``WRAP`` and ``SAT_ZERO`` types, whose full range ``[min, max]`` is valid and
    where wrapped bits or 0 would be no approximation of the value (docs/semantics.md,
    Tables). ``rounding`` replaces ``t``'s rounding when given."""
    overflow = "SAT_SYM" if t.overflow == "SAT_SYM" else "SAT"
    return t.with_(rounding=rounding or t.rounding, overflow=overflow)


def activation_table(kind: Activation, spec: TableSpec, out: FixedType, alpha: float = 1.0):
    """``f`` at the middle of each bin, quantized to the output type (RND, saturating as
    :func:`saturating` says)."""
    if kind not in FUNCTIONS:
        raise PrecisionError(f"activation '{kind}' has no lookup table")
    values = FUNCTIONS[kind](bin_midpoints(spec), alpha)
    return quantize(values, saturating(out, "RND"))


def exp_table(spec: TableSpec, t: FixedType) -> np.ndarray:
    """``exp(-d)`` for ``d`` at the start of each bin (so that d = 0 gives exactly 1)."""
    return quantize(np.exp(-bin_starts(spec)), saturating(t))


def inverse_table(spec: TableSpec, t: FixedType, log: bool) -> np.ndarray:
    """``1 / s`` (or ``log(s)``) at the middle of each bin of the exponentials' sum ``s``."""
    s = bin_midpoints(spec)
    values = np.log(s) if log else 1.0 / s
    return quantize(values, saturating(t))
