"""PyTorch's dynamo export of ``nn.RNN`` (tanh, with biases), which it unrolls, folded back into
one ONNX ``RNN`` node before conversion (then read as every recurrent layer is,
frontends/ops_recurrent.py).

The unrolled form, on a time-major ``X (steps, batch, features)``: ``L = X @ W_ih^T + b_ih``;
step ``t`` reads ``x_t = Squeeze(Slice(L, t, t + 1, axis 0), 0)`` and computes
``h_t = Tanh((h_{t-1} @ W_hh^T + b_hh) + x_t)`` from ``h_{-1}`` zeros (built from the batch
size); ``Concat(h_0, ..., h_{T-1}, axis 0)`` is the whole sequence ``(steps, batch, hidden)``.
:func:`fold_unrolled_rnn` replaces those nodes by ``RNN(X, W, R, B)`` and a ``Squeeze`` of its
``Y``'s direction axis that gives the Concat's output; anything else is left as it is.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nnfx.frontends.ops_recurrent import _zeros
from nnfx.frontends.patterns import _Graph


def _axis(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "axis"), 0)


def _ints(g: _Graph, name: str) -> list[int] | None:
    value = g.consts.get(name)
    return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def _affine(g: _Graph, name: str):
    """``name = Add(MatMul(x, W), b)`` (either Add order), W and b constant: (x, W, b, nodes)."""
    add = g.made_by(name, "Add")
    if add is None:
        return None
    for a, b in (add.input, add.input[::-1]):
        mul = g.made_by(a, "MatMul")
        if mul is not None and mul.input[1] in g.consts and b in g.consts:
            return mul.input[0], g.consts[mul.input[1]], g.consts[b], [add, mul]
    return None


def _step_input(g: _Graph, name: str, source: str, t: int):
    """``name = Squeeze(Slice(source, t, t + 1, axis 0), 0)``: the nodes, or None."""
    squeeze = g.made_by(name, "Squeeze")
    cut = None if squeeze is None else g.made_by(squeeze.input[0], "Slice")
    if cut is None or cut.input[0] != source or _ints(g, squeeze.input[1]) != [0]:
        return None
    bounds = [_ints(g, i) if i else None for i in (list(cut.input[1:]) + ["", ""])[:4]]
    if bounds[0] != [t] or bounds[1] != [t + 1] or bounds[2] not in (None, [0]):
        return None
    return [squeeze, cut] if bounds[3] in (None, [1]) else None


def _initial(g: _Graph, name: str, inside: set[int]) -> list[onnx.NodeProto] | None:
    """The zero initial state's own nodes (Unsqueeze, Squeeze, Slice read only here)."""
    if not _zeros(g, name):
        return None
    nodes = []
    while (maker := g.producer.get(name)) is not None and maker.op_type in (
        "Unsqueeze",
        "Squeeze",
        "Slice",
    ):
        readers = g.readers.get(name, [])
        if name in g.outputs or any(id(r) not in inside for r in readers):
            break
        nodes.append(maker)
        inside.add(id(maker))
        name = maker.input[0]
    return nodes


def _match(g: _Graph, cat: onnx.NodeProto):
    """(the nodes to remove, X, W, R, B) for a Concat ending the unrolled form, or None."""
    states = list(cat.input)
    if _axis(cat) != 0 or not states:
        return None
    nodes: list[onnx.NodeProto] = [cat]
    source: str | None = None
    recurrent = hidden_bias = w = b_ih = None
    x = first = ""
    for t, h in enumerate(states):
        tanh = g.made_by(h, "Tanh")
        add = None if tanh is None else g.made_by(tanh.input[0], "Add")
        if add is None:
            return None
        for a, b in (add.input, add.input[::-1]):
            carried = _affine(g, a)
            if carried is None:
                continue
            if source is None:  # the first step finds L = X @ W_ih^T + b_ih
                squeeze = g.made_by(b, "Squeeze")
                cut = None if squeeze is None else g.made_by(squeeze.input[0], "Slice")
                feed = None if cut is None else _affine(g, cut.input[0])
                if cut is None or feed is None:
                    continue
                source = cut.input[0]
                x, w, b_ih, own_feed = feed
                nodes += own_feed
            step = _step_input(g, b, source, t)
            if step is None:
                continue
            h_prev, r, b_hh, own = carried
            if recurrent is None:
                recurrent, hidden_bias = r, b_hh
            elif not (np.array_equal(r, recurrent) and np.array_equal(b_hh, hidden_bias)):
                return None
            if t and h_prev != states[t - 1]:
                return None
            nodes += [tanh, add, *own, *step]
            if t == 0:
                first = h_prev
            break
        else:
            return None
    inside = {id(n) for n in nodes}
    start = _initial(g, first, inside)
    if start is None:
        return None
    nodes += start
    for n in nodes:  # nothing outside reads a value inside, but for the Concat's output
        for o in n.output:
            if o != cat.output[0] and (
                o in g.outputs or any(id(r) not in inside for r in g.readers.get(o, []))
            ):
                return None
    if w is None or recurrent is None or w.ndim != 2 or recurrent.shape != (w.shape[1],) * 2:
        return None
    return nodes, x, w, recurrent, np.concatenate([b_ih, hidden_bias])


def fold_unrolled_rnn(graph: onnx.GraphProto, order: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """``order`` with each unrolled ``nn.RNN`` replaced by constants, ``RNN`` and ``Squeeze``
    (at the Concat's place; the matched nodes dropped)."""
    if not any(n.op_type == "Tanh" for n in order):
        return order
    g = _Graph(graph, order)
    dropped: set[int] = set()
    added: dict[int, list[onnx.NodeProto]] = {}
    for node in order:
        if node.op_type != "Concat" or id(node) in dropped:
            continue
        found = _match(g, node)
        if found is None:
            continue
        nodes, x, w, r, b = found
        base = f"{node.output[0]}__rnn"
        constants = {"W": w.T[None], "R": r.T[None], "B": b[None], "axes": np.array([1])}
        made = [
            helper.make_node(
                "Constant", [], [f"{base}_{k}"], value=numpy_helper.from_array(v, f"{base}_{k}")
            )
            for k, v in constants.items()
        ]
        made.append(
            helper.make_node(
                "RNN",
                [x, f"{base}_W", f"{base}_R", f"{base}_B"],
                [f"{base}_Y"],
                name=base,
                hidden_size=int(w.shape[1]),
            )
        )
        made.append(helper.make_node("Squeeze", [f"{base}_Y", f"{base}_axes"], [node.output[0]]))
        added[id(node)] = made
        dropped.update(id(n) for n in nodes)
    if not added:
        return order
    out: list[onnx.NodeProto] = []
    for n in order:
        if id(n) in added:
            out += added[id(n)]
        elif id(n) not in dropped:
            out.append(n)
    return out
