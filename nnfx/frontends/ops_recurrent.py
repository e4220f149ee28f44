"""ONNX ``RNN``, ``LSTM`` and ``GRU`` (zero initial state) -> one IR ``Recurrent`` node per
direction (compiler/recurrent.py).

The operators take their input time-major, ``(steps, batch, features)``, which puts the batch
on the second axis; nnfx keeps the batch first everywhere. Exporters surround the operator
with the layout changes that bring the batch back first, and :func:`batch_first_recurrent`
recognizes them before conversion: ``Transpose(perm=[1, 0, 2])`` of a batch-first input into
the operator; on ``Y (steps, 1, batch, hidden)`` a ``Squeeze`` of axis 1 then
``Transpose(perm=[1, 0, 2])``, or (PyTorch's dynamo export) ``Transpose(perm=[0, 2, 1, 3])``,
a ``Reshape`` with a target computed from shapes (or a constant), then
``Transpose(perm=[1, 0, 2])`` (the whole sequence, batch first); on ``Y_h (1, batch, hidden)``
a ``Squeeze`` of axis 0 (the last state). The match replaces them by the operator marked
batch-first (a ``Gather`` of index -1 on axis 1 of that sequence, PyTorch's ``y[:, -1]``, is
the last state) (the attribute :data:`BATCH_FIRST`), whose outputs are those batch-first values.
nnfx's own export (trainer/onnx_recurrent.py) and both PyTorch exporters of a
``batch_first=True`` layer write these forms (zero initial states built from the batch size
are dropped: the operator's default). A time-major graph input (PyTorch's
``batch_first=False``) that recurrent operators read directly is read batch-first with its
``Tensor.batch_axis`` 1 (:func:`time_major_inputs`); on the time-major sequence
``(steps, batch, hidden)`` a ``Gather`` of index -1 on axis 0 (``y[-1]``) is the last state, and
the sequence returned as a graph output keeps the batch on axis 1. Reverse and bidirectional
layers become a forward and a reverse ``Recurrent`` (the steps reversed by Slices and a Concat),
joined by a Concat on the features (docs/semantics.md "Recurrent layers").
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import onnx

from nnfx.compiler.ops import ConcatAttrs, Op, ReshapeAttrs
from nnfx.compiler.recurrent import CELLS, GRU_GATES, RecurrentAttrs, gate
from nnfx.compiler.slicing import SliceAttrs
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter
from nnfx.frontends.patterns import _Graph

SHAPE_OPS = ("Shape", "Slice", "Gather", "Mul", "Reshape", "Concat", "Unsqueeze", "Squeeze")
BATCH_FIRST = "nnfx_batch_first"  # set by batch_first_recurrent only
RECURRENT_OPS = ("RNN", "LSTM", "GRU")
DIRECTIONS = {"forward": (False,), "reverse": (True,), "bidirectional": (False, True)}
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
    """``Y``'s way to ``(steps, batch, hidden)``: ``Squeeze(axes=[1])`` (nnfx, TorchScript), or
    ``Transpose(perm=[0, 2, 1, 3])`` and a ``Reshape`` whose shape is computed from that
    Transpose's Shape (dynamo); then, batch-first, ``Transpose(perm=[1, 0, 2])``. The value at
    the end, the nodes on the way, and whether the value is time-major (no Transpose back)."""
    squeeze = g.only_reader(y, "Squeeze")
    if squeeze is not None and _axes(g, squeeze) == [1]:
        return _back(g, squeeze.output[0], [squeeze])
    swap = g.only_reader(y, "Transpose")
    if _perm(swap) != [0, 2, 1, 3]:
        return None
    readers = g.readers.get(swap.output[0], [])
    reshapes = [n for n in readers if n.op_type == "Reshape" and n.input[0] == swap.output[0]]
    if len(reshapes) != 1:
        return None
    (reshape,) = reshapes
    target = g.consts.get(reshape.input[1])
    if target is not None:  # a constant (steps, batch, directions * hidden), batch left free
        t = [int(v) for v in np.asarray(target).reshape(-1)]
        copies = next((a.i for a in reshape.attribute if a.name == "allowzero"), 0) == 0
        fits = len(t) == 3 and t[1] in (-1, 0) and t.count(-1) <= 1 and min(t) >= -1
        chain = [] if fits and (copies or 0 not in t) else None
    else:
        chain = _shape_chain(g, reshape.input[1], swap.output[0])
    if chain is None or any(n is not reshape and n not in chain for n in readers):
        return None
    return _back(g, reshape.output[0], [swap, reshape, *chain])


def _back(g: _Graph, sequence: str, nodes: list[onnx.NodeProto]):
    """``_sequence``'s answer for the ``(steps, batch, hidden)`` value ``sequence``."""
    back = g.only_reader(sequence, "Transpose")
    if _perm(back) == [1, 0, 2]:
        return back.output[0], [*nodes, back], False
    return (sequence, nodes, True) if back is None else None


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


def time_major_inputs(graph: onnx.GraphProto, order: list[onnx.NodeProto]) -> set[str]:
    """The graph inputs that recurrent operators read directly (and only Shape nodes besides):
    time-major ``(steps, batch, features)``, their batch on axis 1. nnfx reads them batch-first
    (``Tensor.batch_axis`` 1) and :func:`batch_first_recurrent` matches the operators on them."""
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in order:
        for x in node.input:
            readers.setdefault(x, []).append(node)
    found = set()
    for vi in graph.input:
        users = readers.get(vi.name, [])
        cells = [n for n in users if n.op_type in RECURRENT_OPS and n.domain in ("", "ai.onnx")]
        if (
            len(vi.type.tensor_type.shape.dim) == 3
            and vi.name not in {o.name for o in graph.output}
            and cells
            and all(n.input[0] == vi.name and vi.name not in n.input[1:] for n in cells)
            and all(a.name != "layout" or a.i == 0 for n in cells for a in n.attribute)
            and all(n in cells or n.op_type == "Shape" for n in users)
        ):
            found.add(vi.name)
    return found


def _match(g: _Graph, node: onnx.NodeProto, time_major: Collection[str], outputs_tm: set[str]):
    """(the batch-first input, the new output names, the nodes the match removes) or None;
    ``time_major``: the inputs read batch-first already; a whole time-major sequence that is a
    graph output joins ``outputs_tm``."""
    if any(a.name == "layout" and a.i != 0 for a in node.attribute) or not node.input:
        return None
    removed = []
    x = node.input[0]
    if x not in time_major:
        into = g.made_by(x, "Transpose")
        if _perm(into) != [1, 0, 2] or g.only_reader(x, node.op_type) is None:
            return None
        x = into.input[0]
        removed.append(into)
    outputs = list(node.output) + [""] * (3 - len(node.output))
    every, last, sequence_out = "", "", ""
    y, y_h, y_c = outputs[:3]
    if y and (y in g.outputs or g.readers.get(y)):
        found = _sequence(g, y)
        if found is None:
            return None
        every, dropped, steps_first = found
        removed += dropped
        pick = g.only_reader(every, "Gather")  # PyTorch's y[:, -1] (y[-1]): the last state
        index = None if pick is None else g.consts.get(pick.input[1])
        axis = None if pick is None else next((a.i for a in pick.attribute if a.name == "axis"), 0)
        if index is not None and index.size == 1 and index.ndim == 0 and axis == 1 - steps_first:
            if int(index) == -1:
                every, last = "", pick.output[0]
                removed.append(pick)
        if every and steps_first:
            if every not in g.outputs or g.readers.get(every):
                return None
            sequence_out = every
    forward = all(a.name != "direction" or a.s == b"forward" for a in node.attribute)
    if y_h and (y_h in g.outputs or g.readers.get(y_h)):
        if last or not forward:  # another direction's Y_h: refused by the converter
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
    if sequence_out:
        outputs_tm.add(sequence_out)
    return x, [every, last], removed


def batch_first_recurrent(
    graph: onnx.GraphProto,
    order: list[onnx.NodeProto],
    time_major: Collection[str] = (),
    outputs_tm: set[str] | None = None,
) -> list[onnx.NodeProto]:
    """``order`` with each recurrent operator between the layout changes above replaced by
    the operator marked batch-first (at its place; the removed nodes dropped). ``time_major``:
    the graph inputs read batch-first (:func:`time_major_inputs`); the graph outputs that are a
    whole time-major sequence, which the operator now gives batch-first, join ``outputs_tm``."""
    g = _Graph(graph, order)
    replaced: dict[int, onnx.NodeProto] = {}
    dropped: set[int] = set()
    for node in order:
        if node.op_type not in RECURRENT_OPS or node.domain not in ("", "ai.onnx"):
            continue
        found = _match(g, node, time_major, set() if outputs_tm is None else outputs_tm)
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
            "its input or outputs are laid out in a way nnfx does not recognize; nnfx reads "
            "a recurrent layer on a time-major graph input or on Transpose(perm=[1, 0, 2]) of "
            "a batch-first tensor, whose Y is squeezed (then transposed to batch-first, its "
            "last step gathered, or returned) or whose Y_h is squeezed (forward layers only)",
        )
    direction = c.attr("direction", "forward", "string")
    if direction not in DIRECTIONS:
        raise _refuse(c, f"direction '{direction}' is not supported")
    passes = DIRECTIONS[direction]
    activations = c.attr("activations", None)
    if activations is not None:
        activations = [bytes(s).decode(errors="replace") for s in activations]
    if activations is not None and [s.lower() for s in activations] != [
        s.lower() for s in DEFAULT_ACTIVATIONS[op] * len(passes)
    ]:
        raise _refuse(
            c,
            f"activations {activations} are not supported; nnfx reads the defaults "
            f"{DEFAULT_ACTIVATIONS[op] * len(passes)}",
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
    d = len(passes)
    w = c.numbers(names[1], "W")
    r = c.numbers(names[2], "R")
    if w.shape != (d, gates * hidden, n_in) or r.shape != (d, gates * hidden, hidden):
        raise c.error(
            f"W of shape {w.shape} and R of shape {r.shape} do not fit {gates} gates of "
            f"hidden_size {hidden} over {n_in} features ({d} direction(s))"
        )
    b = np.zeros((d, 2 * gates * hidden))
    if len(names) > 3 and names[3]:
        b = c.numbers(names[3], "B")
        if b.shape != (d, 2 * gates * hidden):
            raise c.error(f"B of shape {b.shape} does not fit {gates} gates of {hidden}")
    if len(names) > 4 and names[4]:
        lens = c.numbers(names[4], "sequence_lens")
        if np.any(lens != steps):
            raise _refuse(c, f"sequence_lens other than the full length {steps} is not supported")
    _zero_state(c, 5, "initial_h")
    _zero_state(c, 6, "initial_c")
    every, last = (list(node.output) + ["", ""])[:2]
    tensor = c.in_layout(x, (0, 1))
    sequences, states = [], []
    for k, backwards in enumerate(passes):
        params = _params(cell, gates, hidden, w[k], r[k], b[k])
        if not backwards:
            attrs = RecurrentAttrs(cell, n_in, hidden, steps, return_sequences=bool(every))
            out = c.emit(Op.RECURRENT, [tensor], attrs, params, "_forward" if d > 1 else "")
            (sequences if every else states).append(out)
        elif every:  # the whole sequence: run over the steps reversed, reverse the outputs
            attrs = RecurrentAttrs(cell, n_in, hidden, steps, return_sequences=True)
            out = c.emit(Op.RECURRENT, [_reversed(c, tensor, steps)], attrs, params, "_reverse")
            sequences.append(_reversed(c, out, steps))
        else:  # Y at the last step: the reverse pass has read the last input only
            one = c.emit(Op.SLICE, [tensor], SliceAttrs(0, steps - 1, steps), suffix="_last_x")
            attrs = RecurrentAttrs(cell, n_in, hidden, 1, return_sequences=False)
            states.append(c.emit(Op.RECURRENT, [one], attrs, params, "_reverse"))
    if every:
        out = sequences[0] if d == 1 else c.emit(Op.CONCAT, sequences, ConcatAttrs(1), {}, "_y")
        c.set_output(c.new_value(out, (0, 1)), 0)
    if last and every:
        step = c.emit(Op.SLICE, [out], SliceAttrs(0, steps - 1, steps), suffix="_last")
        state = c.emit(Op.RESHAPE, [step], ReshapeAttrs((hidden,)), suffix="_state")
        c.set_output(c.new_value(state, (0,)), 1)
    elif last:
        out = states[0] if d == 1 else c.emit(Op.CONCAT, states, ConcatAttrs(0), {}, "_last")
        c.set_output(c.new_value(out, (0,)), 1)


def _params(cell: str, gates: int, hidden: int, w, r, b) -> dict[str, np.ndarray]:
    """One direction's ONNX W, R, B as the IR op's constants (GRU's bias folded)."""
    wb, rb = b[: gates * hidden], b[gates * hidden :]
    params = {"weight": w.T, "recurrent": r.T}
    if cell == "gru":
        n = GRU_GATES["n"]
        folded = wb + rb
        folded[n * hidden : (n + 1) * hidden] = gate(wb, n, hidden)
        params.update(bias=folded, recurrent_bias=gate(rb, n, hidden).copy())
    else:
        params["bias"] = wb + rb
    return params


def _reversed(c: Converter, tensor: str, steps: int) -> str:
    """``tensor`` (steps, features) with its steps in reverse order: one Slice per step and a
    Concat (codes copied, so every engine's rule for them holds unchanged)."""
    if steps == 1:
        return tensor
    parts = [
        c.emit(Op.SLICE, [tensor], SliceAttrs(0, t, t + 1), suffix=f"_step{t}")
        for t in reversed(range(steps))
    ]
    return c.emit(Op.CONCAT, parts, ConcatAttrs(0), {}, "_reversed")
