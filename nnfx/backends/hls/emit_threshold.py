"""The HLS emitter of MultiThreshold (kernel ``nnfx::multi_threshold`` in
templates/nnfx_kernels.h; docs/semantics.md, "MultiThreshold")."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nnfx.backends.hls.writer import HlsWriter


def emit_threshold(w: HlsWriter, node, ins, out, in_t, out_t):
    thresholds = node.constant(w.graph, "thresholds")
    channels, steps = thresholds.shape
    thresh_t = w.types.add(w.node_name("threshtype", node), node.precision.weight)
    cfg = w.config(
        node,
        {
            "n_in": w.size(node.inputs[0]),
            "n_channels": channels,
            "n_steps": steps,
            "n_thresholds": thresholds.size,
        },
        {"threshold_t": thresh_t},
    )
    t = w.constant(node, "thresh", thresh_t, thresholds)
    levels = w.constant(node, "levels", out_t, node.param(w.graph, "levels"))
    w.body.append(
        f"    nnfx::multi_threshold<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {t}, {levels});"
    )
