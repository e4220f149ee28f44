"""Many compiled graphs as one: their disjoint union, so that one C-simulation build (one g++
run, not one per graph) runs them all. Every name of graph ``k`` (tensors, nodes, constants)
takes the prefix ``m{k}_``; each graph's outputs are read back under its own names, so a test
per graph still names the graph that differs."""

from __future__ import annotations

import dataclasses

import numpy as np

from nnfx.compiler.fixed import to_float, to_raw
from nnfx.compiler.ir import INTEGER, Graph


def union(graphs: list[Graph]) -> Graph:
    tensors, nodes, constants, inputs, outputs = {}, [], {}, [], []
    for k, g in enumerate(graphs):
        p = f"m{k}_"
        tensors.update({p + n: dataclasses.replace(t, name=p + n) for n, t in g.tensors.items()})
        constants.update({p + n: v for n, v in g.constants.items()})
        nodes.extend(
            dataclasses.replace(
                node,
                name=p + node.name,
                inputs=tuple(p + i for i in node.inputs),
                outputs=tuple(p + o for o in node.outputs),
                params={role: p + c for role, c in node.params.items()},
            )
            for node in g.nodes
        )
        inputs.extend(p + n for n in g.inputs)
        outputs.extend(p + n for n in g.outputs)
    return Graph("union", tuple(inputs), tuple(outputs), tensors, tuple(nodes), constants)


def split(outputs: dict[str, np.ndarray], k: int, graph: Graph) -> dict[str, np.ndarray]:
    """Graph ``k``'s outputs, by its own names, from the union's outputs."""
    return {name: outputs[f"m{k}_{name}"] for name in graph.outputs}


def run_together(engine: str, compiled: list, raw_inputs: list[dict]) -> list[dict]:
    """The ``engine`` C-simulation of several compiled models, built once as their union:
    each model's raw output codes (by its own output names) for its raw inputs (one batch
    size for all)."""
    from nnfx.runtime.csim import CSimulation

    graphs = [c.graph for c in compiled]
    values = {
        f"m{k}_{name}": to_float(raw, g.tensors[name].dtype.frac)
        for k, (g, raws) in enumerate(zip(graphs, raw_inputs, strict=True))
        for name, raw in raws.items()
    }
    out = CSimulation(union(graphs), engine, progress=False).run(values)
    results = []
    for k, g in enumerate(graphs):
        mine = split(out, k, g)
        results.append(
            {
                name: v.astype(np.int64)
                if g.tensors[name].dtype == INTEGER
                else to_raw(v, g.tensors[name].dtype.frac)
                for name, v in mine.items()
            }
        )
    return results


class _Member:
    """One model's view of a union's C-simulation: its inputs fed, the others' zero."""

    def __init__(self, simulation, k: int, graphs: list[Graph]):
        self.simulation, self.k, self.graphs = simulation, k, graphs
        self.graph = graphs[k]

    def run(self, ir_inputs: dict[str, np.ndarray], threads: int | None = None) -> dict:
        n = len(next(iter(ir_inputs.values())))
        feed = {
            f"m{j}_{name}": ir_inputs[name]
            if j == self.k
            else np.zeros((n, *g.tensors[name].shape), np.float64)
            for j, g in enumerate(self.graphs)
            for name in g.inputs
        }
        return split(self.simulation.run(feed, threads), self.k, self.graph)


def share_csim(compiled: list, engines=("csim", "csim-ap")) -> None:
    """Build each engine's C-simulation of all ``compiled`` models once, as their union, and
    make it each model's own (what ``predict_raw(X, engine)`` then runs): a test module that
    compiles several small models pays one g++ build per engine, not one per model."""
    from nnfx.runtime.csim import CSimulation

    graphs = [c.graph for c in compiled]
    for engine in engines:
        simulation = CSimulation(union(graphs), engine, progress=False)
        for k, c in enumerate(compiled):
            c.__dict__.setdefault("_csim", {})[engine] = _Member(simulation, k, graphs)
