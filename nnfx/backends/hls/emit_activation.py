"""The HLS emitters of the table-driven element-wise ops: activations (one kernel per kind in
:data:`HLS_ACTIVATIONS`) and softmax (an exp table and a reciprocal table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nnfx.backends.hls.render import (
    WideType,
    exact_affine_type,
    exact_sum_type,
    struct,
)
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ir import TableSpec
from nnfx.compiler.ops import ACTIVATION_KINDS, Activation, activation_rule

if TYPE_CHECKING:
    from nnfx.backends.hls.writer import HlsWriter


HLS_ACTIVATIONS = {
    Activation.LINEAR: "LINEAR",
    Activation.RELU: "RELU",
    Activation.LEAKY_RELU: "LEAKY_RELU",
    Activation.CLIP: "CLIP",
    Activation.BIPOLAR: "BIPOLAR",
    Activation.HARD_SIGMOID: "HARD_SIGMOID",
    Activation.SIGMOID: "TABLE",
    Activation.TANH: "TABLE",
    **{k: "LINEAR_ABOVE" for k, p in ACTIVATION_KINDS.items() if p.linear_above},
}


def emit_activation(w: HlsWriter, node, ins, out, in_t, out_t):
    a, p = node.attrs, node.precision
    kernel_kind = activation_rule(HLS_ACTIVATIONS, a.kind, "HLS writer")
    param_type = p.weight if p is not None and p.weight is not None else FixedType(18, 3)
    x = w.graph.tensors[node.inputs[0]].dtype
    wide = WideType(2, 2)  # unused but by hard_sigmoid
    if a.kind is Activation.HARD_SIGMOID:
        alpha_type, beta_type = p.weight, p.bias or p.weight
        if beta_type != alpha_type:  # one array holds both: a type that holds each exactly
            frac = max(alpha_type.frac, beta_type.frac)
            integer = max(alpha_type.integer, beta_type.integer) + 1
            param_type = WideType(integer + frac, integer)
        wide = exact_affine_type(x, alpha_type, beta_type)
    param_t = w.types.add(w.node_name("ptype", node), param_type)
    params, table, n_alpha = np.zeros(2), np.zeros(2), 1
    has_low, has_high = "low" in node.params, "high" in node.params
    if a.kind is Activation.LEAKY_RELU:  # one slope, or one per channel (PRelu)
        alpha = node.param(w.graph, "alpha")
        params, n_alpha = np.concatenate([alpha, np.zeros(max(2 - alpha.size, 0))]), alpha.size
    if ACTIVATION_KINDS[a.kind].linear_above:
        params[0] = node.param(w.graph, "slope")[0]
    if a.kind is Activation.HARD_SIGMOID:
        params[:] = [node.param(w.graph, "alpha")[0], node.param(w.graph, "beta")[0]]
    if a.kind in (Activation.CLIP, Activation.BIPOLAR):
        if has_low:
            table[0] = node.param(w.graph, "low")[0]
        if has_high:
            table[1] = node.param(w.graph, "high")[0]
    if ACTIVATION_KINDS[a.kind].table:
        table = node.param(w.graph, "table")
        spec = p.table
    else:
        spec = TableSpec(size=2, shift=0, start=0)
    wide_t = w.types.add(w.node_name("widetype", node), wide)
    cfg = w.config(
        node,
        {"n_in": w.size(node.inputs[0]), "n_param": params.size, "n_alpha": n_alpha},
        {"param_t": param_t, "wide_t": wide_t},
        [
            *w.table_members(node, "lutscale", spec),
            f"static const nnfx::activation_kind kind = nnfx::{kernel_kind};",
            f"static const bool has_low = {str(has_low).lower()};",
            f"static const bool has_high = {str(has_high).lower()};",
        ],
    )
    prm = w.constant(node, "params", param_t, params)
    tbl = w.constant(node, "lut", out_t, table)
    w.body.append(
        f"    nnfx::activation<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {prm}, {tbl});"
    )


def axis_geometry(w: HlsWriter, name: str, axis: int) -> tuple[int, int, int]:
    shape = w.graph.tensors[name].shape
    axis = axis % len(shape)
    return (
        int(np.prod(shape[:axis], dtype=np.int64)),
        shape[axis],
        int(np.prod(shape[axis + 1 :], dtype=np.int64)),
    )


def emit_softmax(w: HlsWriter, node, ins, out, in_t, out_t):
    """The exp and inverse table rules are the nested structs exp_config, inv_config."""
    p = node.precision
    outer, n, inner = axis_geometry(w, node.inputs[0], node.attrs.axis)
    x = w.graph.tensors[node.inputs[0]].dtype
    exp_t = w.types.add(w.node_name("etype", node), p.table_type)
    inv_t = w.types.add(w.node_name("itype", node), p.inverse_type)
    sum_t = w.types.add(w.node_name("total", node), exact_sum_type(p.table_type, n))
    # max - x lies in [0, 2^I_x) (signed or not), LSB of x: signed, one bit wider than x
    diff_t = w.types.add(w.node_name("difftype", node), WideType(x.width + 1, x.integer + 1))
    nested = [
        *struct("exp_config", {}, {}, w.table_members(node, "expscale", p.table)).splitlines(),
        *struct(
            "inv_config", {}, {}, w.table_members(node, "invscale", p.inverse_table)
        ).splitlines(),
    ]
    cfg = w.config(
        node,
        {"outer": outer, "n": n, "inner": inner, "log": node.attrs.log},
        {"exp_t": exp_t, "inv_t": inv_t, "sum_t": sum_t, "diff_t": diff_t},
        nested,
    )
    e = w.constant(node, "explut", exp_t, node.param(w.graph, "table"))
    r = w.constant(node, "invlut", inv_t, node.param(w.graph, "inverse_table"))
    w.body.append(f"    nnfx::softmax<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {e}, {r});")
