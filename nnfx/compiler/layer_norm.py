"""LayerNorm's fixed-point rule (docs/semantics.md, "The rule of every op" and "Tables"): its
constants, the bounds every engine sizes its exact intermediates by, and its precision rule.

Over the ``n`` codes ``X_i`` (``F`` fractional bits) of one row: ``S = sum X_i``, ``d_i = n X_i
- S``, ``V = sum d_i**2``, ``U = V + E`` (all exact integers; ``E`` is epsilon in the units of
``V``). ``(x_i - mean) / sqrt(var + eps) = d_i * sqrt(n / U)``. The inverse square root is a
table indexed on ``U`` normalized by an even shift: ``s = 2 * #{j >= 0 : U >= 2**(M + 2j)}``
(``2**M`` the table size), ``u = U >> s``; then ``sqrt(n / U) ~ T[u] * 2**-(s/2)``. Every ``U``
the types allow is covered, from 0 to the largest, with the same relative precision: there
is no range to calibrate.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from nnfx.compiler.fixed import FixedType, quantize
from nnfx.compiler.ir import LayerPrecision, Node, TableSpec
from nnfx.compiler.passes._rewrite import add_constant
from nnfx.errors import PrecisionError

# The fewest entries of the table: below 2**(M - 2) it is indexed by U itself, above by bins.
MIN_TABLE_SIZE = 4
# The two internal types are ``table_width`` bits wide, RND, SAT, with integer bits by rule:
# the table T holds sqrt(n / u) <= sqrt(n), unsigned, with the bits sqrt(n) needs (``I``); the
# normalized value z = (x - mean) / std lies within +-sqrt(n - 1), signed: ``I + 1``.


def _log2_ceil(n: int) -> int:
    return max(int(n) - 1, 0).bit_length()


def magnitude(t: FixedType) -> int:
    """The exponent ``e`` with ``|code| <= 2**e`` for every code of ``t``."""
    return t.width - 1 if t.signed else t.width


@dataclasses.dataclass(frozen=True)
class Bounds:
    """Bound exponents (``|value| <= 2**e``) of LayerNorm's exact intermediates, on codes."""

    sum: int  # S = sum X_i, and n * X_i
    deviation: int  # d_i = n X_i - S
    squares: int  # V = sum d_i**2
    total: int  # U = V + E
    steps: int  # how many thresholds 2**(M + 2j) can U reach (j = 0 .. steps - 1)


def bounds(x: FixedType, n: int, epsilon_code: int, table_size: int) -> Bounds:
    log_n = _log2_ceil(n)
    m = magnitude(x)
    deviation = m + log_n + 1
    squares = 2 * deviation + log_n
    total = max(squares, int(epsilon_code).bit_length()) + 1
    size_log2 = table_log2(table_size)
    steps = (total - size_log2) // 2 + 1 if total >= size_log2 else 0
    return Bounds(m + log_n, deviation, squares, total, steps)


def table_log2(size: int) -> int:
    """``M`` of a table of ``2**M`` entries (MIN_TABLE_SIZE at least)."""
    if size < MIN_TABLE_SIZE or size & (size - 1):
        raise PrecisionError(
            f"a LayerNorm's table size must be a power of two >= {MIN_TABLE_SIZE}, got {size}"
        )
    return size.bit_length() - 1


def epsilon_code(epsilon: float, n: int, frac: int) -> float:
    """``E = floor(n**3 * epsilon * 2**(2F) + 1/2)``, evaluated in float64 (an integer)."""
    return float(np.floor(float(n) ** 3 * epsilon * 2.0 ** (2 * frac) + 0.5))


def rsqrt_table(n: int, size: int, t: FixedType) -> np.ndarray:
    """``T[u] = sqrt(n / u)`` where ``u`` is exact (``u < size / 4``: ``s = 0``; ``T[0]`` as
    ``T[1]``), ``sqrt(n / (u + 1/2))`` at the middle of the bins above, quantized to ``t``."""
    u = np.arange(size, dtype=np.float64)
    exact = u < size // 4
    at = np.where(exact, np.maximum(u, 1.0), u + 0.5)
    return quantize(np.sqrt(n / at), t.with_(rounding="RND", overflow="SAT"))


def norm_types(table_width: int, n: int) -> tuple[FixedType, FixedType]:
    """(the table's type, the normalized value's type), both ``table_width`` bits, RND, SAT."""
    integer = math.floor(math.log2(math.sqrt(n))) + 1
    table = FixedType(table_width, integer, False, "RND", "SAT")
    return table, FixedType(table_width, integer + 1, True, "RND", "SAT")


def assign(assigner: Any, node: Node, in_types: list, out_type: FixedType) -> Node:
    """The precision rule (compiler/precision.py's ``PRECISION_RULES``): scale and bias get
    their types as BatchNorm's do, the table and the normalized value internal types."""
    graph, a = assigner.graph, node.attrs
    x = assigner.fixed(node.inputs[0])
    scale, bias = node.constant(graph, "scale"), node.constant(graph, "bias")
    s_type = assigner.constant_type(node, "weight", scale)
    b_type = assigner.constant_type(node, "bias", bias)
    if assigner.layer(node, "table_range") is not None:
        raise PrecisionError(
            f"layer '{node.name}': a LayerNorm's table has no range to set (its index is the "
            "normalized sum of squares, which covers every variance); remove its table_range"
        )
    size = int(assigner.layer(node, "table_size", assigner.config.table_size))
    table_log2(size)
    table_type, norm_type = norm_types(assigner.config.table_width, a.size)
    e = epsilon_code(a.epsilon, a.size, x.frac)
    constants = assigner.constants
    params = {
        "scale": assigner.store(node, "scale", scale, s_type),
        "bias": assigner.store(node, "bias", bias, b_type),
        "table": add_constant(
            constants, f"{node.name}.rsqrt_table", rsqrt_table(a.size, size, table_type)
        ),
        "epsilon": add_constant(constants, f"{node.name}.epsilon", np.array([e])),
    }
    precision = LayerPrecision(
        weight=s_type,
        bias=b_type,
        table=TableSpec(size=size, shift=0, start=0),
        table_type=table_type,
        inverse_type=norm_type,
    )
    return dataclasses.replace(node, params=params, precision=precision)
