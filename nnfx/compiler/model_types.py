"""The types a model fixes itself — a QONNX model's ``Quant`` nodes (frontends/ops_quant.py) —
and how the precision assignment (:mod:`nnfx.compiler.precision`) keeps them.

The frontend writes them into the float graph: a quantized tensor's ``dtype`` is its
FixedType, and a Dense or Conv with a quantized weight (or bias) carries a
:class:`LayerPrecision` with that type. The assignment gives these types precedence over the
config (its default, ``auto`` and its overrides alike), and, in such a model, gives the values
no Quant follows — which QONNX computes in float — a type that holds them exactly where the op
allows it (docs/semantics.md, "QONNX Quant").
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from nnfx.compiler.fixed import MAX_ABS_INTEGER, MAX_WIDTH, FixedType, quantize
from nnfx.compiler.ir import Graph, Node
from nnfx.compiler.ops import Activation, Op
from nnfx.errors import PrecisionError

# Ops whose output may take its input's type unchanged and stay exact (in a model that fixes
# types): a ReLU or linear activation changes no bit a signed type of its input holds.
_SAME_AS_INPUT = {Activation.RELU, Activation.LINEAR}


def fixes_types(graph: Graph) -> bool:
    """Whether the model fixes some of its own types (a float graph from a QONNX model)."""
    return any(isinstance(t.dtype, FixedType) for t in graph.tensors.values()) or any(
        n.precision is not None for n in graph.nodes
    )


def tensor_type(graph: Graph, tensor: str) -> FixedType | None:
    """The type the model fixes for ``tensor``, or None."""
    t = graph.tensors.get(tensor)
    return t.dtype if t is not None and isinstance(t.dtype, FixedType) else None


def constant_type(node: Node, key: str, values: np.ndarray) -> FixedType | None:
    """The type the model fixes for a layer's constant ``key`` (weight, bias), or None. The
    values must be codes of it: a pass that changed them (a BatchNormalization folded into the
    layer) would leave QONNX's types behind, which is refused. A float bias beside a quantized
    weight gets the type that holds it exactly, when one of at most 62 bits does."""
    preset = node.precision
    if preset is None or key not in ("weight", "bias"):
        return None
    t = getattr(preset, key)
    if t is None:
        return exact_constant_type(values) if key == "bias" and preset.weight else None
    if not np.array_equal(quantize(values, t), values):
        raise PrecisionError(
            f"layer '{node.name}': its {key} is no longer on the grid of the model's own type "
            f"{t} (a BatchNormalization folded into it changed it); quantize after the "
            "BatchNormalization in the model"
        )
    return t


def exact_constant_type(values: np.ndarray) -> FixedType | None:
    """The narrowest signed type whose codes include every value, or None beyond 62 bits."""
    values = np.asarray(values, np.float64)
    nonzero = values[values != 0]
    if not nonzero.size:
        return FixedType(1, 1)
    mantissa, exponent = np.frexp(nonzero)
    # each value is an odd integer times 2^(e - 53 + trailing zeros of the 53-bit mantissa)
    m = np.ldexp(mantissa, 53).astype(np.int64)
    trailing = np.array([(int(k) & -int(k)).bit_length() - 1 for k in m])
    frac = int(np.max(53 - exponent - trailing))
    integer = int(np.max(exponent)) + 1  # |v| < 2^e: e bits and a sign
    if integer + frac > MAX_WIDTH or integer + frac < 1 or abs(integer) > MAX_ABS_INTEGER:
        return None
    return FixedType(integer + frac, integer, True, "TRN", "SAT")


def settle(assigner: Any, node: Node) -> Node:
    """After the assignment (``assigner``: its graph, its types so far, and whether the model
    fixes types) typed ``node``: in a model that fixes types, an output the model
    leaves in float takes an exact type where the op has one — a Dense or Conv its exact
    accumulator (with no fused activation or a fused ReLU), a ReLU or linear activation its
    input's type. Other ops keep the config's type (docs/semantics.md says where that
    differs from QONNX)."""
    graph, types, out = assigner.graph, assigner.types, node.outputs[0]
    if not assigner.model_fixed or tensor_type(graph, out) is not None:
        return node
    p = node.precision
    if node.op in (Op.DENSE, Op.CONV) and p is not None and p.accum_sized:
        if node.attrs.activation in (Activation.LINEAR, Activation.RELU):
            types[out] = p.accum
    elif node.op is Op.BATCH_NORM and p is not None and p.weight and p.bias and _typed(graph, node):
        types[out] = _exact_affine(types[node.inputs[0]], p.weight, p.bias) or types[out]
    elif node.op is Op.ACTIVATION and node.attrs.kind in _SAME_AS_INPUT:
        source = types[node.inputs[0]]
        if isinstance(source, FixedType):
            types[out] = dataclasses.replace(source)
    return node


def _typed(graph: Graph, node: Node) -> bool:
    """Whether the model types ``node``'s constants itself (a preset precision)."""
    return any(n.name == node.name and n.precision is not None for n in graph.nodes)


def _exact_affine(x, scale: FixedType, bias: FixedType) -> FixedType | None:
    """The type that holds every ``x * scale + bias`` exactly (an affine node whose constants
    the model types, e.g. an Add of a folded bias), or None beyond 62 bits."""
    if not isinstance(x, FixedType):
        return None
    frac = max(x.frac + scale.frac, bias.frac)
    integer = max(x.integer + scale.integer, bias.integer) + 1
    if integer + frac > MAX_WIDTH or integer + frac < 1 or abs(integer) > MAX_ABS_INTEGER:
        return None
    return FixedType(integer + frac, integer, True, "TRN", "SAT")
