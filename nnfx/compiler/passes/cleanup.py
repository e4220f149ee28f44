"""remove_identity and eliminate_dead_code."""

from __future__ import annotations

from nnfx.compiler.ir import Graph
from nnfx.compiler.ops import Op
from nnfx.compiler.passes._rewrite import bypass, until_fixpoint


def _remove_one_identity(graph: Graph) -> Graph | None:
    """One rewrite, or None when there is none."""
    for node in graph.nodes:
        if node.op is Op.IDENTITY:
            result = bypass(graph, node)
            if result is not None:
                return result
    return None


def remove_identity(graph: Graph) -> Graph:
    """Drop Identity nodes (ONNX Identity, Dropout and float casts arrive as Identity)."""
    return until_fixpoint(graph, _remove_one_identity)


def eliminate_dead_code(graph: Graph) -> Graph:
    """Keep only the nodes the outputs depend on, and only the tensors and constants they use."""
    producers = graph.producers()
    needed_tensors = set(graph.outputs) | set(graph.inputs)
    stack = list(graph.outputs)
    while stack:
        node = producers.get(stack.pop())
        if node is None:
            continue
        for name in node.inputs:
            if name not in needed_tensors:
                needed_tensors.add(name)
                stack.append(name)
    nodes = tuple(n for n in graph.nodes if any(o in needed_tensors for o in n.outputs))
    for n in nodes:
        needed_tensors.update(n.outputs)
    used_constants = {c for n in nodes for c in n.params.values()}
    return graph.replace(
        nodes=nodes,
        tensors={k: t for k, t in graph.tensors.items() if k in needed_tensors},
        constants={k: v for k, v in graph.constants.items() if k in used_constants},
    )
