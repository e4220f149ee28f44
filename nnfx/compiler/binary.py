"""The XNOR-popcount form of a binary layer (docs/semantics.md, "QONNX BipolarQuant").

A Dense or Conv has a binary form when every input code is ``+a`` or ``-a`` and every weight
code of output ``j`` is ``+c_j`` or ``-c_j``: then each product is ``+-a c_j``, its sign the
XNOR of the two signs, and ``sum_i X_i W_ij = a c_j (n - 2 popcount(x_bits ^ w_bits))`` over
the ``n`` inputs the output reads (a Conv's zero padding reads none). The rule here is shared
by the HLS writer (which emits the binary kernel) and the estimate (which prices it); it only
looks at the compiled graph:

- the input is the output of a ``bipolar`` activation whose two codes are ``-a`` and ``+a``
  (``a > 0``), possibly through ops that only move codes (Flatten, Reshape, Identity,
  Transpose) of the same type;
- each output's weight codes are ``+-c_j`` with ``c_j`` a power of two (no zero weight);
- each output reads at most :data:`MAX_BITS` inputs (the widest ``ap_uint`` Vitis allows);
- the accumulator is the compiler's exact one (``accum_sized``): the layer computes
  ``Q(bias + exact sum)``, which the binary form computes too. A user-chosen accumulator
  quantizes each partial sum in order and keeps the multiply-add form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnfx.compiler.fixed import FixedType, to_raw
from nnfx.compiler.ir import Graph, Node
from nnfx.compiler.ops import Activation, Op

# The widest sign vector: Vitis' ap_uint takes up to 4096 bits with AP_INT_MAX_W (which the HLS
# writer defines above its default of 1024 where a layer needs it).
MAX_BITS = 4096
# Ops that copy codes without changing them (their output type equals their input's).
CODE_MOVING = (Op.FLATTEN, Op.RESHAPE, Op.IDENTITY, Op.TRANSPOSE)


@dataclass(frozen=True)
class BinaryForm:
    """A layer's binary form: ``negative`` (the weight's shape, True where the weight is
    ``-c_j``), ``magnitudes`` (``c_j`` per output, codes of the weight type) and
    ``input_code`` (``a``, the input codes being ``+-a``)."""

    negative: np.ndarray
    magnitudes: np.ndarray
    input_code: int


def bipolar_input_code(graph: Graph, name: str) -> int | None:
    """``a`` when every code of tensor ``name`` is ``+a`` or ``-a`` (the output of a bipolar
    activation of two opposite codes, through code-moving ops of one type); else None."""
    producers = {out: node for node in graph.nodes for out in node.outputs}
    dtype = graph.tensors[name].dtype
    if not isinstance(dtype, FixedType):
        return None
    node = producers.get(name)
    while node is not None and node.op in CODE_MOVING:
        source = node.inputs[0]
        if graph.tensors[source].dtype != dtype:
            return None
        node = producers.get(source)
    if node is None or node.op is not Op.ACTIVATION or node.attrs.kind is not Activation.BIPOLAR:
        return None
    if node.param(graph, "low") is None or node.param(graph, "high") is None:
        return None
    low = int(to_raw(node.constant(graph, "low"), dtype.frac).reshape(-1)[0])
    high = int(to_raw(node.constant(graph, "high"), dtype.frac).reshape(-1)[0])
    return high if high > 0 and low == -high else None


def binary_form(graph: Graph, node: Node) -> BinaryForm | None:
    """The binary form of a Dense or Conv ``node`` (see the module's rule), or None."""
    p = node.precision
    if node.op not in (Op.DENSE, Op.CONV) or p is None or p.weight is None:
        return None
    if not p.accum_sized or p.accum is None:
        return None
    a = bipolar_input_code(graph, node.inputs[0])
    if a is None:
        return None
    codes = to_raw(node.constant(graph, "weight"), p.weight.frac)
    flat = np.abs(codes.reshape(-1, codes.shape[-1]))
    if flat.shape[0] > MAX_BITS:
        return None
    c = flat.max(axis=0) if flat.size else np.zeros(0, np.int64)
    if flat.size == 0 or np.any(flat != c) or np.any(c <= 0) or np.any(c & (c - 1)):
        return None
    return BinaryForm(negative=codes < 0, magnitudes=c.astype(np.int64), input_code=a)


def binary_price(
    graph: Graph, node: Node, form: BinaryForm, reuse: int, resource: bool
) -> dict[str, int]:
    """The estimate of a binary layer (docs/estimate.md): no multiplier; per output an
    XNOR-popcount tree of ``2 n`` LUTs for its ``n`` sign bits (``ceil(n_out / R)`` trees), one
    adder of the accumulator's width for ``units * count + bias``; the signs one bit each (BRAM
    under the resource strategy); latency ``R + 1 + ceil(ceil(log2 n) / 2)`` per window."""
    n_in, n_out = form.negative.reshape(-1, form.negative.shape[-1]).shape
    out = graph.tensors[node.outputs[0]]
    trees = math.ceil(n_out / reuse)
    width = node.layer_precision.type_of("accum").width
    pixels = int(np.prod(out.shape[:-1])) if node.op is Op.CONV else 1
    per_pixel = reuse + 1 + math.ceil(math.ceil(math.log2(max(n_in, 2))) / 2)
    bram = reuse * math.ceil(n_in * n_out / reuse / 18432) if resource else 0
    return {
        "adders": trees * max(n_in - 1, 0) + n_out,
        "lut": trees * 2 * n_in + n_out * width,
        "ff": n_out * (out.dtype.width if isinstance(out.dtype, FixedType) else 32),
        "bram18": bram,
        "latency_cycles": per_pixel + (pixels - 1) * reuse,
        "ii_cycles": reuse * pixels,
    }
