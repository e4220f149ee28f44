"""The precision rule of the recurrent layers (compiler/recurrent.py; docs/semantics.md,
"Recurrent layers"): the types of the state, the cell state, the constants, the gate tables
and the exact accumulator."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from nnfx.compiler import tables
from nnfx.compiler.activations import Activation
from nnfx.compiler.fixed import MAX_WIDTH, FixedType, quantize
from nnfx.compiler.ir import LayerPrecision, Node
from nnfx.compiler.passes._rewrite import add_constant
from nnfx.compiler.recurrent import SIGMOID_RANGE, TANH_RANGE, fracs, internal_range_name
from nnfx.compiler.type_rules import UNIT_INTEGER_BITS, fit_type, integer_bits
from nnfx.errors import PrecisionError


def _accum_type(bound: float, frac: int, node: Node) -> FixedType:
    needed = integer_bits(bound, True)
    if needed + frac > MAX_WIDTH:
        raise PrecisionError(
            f"layer '{node.name}': an exact gate accumulator needs {needed + frac} bits, more "
            f"than {MAX_WIDTH}; narrow the input, state, weight or bias types"
        )
    width = max(needed + frac, 1)
    return FixedType(width, width - frac)


def assign(assigner: Any, node: Node, in_types: list, out_type: FixedType) -> Node:
    """The precision rule (compiler/precision.py's ``PRECISION_RULES``). The state ``h`` is
    the output's type (``result``); the LSTM's cell state ``c`` its own (``cell``: the
    calibrated range of ``c`` over every step under ``auto``); one weight type for the input
    and recurrent weights, one bias type for both biases; the gate tables ``table_width`` bits
    (sigmoid unsigned, tanh signed, 1 integer bit), an RNN's tanh table in ``h``'s type."""
    graph, a = assigner.graph, node.attrs
    x = assigner.fixed(node.inputs[0])
    w, r = node.constant(graph, "weight"), node.constant(graph, "recurrent")
    b = node.constant(graph, "bias")
    rb = node.param(graph, "recurrent_bias")
    both_w = np.concatenate([w.reshape(-1), r.reshape(-1)])
    both_b = b.reshape(-1) if rb is None else np.concatenate([b.reshape(-1), rb.reshape(-1)])
    w_type = assigner.constant_type(node, "weight", both_w)
    b_type = assigner.constant_type(node, "bias", both_b)
    if assigner.layer(node, "accum") is not None:
        raise PrecisionError(
            f"layer '{node.name}': a recurrent layer's gate sums are exact (the compiler sizes "
            "them); remove its accum"
        )
    if assigner.layer(node, "table_range") is not None:
        raise PrecisionError(
            f"layer '{node.name}': a recurrent layer's gate tables have fixed ranges (sigmoid "
            f"{list(SIGMOID_RANGE)}, tanh {list(TANH_RANGE)}); remove its table_range"
        )
    size = int(assigner.layer(node, "table_size", assigner.config.table_size))
    sig_spec = tables.spec_for_range(*SIGMOID_RANGE, size)
    tanh_spec = tables.spec_for_range(*TANH_RANGE, size)
    sig_type = assigner.internal_type(UNIT_INTEGER_BITS)
    tanh_type = out_type if a.cell == "rnn" else assigner.internal_type(1, signed=True)
    cell_type = None
    if a.cell == "lstm":
        cell_type = _cell_type(assigner, node)
    # The exact accumulator (recorded; never overflows): bound from the quantized constants.
    w_q, r_q, b_q = quantize(w, w_type), quantize(r, w_type), quantize(b, b_type)
    x_max = max(abs(x.min), abs(x.max))
    h_max = max(abs(out_type.min), abs(out_type.max))
    bound = np.abs(w_q).sum(axis=0) * x_max + np.abs(r_q).sum(axis=0) * h_max + np.abs(b_q)
    f = fracs(a, x, out_type, w_type, b_type, sig_type)
    accum = _accum_type(float(bound.max()), f.acc, node)
    if f.acc_bound > MAX_WIDTH + 60 or f.candidate_bound > MAX_WIDTH + 60:
        raise PrecisionError(f"layer '{node.name}': the gate sums are too wide to compute")
    constants = assigner.constants
    params = {
        "weight": assigner.store(node, "weight", w, w_type),
        "recurrent": assigner.store(node, "recurrent", r, w_type),
        "bias": assigner.store(node, "bias", b, b_type),
        "table": add_constant(
            constants,
            f"{node.name}.sigmoid_table",
            tables.activation_table(Activation.SIGMOID, sig_spec, sig_type),
        ),
        "inverse_table": add_constant(
            constants,
            f"{node.name}.tanh_table",
            tables.activation_table(Activation.TANH, tanh_spec, tanh_type),
        ),
    }
    if rb is not None:
        params["recurrent_bias"] = assigner.store(node, "recurrent_bias", rb, b_type)
    precision = LayerPrecision(
        weight=w_type,
        bias=b_type,
        accum=accum,
        accum_sized=True,
        table=sig_spec,
        table_type=sig_type,
        inverse_table=tanh_spec,
        inverse_type=tanh_type,
        cell=cell_type,
    )
    return dataclasses.replace(node, params=params, precision=precision)


def _cell_type(assigner: Any, node: Node) -> FixedType:
    given = assigner.layer_type(node, "cell")
    if given is not None:
        return given
    if not assigner.config.auto:
        return FixedType.parse(assigner.config.default)
    key = internal_range_name(node.name, "cell")
    if key not in assigner.ranges:
        raise PrecisionError(
            f"auto precision needs calibration data (layer '{node.name}''s cell state has no "
            "observed range)"
        )
    low, high = assigner.ranges[key]
    width = int(assigner.layer(node, "width", assigner.config.width))
    return fit_type(max(abs(low), abs(high)), width, True, assigner.config.margin_bits)
