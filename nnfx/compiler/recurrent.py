"""The recurrent layers (ONNX ``RNN``, ``LSTM``, ``GRU``; forward, zero initial state) as one IR
op, ``Recurrent``: its attributes, shape rule, gate layout and fixed-point precision rule
(docs/semantics.md, "Recurrent layers").

One op with a ``cell`` attribute rather than three: the three share the input layout, the gate
pre-activation sums (exact, like Dense), the tables, the state type and every engine's loop
over time; they differ only in the few lines that combine the gates into the next state.

Constants, the gates stacked in ONNX's order (LSTM ``i, o, f, c``; GRU ``z, r, h``; RNN one):
``weight`` ``(n_in, gates * hidden)``, ``recurrent`` ``(hidden, gates * hidden)``, ``bias``
``(gates * hidden)`` = the input bias plus the recurrent bias, except the GRU's candidate
gate ``h`` (``linear_before_reset=1``), whose recurrent bias is apart, ``recurrent_bias``
``(hidden,)``: ``n = tanh(W_h x + Wb_h + r * (R_h h + Rb_h))``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nnfx.compiler.fixed import FixedType
from nnfx.errors import ModelError

CELLS = {"rnn": 1, "lstm": 4, "gru": 3}  # cell -> number of gates
# Gate indices in ONNX's order, by role.
LSTM_GATES = {"i": 0, "o": 1, "f": 2, "g": 3}
GRU_GATES = {"z": 0, "r": 1, "n": 2}
SIGMOID_RANGE = (-8.0, 8.0)
TANH_RANGE = (-4.0, 4.0)


@dataclasses.dataclass(frozen=True)
class RecurrentAttrs:
    """``cell`` rnn, lstm or gru; ``steps`` the sequence length (fixed); the input
    ``(steps, n_in)``; the output ``(steps, hidden)`` with ``return_sequences``, else the last
    state ``(hidden,)``."""

    cell: str
    n_in: int
    hidden: int
    steps: int
    return_sequences: bool = True

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ModelError(f"Recurrent cell '{self.cell}' is not one of {', '.join(CELLS)}")
        for what in ("n_in", "hidden", "steps"):
            v = getattr(self, what)
            if not (isinstance(v, int) and v >= 1):
                raise ModelError(f"Recurrent {what} {v} must be a positive integer")

    @property
    def gates(self) -> int:
        return CELLS[self.cell]


def recurrent_shape(shapes, a: RecurrentAttrs):
    (shape,) = shapes
    if shape != (a.steps, a.n_in):
        raise ModelError(f"Recurrent expects input shape ({a.steps}, {a.n_in}), got {shape}")
    return (a.steps, a.hidden) if a.return_sequences else (a.hidden,)


def gate(m: np.ndarray, k: int, hidden: int) -> np.ndarray:
    """Gate ``k``'s columns of a stacked constant (last axis ``gates * hidden``)."""
    return m[..., k * hidden : (k + 1) * hidden]


def internal_range_name(node_name: str, what: str) -> str:
    """The name under which calibration records an internal value's range (``what``: ``cell``,
    the LSTM's cell state over every step)."""
    return f"{node_name}/{what}"


def magnitude(t: FixedType) -> int:
    return t.width - 1 if t.signed else t.width


def _log2_ceil(n: int) -> int:
    return max(int(n) - 1, 0).bit_length()


@dataclasses.dataclass(frozen=True)
class Fracs:
    """The fractional bits (and bound exponents, ``|code| <= 2**e``) of the exact
    intermediates of one step (docs/semantics.md, Recurrent layers)."""

    acc: int  # z = W x + R h + b
    acc_bound: int
    candidate: int  # GRU: W_h x + Wb_h + r * q
    candidate_bound: int
    q: int  # GRU: q = R_h h + Rb_h
    q_bound: int


def fracs(
    a: RecurrentAttrs, x: FixedType, h: FixedType, w: FixedType, b: FixedType, s: FixedType
) -> Fracs:
    fa = max(x.frac + w.frac, h.frac + w.frac, b.frac)
    terms = _log2_ceil(a.n_in + a.hidden + 1)
    acc_bound = terms + max(
        magnitude(x) + magnitude(w) + fa - x.frac - w.frac,
        magnitude(h) + magnitude(w) + fa - h.frac - w.frac,
        magnitude(b) + fa - b.frac,
    )
    fq = max(h.frac + w.frac, b.frac)
    q_bound = _log2_ceil(a.hidden + 1) + max(
        magnitude(h) + magnitude(w) + fq - h.frac - w.frac, magnitude(b) + fq - b.frac
    )
    fc = max(x.frac + w.frac, b.frac, s.frac + fq)
    c_bound = _log2_ceil(a.n_in + 2) + max(
        magnitude(x) + magnitude(w) + fc - x.frac - w.frac,
        magnitude(b) + fc - b.frac,
        magnitude(s) + q_bound + fc - s.frac - fq,
    )
    return Fracs(fa, acc_bound, fc, c_bound, fq, q_bound)


def sum_bits(node, graph, x: FixedType, h: FixedType) -> dict[str, int]:
    """The bits (sign included) of the exact sums of one step as the compiled constants bound
    them — tighter than :func:`fracs`' bounds from the types alone, as a Dense's exact
    accumulator is sized: ``acc`` (every gate's sum), ``q`` and ``candidate`` (a GRU's), on
    their grids. The fixed-point ONNX export proves its float64 exactness with them."""
    from nnfx.compiler.fixed import to_raw

    a, p = node.attrs, node.layer_precision
    w_t, b_t, s_t = p.type_of("weight"), p.type_of("bias"), p.type_of("table_type")
    f = fracs(a, x, h, w_t, b_t, s_t)
    x_max = max(abs(x.raw_min), abs(x.raw_max))
    h_max = max(abs(h.raw_min), abs(h.raw_max))
    w = np.abs(to_raw(node.constant(graph, "weight"), w_t.frac)).astype(object)
    r = np.abs(to_raw(node.constant(graph, "recurrent"), w_t.frac)).astype(object)
    b = np.abs(to_raw(node.constant(graph, "bias"), b_t.frac)).astype(object)
    fx, fh = x.frac + w_t.frac, h.frac + w_t.frac
    xw = w.sum(axis=0) * x_max
    hr = r.sum(axis=0) * h_max
    acc = xw * 2 ** (f.acc - fx) + hr * 2 ** (f.acc - fh) + b * 2 ** (f.acc - b_t.frac)
    out = {"acc": int(max(acc, default=0)).bit_length() + 1}
    if a.cell == "gru":
        n = GRU_GATES["n"]
        rb = np.abs(to_raw(node.constant(graph, "recurrent_bias"), b_t.frac)).astype(object)
        q = gate(hr, n, a.hidden) * 2 ** (f.q - fh) + rb * 2 ** (f.q - b_t.frac)
        s_max = int(max(np.abs(to_raw(node.constant(graph, "table"), s_t.frac)), default=0))
        cand = (
            gate(xw, n, a.hidden) * 2 ** (f.candidate - fx)
            + gate(b, n, a.hidden) * 2 ** (f.candidate - b_t.frac)
            + q * s_max * 2 ** (f.candidate - s_t.frac - f.q)
        )
        out["q"] = int(max(q, default=0)).bit_length() + 1
        out["candidate"] = int(max(cand, default=0)).bit_length() + 1
        out["r_q"] = (int(max(q, default=0)) * s_max).bit_length() + 1
    return out
