"""The fixed reference against an independent slow oracle: every op, random precisions and
every rounding/overflow mode, computed element by element in exact rational arithmetic
(``fractions.Fraction``) from docs/semantics.md."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import onnx
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.fixed import OVERFLOW, ROUNDING, FixedType, to_float
from nnfx.compiler.ir import INTEGER
from nnfx.compiler.ops import Op
from nnfx.runtime.reference_fixed import run_fixed
from tests.compiler.test_fixed import oracle as quantize_code
from tests.helpers import make_model


def Q(value: Fraction, t: FixedType) -> Fraction:
    return (
        Fraction(quantize_code(value, t), 2**t.frac)
        if t.frac >= 0
        else Fraction(quantize_code(value, t) * 2 ** (-t.frac))
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
    w = fr(node.param(g, "weight"))  # (kh, kw, cin, cout)
    bias = node.param(g, "bias")
    b = fr(bias) if bias is not None else [Fraction(0)] * a.out_channels
    xp = _padded(x, a.pads, Fraction(0))
    kh, kw = a.kernel_shape
    oh, ow = g.tensors[node.outputs[0]].shape[:2]
    y = np.empty((x.shape[0], oh, ow, a.out_channels), dtype=object)
    for n in range(x.shape[0]):
        for p in range(oh):
            for q in range(ow):
                for o in range(a.out_channels):
                    terms_x, terms_w = [], []
                    for c in range(a.in_channels):  # channel-major, then taps row by row
                        for i in range(kh):
                            for j in range(kw):
                                r = p * a.strides[0] + i * a.dilations[0]
                                s = q * a.strides[1] + j * a.dilations[1]
                                terms_x.append(xp[n, r, s, c])
                                terms_w.append(w[i, j, c, o])
                    y[n, p, q, o] = _accumulate(node, terms_x, terms_w, b[o], out)
    return y


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
        elif a.kind == "leaky_relu":
            alpha = Fraction(float(node.param(g, "alpha")[0]))
            r = Q(v if v > 0 else v * alpha, out)
        elif a.kind == "clip":
            r = Q(v, out)
            if "low" in node.params:
                r = max(r, Fraction(float(node.param(g, "low")[0])))
            if "high" in node.params:
                r = min(r, Fraction(float(node.param(g, "high")[0])))
        elif a.kind == "hard_sigmoid":
            alpha = Fraction(float(node.param(g, "alpha")[0]))
            beta = Fraction(float(node.param(g, "beta")[0]))
            r = Q(min(max(v * alpha + beta, Fraction(0)), Fraction(1)), out)
        else:
            table = fr(node.param(g, "table"))
            r = table_lookup(v, p.table, table)
            if a.kind == "elu" and v > 0:
                r = Q(v, out)
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


ORACLE = {
    Op.DENSE: o_dense,
    Op.CONV: o_conv,
    Op.MAX_POOL: o_pool,
    Op.AVG_POOL: o_pool,
    Op.GLOBAL_AVG_POOL: o_global_pool,
    Op.GLOBAL_MAX_POOL: o_global_pool,
    Op.BATCH_NORM: o_batch_norm,
    Op.ACTIVATION: o_activation,
    Op.SOFTMAX: o_softmax,
    Op.ADD: o_add,
    Op.SUB: o_sub,
    Op.MUL: o_mul,
    Op.CONCAT: o_concat,
    Op.ARGMAX: o_argmax,
    Op.FLATTEN: lambda n, g, xs, t, o: xs[0].reshape(len(xs[0]), -1),
    Op.RESHAPE: lambda n, g, xs, t, o: xs[0].reshape(len(xs[0]), *n.attrs.shape),
    Op.TRANSPOSE: lambda n, g, xs, t, o: xs[0].transpose(0, *(p + 1 for p in n.attrs.perm)),
    Op.IDENTITY: lambda n, g, xs, t, o: xs[0],
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


def test_the_oracle_covers_every_op():
    assert not [op for op in Op if op not in ORACLE]


# -- the models ----------------------------------------------------------------------------
def random_type(rng, signed=True, width=None) -> FixedType:
    w = int(width or rng.integers(4, 17))
    return FixedType(
        w,
        int(rng.integers(-1, w // 2 + 3)),
        signed,
        str(rng.choice(ROUNDING)),
        str(rng.choice(OVERFLOW)),
    )


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=outputs[0], **attrs)


def models(rng):
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    image = [("x", ["N", 2, 5, 5])]
    vector = [("x", ["N", 6])]
    bn = {"s": f(2), "b": f(2), "m": f(2), "v": np.abs(f(2)) + 0.5}
    yield (
        "dense",
        make_model(
            [node("Gemm", ["x", "W", "B"], ["y"])], vector, [("y", None)], {"W": f(6, 4), "B": f(4)}
        ),
    )
    yield (
        "conv",
        make_model(
            [
                node(
                    "Conv",
                    ["x", "W", "B"],
                    ["y"],
                    pads=[1, 0, 1, 1],
                    strides=[2, 1],
                    dilations=[1, 2],
                )
            ],
            image,
            [("y", None)],
            {"W": f(3, 2, 3, 2), "B": f(3)},
        ),
    )
    yield (
        "pools",
        make_model(
            [
                node(
                    "MaxPool", ["x"], ["m"], kernel_shape=[2, 2], strides=[1, 2], pads=[1, 1, 0, 0]
                ),
                node("AveragePool", ["m"], ["a"], kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
                node("AveragePool", ["a"], ["y"], kernel_shape=[2, 2], count_include_pad=1),
            ],
            image,
            [("y", None)],
        ),
    )
    yield (
        "global_pools",
        make_model(
            [
                node("GlobalAveragePool", ["x"], ["a"]),
                node("GlobalMaxPool", ["x"], ["b"]),
                node("Flatten", ["a"], ["fa"]),
                node("Flatten", ["b"], ["fb"]),
                node("Concat", ["fa", "fb"], ["y"], axis=1),
            ],
            image,
            [("y", None)],
        ),
    )
    yield (
        "batchnorm_add_transpose",
        make_model(
            [
                node("BatchNormalization", ["x", "s", "b", "m", "v"], ["n"]),
                node("Mul", ["x", "k"], ["k2"]),
                node("Add", ["n", "k2"], ["sum"]),
                node("Transpose", ["sum"], ["t"], perm=[0, 2, 1, 3]),
                node("Flatten", ["t"], ["y"]),
            ],
            image,
            [("y", None)],
            {**bn, "k": f(2, 5, 5)},
        ),
    )
    for kind, attrs in [
        ("Relu", {}),
        ("LeakyRelu", {"alpha": 0.15}),
        ("Sigmoid", {}),
        ("Tanh", {}),
        ("Elu", {"alpha": 0.8}),
        ("HardSigmoid", {"alpha": 0.3, "beta": 0.45}),
    ]:
        yield kind.lower(), make_model([node(kind, ["x"], ["y"], **attrs)], vector, [("y", None)])
    yield (
        "sub_mul",
        make_model(
            [
                node("Tanh", ["x"], ["t"]),
                node("Sigmoid", ["x"], ["s"]),
                node("Sub", ["x", "t"], ["d"]),
                node("Mul", ["d", "s"], ["y"]),
            ],
            vector,
            [("y", None)],
        ),
    )
    yield (
        "clip",
        make_model(
            [node("Clip", ["x", "lo", "hi"], ["y"])],
            vector,
            [("y", None)],
            {"lo": np.float32(-0.7), "hi": np.float32(1.3)},
        ),
    )
    yield "softmax", make_model([node("Softmax", ["x"], ["y"])], vector, [("y", None)])
    yield "logsoftmax", make_model([node("LogSoftmax", ["x"], ["y"])], vector, [("y", None)])
    argmax = make_model(
        [node("Gemm", ["x", "W"], ["h"]), node("ArgMax", ["h"], ["y"], axis=1, keepdims=0)],
        vector,
        [("y", ["N"])],
        {"W": f(6, 3)},
    )
    argmax.graph.output[0].type.tensor_type.elem_type = onnx.TensorProto.INT64
    yield "argmax", argmax


MODEL_NAMES = [name for name, _ in models(np.random.default_rng(0))]


def random_compile(rng, name: str, narrow_accumulators: bool = False, max_table_log2: int = 8):
    """One of the op models compiled with a random type for every layer's result, weights and
    biases (every rounding and overflow mode), random table sizes and, when asked, narrow
    user-chosen accumulators. Returns (compiled, loaded float model)."""
    loaded = nnfx.load(dict(models(rng))[name])
    layers = {}
    for n in loaded.graph.nodes:
        spec = {
            "result": str(random_type(rng)),
            "weight": str(random_type(rng)),
            "bias": str(random_type(rng)),
        }
        if n.op in (Op.DENSE, Op.CONV) and narrow_accumulators:
            spec["accum"] = str(random_type(rng, width=int(rng.integers(8, 20))))
        if n.op is Op.ACTIVATION and n.attrs.kind in ("sigmoid", "tanh", "elu"):
            spec["table_size"] = int(2 ** rng.integers(3, max_table_log2))
        layers[n.name] = spec
    tensors = {loaded.graph.inputs[0]: str(random_type(rng))}
    precision = {"default": "fixed<12,4>", "layers": layers, "tensors": tensors}
    return nnfx.compile(loaded, precision=precision), loaded


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("seed", range(4))
def test_fixed_reference_equals_the_oracle(name, seed):
    rng = np.random.default_rng(1000 * seed + MODEL_NAMES.index(name))
    compiled, loaded = random_compile(rng, name, narrow_accumulators=bool(seed % 2))
    X = (rng.standard_normal((3, *model_input_shape(loaded))) * 3).astype(np.float32)
    raw_inputs = compiled.quantize_inputs(X)
    ours = run_fixed(compiled.graph, raw_inputs, intermediate=True)
    expected = run_oracle(compiled.graph, raw_inputs)
    for tensor, value in expected.items():
        t = compiled.graph.tensors[tensor].dtype
        if t == INTEGER:
            want = value.astype(np.int64)
        else:
            scale = Fraction(2) ** t.frac
            want = np.vectorize(lambda v, s=scale: int(v * s), otypes=[object])(value)
            want = want.astype(np.int64)
        assert np.array_equal(ours[tensor], want), f"{name}: tensor '{tensor}' ({t}) differs"


def model_input_shape(loaded):
    from nnfx.frontends.onnx import inverse

    t = loaded.graph.tensors[loaded.graph.inputs[0]]
    return tuple(t.shape[i] for i in inverse(t.onnx_perm))


def test_sized_accumulator_equals_sequential_accumulation(rng):
    """The exact path and the ap_fixed loop give the same bits with the compiler's accumulator."""
    model = dict(models(rng))["dense"]
    compiled = nnfx.compile(model, precision="fixed<10,3,RND,SAT>")
    dense = compiled.graph.nodes[0]
    assert dense.precision.accum_sized
    import dataclasses

    sequential = dataclasses.replace(
        dense, precision=dataclasses.replace(dense.precision, accum_sized=False)
    )
    graph = compiled.graph.replace(nodes=(sequential,))
    raw = compiled.quantize_inputs(rng.standard_normal((50, 6)) * 4)
    assert np.array_equal(run_fixed(compiled.graph, raw)["y"], run_fixed(graph, raw)["y"])
