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


def _elu(x, alpha):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


_ERF = np.frompyfunc(math.erf, 1, 1)


def erf(x) -> np.ndarray:
    return np.asarray(_ERF(np.asarray(x, np.float64)), np.float64)


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


# The table of each kind that has one (ACTIVATION_KINDS[kind].table): f(x, alpha, beta) in
# float64, the exact function (the float reference computes these very functions).
FUNCTIONS: dict[Activation, Callable[[np.ndarray, float, float], np.ndarray]] = {
    Activation.SIGMOID: lambda x, alpha, beta: _sigmoid(x),
    Activation.TANH: lambda x, alpha, beta: np.tanh(x),
    Activation.ELU: lambda x, alpha, beta: _elu(x, alpha),
    Activation.SELU: lambda x, alpha, beta: beta * _elu(x, alpha),  # beta: selu's gamma
    Activation.SOFTPLUS: lambda x, alpha, beta: np.logaddexp(0.0, x),
    Activation.HARD_SWISH: lambda x, alpha, beta: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    Activation.GELU: lambda x, alpha, beta: 0.5 * x * (1.0 + erf(x / math.sqrt(2.0))),
    Activation.GELU_TANH: lambda x, alpha, beta: _gelu_tanh(x),
    Activation.MISH: lambda x, alpha, beta: x * np.tanh(np.logaddexp(0.0, x)),
}

# Default input ranges (from ACTIVATION_KINDS): outside them the functions are flat to
# within the table's precision (or, above, their linear asymptote). A ``calibrated`` kind
# covers its input's calibrated range instead when there is one (:func:`table_range`).
DEFAULT_RANGES: dict[Activation, tuple[float, float]] = {
    k: p.table_range for k, p in ACTIVATION_KINDS.items() if p.table_range is not None
}


def asymptote_slope(kind: Activation, beta: float) -> float:
    """The slope of a ``linear_above`` kind's asymptote: selu's gamma (``beta``), else 1."""
    return beta if kind is Activation.SELU else 1.0


def table_range(kind: Activation, observed: tuple | None) -> tuple[float, float]:
    """The default input range of ``kind``'s table: its calibrated range ``observed``
    (min, max) for a ``calibrated`` kind (a point widened to [min, min + 1)), else
    :data:`DEFAULT_RANGES`."""
    if observed is None or not ACTIVATION_KINDS[kind].calibrated:
        return DEFAULT_RANGES[kind]
    low, high = float(observed[0]), float(observed[1])
    return (low, high) if high > low else (low, low + 1.0)


def linear_threshold(spec: TableSpec, frac: int) -> int:
    """The least code (``frac`` fractional bits) at or above the table's end
    ``(start + size) * 2**-shift``: where a ``linear_above`` kind leaves its table."""
    end, shift = spec.start + spec.size, frac - spec.shift
    return end << shift if shift >= 0 else -((-end) >> -shift)


def saturating(t: FixedType, rounding: str | None = None) -> FixedType:
    """The type a table entry or a constant bound of type ``t`` is quantized with, so that it
    is one of ``t``'s own codes: a value beyond the range clamps to the nearest code ``t``
    holds. ``SAT_SYM`` when ``t`` is ``SAT_SYM`` (``-2**(W-1)`` is no code of it), else ``SAT``:
    also for ``WRAP`` and ``SAT_ZERO`` types, whose full range ``[min, max]`` is valid and
    where wrapped bits or 0 would be no approximation of the value (docs/semantics.md,
    Tables). ``rounding`` replaces ``t``'s rounding when given."""
    overflow = "SAT_SYM" if t.overflow == "SAT_SYM" else "SAT"
    return t.with_(rounding=rounding or t.rounding, overflow=overflow)


def activation_table(
    kind: Activation, spec: TableSpec, out: FixedType, alpha: float = 1.0, beta: float = 1.0
):
    """``f`` at the middle of each bin, quantized to the output type (RND, saturating as
    :func:`saturating` says)."""
    if kind not in FUNCTIONS:
        raise PrecisionError(f"activation '{kind}' has no lookup table")
    values = FUNCTIONS[kind](bin_midpoints(spec), alpha, beta)
    return quantize(values, saturating(out, "RND"))


def exp_table(spec: TableSpec, t: FixedType) -> np.ndarray:
    """``exp(-d)`` for ``d`` at the start of each bin (so that d = 0 gives exactly 1)."""
    return quantize(np.exp(-bin_starts(spec)), saturating(t))


def inverse_table(spec: TableSpec, t: FixedType, log: bool) -> np.ndarray:
    """``1 / s`` (or ``log(s)``) at the middle of each bin of the exponentials' sum ``s``."""
    s = bin_midpoints(spec)
    values = np.log(s) if log else 1.0 / s
    return quantize(values, saturating(t))
