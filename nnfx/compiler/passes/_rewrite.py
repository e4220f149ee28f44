"""Small helpers shared by the passes. None of them mutates its input graph."""

from __future__ import annotations

import dataclasses

import numpy as np

from nnfx.compiler.ir import Graph, Node, unique_name


def sole_consumer(graph: Graph, tensor: str, consumers: dict[str, list[Node]]) -> Node | None:
    """The one node reading ``tensor``, or None if it has several readers or is an output."""
    users = consumers.get(tensor, [])
    if len(users) != 1 or tensor in graph.outputs:
        return None
    return users[0]


def bypass(graph: Graph, node: Node) -> Graph | None:
    """Remove a one-input, one-output node whose output equals its input.

    Readers of the output read the input instead; when the output is a graph output, the
    input is renamed to it instead, so that graph outputs keep their names. None when
    neither is possible (input and output both at the graph's boundary).
    """
    (source,), (target,) = node.inputs, node.outputs
    if target in graph.outputs:
        if source in graph.inputs or source in graph.outputs:
            return None
        old, new = source, target  # the output's name survives
        kept = graph.tensors[target]
        tensors = {k: t for k, t in graph.tensors.items() if k != source}
        tensors[target] = dataclasses.replace(kept, shape=graph.tensors[source].shape)
    else:
        old, new = target, source
        tensors = {k: t for k, t in graph.tensors.items() if k != target}

    def rename(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if n == old else n for n in names)

    nodes = tuple(
        dataclasses.replace(n, inputs=rename(n.inputs), outputs=rename(n.outputs))
        for n in graph.nodes
        if n is not node
    )
    return graph.replace(nodes=nodes, tensors=tensors)


def replace_nodes(graph: Graph, old: list[Node], new: list[Node]) -> Graph:
    """Put ``new`` where the first of ``old`` stood and drop the rest of ``old``."""
    ids = {id(n) for n in old}
    nodes: list[Node] = []
    for n in graph.nodes:
        if id(n) == id(old[0]):
            nodes.extend(new)
        elif id(n) not in ids:
            nodes.append(n)
    return graph.replace(nodes=tuple(nodes))


def add_constant(constants: dict[str, np.ndarray], base: str, array: np.ndarray) -> str:
    """Store a new read-only constant under a fresh name; return the name."""
    name = unique_name(base, constants)
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.flags.writeable = False
    constants[name] = array
    return name


def until_fixpoint(graph: Graph, rewrite_once) -> Graph:
    """Apply ``rewrite_once`` (Graph -> Graph, or None when nothing applies) until it stops."""
    while (result := rewrite_once(graph)) is not None:
        graph = result
    return graph
