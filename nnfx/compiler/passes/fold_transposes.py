"""fold_transposes: a layout change right before Flatten -> Dense costs nothing.

The frontend keeps images channels-last; an ONNX model flattens them in channels-first order.
Flatten of ``x.transpose(perm)`` is a fixed permutation of Flatten of ``x``, so the Transpose
can go if every Dense reading the flattened vector takes its weight rows in that permuted
order: ``W'[index[i]] = W[i]`` with ``index = arange(size).reshape(shape).transpose(perm).ravel()``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nnfx.compiler.ir import Graph
from nnfx.compiler.ops import Op
from nnfx.compiler.passes._rewrite import add_constant, replace_nodes, sole_consumer, until_fixpoint


def _fold_one(graph: Graph) -> Graph | None:
    """One rewrite, or None when there is none."""
    consumers = graph.consumers()
    for transpose in graph.nodes:
        if transpose.op is not Op.TRANSPOSE:
            continue
        flatten = sole_consumer(graph, transpose.outputs[0], consumers)
        if flatten is None or flatten.op is not Op.FLATTEN:
            continue
        readers = consumers.get(flatten.outputs[0], [])
        if flatten.outputs[0] in graph.outputs or not readers:
            continue
        if any(r.op is not Op.DENSE for r in readers):
            continue
        shape = graph.tensors[transpose.inputs[0]].shape
        index = np.arange(int(np.prod(shape))).reshape(shape).transpose(transpose.attrs.perm)
        index = index.reshape(-1)
        constants = dict(graph.constants)
        new_readers = []
        for dense in readers:
            weight = dense.param(graph, "weight")
            permuted = np.empty_like(weight)
            permuted[index] = weight
            params = dict(dense.params)
            params["weight"] = add_constant(constants, f"{dense.name}.weight", permuted)
            new_readers.append(dataclasses.replace(dense, params=params))
        new_flatten = dataclasses.replace(flatten, inputs=transpose.inputs)
        tensors = {k: t for k, t in graph.tensors.items() if k != transpose.outputs[0]}
        graph = replace_nodes(graph, [transpose, flatten], [new_flatten])
        for old, new in zip(readers, new_readers, strict=True):
            graph = replace_nodes(graph, [old], [new])
        graph = graph.replace(constants=constants, tensors=tensors)
        return graph
    return None


def fold_transposes(graph: Graph) -> Graph:
    return until_fixpoint(graph, _fold_one)
