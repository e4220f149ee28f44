"""The fixed-point ONNX writer of the recurrent layers, unrolled over the sequence: per step a
Gather of ``x_t``, the gate sums as two MatMuls on the codes (exact: the export proves every
sum below float64's 2**53, or refuses naming the layer), Gathers on the gate tables, and the
state's exact products and sums quantized once (docs/semantics.md, "Recurrent layers")."""

from __future__ import annotations

import numpy as np

from nnfx.backends.onnx.quantize import _align, _mag, quantize, table_index
from nnfx.compiler.fixed import to_raw
from nnfx.compiler.recurrent import GRU_GATES, LSTM_GATES, fracs, sum_bits


def write_recurrent(e, node, xs) -> str:
    a, p, b = node.attrs, node.precision, e.b
    hidden = a.hidden
    x_t, h_t = e.type_of(node.inputs[0]), e.type_of(node.outputs[0])
    w_t, b_t, s_t, t_t = p.weight, p.bias, p.table_type, p.inverse_type
    cell_t = p.cell if a.cell == "lstm" else h_t
    f = fracs(a, x_t, h_t, w_t, b_t, s_t)
    bits = sum_bits(node, e.graph, x_t, h_t)  # from the compiled constants, as Dense's
    e.check(node, bits["acc"], "a gate's sum")
    if a.cell == "gru":
        e.check(node, max(bits["q"], bits["candidate"], bits["r_q"]), "the candidate's sum")
    state = (
        2
        + _mag(s_t)
        + max(
            _mag(t_t) + max(t_t.frac, cell_t.frac, h_t.frac) - t_t.frac,
            _mag(cell_t) + max(t_t.frac, cell_t.frac) - cell_t.frac,
            _mag(h_t) + max(t_t.frac, h_t.frac) - h_t.frac,
        )
    )
    e.check(node, state + 1, "the state's products")
    fx, fh = x_t.frac + w_t.frac, h_t.frac + w_t.frac
    w = b.const(to_raw(node.param(e.graph, "weight"), w_t.frac).astype(np.float64), "W")
    r = b.const(to_raw(node.param(e.graph, "recurrent"), w_t.frac).astype(np.float64), "R")
    bias_raw = to_raw(node.param(e.graph, "bias"), b_t.frac).astype(np.float64)
    bias = b.const(bias_raw * 2.0 ** (f.acc - b_t.frac), "bias")
    sig = "" if a.cell == "rnn" else e.const_raw(node, "table", s_t, "sigmoid_table")
    tanh = e.const_raw(node, "inverse_table", t_t, "tanh_table")

    def part(v: str, k: int) -> str:  # gate k's columns
        starts, ends = b.ints([k * hidden], "starts"), b.ints([(k + 1) * hidden], "ends")
        return b.op("Slice", [v, starts, ends, b.ints([1], "axes")], "gate")

    def lookup(table: str, v: str, frac: int, spec) -> str:
        return b.op("Gather", [table, table_index(b, v, frac, spec)], "lookup", axis=0)

    def sigmoid(v: str, frac: int) -> str:
        return lookup(sig, v, frac, p.table)

    def tanh_of(v: str, frac: int) -> str:
        return lookup(tanh, v, frac, p.inverse_table)

    h = c = b.const(np.zeros((1, hidden)), "zero_state")
    states = []
    for t in range(a.steps):
        x = b.op("Gather", [xs[0], b.ints(t, "step")], "x_t", axis=1)
        xw = b.op("MatMul", [x, w], "xw")  # at fx
        hr = b.op("MatMul", [h, r], "hr")  # at fh
        acc = b.op("Add", [_align(b, xw, fx, f.acc), _align(b, hr, fh, f.acc)], "sum")
        acc = b.op("Add", [acc, bias], "gates")
        if a.cell == "rnn":
            h = tanh_of(acc, f.acc)
        elif a.cell == "lstm":
            i, o, fg = (sigmoid(part(acc, LSTM_GATES[k]), f.acc) for k in "iof")
            g = tanh_of(part(acc, LSTM_GATES["g"]), f.acc)
            fc = s_t.frac + max(cell_t.frac, t_t.frac)
            kept = _align(b, b.op("Mul", [fg, c], "f_c"), s_t.frac + cell_t.frac, fc)
            new = _align(b, b.op("Mul", [i, g], "i_g"), s_t.frac + t_t.frac, fc)
            c = quantize(b, b.op("Add", [kept, new], "cell_sum"), fc, cell_t)
            out = b.op("Mul", [o, tanh_of(c, cell_t.frac)], "o_tanh")
            h = quantize(b, out, s_t.frac + t_t.frac, h_t)
        else:
            h = _gru(e, node, f, (acc, xw, hr, h), (fx, fh), (sigmoid, tanh_of, part))
        states.append(h)
    if not a.return_sequences:
        return states[-1]
    axis = b.ints([1], "axes")
    return b.op("Concat", [b.op("Unsqueeze", [s, axis], "step") for s in states], "y", axis=1)


def _gru(e, node, f, values, grids, fns) -> str:
    b, p = e.b, node.precision
    hidden = node.attrs.hidden
    acc, xw, hr, h = values
    fx, fh = grids
    sigmoid, tanh_of, part = fns
    b_t, s_t, t_t, h_t = p.bias, p.table_type, p.inverse_type, e.type_of(node.outputs[0])
    z = sigmoid(part(acc, GRU_GATES["z"]), f.acc)
    r = sigmoid(part(acc, GRU_GATES["r"]), f.acc)
    n = GRU_GATES["n"]
    bias = to_raw(node.param(e.graph, "bias"), b_t.frac)[n * hidden : (n + 1) * hidden]
    rbias = to_raw(node.param(e.graph, "recurrent_bias"), b_t.frac)
    q = b.op(
        "Add",
        [
            _align(b, part(hr, n), fh, f.q),
            b.const(rbias.astype(np.float64) * 2.0 ** (f.q - b_t.frac), "recurrent_bias"),
        ],
        "q",
    )
    cand = b.op(
        "Add",
        [
            _align(b, part(xw, n), fx, f.candidate),
            b.const(bias.astype(np.float64) * 2.0 ** (f.candidate - b_t.frac), "bias_h"),
        ],
    )
    rq = _align(b, b.op("Mul", [r, q], "r_q"), s_t.frac + f.q, f.candidate)
    new = tanh_of(b.op("Add", [cand, rq], "candidate"), f.candidate)
    fo = s_t.frac + max(t_t.frac, h_t.frac)
    one_minus = b.op("Sub", [b.const(2.0**s_t.frac, "one"), z], "one_minus_z")
    total = b.op(
        "Add",
        [
            _align(b, b.op("Mul", [one_minus, new], "keep_new"), s_t.frac + t_t.frac, fo),
            _align(b, b.op("Mul", [z, h], "keep_old"), s_t.frac + h_t.frac, fo),
        ],
        "state_sum",
    )
    return quantize(b, total, fo, h_t)
