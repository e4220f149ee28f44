"""What every fixed-point reference kernel shares: the context a kernel sees, the bound on a
type's codes, the switch to exact Python ints above 2**61, and the table index on raw codes
(docs/semantics.md, "Tables"). :mod:`nnfx.runtime.reference_fixed` and
:mod:`nnfx.runtime.activations_fixed` import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnfx.compiler.fixed import FixedType, overflowed, requantize, to_raw
from nnfx.compiler.ir import Graph, LayerPrecision, Node

WIDE = 61  # bound exponent above which a kernel leaves int64 (requantize holds |raw| < 2**62)


def magnitude(t: FixedType) -> int:
    """The exponent ``e`` with ``|code| <= 2**e`` for every code of ``t``."""
    return t.width - 1 if t.signed else t.width


def exact_ints(bound: int, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The int64 ``arrays`` unchanged when every value the kernel computes from them is at
    most ``2**bound`` in magnitude, else as Python ints (object arrays) that never overflow."""
    if bound <= WIDE:
        return arrays
    return tuple(np.asarray(a).astype(object) for a in arrays)


@dataclass
class FixedContext:
    """What a kernel sees: the node, its input codes and types, its output type."""

    graph: Graph
    node: Node
    types: list[FixedType]
    out: FixedType
    overflows: dict[str, int] | None = None
    _wide_cache: dict = field(default_factory=dict)

    @property
    def p(self) -> LayerPrecision:
        return self.node.layer_precision

    def const(self, role: str, t: FixedType) -> np.ndarray:
        return to_raw(self.node.constant(self.graph, role), t.frac)

    def quantize(self, raw: np.ndarray, frac: int, t: FixedType | None = None) -> np.ndarray:
        """Exact codes ``raw * 2**-frac`` into ``t`` (default: the output type), counting
        the values that overflowed when asked to."""
        t = t or self.out
        result = requantize(raw, frac, t)
        if self.overflows is not None:
            count = int(np.count_nonzero(overflowed(raw, frac, t)))
            self.overflows[self.node.name] = self.overflows.get(self.node.name, 0) + count
        return result


def align(raw: np.ndarray, frac: int, target: int) -> np.ndarray:
    """The same values with ``target >= frac`` fractional bits."""
    return raw << np.int64(target - frac) if target > frac else raw


def table_index(raw: np.ndarray, frac: int, spec) -> np.ndarray:
    """``clip(floor(x * 2**shift) - start, 0, size - 1)`` on raw codes: an arithmetic shift.
    A left shift first clips the codes to just beyond the table (same index), so that it
    cannot leave int64; a right shift of 63 or more is a shift of 63 (0 or -1)."""
    shift = spec.shift - frac
    if shift < 0:
        scaled = raw >> np.int64(min(-shift, 63))
    else:
        low, high = (spec.start >> shift) - 1, ((spec.start + spec.size) >> shift) + 1
        clipped = np.clip(raw, low, high)
        bits = max(abs(low), abs(high)).bit_length() + shift
        (clipped,) = exact_ints(bits, clipped)
        scaled = clipped << shift
    return np.clip(scaled - spec.start, 0, spec.size - 1).astype(np.int64)
