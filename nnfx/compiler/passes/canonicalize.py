"""canonicalize: one spelling for each computation.

- MatMul + Add arrives as Dense followed by a bias-only BatchNorm: the bias joins the Dense.
- ArgMax keeping its axis, then a Reshape dropping it, is an ArgMax that drops it.
- Layout and shape chains collapse: a Transpose that keeps the order (or moves only axes of
  size 1) is a Reshape; Transpose after Transpose is one Transpose; Reshape/Flatten after
  Reshape/Flatten is one; a Reshape to the shape it already has disappears; a Reshape to one
  axis is a Flatten.
"""

from __future__ import annotations

import dataclasses

from nnfx.compiler.ir import Graph, Node
from nnfx.compiler.ops import NoAttrs, Op, ReshapeAttrs, TransposeAttrs
from nnfx.compiler.passes._rewrite import bypass, replace_nodes, sole_consumer, until_fixpoint
from nnfx.compiler.passes.fold_batchnorm import fold_affine

_SHAPE_OPS = (Op.RESHAPE, Op.FLATTEN)


def _as_reshape(node: Node, shape: tuple[int, ...]) -> Node:
    if len(shape) == 1:
        return dataclasses.replace(node, op=Op.FLATTEN, attrs=NoAttrs())
    return dataclasses.replace(node, op=Op.RESHAPE, attrs=ReshapeAttrs(shape))


def _simplify_one(graph: Graph) -> Graph | None:
    """Apply the first applicable rewrite; None when there is none."""
    consumers = graph.consumers()
    producers = graph.producers()
    for node in graph.nodes:
        if node.op not in (*_SHAPE_OPS, Op.TRANSPOSE):
            continue
        in_shape = graph.tensors[node.inputs[0]].shape
        out_shape = graph.tensors[node.outputs[0]].shape
        if in_shape == out_shape and (
            node.op is not Op.TRANSPOSE or node.attrs.perm == tuple(range(len(in_shape)))
        ):
            result = bypass(graph, node)
            if result is not None:
                return result
        if node.op is Op.TRANSPOSE:
            moved = [p for p in node.attrs.perm if in_shape[p] != 1]
            if moved == sorted(moved):  # only size-1 axes move: the data order is unchanged
                return replace_nodes(graph, [node], [_as_reshape(node, out_shape)])
        if node.op is Op.RESHAPE and len(out_shape) == 1:
            return replace_nodes(graph, [node], [_as_reshape(node, out_shape)])
        previous = producers.get(node.inputs[0])
        if previous is None or sole_consumer(graph, node.inputs[0], consumers) is not node:
            continue
        if node.op in _SHAPE_OPS and previous.op is Op.ARGMAX and previous.attrs.keepdims:
            dropped = dataclasses.replace(previous.attrs, keepdims=False)
            if graph.tensors[previous.inputs[0]].shape[:-1] == out_shape and dropped.axis in (
                -1,
                len(out_shape),
            ):
                merged = dataclasses.replace(previous, attrs=dropped, outputs=node.outputs)
                return _merge(graph, previous, node, merged)
        if node.op in _SHAPE_OPS and previous.op in _SHAPE_OPS:
            merged = dataclasses.replace(_as_reshape(node, out_shape), inputs=previous.inputs)
            return _merge(graph, previous, node, merged)
        if node.op is Op.TRANSPOSE and previous.op is Op.TRANSPOSE:
            perm = tuple(previous.attrs.perm[p] for p in node.attrs.perm)
            merged = dataclasses.replace(node, inputs=previous.inputs, attrs=TransposeAttrs(perm))
            return _merge(graph, previous, node, merged)
    return None


def _merge(graph: Graph, first: Node, second: Node, merged: Node) -> Graph:
    tensors = {k: t for k, t in graph.tensors.items() if k != first.outputs[0]}
    return replace_nodes(graph, [first, second], [merged]).replace(tensors=tensors)


def canonicalize(graph: Graph) -> Graph:
    graph = fold_affine(graph, bias_only=True)
    return until_fixpoint(graph, _simplify_one)
