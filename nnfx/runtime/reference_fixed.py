"""The NumPy reference of the fixed-point IR: every op in exact integer arithmetic.

Each tensor is held as int64 raw codes of its FixedType (value = raw * 2**-frac). Products
and sums are exact; each op quantizes once, to its output type, with
:func:`nnfx.compiler.fixed.requantize`. Every kernel that multiplies, shifts or sums bounds
its intermediate values from the operand types (:func:`magnitude`); where the bound passes
2**61 it computes on Python ints (:func:`exact_ints`, object arrays: exact at every width up
to 62, slower), so the common narrow case stays on fast int64. docs/semantics.md states every
rule; this file is its executable form, vectorized over the batch. One kernel per op in
:data:`FIXED_KERNELS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from nnfx.compiler.fixed import ALPHA_TYPE, FixedType, fused_alpha_code, to_raw
from nnfx.compiler.ir import INTEGER, Graph
from nnfx.compiler.layout import batched
from nnfx.compiler.ops import Activation, Op, activation_rule
from nnfx.compiler.resample import pad_zeros, upsample
from nnfx.compiler.slicing import slice_index
from nnfx.compiler.windows import conv_groups, kernel_axes, windows
from nnfx.errors import DataError, ModelError, PrecisionError
from nnfx.runtime.activations_fixed import FIXED_ACTIVATIONS
from nnfx.runtime.fixed_core import FixedContext, align, exact_ints, magnitude, table_index
from nnfx.runtime.layer_norm_fixed import layer_norm
from nnfx.runtime.recurrent_fixed import recurrent
from nnfx.runtime.threshold import fixed_threshold

INT_MIN = np.iinfo(np.int64).min


def _log2_ceil(n: int) -> int:
    return max(int(n) - 1, 0).bit_length()


def _linear_layer(c: FixedContext, products: np.ndarray, x_type: FixedType) -> np.ndarray:
    """Add the bias to exact products, apply a fused activation, quantize once."""
    frac = x_type.frac + c.p.type_of("weight").frac
    bias = c.node.param(c.graph, "bias")
    if bias is not None:
        fb = c.p.type_of("bias").frac
        target = max(frac, fb)
        products = align(products, frac, target) + align(to_raw(bias, fb), fb, target)
        frac = target
    return _fused_activation(c, products, frac)


def _fused_activation(c: FixedContext, acc: np.ndarray, frac: int) -> np.ndarray:
    """A fused ReLU or leaky ReLU acts on the accumulator (``acc``, codes of the
    accumulator type at ``frac``), before the one quantization."""
    activation = c.node.attrs.activation
    if activation is Activation.RELU:
        acc = np.maximum(acc, 0)
    elif activation is Activation.LEAKY_RELU:  # Q(acc) for acc > 0, else Q(acc * a)
        fa = ALPHA_TYPE.frac
        bound = magnitude(c.p.type_of("accum")) + max(fa, magnitude(ALPHA_TYPE))
        (acc,) = exact_ints(bound, acc)
        alpha = fused_alpha_code(c.graph, c.node)
        acc, frac = np.where(acc > 0, acc << fa, acc * alpha), frac + fa
    elif activation is not Activation.LINEAR:  # never drop an activation silently
        raise PrecisionError(
            f"node '{c.node.name}': a fused {activation} has no fixed-point rule; "
            "compile without fuse_activations"
        )
    return c.quantize(acc, frac)


def _accumulate(c: FixedContext, x: np.ndarray, w: np.ndarray, x_type: FixedType) -> np.ndarray:
    """A user-chosen accumulator (also the definition the exact path must equal when the
    compiler sized it): start from the bias, add one product at a time, each step
    quantized to the accumulator type (ap_fixed's ``acc += x * w`` in a loop). ``x`` is
    (N, ..., K), ``w`` (K, M); a grouped Conv's are (N, ..., G, K) and (G, K, M)."""
    acc_t, w_t = c.p.type_of("accum"), c.p.type_of("weight")
    frac = x_type.frac + w_t.frac
    bias = c.node.param(c.graph, "bias")
    shape = (*x.shape[:-1], w.shape[-1])
    lead = x.ndim - w.ndim + 1  # the axes before the (G, M) or (M,) outputs
    acc = np.zeros(shape, np.int64)
    if bias is not None:
        fb = c.p.type_of("bias").frac
        acc = acc + c.quantize(to_raw(bias, fb), fb, acc_t).reshape(shape[lead:])
    # each product exact (Python ints past 2**61); acc + product: two acc_t codes, < 2**62
    x, w = exact_ints(magnitude(x_type) + magnitude(w_t), x, w)
    for k in range(x.shape[-1]):
        product = c.quantize(x[..., k : k + 1] * w[..., k, :], frac, acc_t)
        acc = c.quantize(acc + product, acc_t.frac, acc_t)
    acc = acc.reshape(*shape[:lead], int(np.prod(shape[lead:])))
    return _fused_activation(c, acc, acc_t.frac)


def exact_matmul(x: np.ndarray, w: np.ndarray, accum_width: int) -> np.ndarray:
    """``x @ w`` on int64 codes. When the accumulator is at most 53 bits, every partial sum is
    an integer below 2**53 whatever the order, so float64 BLAS computes it exactly (and far
    faster than NumPy's integer matmul)."""
    if accum_width <= 53:
        return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    return x @ w


def _dense(c: FixedContext, inputs):
    (x,) = inputs
    w = c.const("weight", c.p.type_of("weight"))
    if not c.p.accum_sized:
        return _accumulate(c, x, w, c.types[0])
    return _linear_layer(c, exact_matmul(x, w, c.p.type_of("accum").width), c.types[0])


def _conv(c: FixedContext, inputs):
    a = c.node.attrs
    view = windows(inputs[0], a, 0)  # (N, *out, Cin, *k)
    w = c.const("weight", c.p.type_of("weight"))  # (*k, Cin // group, Cout)
    # per group: patches (N, *out, K), K ordered (channel, *k), weights (K, M) in that order
    groups = conv_groups(view, w, a.group)
    if not c.p.accum_sized:  # stacked: patches (N, *out, G, K), weights (G, K, M)
        xs, ws = zip(*groups, strict=True)
        return _accumulate(c, np.stack(xs, axis=-2), np.stack(ws), c.types[0])
    width = c.p.type_of("accum").width
    products = [exact_matmul(x, w_g, width) for x, w_g in groups]
    return _linear_layer(c, np.concatenate(products, axis=-1), c.types[0])


def _batch_norm(c: FixedContext, inputs):
    w_t, b_t = c.p.type_of("weight"), c.p.type_of("bias")
    scale, bias = c.const("scale", w_t), c.const("bias", b_t)
    frac = c.types[0].frac + w_t.frac
    target = max(frac, b_t.frac)
    bound = 1 + max(
        magnitude(c.types[0]) + magnitude(w_t) + target - frac,
        magnitude(b_t) + target - b_t.frac,
    )
    x, scale, bias = exact_ints(bound, inputs[0], scale, bias)
    acc = align(x * scale, frac, target) + align(bias, b_t.frac, target)
    return c.quantize(acc, target)


def _max_pool(c: FixedContext, inputs):
    w = windows(inputs[0], c.node.attrs, INT_MIN)
    return w.max(axis=kernel_axes(c.node.attrs))


def _avg_pool(c: FixedContext, inputs):
    (x,) = _summable(c, inputs[0], int(np.prod(c.node.attrs.kernel_shape)))
    total = windows(x, c.node.attrs, 0).sum(axis=kernel_axes(c.node.attrs))
    return _scale_by_reciprocal(c, total)


def _summable(c: FixedContext, x: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
    """``x`` ready for a sum of ``count`` codes times the reciprocal, exact in any case."""
    bound = magnitude(c.types[0]) + _log2_ceil(count) + magnitude(c.p.type_of("weight"))
    return exact_ints(bound, x)


def _scale_by_reciprocal(c: FixedContext, total: np.ndarray) -> np.ndarray:
    """sum * (1/count): the reciprocal constant broadcasts over (*spatial) or is one value."""
    t = c.p.type_of("weight")
    r = c.const("reciprocal", t)
    if r.ndim > 1 or r.size > 1:
        r = r.reshape(r.shape + (1,))  # per output position, shared by the channels
    return c.quantize(total * r, c.types[0].frac + t.frac)


def _global_avg_pool(c: FixedContext, inputs):
    (x,) = _summable(c, inputs[0], int(np.prod(inputs[0].shape[1:-1])))
    return _scale_by_reciprocal(c, x.sum(axis=tuple(range(1, x.ndim - 1))))


def _global_max_pool(c: FixedContext, inputs):
    x = inputs[0]
    return x.max(axis=tuple(range(1, x.ndim - 1)))


def _activation(c: FixedContext, inputs):
    kernel = activation_rule(FIXED_ACTIVATIONS, c.node.attrs.kind, "fixed-point reference")
    return kernel(c, inputs[0], c.types[0])


def _softmax(c: FixedContext, inputs):
    a, p = c.node.attrs, c.p
    e_t, r_t = p.type_of("table_type"), p.type_of("inverse_type")  # exp, 1/sum (or log)
    x = np.moveaxis(inputs[0], a.axis % (inputs[0].ndim - 1) + 1, -1)
    t = c.types[0]
    d = x - x.max(axis=-1, keepdims=True)  # <= 0, exact
    e = c.const("table", e_t)[table_index(-d, t.frac, p.spec("table"))]
    # the sum of n exp codes: |s| <= 2**(m_E + ceil(log2 n)); Python ints past 2**61
    (e,) = exact_ints(magnitude(e_t) + _log2_ceil(x.shape[-1]), e)
    total = e.sum(axis=-1, keepdims=True)  # exact, frac of the exp type
    looked_up = c.const("inverse_table", r_t)[table_index(total, e_t.frac, p.spec("inverse_table"))]
    if a.log:  # d - log(sum)
        target = max(t.frac, r_t.frac)
        bound = 1 + max(magnitude(t) + 1 + target - t.frac, magnitude(r_t) + target - r_t.frac)
        d, looked_up = exact_ints(bound, d, looked_up)
        y = align(d, t.frac, target) - align(looked_up, r_t.frac, target)
        y = c.quantize(y, target)
    else:  # e * R[k(s)]: |product| <= 2**(m_E + m_R)
        e, looked_up = exact_ints(magnitude(e_t) + magnitude(r_t), e, looked_up)
        y = c.quantize(e * looked_up, e_t.frac + r_t.frac)
    return np.moveaxis(y, -1, a.axis % (inputs[0].ndim - 1) + 1)


def _aligned_sum(subtract: bool):
    """Add or Sub: both codes aligned to the larger fraction, exact, then one quantization."""

    def kernel(c: FixedContext, inputs):
        fa, fb = c.types[0].frac, c.types[1].frac
        target = max(fa, fb)
        bound = 1 + max(magnitude(c.types[0]) + target - fa, magnitude(c.types[1]) + target - fb)
        a, b = exact_ints(bound, *inputs)
        a, b = align(a, fa, target), align(b, fb, target)
        return c.quantize(a - b if subtract else a + b, target)

    return kernel


def _mul(c: FixedContext, inputs):
    a, b = exact_ints(magnitude(c.types[0]) + magnitude(c.types[1]), *inputs)
    return c.quantize(a * b, c.types[0].frac + c.types[1].frac)


def _concat(c: FixedContext, inputs):
    parts = [c.quantize(x, t.frac) for x, t in zip(inputs, c.types, strict=True)]
    return np.concatenate(parts, axis=c.node.attrs.axis % (inputs[0].ndim - 1) + 1)


def _argmax(c: FixedContext, inputs):
    a = c.node.attrs
    x = inputs[0]
    index = x.argmax(axis=a.axis % (x.ndim - 1) + 1, keepdims=a.keepdims)
    if a.classes is not None:
        return np.asarray(a.classes, dtype=np.int64)[index]
    return index.astype(np.int64)


FixedKernel = Callable[[FixedContext, list[np.ndarray]], np.ndarray]

FIXED_KERNELS: dict[Op, FixedKernel] = {
    Op.DENSE: _dense,
    Op.CONV: _conv,
    Op.MAX_POOL: _max_pool,
    Op.AVG_POOL: _avg_pool,
    Op.GLOBAL_AVG_POOL: _global_avg_pool,
    Op.GLOBAL_MAX_POOL: _global_max_pool,
    Op.BATCH_NORM: _batch_norm,
    Op.ACTIVATION: _activation,
    Op.SOFTMAX: _softmax,
    Op.LAYER_NORM: layer_norm,
    Op.ADD: _aligned_sum(subtract=False),
    Op.SUB: _aligned_sum(subtract=True),
    Op.MUL: _mul,
    Op.CONCAT: _concat,
    Op.FLATTEN: lambda c, i: i[0].reshape(len(i[0]), -1),
    Op.RESHAPE: lambda c, i: i[0].reshape(len(i[0]), *c.node.attrs.shape),
    Op.TRANSPOSE: lambda c, i: i[0].transpose(batched(c.node.attrs.perm)),
    Op.IDENTITY: lambda c, i: i[0],
    Op.ARGMAX: _argmax,
    Op.UPSAMPLE: lambda c, i: upsample(i[0], c.node.attrs.scales),  # codes copied
    Op.PAD: lambda c, i: pad_zeros(i[0], c.node.attrs.pads),  # the code 0 around them
    Op.SLICE: lambda c, i: i[0][slice_index(c.node.attrs)],  # codes copied, type unchanged
    Op.RECURRENT: recurrent,
    Op.THRESHOLD: fixed_threshold,
}


CHUNK = 4096  # samples per block: keeps the working set in cache


def run_fixed(
    graph: Graph,
    raw_inputs: dict[str, np.ndarray],
    intermediate: bool = False,
    overflows: dict[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """Run a compiled graph on raw input codes; return raw output codes by name (every
    tensor with ``intermediate``). ``overflows``, when given, collects per node how many
    values overflowed their type. Large batches run in blocks of :data:`CHUNK` samples."""
    n = len(next(iter(raw_inputs.values())))
    if n <= CHUNK or intermediate:
        return _run_block(graph, raw_inputs, intermediate, overflows)
    blocks = [
        _run_block(graph, {k: v[i : i + CHUNK] for k, v in raw_inputs.items()}, False, overflows)
        for i in range(0, n, CHUNK)
    ]
    return {name: np.concatenate([b[name] for b in blocks]) for name in graph.outputs}


def _run_block(
    graph: Graph, raw: dict[str, np.ndarray], intermediate: bool, overflows: dict[str, int] | None
) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        x = np.asarray(raw[name])
        if x.shape[1:] != graph.tensors[name].shape:
            raise DataError(
                f"input '{name}' has shape {x.shape}; expected (batch, "
                f"{', '.join(map(str, graph.tensors[name].shape))})"
            )
        values[name] = x.astype(np.int64)
    for node in graph.nodes:
        # casts: an integer (ArgMax's output; out None) only reaches kernels that ignore its type
        types = cast(list[FixedType], [graph.tensors[i].dtype for i in node.inputs])
        out = graph.tensors[node.outputs[0]].dtype
        out_type = cast(FixedType, out if out != INTEGER else None)
        context = FixedContext(graph, node, types, out_type, overflows)
        try:
            values[node.outputs[0]] = FIXED_KERNELS[node.op](
                context, [values[i] for i in node.inputs]
            )
        except PrecisionError:
            raise
        except (ValueError, IndexError, TypeError, AttributeError) as e:
            raise ModelError(
                f"node '{node.name}' ({node.op.value}) failed in fixed point: {e}"
            ) from e
    return values if intermediate else {name: values[name] for name in graph.outputs}


def input_layer(name: str) -> str:
    """The name under which the quantization of graph input ``name`` counts as a layer
    (overflow counts, the report, its plots)."""
    return f"input '{name}'"


def count_input_overflows(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, int]:
    """Per graph input, how many of the float ``inputs`` (IR layout) overflow its type when
    quantized (wrapped or saturated), by :func:`input_layer`. Counts only: the codes every
    engine runs on still come from :func:`nnfx.compiler.fixed.quantize_raw` alone."""
    from nnfx.compiler.fixed import quantize_raw

    counts: dict[str, int] = {}
    for name, x in inputs.items():
        t = graph.tensors[name].dtype
        if not isinstance(t, FixedType):
            continue
        wide = FixedType(62, 62 - t.frac, True, t.rounding, "SAT")  # as FixedContext.quantize
        overflowed = quantize_raw(x, t) != quantize_raw(x, wide)
        counts[input_layer(name)] = int(np.count_nonzero(overflowed))
    return counts
