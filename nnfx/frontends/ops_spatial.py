"""Converters of the ops that slide over spatial axes: Conv, pooling, and the reductions over
every spatial axis (global pooling). They produce channels-last values."""

from __future__ import annotations

import math

from nnfx import limits
from nnfx.compiler.ir import for_message, short
from nnfx.compiler.layout import channels_last
from nnfx.compiler.ops import ConvAttrs, NoAttrs, Op, PoolAttrs, ReshapeAttrs, pooled_length
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter, ConverterFn, Value
from nnfx.frontends.folding import fold


def _spatial_attrs(c: Converter, x: Value, kernel_shape) -> tuple:
    rank = len(kernel_shape)
    if len(x.onnx_shape) != rank + 1:
        raise c.error(
            f"a {rank}-D kernel needs input (batch, channels, {rank} spatial dims), got "
            f"(batch, {', '.join(map(str, x.onnx_shape))})",
            UnsupportedOpError,
        )
    strides = tuple(c.attr("strides", [1] * rank, "ints"))
    dilations = tuple(c.attr("dilations", [1] * rank, "ints"))
    for what, values in (("strides", strides), ("dilations", dilations)):
        if len(values) != rank or min(values) < 1:
            raise c.error(
                f"{what} {short(values)} must be {rank} positive integer(s), one per spatial axis"
            )
    auto_pad = c.attr("auto_pad", "NOTSET", "string")
    if auto_pad in ("NOTSET", "VALID"):
        pads = c.attr("pads", [0] * 2 * rank, "ints") if auto_pad == "NOTSET" else [0] * 2 * rank
        if len(pads) != 2 * rank or min(pads) < 0:
            raise c.error(
                f"pads {short(pads)} must be {2 * rank} non-negative integers (the begins, "
                "then the ends of each spatial axis)"
            )
        pads = tuple(pads)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for axis in range(rank):
            size = x.onnx_shape[axis + 1]
            extent = dilations[axis] * (kernel_shape[axis] - 1) + 1
            total = max((-(-size // strides[axis]) - 1) * strides[axis] + extent - size, 0)
            small, large = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else large)
            ends.append(large if auto_pad == "SAME_UPPER" else small)
        pads = tuple(begins + ends)
    else:
        raise c.error(
            f"auto_pad '{for_message(auto_pad)}' is not supported; expected NOTSET, VALID, "
            "SAME_UPPER or SAME_LOWER",
            UnsupportedOpError,
        )
    for pad in pads:
        limits.PADS.check(pad, c.culprit("its padding"))
    # The engines pad the input, then slide the kernel over it: both are bounded up front.
    sizes = x.onnx_shape[1:]
    padded = [sizes[i] + pads[i] + pads[i + rank] for i in range(rank)]
    limits.TENSOR_ELEMENTS.check(math.prod(padded) * x.onnx_shape[0], c.culprit("its padded input"))
    positions = [
        max(pooled_length(sizes[i], kernel_shape[i], strides[i], padded[i] - sizes[i], d), 0)
        for i, d in enumerate(dilations)
    ]
    windows = math.prod(positions) * x.onnx_shape[0] * math.prod(kernel_shape)
    limits.TENSOR_ELEMENTS.check(windows, c.culprit("its sliding-window view"))
    if c.attr("ceil_mode", 0, "int"):
        raise c.error(
            "ceil_mode=1 is not supported; export with ceil_mode=False", UnsupportedOpError
        )
    return strides, pads, dilations


def conv(c: Converter) -> None:
    x_name, w_name, *rest = c.inputs(2, 3)
    x = c.tensor(x_name)
    weight = c.numbers(w_name, "weight")  # (out, in, *k)
    group = c.attr("group", 1, "int")
    kernel = tuple(weight.shape[2:])
    if len(kernel) not in (1, 2) or weight.size == 0:
        raise c.error(
            f"a weight of shape {weight.shape} is not supported; nnfx supports 1-D and 2-D "
            "convolution, weights (out, in, *kernel)",
            UnsupportedOpError,
        )
    given = c.attr("kernel_shape", None, "ints")
    if given is not None and tuple(given) != kernel:
        raise c.error(
            f"kernel_shape {short(given)} does not match the weight's kernel {list(kernel)}"
        )
    strides, pads, dilations = _spatial_attrs(c, x, kernel)
    channels, n_out = x.onnx_shape[0], weight.shape[0]
    if group < 1 or n_out % group or channels != weight.shape[1] * group:
        raise c.error(
            f"group={group} does not fit {channels} input channels and a weight of shape "
            f"{weight.shape}; the group must divide both channel counts, and the weight's "
            "second axis must be the input channels divided by the group"
        )
    rank = len(kernel)
    params = {"weight": weight.transpose(*range(2, 2 + rank), 1, 0)}  # (*k, in, out)
    bias = c.optional_const(2, "bias")
    if bias is not None:
        bias = c.numbers(c.onnx_node.input[2], "bias")
        if bias.shape != (weight.shape[0],):
            raise c.error(
                f"bias of shape {bias.shape} does not fit {weight.shape[0]} output channels"
            )
        params["bias"] = bias
    attrs = ConvAttrs(channels, n_out, kernel, strides, pads, dilations, group=group)
    layout = channels_last(rank + 1)
    out = c.emit(Op.CONV, [c.in_layout(x, layout)], attrs, params)
    c.set_output(c.new_value(out, layout))


def pool(op: Op) -> ConverterFn:
    def convert(c: Converter) -> None:
        x = c.tensor(c.inputs(1)[0])
        kernel = tuple(c.attr("kernel_shape", [], "ints"))
        if len(kernel) not in (1, 2):
            raise c.error(
                f"kernel_shape {short(kernel)} is not supported; nnfx supports 1-D and 2-D pooling",
                UnsupportedOpError,
            )
        if min(kernel) < 1:
            raise c.error(f"kernel_shape {short(kernel)} must be positive")
        strides, pads, dilations = _spatial_attrs(c, x, kernel)
        if any(d != 1 for d in dilations):
            raise c.error("dilated pooling is not supported", UnsupportedOpError)
        rank = len(kernel)
        if any(max(pads[i], pads[i + rank]) >= kernel[i] for i in range(rank)):
            raise c.error(
                f"pads {short(pads)} must be smaller than the kernel {list(kernel)}: a window "
                "would hold only padding"
            )
        if len(c.onnx_node.output) > 1 and c.onnx_node.output[1]:
            raise c.error("MaxPool's Indices output is not supported", UnsupportedOpError)
        include = bool(c.attr("count_include_pad", 0, "int"))
        layout = channels_last(len(kernel) + 1)
        out = c.emit(op, [c.in_layout(x, layout)], PoolAttrs(kernel, strides, pads, include))
        c.set_output(c.new_value(out, layout))

    return convert


def global_pool(op: Op) -> ConverterFn:
    def convert(c: Converter) -> None:
        x = c.tensor(c.inputs(1)[0])
        rank = len(x.onnx_shape)
        if rank < 2:
            raise c.error("global pooling needs (batch, channels, spatial...) input")
        pooled = c.emit(op, [c.in_layout(x, channels_last(rank))], NoAttrs(), suffix="_pool")
        # ONNX keeps the spatial axes as 1s: (C, 1, ...), channels-last (1, ..., C).
        keep = (1,) * (rank - 1) + (x.onnx_shape[0],)
        out = c.emit(Op.RESHAPE, [pooled], ReshapeAttrs(keep))
        c.set_output(c.new_value(out, channels_last(rank)))

    return convert


def reduce(op: Op) -> ConverterFn:
    """ReduceMean / ReduceMax over every spatial axis: global pooling (PyTorch's dynamo
    exporter writes adaptive average pooling to 1x1 this way)."""

    def convert(c: Converter) -> None:
        if fold(c):
            return
        x = c.tensor(c.inputs(1, 2)[0])
        rank = len(x.onnx_shape) + 1
        axes = c.attr("axes", None, "ints")
        if axes is None:
            given = c.optional_const(1, "axes")
            axes = None if given is None else c.integers(given, "axes")
        spatial = set(range(2, rank))
        if axes is None or {a % rank for a in axes} != spatial or rank < 3:
            raise c.error(
                f"reduction over axes {short(axes or [])} is not supported; nnfx supports "
                f"reducing every spatial axis {sorted(spatial)} (global pooling)",
                UnsupportedOpError,
            )
        pooled = c.emit(op, [c.in_layout(x, channels_last(rank - 1))], NoAttrs(), suffix="_pool")
        if c.attr("keepdims", 1, "int"):
            keep = (1,) * (rank - 2) + (x.onnx_shape[0],)
            out = c.emit(Op.RESHAPE, [pooled], ReshapeAttrs(keep))
            c.set_output(c.new_value(out, channels_last(rank - 1)))
        else:
            c.set_output(c.new_value(pooled, (0,)))

    return convert
