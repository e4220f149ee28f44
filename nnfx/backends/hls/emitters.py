"""One emitter per op: the HLS writer's engine table (STYLE.md, "One table per engine").

An emitter ``fn(w, node, ins, out, in_t, out_t)`` adds the node's typedefs, config struct and
constants through the writer ``w`` and appends its kernel call to ``w.body``; ``ins``/``out``
are the C array names, ``in_t``/``out_t`` the tensor type names. :data:`EMITTERS` maps every
:class:`Op` to its emitter; :func:`emitter` looks one up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from nnfx.backends.hls.emit_activation import axis_geometry, emit_activation, emit_softmax
from nnfx.backends.hls.emit_binary import emit_binary
from nnfx.backends.hls.emit_norm import emit_layer_norm
from nnfx.backends.hls.emit_recurrent import emit_recurrent
from nnfx.backends.hls.emit_threshold import emit_threshold
from nnfx.backends.hls.render import (
    exact_sum_type,
    literal,
    safe_comment,
    struct,
)
from nnfx.compiler.binary import binary_form
from nnfx.compiler.fixed import ALPHA_TYPE, FixedType, fused_alpha_code
from nnfx.compiler.ir import Node
from nnfx.compiler.ops import Activation, Op
from nnfx.errors import PrecisionError, UnsupportedOpError

if TYPE_CHECKING:
    from nnfx.backends.hls.writer import HlsWriter

Emitter = Callable[..., None]


def _layer_pragmas(w: HlsWriter, node: Node, arrays: list[str]) -> None:
    reuse, strategy = w.options.reuse(node), w.options.strategy_of(node)
    for array in arrays:
        if strategy == "latency" and reuse == 1:
            w.pragmas.append(f"#pragma HLS ARRAY_PARTITION variable={array} complete")
        else:
            w.pragmas.append(f"#pragma HLS ARRAY_RESHAPE variable={array} cyclic factor={reuse}")


def _linear(w: HlsWriter, node: Node, kernel: str, fields: dict, ins, out, in_t, out_t) -> None:
    """Dense and Conv: types, the fused activation, constants, pragmas and the call."""
    p, a = node.precision, node.attrs
    if a.activation not in (Activation.LINEAR, Activation.RELU, Activation.LEAKY_RELU):
        raise PrecisionError(
            f"layer '{safe_comment(node.name)}': the HLS writer has no fused "
            f"{safe_comment(a.activation)}"
        )
    types = {
        "weight_t": w.types.add(w.node_name("wtype", node), p.weight),
        "accum_t": w.types.add(w.node_name("acctype", node), p.accum),
        "bias_t": w.types.add(w.node_name("btype", node), p.bias or p.weight),
    }
    fields = {
        **fields,
        "has_bias": "bias" in node.params,
        "relu": a.activation is Activation.RELU,
        "leaky": a.activation is Activation.LEAKY_RELU,
        "reuse_factor": w.options.reuse(node),
    }
    slope = "static int alpha() { return 0; }  // no leaky_relu"
    if a.activation is Activation.LEAKY_RELU:
        alpha_t = w.types.add(w.node_name("alphatype", node), ALPHA_TYPE)
        alpha = literal(fused_alpha_code(w.graph, node) * 2.0**-ALPHA_TYPE.frac)
        slope = f"static {alpha_t} alpha() {{ return {alpha_t}({alpha}); }}"
    form = binary_form(w.graph, node)
    if form is not None:  # the XNOR-popcount form (emit_binary.py)
        args = (ins, out, in_t, out_t)
        _layer_pragmas(w, node, [emit_binary(w, node, form, kernel, fields, types, [slope], args)])
        return
    cfg = w.config(node, fields, types, [slope])
    wts = w.constant(node, "weights", types["weight_t"], node.param(w.graph, "weight"))
    bias = node.param(w.graph, "bias") if "bias" in node.params else [0.0]
    b = w.constant(node, "biases", types["bias_t"], bias)
    _layer_pragmas(w, node, [wts])
    call = f"nnfx::{kernel}<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {wts}, {b});"
    w.body.append(f"    {call}")


def emit_dense(w: HlsWriter, node, ins, out, in_t, out_t):
    a = node.attrs
    _linear(w, node, "dense", {"n_in": a.n_in, "n_out": a.n_out}, ins, out, in_t, out_t)


def emit_conv(w: HlsWriter, node, ins, out, in_t, out_t):
    a = node.attrs
    in_shape = w.graph.tensors[node.inputs[0]].shape
    out_shape = w.graph.tensors[node.outputs[0]].shape
    two_d = len(a.kernel_shape) == 2

    def pick(values, index_2d, default):  # 1-D convolutions run as height-1 2-D ones
        return values[index_2d] if two_d else (default if index_2d == 0 else values[0])

    rank = len(a.kernel_shape)
    fields = {
        "in_height": in_shape[0] if two_d else 1,
        "in_width": in_shape[-2],
        "n_chan": a.in_channels,
        "out_height": out_shape[0] if two_d else 1,
        "out_width": out_shape[-2],
        "n_filt": a.out_channels,
        "n_group": a.group,
        "filt_height": pick(a.kernel_shape, 0, 1),
        "filt_width": a.kernel_shape[-1],
        "stride_height": pick(a.strides, 0, 1),
        "stride_width": a.strides[-1],
        "dilation_height": pick(a.dilations, 0, 1),
        "dilation_width": a.dilations[-1],
        "pad_top": a.pads[0] if two_d else 0,
        "pad_left": a.pads[rank - 1],
    }
    _linear(w, node, "conv2d", fields, ins, out, in_t, out_t)


def _sum_type(w: HlsWriter, node: Node, x: FixedType, count: int) -> str:
    return w.types.add(w.node_name("total", node), exact_sum_type(x, count))


def _pool(w: HlsWriter, node, ins, out, in_t, out_t, is_max):
    a = node.attrs
    in_shape = w.graph.tensors[node.inputs[0]].shape
    out_shape = w.graph.tensors[node.outputs[0]].shape
    two_d = len(a.kernel_shape) == 2
    rank = len(a.kernel_shape)
    count = int(np.prod(a.kernel_shape))
    sum_t = _sum_type(w, node, w.graph.tensors[node.inputs[0]].dtype, count)
    recip_type = node.precision.weight if not is_max else FixedType(18, 1, False)
    recip_t = w.types.add(w.node_name("rtype", node), recip_type)
    recip = node.param(w.graph, "reciprocal") if not is_max else np.array([0.0])
    fields = {
        "in_height": in_shape[0] if two_d else 1,
        "in_width": in_shape[-2],
        "n_chan": in_shape[-1],
        "out_height": out_shape[0] if two_d else 1,
        "out_width": out_shape[-2],
        "pool_height": a.kernel_shape[0] if two_d else 1,
        "pool_width": a.kernel_shape[-1],
        "stride_height": a.strides[0] if two_d else 1,
        "stride_width": a.strides[-1],
        "pad_top": a.pads[0] if two_d else 0,
        "pad_left": a.pads[rank - 1],
        "is_max": is_max,
        "n_reciprocal": recip.size,
    }
    cfg = w.config(node, fields, {"sum_t": sum_t, "recip_t": recip_t})
    r = w.constant(node, "reciprocals", recip_t, recip)
    w.body.append(f"    nnfx::pool2d<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {r});")


def emit_max_pool(w: HlsWriter, *args):
    _pool(w, *args, is_max=True)


def emit_avg_pool(w: HlsWriter, *args):
    _pool(w, *args, is_max=False)


def _global(w: HlsWriter, node, ins, out, in_t, out_t, is_max):
    shape = w.graph.tensors[node.inputs[0]].shape
    positions = int(np.prod(shape[:-1]))
    sum_t = _sum_type(w, node, w.graph.tensors[node.inputs[0]].dtype, positions)
    recip_type = FixedType(18, 1, False) if is_max else node.precision.weight
    recip_t = w.types.add(w.node_name("rtype", node), recip_type)
    recip = np.array([0.0]) if is_max else node.param(w.graph, "reciprocal")
    cfg = w.config(
        node,
        {"n_positions": positions, "n_chan": shape[-1], "is_max": is_max},
        {"sum_t": sum_t, "recip_t": recip_t},
    )
    r = w.constant(node, "reciprocals", recip_t, recip)
    w.body.append(f"    nnfx::global_pool<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {r});")


def emit_global_avg_pool(w: HlsWriter, *args):
    _global(w, *args, is_max=False)


def emit_global_max_pool(w: HlsWriter, *args):
    _global(w, *args, is_max=True)


def emit_batch_norm(w: HlsWriter, node, ins, out, in_t, out_t):
    p = node.precision
    scale_t = w.types.add(w.node_name("stype", node), p.weight)
    bias_t = w.types.add(w.node_name("btype", node), p.bias)
    scale = node.param(w.graph, "scale")
    cfg = w.config(
        node,
        {"n_in": w.size(node.inputs[0]), "n_scale": scale.size},
        {"scale_t": scale_t, "bias_t": bias_t},
    )
    s = w.constant(node, "scales", scale_t, scale)
    b = w.constant(node, "biases", bias_t, node.param(w.graph, "bias"))
    w.body.append(f"    nnfx::batchnorm<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {s}, {b});")


def _elementwise(kernel, w: HlsWriter, node, ins, out, in_t, out_t):
    cfg = w.config(node, {"n_in": w.size(node.inputs[0])}, {})
    w.body.append(
        f"    nnfx::{kernel}<{in_t[0]}, {in_t[1]}, {out_t}, {cfg}>({ins[0]}, {ins[1]}, {out});"
    )


def emit_add(w: HlsWriter, *args):
    _elementwise("add", w, *args)


def emit_sub(w: HlsWriter, *args):
    _elementwise("subtract", w, *args)


def emit_mul(w: HlsWriter, *args):
    _elementwise("multiply", w, *args)


def emit_concat(w: HlsWriter, node, ins, out, in_t, out_t):
    """One nested struct ``part<k>`` per input in the node's config."""
    shape = w.graph.tensors[node.outputs[0]].shape
    axis = node.attrs.axis % len(shape)
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner_out = int(np.prod(shape[axis:], dtype=np.int64))
    offset, parts, calls = 0, [], []
    cfg = w.node_name("config", node)
    for k, (name, var, t) in enumerate(zip(node.inputs, ins, in_t, strict=True)):
        inner = int(np.prod(w.graph.tensors[name].shape[axis:], dtype=np.int64))
        fields = {"outer": outer, "inner": inner, "inner_out": inner_out, "offset": offset}
        parts.extend(struct(f"part{k}", fields, {}).splitlines())
        calls.append(f"    nnfx::concat_part<{t}, {out_t}, {cfg}::part{k}>({var}, {out});")
        offset += inner
    w.config(node, {}, {}, parts)
    w.body.extend(calls)


def emit_alias_or_copy(w: HlsWriter, node, ins, out, in_t, out_t):
    """Flatten, Reshape, Identity: the same codes; a copy only where the result is an
    output of the design (or the types differ, which the compiler never produces)."""
    if node.outputs[0] in w.graph.outputs or in_t[0] != out_t:
        cfg = w.config(node, {"n_in": w.size(node.inputs[0])}, {})
        w.body.append(f"    nnfx::copy<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out});")
    else:
        w.aliases[node.outputs[0]] = w.aliases.get(node.inputs[0], node.inputs[0])
        w.body.append(f"    // {out} is {ins[0]} (same codes, another shape)")


def emit_transpose(w: HlsWriter, node, ins, out, in_t, out_t):
    shape = w.graph.tensors[node.inputs[0]].shape
    index = np.arange(int(np.prod(shape))).reshape(shape).transpose(node.attrs.perm).reshape(-1)
    cfg = w.config(node, {"n_in": index.size}, {})
    idx = w.constant(node, "perm", "int", index)
    w.body.append(f"    nnfx::permute<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {idx});")


def _resample(w: HlsWriter, node, ins, out, in_t, out_t, kernel: str, fields: dict) -> None:
    """Upsample and Pad: codes copied between two feature maps (1-D as height 1)."""
    in_shape = w.graph.tensors[node.inputs[0]].shape
    out_shape = w.graph.tensors[node.outputs[0]].shape
    two_d = len(in_shape) == 3
    geometry = {
        "in_height": in_shape[0] if two_d else 1,
        "in_width": in_shape[-2],
        "n_chan": in_shape[-1],
        "out_height": out_shape[0] if two_d else 1,
        "out_width": out_shape[-2],
    }
    cfg = w.config(node, {**geometry, **fields}, {})
    w.body.append(f"    nnfx::{kernel}<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out});")


def emit_upsample(w: HlsWriter, node, *args):
    s = node.attrs.scales
    fields = {"scale_height": s[0] if len(s) == 2 else 1, "scale_width": s[-1]}
    _resample(w, node, *args, kernel="upsample2d", fields=fields)


def emit_pad(w: HlsWriter, node, *args):
    p, rank = node.attrs.pads, len(node.attrs.pads) // 2
    fields = {"pad_top": p[0] if rank == 2 else 0, "pad_left": p[rank - 1]}
    _resample(w, node, *args, kernel="pad2d", fields=fields)


# Activation kind -> the nnfx::activation_kind its kernel computes (templates/nnfx_kernels.h).
def emit_argmax(w: HlsWriter, node, ins, out, in_t, out_t):
    a = node.attrs
    outer, n, inner = axis_geometry(w, node.inputs[0], a.axis)
    cfg = w.config(
        node, {"outer": outer, "n": n, "inner": inner, "has_classes": a.classes is not None}, {}
    )
    classes = w.constant(
        node, "labels", "int", list(a.classes) if a.classes is not None else list(range(n))
    )
    w.body.append(f"    nnfx::argmax<{in_t[0]}, {cfg}>({ins[0]}, {out}, {classes});")


def emit_slice(w: HlsWriter, node, ins, out, in_t, out_t):
    """Codes copied: rows ``[start, end)`` of each ``(outer, n_in, inner)`` block."""
    a = node.attrs
    outer, n_in, inner = axis_geometry(w, node.inputs[0], a.axis)
    fields = {"outer": outer, "n_in": n_in, "inner": inner, "start": a.start}
    cfg = w.config(node, {**fields, "n_out": a.end - a.start}, {})
    w.body.append(f"    nnfx::slice<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out});")


EMITTERS: dict[Op, Emitter] = {
    Op.DENSE: emit_dense,
    Op.CONV: emit_conv,
    Op.MAX_POOL: emit_max_pool,
    Op.AVG_POOL: emit_avg_pool,
    Op.GLOBAL_AVG_POOL: emit_global_avg_pool,
    Op.GLOBAL_MAX_POOL: emit_global_max_pool,
    Op.BATCH_NORM: emit_batch_norm,
    Op.ACTIVATION: emit_activation,
    Op.SOFTMAX: emit_softmax,
    Op.LAYER_NORM: emit_layer_norm,
    Op.ADD: emit_add,
    Op.SUB: emit_sub,
    Op.MUL: emit_mul,
    Op.CONCAT: emit_concat,
    Op.FLATTEN: emit_alias_or_copy,
    Op.RESHAPE: emit_alias_or_copy,
    Op.TRANSPOSE: emit_transpose,
    Op.IDENTITY: emit_alias_or_copy,
    Op.ARGMAX: emit_argmax,
    Op.SLICE: emit_slice,
    Op.UPSAMPLE: emit_upsample,
    Op.PAD: emit_pad,
    Op.RECURRENT: emit_recurrent,
    Op.THRESHOLD: emit_threshold,
}


def emitter(op) -> Emitter:
    """The emitter of ``op``; an op without one is an :class:`UnsupportedOpError` that lists
    the ops the HLS writer supports."""
    fn = EMITTERS.get(op) if isinstance(op, Op) else None
    if fn is None:
        raise UnsupportedOpError(
            f"the HLS writer has no emitter for op '{getattr(op, 'value', op)}'; it supports "
            f"{', '.join(o.value for o in Op if o in EMITTERS)}"
        )
    return fn
