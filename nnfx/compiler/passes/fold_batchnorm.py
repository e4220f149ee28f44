"""fold_batchnorm: a per-channel affine map after a Dense or Conv goes into its weights.

With ``y = x W + b`` followed by ``z = y * s + t`` (per output channel):
``z = x (W * s) + (b * s + t)``. Exact in real arithmetic; in floating point the results
differ only by rounding, which the tests bound.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nnfx.compiler.ir import Graph, Node
from nnfx.compiler.ops import Activation, Op
from nnfx.compiler.passes._rewrite import add_constant, replace_nodes, sole_consumer, until_fixpoint


def _foldable(graph: Graph, producer: Node, affine: Node, bias_only: bool) -> bool:
    if producer.op not in (Op.DENSE, Op.CONV) or producer.attrs.activation is not Activation.LINEAR:
        return False
    if affine.precision is not None and not bias_only:  # the model's own types: a folded
        return False  # scale's multiply (frontends/scaled.py) stays a node
    channels = graph.tensors[producer.outputs[0]].shape[-1]
    scale, shift = affine.constant(graph, "scale"), affine.constant(graph, "bias")
    if scale.shape != (channels,) or shift.shape != (channels,):
        return False  # not per channel (e.g. a full-shape constant)
    return not bias_only or bool(np.all(scale == 1.0))


def _fold_one(graph: Graph, bias_only: bool = False) -> Graph | None:
    """One rewrite, or None when there is none."""
    consumers = graph.consumers()
    producers = graph.producers()
    for affine in graph.nodes:
        if affine.op is not Op.BATCH_NORM:
            continue
        producer = producers.get(affine.inputs[0])
        if producer is None or sole_consumer(graph, affine.inputs[0], consumers) is not affine:
            continue
        if not _foldable(graph, producer, affine, bias_only):
            continue
        scale, shift = affine.constant(graph, "scale"), affine.constant(graph, "bias")
        weight = producer.constant(graph, "weight") * scale  # scales the output channel axis
        bias = producer.param(graph, "bias")
        bias = shift if bias is None else bias * scale + shift
        constants = dict(graph.constants)
        params = {
            "weight": add_constant(constants, f"{producer.name}.weight", weight),
            "bias": add_constant(constants, f"{producer.name}.bias", bias),
        }
        folded = dataclasses.replace(producer, outputs=affine.outputs, params=params)
        tensors = {k: t for k, t in graph.tensors.items() if k != producer.outputs[0]}
        graph = replace_nodes(graph, [producer, affine], [folded])
        graph = graph.replace(constants=constants, tensors=tensors)
        return graph
    return None


def fold_affine(graph: Graph, bias_only: bool = False) -> Graph:
    """Fold every foldable BatchNorm node into the Dense/Conv before it (``bias_only``: only
    the ones that add a bias, i.e. MatMul + Add)."""
    return until_fixpoint(graph, lambda g: _fold_one(g, bias_only=bias_only))


def fold_batchnorm(graph: Graph) -> Graph:
    """Fold BatchNorm (and any per-channel scale and shift) into the preceding Dense/Conv."""
    return fold_affine(graph, bias_only=False)
