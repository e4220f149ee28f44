"""fuse_activations: a Dense or Conv absorbs the element-wise activation after it.

For backends that compute the activation inside the layer's kernel (one quantization step
instead of two). Not in the default pipeline: in fixed point a fused and an unfused activation
may quantize differently (docs/semantics.md says how), so the choice belongs to the backend.
"""

from __future__ import annotations

import dataclasses

from nnfx.compiler.ir import Graph
from nnfx.compiler.ops import ACTIVATION_KINDS, Activation, Op
from nnfx.compiler.passes._rewrite import replace_nodes, sole_consumer, until_fixpoint


def _fuse_one(graph: Graph) -> Graph | None:
    """One rewrite, or None when there is none."""
    consumers = graph.consumers()
    for layer in graph.nodes:
        if layer.op not in (Op.DENSE, Op.CONV) or layer.attrs.activation is not Activation.LINEAR:
            continue
        act = sole_consumer(graph, layer.outputs[0], consumers)
        if act is None or act.op is not Op.ACTIVATION:
            continue
        if not ACTIVATION_KINDS[act.attrs.kind].fusable:
            continue
        slopes = act.param(graph, "alpha")
        if slopes is not None and slopes.size > 1:
            continue  # a leaky_relu with a slope per channel (PRelu) stays a node of its own
        attrs = dataclasses.replace(
            layer.attrs, activation=act.attrs.kind, activation_alpha=act.attrs.alpha
        )
        fused = dataclasses.replace(layer, attrs=attrs, outputs=act.outputs)
        tensors = {k: t for k, t in graph.tensors.items() if k != layer.outputs[0]}
        graph = replace_nodes(graph, [layer, act], [fused]).replace(tensors=tensors)
        return graph
    return None


def fuse_activations(graph: Graph) -> Graph:
    return until_fixpoint(graph, _fuse_one)
