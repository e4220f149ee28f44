"""The HLS emitter of the recurrent layers (kernels ``nnfx::recurrent_static`` and
``nnfx::recurrent_unrolled`` in templates/nnfx_recurrent.h): the exact types of the gate sums,
the gate tables' index rules, the constants, and the form by the layer's strategy — the
latency strategy unrolls the steps, the resource strategy keeps one step's datapath and reuses
it over time (docs/semantics.md, "Recurrent layers")."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nnfx.backends.hls.render import WideType, struct
from nnfx.compiler.ir import Node
from nnfx.compiler.recurrent import fracs

if TYPE_CHECKING:
    from nnfx.backends.hls.writer import HlsWriter

CELL_KINDS = {"rnn": "nnfx::RNN_CELL", "lstm": "nnfx::LSTM_CELL", "gru": "nnfx::GRU_CELL"}


def _exact(bound: int, frac: int) -> WideType:
    """A signed type holding every code up to ``2**bound`` in magnitude at ``frac``."""
    return WideType(bound + 2, bound + 2 - frac)


def emit_recurrent(w: HlsWriter, node: Node, ins, out, in_t, out_t) -> None:
    p, a = node.layer_precision, node.attrs
    x = w.graph.tensors[node.inputs[0]].dtype
    h = w.graph.tensors[node.outputs[0]].dtype
    sig_type, tanh_type = p.type_of("table_type"), p.type_of("inverse_type")
    f = fracs(a, x, h, p.type_of("weight"), p.type_of("bias"), sig_type)
    cell = p.type_of("cell") if a.cell == "lstm" else h
    types = {
        "weight_t": w.types.add(w.node_name("wtype", node), p.type_of("weight")),
        "bias_t": w.types.add(w.node_name("btype", node), p.type_of("bias")),
        "acc_t": w.types.add(w.node_name("acctype", node), _exact(f.acc_bound, f.acc)),
        "q_t": w.types.add(w.node_name("qtype", node), _exact(f.q_bound, f.q)),
        "cand_t": w.types.add(
            w.node_name("candtype", node), _exact(f.candidate_bound, f.candidate)
        ),
        "cell_t": w.types.add(w.node_name("celltype", node), cell),
        "sig_t": w.types.add(w.node_name("sigtype", node), sig_type),
        "tanh_t": w.types.add(w.node_name("tanhtype", node), tanh_type),
    }
    nested = [
        *struct(
            "sigmoid_config", {}, {}, w.table_members(node, "lutscale", p.spec("table"))
        ).splitlines(),
        *struct(
            "tanh_config", {}, {}, w.table_members(node, "tanhscale", p.spec("inverse_table"))
        ).splitlines(),
        f"static const nnfx::recurrent_cell cell = {CELL_KINDS[a.cell]};",
    ]
    fields = {
        "n_in": a.n_in,
        "hidden": a.hidden,
        "steps": a.steps,
        "n_gates": a.gates * a.hidden,
        "n_out": a.steps * a.hidden if a.return_sequences else a.hidden,
        "return_sequences": a.return_sequences,
        "reuse_factor": w.options.reuse(node),
    }
    cfg = w.config(node, fields, types, nested)
    weight = w.constant(node, "weights", types["weight_t"], node.constant(w.graph, "weight"))
    recurrent = w.constant(
        node, "recweights", types["weight_t"], node.constant(w.graph, "recurrent")
    )
    bias = w.constant(node, "biases", types["bias_t"], node.constant(w.graph, "bias"))
    rb = node.param(w.graph, "recurrent_bias")
    recurrent_bias = w.constant(
        node, "recbiases", types["bias_t"], np.zeros(a.hidden) if rb is None else rb
    )
    sig = w.constant(node, "lut", types["sig_t"], node.constant(w.graph, "table"))
    tanh = w.constant(node, "tanhlut", types["tanh_t"], node.constant(w.graph, "inverse_table"))
    form = "unrolled" if w.options.strategy_of(node) == "latency" else "static"
    w.body.append(
        f"    nnfx::recurrent_{form}<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {weight}, "
        f"{recurrent}, {bias}, {recurrent_bias}, {sig}, {tanh});"
    )
