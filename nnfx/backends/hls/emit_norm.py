"""The HLS emitter of LayerNorm (kernel ``nnfx::layernorm`` in templates/nnfx_kernels.h): the
wide internal types that hold its exact sums, the thresholds of the normalizing shift, the
inverse square-root table, scale and bias (docs/semantics.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nnfx.backends.hls.render import WideType, exact_sum_type, literal
from nnfx.compiler.ir import Node, TableSpec
from nnfx.compiler.layer_norm import bounds, table_log2

if TYPE_CHECKING:
    from nnfx.backends.hls.writer import HlsWriter


def emit_layer_norm(w: HlsWriter, node: Node, ins, out, in_t, out_t) -> None:
    p, a = node.layer_precision, node.attrs
    x = w.graph.tensors[node.inputs[0]].dtype
    size = p.spec("table").size
    eps = float(node.constant(w.graph, "epsilon")[0])
    bound = bounds(x, a.size, int(eps), size)
    f = x.frac
    # d = n x - S has x's LSB; V and U = V + E the LSB of x * x; 2^-(s/2) needs `steps` bits
    dev = WideType(bound.deviation + 2, bound.deviation + 2 - f)
    var = WideType(bound.total + 2, bound.total + 2 - 2 * f)
    types = {
        "sum_t": w.types.add(w.node_name("total", node), exact_sum_type(x, a.size)),
        "dev_t": w.types.add(w.node_name("devtype", node), dev),
        "var_t": w.types.add(w.node_name("vartype", node), var),
        "half_t": w.types.add(w.node_name("halftype", node), WideType(bound.steps + 1, 1, False)),
        "table_t": w.types.add(w.node_name("rsqrttype", node), p.type_of("table_type")),
        "norm_t": w.types.add(w.node_name("normtype", node), p.type_of("inverse_type")),
        "scale_t": w.types.add(w.node_name("stype", node), p.type_of("weight")),
        "bias_t": w.types.add(w.node_name("btype", node), p.type_of("bias")),
    }
    code_t = w.types.add(w.node_name("codescale", node), WideType(1, f + 1, False))
    var_t = types["var_t"]
    rows = int(np.prod(w.graph.tensors[node.inputs[0]].shape)) // a.size
    cfg = w.config(
        node,
        {"n": a.size, "n_rows": rows, "n_steps": bound.steps, "n_thresholds": max(bound.steps, 1)},
        types,
        [  # the index u = floor(U * 4^-(s/2)): U's value times 2^(2F), on [0, table_size)
            *w.table_members(node, "lutscale", TableSpec(size=size, shift=2 * f, start=0)),
            f"static {var_t} epsilon() {{ return {var_t}({literal(eps * 2.0 ** (-2 * f))}); }}",
            f"static {code_t} code_scale() {{ return {code_t}({literal(2.0**f)}); }}",
        ],
    )
    size_log2 = table_log2(size)
    steps = [2.0 ** (size_log2 + 2 * j - 2 * f) for j in range(bound.steps)] or [0.0]
    thresholds = w.constant(node, "normsteps", var_t, steps)
    table = w.constant(node, "normlut", types["table_t"], node.constant(w.graph, "table"))
    scale = w.constant(node, "scales", types["scale_t"], node.constant(w.graph, "scale"))
    bias = w.constant(node, "biases", types["bias_t"], node.constant(w.graph, "bias"))
    w.body.append(
        f"    nnfx::layernorm<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {table}, "
        f"{thresholds}, {scale}, {bias});"
    )
