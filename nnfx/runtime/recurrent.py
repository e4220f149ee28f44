"""The float reference of the recurrent layers (compiler/recurrent.py): PyTorch's and ONNX's
equations in float64, forward over the sequence from a zero state. :func:`internal_ranges`
gives calibration the range of each LSTM's cell state over every step, which the precision
rule reads for the cell state's type (``auto``)."""

from __future__ import annotations

import numpy as np

from nnfx.compiler.ir import Graph, Node
from nnfx.compiler.ops import Op
from nnfx.compiler.recurrent import GRU_GATES, LSTM_GATES, gate, internal_range_name


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def run_recurrent(node: Node, x: np.ndarray, graph: Graph, cells: list | None = None) -> np.ndarray:
    """``x`` (batch, steps, n_in) -> (batch, steps, hidden) or the last state (batch, hidden);
    ``cells``, when given, collects an LSTM's cell state at every step."""
    a = node.attrs
    hidden = a.hidden
    w, r = node.constant(graph, "weight"), node.constant(graph, "recurrent")
    b = node.constant(graph, "bias")
    h = np.zeros((len(x), hidden))
    c = np.zeros((len(x), hidden))
    states = []
    for t in range(a.steps):
        xw = x[:, t] @ w + b
        hr = h @ r
        if a.cell == "rnn":
            h = np.tanh(xw + hr)
        elif a.cell == "lstm":
            z = xw + hr
            i, o, f, g = (gate(z, LSTM_GATES[k], hidden) for k in "iofg")
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            if cells is not None:
                cells.append(c)
        else:
            zg, rg, ng = (GRU_GATES[k] for k in "zrn")
            update = _sigmoid(gate(xw, zg, hidden) + gate(hr, zg, hidden))
            reset = _sigmoid(gate(xw, rg, hidden) + gate(hr, rg, hidden))
            q = gate(hr, ng, hidden) + node.constant(graph, "recurrent_bias")
            n = np.tanh(gate(xw, ng, hidden) + reset * q)
            h = (1.0 - update) * n + update * h
        states.append(h)
    return np.stack(states, axis=1) if a.return_sequences else h


def internal_ranges(graph: Graph, values: dict[str, np.ndarray]) -> dict[str, tuple]:
    """(min, max) of each LSTM's cell state over every step of this data, by
    :func:`~nnfx.compiler.recurrent.internal_range_name` (``values``: every tensor of a float
    run)."""
    out: dict[str, tuple] = {}
    for node in graph.nodes:
        if node.op is Op.RECURRENT and node.attrs.cell == "lstm":
            cells: list = []
            run_recurrent(node, values[node.inputs[0]], graph, cells)
            every = np.stack(cells) if cells else np.zeros(0)
            if every.size:
                out[internal_range_name(node.name, "cell")] = (
                    float(every.min()),
                    float(every.max()),
                )
    return out
