"""ONNX ``RNN``, ``LSTM`` and ``GRU`` (forward, zero initial state) -> one IR ``Recurrent`` node
(compiler/recurrent.py).

The operators take their input time-major, ``(steps, batch, features)``, which puts the batch
on the second axis; nnfx keeps the batch first everywhere. Exporters surround the operator
with the layout changes that bring the batch back first, and :func:`batch_first_recurrent`
recognizes them before conversion: ``Transpose(perm=[1, 0, 2])`` of a batch-first input into
the operator; on ``Y (steps, 1, batch, hidden)`` a ``Squeeze`` of axis 1 then
``Transpose(perm=[1, 0, 2])``, or (PyTorch's dynamo export) ``Transpose(perm=[0, 2, 1, 3])``,
a ``Reshape`` with a target computed from shapes, then ``Transpose(perm=[1, 0, 2])`` (the
whole sequence, batch first); on ``Y_h (1, batch, hidden)``
a ``Squeeze`` of axis 0 (the last state). The match replaces them by the operator marked
batch-first (a ``Gather`` of index -1 on axis 1 of that sequence, PyTorch's ``y[:, -1]``, is
the last state) (the attribute :data:`BATCH_FIRST`), whose outputs are those batch-first values.
nnfx's own export (trainer/onnx_recurrent.py) and both PyTorch exporters of a
``batch_first=True`` layer write these forms (zero initial states built from the batch size
are dropped: the operator's default). A time-major graph input (PyTorch's
``batch_first=False``) is refused by name.
"""

from __future__ import annotations

import numpy as np
import onnx

from nnfx.compiler.ops import Op, ReshapeAttrs
from nnfx.compiler.recurrent import CELLS, GRU_GATES, RecurrentAttrs, gate
from nnfx.compiler.slicing import SliceAttrs
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter
from nnfx.frontends.patterns import _Graph

SHAPE_OPS = ("Shape", "Slice", "Gather", "Mul", "Reshape", "Concat", "Unsqueeze", "Squeeze")
BATCH_FIRST = "nnfx_batch_first"  # set by batch_first_recurrent only
RECURRENT_OPS = ("RNN", "LSTM", "GRU")
DEFAULT_ACTIVATIONS = {
    "RNN": ["Tanh"],
    "LSTM": ["Sigmoid", "Tanh", "Tanh"],
    "GRU": ["Sigmoid", "Tanh"],
}


def _axes(g: _Graph, node: onnx.NodeProto) -> list[int] | None:
    """A Squeeze's constant axes (attribute or input)."""
    for a in node.attribute:
        if a.name == "axes":
            return list(a.ints)
    if len(node.input) > 1 and node.input[1] in g.consts:
        return [int(v) for v in np.asarray(g.consts[node.input[1]]).reshape(-1)]
    return None


def _perm(node: onnx.NodeProto | None) -> list[int] | None:
    if node is None:
        return None
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), None)


def _sequence(g: _Graph, y: str):
    """The Transpose that ends ``Y``'s way back to ``(batch, steps, hidden)`` and the nodes on
    the way: ``Squeeze(axes=[1])`` then ``Transpose(perm=[1, 0, 2])`` (nnfx, TorchScript), or
    ``Transpose(perm=[0, 2, 1, 3])``, a ``Reshape`` to ``(steps, batch, hidden)`` whose shape is
    computed from that Transpose's Shape, then ``Transpose(perm=[1, 0, 2])`` (dynamo)."""
    squeeze = g.only_reader(y, "Squeeze")
    if squeeze is not None and _axes(g, squeeze) == [1]:
        back = g.only_reader(squeeze.output[0], "Transpose")
        return (back, [squeeze, back]) if _perm(back) == [1, 0, 2] else None
    swap = g.only_reader(y, "Transpose")
    if _perm(swap) != [0, 2, 1, 3]:
        return None
    readers = g.readers.get(swap.output[0], [])
    reshapes = [n for n in readers if n.op_type == "Reshape" and n.input[0] == swap.output[0]]
    if len(reshapes) != 1:
        return None
    (reshape,) = reshapes
    chain = _shape_chain(g, reshape.input[1], swap.output[0])
    if chain is None or any(n is not reshape and n not in chain for n in readers):
        return None
    back = g.only_reader(reshape.output[0], "Transpose")
    if _perm(back) != [1, 0, 2]:
        return None
    return back, [swap, reshape, back, *chain]


def _shape_chain(g: _Graph, name: str, source: str) -> list[onnx.NodeProto] | None:
    """The nodes computing ``name`` from constants and the shape of ``source`` alone, when
    nothing else reads them (a Reshape's computed target), else None."""
    chain: list[onnx.NodeProto] = []
    todo = [name]
    while todo:
        value = todo.pop()
        if value in g.consts or value == source or not value:
            continue
        maker = g.producer.get(value)
        if maker is None or maker.op_type not in SHAPE_OPS:
            return None
        if maker not in chain:
            chain.append(maker)
            todo.extend(i for i in maker.input if not (maker.op_type == "Shape" and i == source))
    inside = {o for n in chain for o in n.output}
    for n in chain:
        for o in n.output:
            if o in g.outputs or any(
                r not in chain and r.op_type != "Reshape" for r in g.readers.get(o, [])
            ):
                return None
    return chain if inside else None


def _zeros(g: _Graph, name: str) -> bool:
    """True when ``name`` is zeros built from constants (an initializer, or an Expand or
    ConstantOfShape of 0, through Slices and the like): an initial state the operator may
    drop. PyTorch's dynamo export slices its zero states from an Expand of the batch size."""
    for _ in range(8):
        if name in g.consts:
            return not np.any(np.asarray(g.consts[name], np.float64))
        maker = g.producer.get(name)
        if maker is None:
            return False
        if maker.op_type == "ConstantOfShape":
            value = next((a.t for a in maker.attribute if a.name == "value"), None)
            return value is None or not np.any(onnx.numpy_helper.to_array(value))
        if maker.op_type not in ("Expand", "Slice", "Unsqueeze", "Squeeze", "Identity"):
            return False
        name = maker.input[0]
    return False


def _match(g: _Graph, node: onnx.NodeProto):
    """(the batch-first input, the new output names, the nodes the match removes) or None."""
    if any(a.name == "layout" and a.i != 0 for a in node.attribute) or not node.input:
        return None
    into = g.made_by(node.input[0], "Transpose")
    if _perm(into) != [1, 0, 2] or g.only_reader(node.input[0], node.op_type) is None:
        return None
    outputs = list(node.output) + [""] * (3 - len(node.output))
    removed = [into]
    every, last = "", ""
    y, y_h, y_c = outputs[:3]
    if y and (y in g.outputs or g.readers.get(y)):
        found = _sequence(g, y)
        if found is None:
            return None
        back, dropped = found
        every = back.output[0]
        removed += dropped
        pick = g.only_reader(every, "Gather")  # PyTorch's y[:, -1]: the last state
        index = None if pick is None else g.consts.get(pick.input[1])
        axis = None if pick is None else next((a.i for a in pick.attribute if a.name == "axis"), 0)
        if index is not None and index.size == 1 and index.ndim == 0 and axis == 1:
            if int(index) == -1:
                every, last = "", pick.output[0]
                removed.append(pick)
    if y_h and (y_h in g.outputs or g.readers.get(y_h)):
        if last:
            return None
        squeeze = g.only_reader(y_h, "Squeeze")
        if squeeze is None or _axes(g, squeeze) != [0]:
            return None
        last = squeeze.output[0]
        removed.append(squeeze)
    if y_c and (y_c in g.outputs or g.readers.get(y_c)):
        return None
    for state in node.input[5:7]:  # initial_h, initial_c: zeros from the batch size
        maker = g.producer.get(state)
        if state and maker is not None and maker.op_type == "Slice" and _zeros(g, state):
            readers = g.readers.get(state, [])
            if all(r is node for r in readers) and state not in g.outputs and maker not in removed:
                removed.append(maker)
    return into.input[0], [every, last], removed


def batch_first_recurrent(
    graph: onnx.GraphProto, order: list[onnx.NodeProto]
) -> list[onnx.NodeProto]:
    """``order`` with each recurrent operator between the layout changes above replaced by
    the operator marked batch-first (at its place; the removed nodes dropped)."""
    g = _Graph(graph, order)
    replaced: dict[int, onnx.NodeProto] = {}
    dropped: set[int] = set()
    for node in order:
        if node.op_type not in RECURRENT_OPS or node.domain not in ("", "ai.onnx"):
            continue
        found = _match(g, node)
        if found is None:
            continue
        x, outputs, removed = found
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.input[0] = x
        for k in (5, 6):  # zero initial states made from the batch size: the default
            if len(new.input) > k and new.input[k] and _zeros(g, new.input[k]):
                new.input[k] = ""
        del new.output[:]
        new.output.extend(outputs)
        new.attribute.append(onnx.helper.make_attribute(BATCH_FIRST, 1))
        replaced[id(node)] = new
        dropped.update(id(n) for n in removed)
    return [replaced.get(id(n), n) for n in order if id(n) not in dropped]


def _refuse(c: Converter, message: str) -> UnsupportedOpError:
    return c.error(message, UnsupportedOpError)


def _zero_state(c: Converter, index: int, what: str) -> None:
    node = c.onnx_node
    if len(node.input) <= index or not node.input[index]:
        return
    v = c.value(node.input[index])
    if not v.is_const or np.any(np.asarray(v.const, np.float64) != 0):
        raise _refuse(c, f"its {what} is not constant zeros; nnfx starts from a zero state only")


def recurrent(c: Converter) -> None:
    """An RNN, LSTM or GRU marked batch-first by :func:`batch_first_recurrent`."""
    node = c.onnx_node
    op = node.op_type
    names = c.inputs(3, 8 if op == "LSTM" else 6)
    if not c.attr(BATCH_FIRST, 0, "int"):
        raise _refuse(
            c,
            "its input is time-major (steps, batch, features) or its outputs are used in a "
            "layout nnfx does not recognize; nnfx reads a recurrent layer whose input is "
            "Transpose(perm=[1, 0, 2]) of a batch-first tensor (PyTorch's batch_first=True) "
            "and whose Y is squeezed and transposed back (or Y_h squeezed)",
        )
    direction = c.attr("direction", "forward", "string")
    if direction != "forward":
        raise _refuse(c, f"direction '{direction}' is not supported; nnfx reads forward layers")
    activations = c.attr("activations", None)
    if activations is not None:
        activations = [bytes(s).decode(errors="replace") for s in activations]
    if activations is not None and [s.lower() for s in activations] != [
        s.lower() for s in DEFAULT_ACTIVATIONS[op]
    ]:
        raise _refuse(
            c,
            f"activations {activations} are not supported; nnfx reads the defaults "
            f"{DEFAULT_ACTIVATIONS[op]}",
        )
    if c.attr("clip", None) is not None:
        raise _refuse(c, "the clip attribute is not supported")
    if c.attr("input_forget", 0, "int"):
        raise _refuse(c, "input_forget=1 (coupled input and forget gates) is not supported")
    if op == "GRU" and c.attr("linear_before_reset", 0, "int") != 1:
        raise _refuse(
            c,
            "linear_before_reset=0 is not supported; nnfx reads PyTorch's GRU "
            "(linear_before_reset=1)",
        )
    if op == "LSTM" and len(names) > 7 and names[7]:
        raise _refuse(c, "peephole weights P are not supported")
    x = c.tensor(names[0])
    if len(x.onnx_shape) != 2:
        raise c.error(f"needs a (batch, steps, features) input, got (batch, {x.onnx_shape})")
    steps, n_in = x.onnx_shape
    cell = op.lower()
    gates = CELLS[cell]
    hidden = int(c.attr("hidden_size", 0, "int"))
    w = c.numbers(names[1], "W")
    r = c.numbers(names[2], "R")
    if w.shape != (1, gates * hidden, n_in) or r.shape != (1, gates * hidden, hidden):
        raise c.error(
            f"W of shape {w.shape} and R of shape {r.shape} do not fit {gates} gates of "
            f"hidden_size {hidden} over {n_in} features (one direction)"
        )
    b = np.zeros((1, 2 * gates * hidden))
    if len(names) > 3 and names[3]:
        b = c.numbers(names[3], "B")
        if b.shape != (1, 2 * gates * hidden):
            raise c.error(f"B of shape {b.shape} does not fit {gates} gates of {hidden}")
    if len(names) > 4 and names[4]:
        lens = c.numbers(names[4], "sequence_lens")
        if np.any(lens != steps):
            raise _refuse(c, f"sequence_lens other than the full length {steps} is not supported")
    _zero_state(c, 5, "initial_h")
    _zero_state(c, 6, "initial_c")
    wb, rb = b[0, : gates * hidden], b[0, gates * hidden :]
    params = {"weight": w[0].T, "recurrent": r[0].T}
    if cell == "gru":
        n = GRU_GATES["n"]
        folded = wb + rb
        folded[n * hidden : (n + 1) * hidden] = gate(wb, n, hidden)
        params.update(bias=folded, recurrent_bias=gate(rb, n, hidden).copy())
    else:
        params["bias"] = wb + rb
    every, last = (list(node.output) + ["", ""])[:2]
    tensor = c.in_layout(x, (0, 1))
    attrs = RecurrentAttrs(cell, n_in, hidden, steps, return_sequences=bool(every))
    out = c.emit(Op.RECURRENT, [tensor], attrs, params)
    if every:
        c.set_output(c.new_value(out, (0, 1)), 0)
    if last and every:
        step = c.emit(Op.SLICE, [out], SliceAttrs(0, steps - 1, steps), suffix="_last")
        state = c.emit(Op.RESHAPE, [step], ReshapeAttrs((hidden,)), suffix="_state")
        c.set_output(c.new_value(state, (0,)), 1)
    elif last:
        c.set_output(c.new_value(out, (0,)), 1)
