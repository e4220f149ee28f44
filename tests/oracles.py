"""Independent oracles shared by the tests: ap_fixed's rules written out in exact rational
arithmetic (``fractions.Fraction``) from docs/semantics.md, one value and one op at a time.

``oracle`` gives the raw code of a value in a type (every rounding and overflow mode);
``run_oracle`` runs a compiled graph element by element with one function per op
(``ORACLE``). They use nnfx's types (FixedType, the IR) but none of its rounding or
arithmetic (quantize, requantize, the reference), so they stay independent of the code they
check; tests/test_architecture.py holds them to that.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from nnfx.compiler.fixed import FixedType, to_float
from nnfx.compiler.ops import Op


# -- one value: the raw code ---------------------------------------------------------------
def oracle(value: Fraction, t: FixedType) -> int:
    """ap_fixed's rules written out in exact rational arithmetic, one value at a time."""
    q = value * Fraction(2) ** t.frac
    floor = math.floor(q)
    rest = q - floor
    half = Fraction(1, 2)
    up = floor + 1
    if t.rounding == "TRN":
        r = floor
    elif t.rounding == "TRN_ZERO":
        r = floor if q >= 0 else math.ceil(q)
    elif t.rounding == "CEIL":  # nnfx's own: toward plus infinity
        r = math.ceil(q)
    elif t.rounding == "UP":  # nnfx's own: away from zero
        r = math.ceil(q) if q >= 0 else floor
    elif rest != half:
        r = up if rest > half else floor
    else:
        r = {
            "RND": up,
            "RND_ZERO": floor if q > 0 else up,
            "RND_MIN_INF": floor,
            "RND_INF": up if q > 0 else floor,
            "RND_CONV": floor if floor % 2 == 0 else up,
        }[t.rounding]
    lo, hi = t.raw_min, t.raw_max
    if t.overflow == "WRAP":
        span = 2**t.width
        r %= span
        return r - span if t.signed and r > hi else r
    if t.overflow == "SAT":
        return min(max(r, lo), hi)
    if t.overflow == "SAT_ZERO":
        return 0 if r < lo or r > hi else r
    low = -hi if t.signed and t.width > 1 else lo  # ap_fixed: min | 1
    return min(max(r, low), hi)


def Q(value: Fraction, t: FixedType) -> Fraction:
    return (
        Fraction(oracle(value, t), 2**t.frac)
        if t.frac >= 0
        else Fraction(oracle(value, t) * 2 ** (-t.frac))
    )


def fr(values, t=None):
    """An array of exact Fractions (object dtype) from float64 values."""
    return np.vectorize(Fraction, otypes=[object])(np.asarray(values, dtype=np.float64))


def table_lookup(x: Fraction, spec, table):
    k = math.floor(x * Fraction(2) ** spec.shift) - spec.start
    return table[min(max(k, 0), spec.size - 1)]


# -- the oracle: one function per op, element by element ----------------------------------
def o_dense(node, g, xs, types, out):
    (x,) = xs
    w, b = fr(node.param(g, "weight")), node.param(g, "bias")
    b = fr(b) if b is not None else [Fraction(0)] * w.shape[1]
    y = np.empty((x.shape[0], w.shape[1]), dtype=object)
    for n in range(x.shape[0]):
        for j in range(w.shape[1]):
            y[n, j] = _accumulate(
                node, [x[n, i] for i in range(w.shape[0])], list(w[:, j]), b[j], out
            )
    return y


def _accumulate(node, xs, ws, b, out):
    p = node.precision
    if p.accum_sized:
        acc = b + sum(xi * wi for xi, wi in zip(xs, ws, strict=True))
    else:
        acc = Q(b, p.accum)
        for xi, wi in zip(xs, ws, strict=True):
            acc = Q(acc + Q(xi * wi, p.accum), p.accum)
    if node.attrs.activation == "relu":
        acc = max(acc, Fraction(0))
    return Q(acc, out)


def _padded(x, pads, fill):
    """x (N, H, W, C) object array with spatial padding (2-D only)."""
    n, h, w, c = x.shape
    top, left, bottom, right = pads
    out = np.full((n, h + top + bottom, w + left + right, c), fill, dtype=object)
    out[:, top : top + h, left : left + w, :] = x
    return out


def o_conv(node, g, xs, types, out):
    (x,) = xs
    a = node.attrs
    w = fr(node.param(g, "weight"))  # (kh, kw, cin // group, cout)
    if len(a.kernel_shape) == 1:  # 1-D: a 2-D convolution of height 1
        x, w = x[:, None], w[None]
        a = dataclasses.replace(
            a,
            kernel_shape=(1, *a.kernel_shape),
            strides=(1, *a.strides),
            pads=(0, a.pads[0], 0, a.pads[1]),
            dilations=(1, *a.dilations),
        )
    cg, m = a.in_channels // a.group, a.out_channels // a.group
    bias = node.param(g, "bias")
    b = fr(bias) if bias is not None else [Fraction(0)] * a.out_channels
    xp = _padded(x, a.pads, Fraction(0))
    kh, kw = a.kernel_shape
    oh, ow = (1, *g.tensors[node.outputs[0]].shape)[-3:-1]
    y = np.empty((x.shape[0], oh, ow, a.out_channels), dtype=object)
    for n in range(x.shape[0]):
        for p in range(oh):
            for q in range(ow):
                for o in range(a.out_channels):
                    terms_x, terms_w = [], []
                    for c in range(cg):  # its group's channels, then taps row by row
                        for i in range(kh):
                            for j in range(kw):
                                r = p * a.strides[0] + i * a.dilations[0]
                                s = q * a.strides[1] + j * a.dilations[1]
                                terms_x.append(xp[n, r, s, (o // m) * cg + c])
                                terms_w.append(w[i, j, c, o])
                    y[n, p, q, o] = _accumulate(node, terms_x, terms_w, b[o], out)
    return y[:, 0] if len(node.attrs.kernel_shape) == 1 else y


def o_pool(node, g, xs, types, out):
    (x,) = xs
    a = node.attrs
    is_max = node.op is Op.MAX_POOL
    xp = _padded(x, a.pads, None)
    oh, ow = g.tensors[node.outputs[0]].shape[:2]
    recip = fr(node.param(g, "reciprocal")) if not is_max else None
    y = np.empty((x.shape[0], oh, ow, x.shape[3]), dtype=object)
    for n in range(x.shape[0]):
        for p in range(oh):
            for q in range(ow):
                for c in range(x.shape[3]):
                    window = [
                        xp[n, p * a.strides[0] + i, q * a.strides[1] + j, c]
                        for i in range(a.kernel_shape[0])
                        for j in range(a.kernel_shape[1])
                    ]
                    if is_max:
                        y[n, p, q, c] = max(v for v in window if v is not None)
                    else:
                        total = sum(v for v in window if v is not None)
                        r = recip.reshape(-1)[0] if recip.size == 1 else recip[p, q]
                        y[n, p, q, c] = Q(total * r, out)
    return y


def o_global_pool(node, g, xs, types, out):
    (x,) = xs
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    if node.op is Op.GLOBAL_MAX_POOL:
        return np.array(
            [[max(flat[n, :, c]) for c in range(flat.shape[2])] for n in range(flat.shape[0])],
            dtype=object,
        )
    r = fr(node.param(g, "reciprocal")).reshape(-1)[0]
    return np.array(
        [
            [Q(sum(flat[n, :, c]) * r, out) for c in range(flat.shape[2])]
            for n in range(flat.shape[0])
        ],
        dtype=object,
    )


def o_batch_norm(node, g, xs, types, out):
    (x,) = xs
    s = np.broadcast_to(fr(node.param(g, "scale")), x.shape[1:])
    b = np.broadcast_to(fr(node.param(g, "bias")), x.shape[1:])
    y = np.empty(x.shape, dtype=object)
    for index in np.ndindex(x.shape):
        y[index] = Q(x[index] * s[index[1:]] + b[index[1:]], out)
    return y


def o_activation(node, g, xs, types, out):
    (x,) = xs
    a, p = node.attrs, node.precision
    y = np.empty(x.shape, dtype=object)
    for index in np.ndindex(x.shape):
        v = x[index]
        if a.kind == "linear":
            r = Q(v, out)
        elif a.kind == "relu":
            r = Q(max(v, Fraction(0)), out)
        elif a.kind == "leaky_relu":  # one slope, or one per channel (the last axis)
            slopes = node.param(g, "alpha")
            alpha = Fraction(float(slopes[index[-1] % slopes.size]))
            r = Q(v if v > 0 else v * alpha, out)
        elif a.kind == "clip":
            r = Q(v, out)
            if "low" in node.params:
                r = max(r, Fraction(float(node.param(g, "low")[0])))
            if "high" in node.params:
                r = min(r, Fraction(float(node.param(g, "high")[0])))
        elif a.kind == "bipolar":  # Q(alpha) where x >= 0, else Q(-alpha), stored as codes
            r = Fraction(float(node.param(g, "high" if v >= 0 else "low")[0]))
        elif a.kind == "hard_sigmoid":
            alpha = Fraction(float(node.param(g, "alpha")[0]))
            beta = Fraction(float(node.param(g, "beta")[0]))
            r = Q(min(max(v * alpha + beta, Fraction(0)), Fraction(1)), out)
        else:
            table = fr(node.param(g, "table"))
            r = table_lookup(v, p.table, table)
            end = Fraction(p.table.start + p.table.size) / Fraction(2) ** p.table.shift
            if "slope" in node.params and v >= end:  # the linear asymptote above the table
                r = Q(v * Fraction(float(node.param(g, "slope")[0])), out)
        y[index] = r
    return y


def o_softmax(node, g, xs, types, out):
    (x,) = xs
    p = node.precision
    E, R = fr(node.param(g, "table")), fr(node.param(g, "inverse_table"))
    y = np.empty(x.shape, dtype=object)
    for n in range(x.shape[0]):
        row = list(x[n])
        top = max(row)
        d = [v - top for v in row]
        e = [table_lookup(-di, p.table, E) for di in d]
        s = sum(e)
        inv = table_lookup(s, p.inverse_table, R)
        for i in range(len(row)):
            y[n, i] = Q(d[i] - inv, out) if node.attrs.log else Q(e[i] * inv, out)
    return y


def o_layer_norm(node, g, xs, types, out):
    """Rows over the last axis: codes X, S, d = n X - S, U = sum d^2 + E, the even shift s
    that brings U below the table size, z = Q_z(d T[U >> s] / 2^(s/2)), Q(z * scale + bias)."""
    (x,) = xs
    p, n = node.precision, node.attrs.size
    table, scale, bias = (fr(node.param(g, role)) for role in ("table", "scale", "bias"))
    epsilon = int(node.param(g, "epsilon")[0])
    rows = x.reshape(-1, n)
    y = np.empty(rows.shape, dtype=object)
    for r, row in enumerate(rows):
        codes = [int(v * Fraction(2) ** types[0].frac) for v in row]
        total = sum(codes)
        d = [n * c - total for c in codes]
        u = sum(di * di for di in d) + epsilon
        s = 0
        while u >= p.table.size * 2**s:
            s += 2
        rsqrt = table[u // 2**s]
        for i in range(n):
            z = Q(d[i] * rsqrt / Fraction(2) ** (s // 2), p.inverse_type)
            y[r, i] = Q(z * scale[i] + bias[i], out)
    return y.reshape(x.shape)


def o_add(node, g, xs, types, out):
    a, b = xs
    return np.vectorize(lambda u, v: Q(u + v, out), otypes=[object])(a, b)


def o_sub(node, g, xs, types, out):
    a, b = xs
    return np.vectorize(lambda u, v: Q(u - v, out), otypes=[object])(a, b)


def o_mul(node, g, xs, types, out):
    a, b = xs
    return np.vectorize(lambda u, v: Q(u * v, out), otypes=[object])(a, b)


def o_concat(node, g, xs, types, out):
    parts = [np.vectorize(lambda v: Q(v, out), otypes=[object])(x) for x in xs]
    return np.concatenate(parts, axis=node.attrs.axis % (xs[0].ndim - 1) + 1)


def o_argmax(node, g, xs, types, out):
    (x,) = xs
    result = []
    for n in range(x.shape[0]):
        row = list(x[n])
        result.append(row.index(max(row)))
    return np.array(result, dtype=object)


def o_upsample(node, g, xs, types, out):
    """Element by element: output position i of each spatial axis reads input i // s."""
    (x,) = xs
    scales = node.attrs.scales
    y = np.empty((x.shape[0], *g.tensors[node.outputs[0]].shape), dtype=object)
    for index in np.ndindex(*y.shape):
        n, *spatial, c = index
        y[index] = x[(n, *(i // s for i, s in zip(spatial, scales, strict=True)), c)]
    return y


def o_pad(node, g, xs, types, out):
    """Zeros (the value 0), each input value moved by the begins."""
    (x,) = xs
    begins = node.attrs.pads[: len(node.attrs.pads) // 2]
    y = np.full((x.shape[0], *g.tensors[node.outputs[0]].shape), Fraction(0), dtype=object)
    for index in np.ndindex(*x.shape):
        n, *spatial, c = index
        y[(n, *(i + b for i, b in zip(spatial, begins, strict=True)), c)] = x[index]
    return y


def o_recurrent(node, g, xs, types, out):
    """docs/semantics.md, Recurrent layers: per sample and step, each gate's exact sum, its
    table entry, then the new state quantized once (an LSTM's cell state to its own type).
    Gates in ONNX's order: LSTM i, o, f, c (here g); GRU z, r, h (here n)."""
    (x,) = xs
    a, p = node.attrs, node.precision
    hidden = a.hidden
    w, r, b = (fr(node.param(g, k)) for k in ("weight", "recurrent", "bias"))
    rb = node.param(g, "recurrent_bias")
    rb = fr(rb) if rb is not None else None
    sig, tanh = list(fr(node.param(g, "table"))), list(fr(node.param(g, "inverse_table")))

    def s(v):
        return table_lookup(v, p.table, sig)

    def th(v):
        return table_lookup(v, p.inverse_table, tanh)

    y = np.empty((x.shape[0], a.steps, hidden), dtype=object)
    for n in range(x.shape[0]):
        h = [Fraction(0)] * hidden
        c = [Fraction(0)] * hidden
        for t in range(a.steps):
            xs_t = list(x[n, t])
            gates = range(w.shape[1])
            xw = [sum(xi * w[i, j] for i, xi in enumerate(xs_t)) for j in gates]
            hr = [sum(hk * r[k, j] for k, hk in enumerate(h)) for j in gates]
            new_h = []
            for j in range(hidden):
                if a.cell == "rnn":
                    new_h.append(th(b[j] + xw[j] + hr[j]))
                elif a.cell == "lstm":
                    gi, go, gf, gg = (j + k * hidden for k in range(4))
                    i_, o_, f_ = (s(b[q] + xw[q] + hr[q]) for q in (gi, go, gf))
                    g_ = th(b[gg] + xw[gg] + hr[gg])
                    c[j] = Q(f_ * c[j] + i_ * g_, p.cell)
                    new_h.append(Q(o_ * th(c[j]), out))
                else:
                    gz, gr, gn = (j + k * hidden for k in range(3))
                    z_ = s(b[gz] + xw[gz] + hr[gz])
                    r_ = s(b[gr] + xw[gr] + hr[gr])
                    n_ = th(b[gn] + xw[gn] + r_ * (hr[gn] + rb[j]))
                    new_h.append(Q((1 - z_) * n_ + z_ * h[j], out))
            h = new_h
            y[n, t] = h
    return y if a.return_sequences else y[:, -1]


def o_threshold(node, g, xs, types, out):
    """Per value: how many of its channel's stored thresholds (the last axis; one row for all
    when there is one) it reaches, then ``Q(bias + scale k)`` saturating to codes of ``out``."""
    (x,) = xs
    thresholds = fr(node.param(g, "thresholds"))
    a = node.attrs
    saturating = dataclasses.replace(
        out, overflow="SAT_SYM" if out.overflow == "SAT_SYM" else "SAT"
    )
    levels = [
        Q(Fraction(a.out_bias) + Fraction(a.out_scale) * k, saturating)
        for k in range(thresholds.shape[1] + 1)
    ]
    y = np.empty(x.shape, dtype=object)
    for index in np.ndindex(x.shape):
        row = thresholds[index[-1] % thresholds.shape[0]]
        y[index] = levels[sum(1 for t in row if x[index] >= t)]
    return y


ORACLE = {
    Op.THRESHOLD: o_threshold,
    Op.RECURRENT: o_recurrent,
    Op.DENSE: o_dense,
    Op.CONV: o_conv,
    Op.MAX_POOL: o_pool,
    Op.AVG_POOL: o_pool,
    Op.GLOBAL_AVG_POOL: o_global_pool,
    Op.GLOBAL_MAX_POOL: o_global_pool,
    Op.BATCH_NORM: o_batch_norm,
    Op.ACTIVATION: o_activation,
    Op.SOFTMAX: o_softmax,
    Op.LAYER_NORM: o_layer_norm,
    Op.ADD: o_add,
    Op.SUB: o_sub,
    Op.MUL: o_mul,
    Op.CONCAT: o_concat,
    Op.ARGMAX: o_argmax,
    Op.UPSAMPLE: o_upsample,
    Op.PAD: o_pad,
    Op.FLATTEN: lambda n, g, xs, t, o: xs[0].reshape(len(xs[0]), -1),
    Op.RESHAPE: lambda n, g, xs, t, o: xs[0].reshape(len(xs[0]), *n.attrs.shape),
    Op.TRANSPOSE: lambda n, g, xs, t, o: xs[0].transpose(0, *(p + 1 for p in n.attrs.perm)),
    Op.IDENTITY: lambda n, g, xs, t, o: xs[0],
    Op.SLICE: lambda n, g, xs, t, o: np.take(
        xs[0], range(n.attrs.start, n.attrs.end), axis=n.attrs.axis + 1
    ),
}


def run_oracle(graph, raw_inputs):
    values = {}
    for name in graph.inputs:
        t = graph.tensors[name].dtype
        values[name] = fr(to_float(raw_inputs[name], t.frac))
    for node in graph.nodes:
        out = graph.tensors[node.outputs[0]].dtype
        types = [graph.tensors[i].dtype for i in node.inputs]
        values[node.outputs[0]] = ORACLE[node.op](
            node, graph, [values[i] for i in node.inputs], types, out
        )
    return values
