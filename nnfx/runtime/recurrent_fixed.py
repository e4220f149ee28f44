"""The fixed-point reference of the recurrent layers (docs/semantics.md, "Recurrent layers"):
per step, the gate pre-activations as exact sums (like Dense), each gate one table lookup on
the exact sum, the new state from exact products and sums quantized once to the state's type
(and an LSTM's cell state to its own). :mod:`nnfx.compiler.recurrent` holds the gate layout
and the bounds this kernel sizes its integers by."""

from __future__ import annotations

import numpy as np

from nnfx.compiler.recurrent import GRU_GATES, LSTM_GATES, fracs, gate
from nnfx.runtime.fixed_core import WIDE, FixedContext, align, exact_ints, magnitude, table_index


def recurrent(c: FixedContext, inputs: list[np.ndarray]) -> np.ndarray:
    a, p = c.node.attrs, c.p
    hidden = a.hidden
    x_t, h_t = c.types[0], c.out
    w_t, b_t = p.type_of("weight"), p.type_of("bias")
    s_t, t_t = p.type_of("table_type"), p.type_of("inverse_type")
    sig_spec, tanh_spec = p.spec("table"), p.spec("inverse_table")
    sig, tanh = c.const("table", s_t), c.const("inverse_table", t_t)
    f = fracs(a, x_t, h_t, w_t, b_t, s_t)
    cell_t = p.type_of("cell") if a.cell == "lstm" else h_t
    state_bound = (
        2
        + magnitude(s_t)
        + max(
            magnitude(t_t) + max(t_t.frac, cell_t.frac, h_t.frac) - t_t.frac,
            magnitude(cell_t) + max(t_t.frac, cell_t.frac) - cell_t.frac,
            magnitude(h_t) + max(t_t.frac, h_t.frac) - h_t.frac,
        )
    )
    bound = max(f.acc_bound, f.candidate_bound, f.q_bound, state_bound)
    w = c.const("weight", w_t)
    r = c.const("recurrent", w_t)
    b = c.const("bias", b_t)
    x = inputs[0]
    x, w, r, b = exact_ints(bound, x, w, r, b)
    rb = c.const("recurrent_bias", b_t) if "recurrent_bias" in c.node.params else None
    if rb is not None:
        (rb,) = exact_ints(bound, rb)
    wide = bound > WIDE
    zero = np.zeros((len(x), hidden), np.int64)
    h = zero.astype(object) if wide else zero
    cell = h
    states = []
    fx, fh = x_t.frac + w_t.frac, h_t.frac + w_t.frac
    for t in range(a.steps):
        xw = x[:, t] @ w  # the input part of every gate, exact, at fx
        hr = h @ r  # the recurrent part, at fh
        if a.cell == "gru":
            h = _gru_step(c, f, xw, hr, h, b, rb, sig, tanh, (fx, fh), wide)
        else:
            acc = align(xw, fx, f.acc) + align(hr, fh, f.acc) + align(b, b_t.frac, f.acc)
            if a.cell == "rnn":  # the table's type is h's: the lookup is the new state
                h = tanh[table_index(acc, f.acc, tanh_spec)]
            else:
                i, o, fg, g = (gate(acc, LSTM_GATES[k], hidden) for k in "iofg")
                i, o, fg = (sig[table_index(v, f.acc, sig_spec)] for v in (i, o, fg))
                g = tanh[table_index(g, f.acc, tanh_spec)]
                fc = s_t.frac + max(cell_t.frac, t_t.frac)
                kept = align(fg * cell, s_t.frac + cell_t.frac, fc)
                new = align(i * g, s_t.frac + t_t.frac, fc)
                cell = c.quantize(kept + new, fc, cell_t)
                if wide:
                    cell = cell.astype(object)
                squashed = tanh[table_index(cell, cell_t.frac, tanh_spec)]
                h = c.quantize(o * squashed, s_t.frac + t_t.frac)
        if wide:
            h = np.asarray(h).astype(object)
        states.append(np.asarray(h).astype(np.int64))
    return np.stack(states, axis=1) if a.return_sequences else states[-1]


def _gru_step(c, f, xw, hr, h, b, rb, sig, tanh, grids, wide):
    """``z``, ``r`` as the LSTM's gates; ``q = R_h h + Rb_h`` exact, ``n`` the tanh table on
    ``W_h x + Wb_h + r * q`` (exact), ``h' = Q_h((1 - z) n + z h)`` exact inside."""
    a, p = c.node.attrs, c.p
    hidden = a.hidden
    b_t, s_t, t_t = (p.type_of(k) for k in ("bias", "table_type", "inverse_type"))
    h_t = c.out
    sig_spec, tanh_spec = p.spec("table"), p.spec("inverse_table")
    fx, fh = grids
    zg, rg, ng = (GRU_GATES[k] for k in "zrn")
    acc = align(xw, fx, f.acc) + align(hr, fh, f.acc) + align(b, b_t.frac, f.acc)
    z = sig[table_index(gate(acc, zg, hidden), f.acc, sig_spec)]
    r = sig[table_index(gate(acc, rg, hidden), f.acc, sig_spec)]
    q = align(gate(hr, ng, hidden), fh, f.q) + align(rb, b_t.frac, f.q)
    if wide:
        z, r = z.astype(object), r.astype(object)
    cand = (
        align(gate(xw, ng, hidden), fx, f.candidate)
        + align(gate(b, ng, hidden), b_t.frac, f.candidate)
        + align(r * q, s_t.frac + f.q, f.candidate)
    )
    n = tanh[table_index(cand, f.candidate, tanh_spec)]
    if wide:
        n = n.astype(object)
    one = (1 << s_t.frac) if wide else np.int64(1) << np.int64(s_t.frac)
    fo = s_t.frac + max(t_t.frac, h_t.frac)
    total = align((one - z) * n, s_t.frac + t_t.frac, fo) + align(z * h, s_t.frac + h_t.frac, fo)
    return c.quantize(total, fo)
