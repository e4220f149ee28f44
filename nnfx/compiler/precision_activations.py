"""Precision assignment for activation kinds: how each kind's constants (table, slope,
bounds) get their types. ``assigner`` is precision's ``_Assigner`` (passed in, as for
LayerNorm); the engine-coverage test walks :data:`ACTIVATION_RULES`."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from nnfx.compiler import tables
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ir import LayerPrecision, Node
from nnfx.compiler.ops import ACTIVATION_KINDS, Activation
from nnfx.compiler.passes._rewrite import add_constant
from nnfx.compiler.type_rules import HARD_SIGMOID_INTEGER_BITS, SLOPE_INTEGER_BITS, integer_bits


def _leaky_relu(assigner, node, out_type):
    t = assigner.internal_type(SLOPE_INTEGER_BITS, signed=True)
    per_channel = node.param(assigner.graph, "alpha")  # PRelu's, one per channel
    alpha = np.array([node.attrs.alpha]) if per_channel is None else per_channel
    return dataclasses.replace(
        node,
        params={"alpha": assigner.store(node, "alpha", alpha, t)},
        precision=LayerPrecision(weight=t),
    )


def _hard_sigmoid(assigner, node, out_type):
    a = node.attrs
    wt = bt = assigner.internal_type(HARD_SIGMOID_INTEGER_BITS, signed=True)
    params = {
        "alpha": assigner.store(node, "alpha", np.array([a.alpha]), wt),
        "beta": assigner.store(node, "beta", np.array([a.beta]), bt),
    }
    return dataclasses.replace(node, params=params, precision=LayerPrecision(weight=wt, bias=bt))


def _clip(assigner, node, out_type):
    a = node.attrs
    bound = tables.saturating(out_type)  # codes of the type: clamped, +-max if SAT_SYM
    params = {}
    if math.isfinite(a.min):
        params["low"] = assigner.store(node, "low", np.array([a.min]), bound)
    if math.isfinite(a.max):
        params["high"] = assigner.store(node, "high", np.array([a.max]), bound)
    return dataclasses.replace(node, params=params)


def _table(assigner, node, out_type):
    a = node.attrs
    default = tables.table_range(a.kind, assigner.ranges.get(node.inputs[0]))
    low, high = assigner.layer(node, "table_range", default)
    size = assigner.layer(node, "table_size", assigner.config.table_size)
    spec = tables.spec_for_range(float(low), float(high), int(size))
    values = tables.activation_table(a.kind, spec, out_type, a.alpha, a.beta)
    params = {"table": add_constant(assigner.constants, f"{node.name}.table", values)}
    precision = LayerPrecision(table=spec, table_type=out_type)
    if ACTIVATION_KINDS[a.kind].linear_above:  # the asymptote's slope, like leaky_relu's
        slope = tables.asymptote_slope(a.kind, a.beta)
        t = assigner.internal_type(max(SLOPE_INTEGER_BITS, integer_bits(abs(slope), True)), True)
        params["slope"] = assigner.store(node, "slope", np.array([slope]), t)
        precision = dataclasses.replace(precision, weight=t)
    return dataclasses.replace(node, params=params, precision=precision)


def _bipolar(assigner, node, out_type):
    """The two codes, ``Q(-alpha)`` and ``Q(alpha)``, saturating to codes of the type."""
    bound, alpha = tables.saturating(out_type), node.attrs.alpha
    params = {
        "low": assigner.store(node, "low", np.array([-alpha]), bound),
        "high": assigner.store(node, "high", np.array([alpha]), bound),
    }
    return dataclasses.replace(node, params=params)


# Activation kind -> how its constants get types.
ACTIVATION_RULES: dict[Activation, Callable[[Any, Node, FixedType], Node]] = {
    Activation.LINEAR: lambda assigner, node, out_type: node,  # no constants
    Activation.RELU: lambda assigner, node, out_type: node,
    Activation.LEAKY_RELU: _leaky_relu,
    Activation.ELU: _table,
    Activation.SIGMOID: _table,
    Activation.TANH: _table,
    Activation.CLIP: _clip,
    Activation.HARD_SIGMOID: _hard_sigmoid,
    Activation.SELU: _table,
    Activation.SOFTPLUS: _table,
    Activation.HARD_SWISH: _table,
    Activation.GELU: _table,
    Activation.GELU_TANH: _table,
    Activation.MISH: _table,
    Activation.BIPOLAR: _bipolar,
}
