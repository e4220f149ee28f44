"""Converters of Slice and Split on computed data (on constants and shapes they fold): each cut
along one axis becomes an IR Slice on the matching axis of the value's IR layout (a
channels-last feature map is sliced on its last axis for ONNX's channel axis), so that the
value keeps its layout and nothing is transposed."""

from __future__ import annotations

import math

from nnfx.compiler.ir import short
from nnfx.compiler.ops import NoAttrs, Op, SliceAttrs
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter, Value
from nnfx.frontends.folding import fold

# An end at or beyond this keeps everything to the axis's end (exporters write INT64_MAX or
# INT32_MAX for ``x[:, a:]``); only such a Slice of the batch axis, from 0, is accepted.
_TO_THE_END = 2**31 - 1


def _cut(c: Converter, v: Value, pieces: list[tuple[int, int, int]]) -> Value:
    """``v`` cut by ``(onnx_axis, start, end)`` triples (sample axes from 1, clamped bounds),
    as one IR Slice per axis that loses values; the identity when none does."""
    cuts = [p for p in pieces if p[1:] != (0, v.onnx_shape[p[0] - 1])]
    tensor = v.tensor
    for k, (axis, start, end) in enumerate(cuts):  # the last one is named as the output
        attrs = SliceAttrs(v.perm.index(axis - 1), start, end)
        suffix = "" if k == len(cuts) - 1 else f"_axis{axis}"
        tensor = c.emit(Op.SLICE, [tensor], attrs, suffix=suffix)
    if not cuts:
        tensor = c.emit(Op.IDENTITY, [tensor], NoAttrs())
    return c.new_value(tensor, v.perm)


def slice_(c: Converter) -> None:
    if fold(c):
        return
    names = c.inputs(3, 5)
    v = c.tensor(names[0])
    rank = len(v.onnx_shape) + 1
    starts = c.integers(c.const(names[1], "starts"), "starts")
    ends = c.integers(c.const(names[2], "ends"), "ends")
    axes_given = c.optional_const(3, "axes")
    axes = list(range(len(starts))) if axes_given is None else c.integers(axes_given, "axes")
    steps_given = c.optional_const(4, "steps")
    steps = [1] * len(starts) if steps_given is None else c.integers(steps_given, "steps")
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise c.error(
            f"starts {short(starts)}, ends {short(ends)}, axes {short(axes)} and steps "
            f"{short(steps)} must have one entry per sliced axis"
        )
    if any(not -rank <= a < rank for a in axes):
        raise c.error(f"axes {short(axes)} name an axis beyond the input's {rank}")
    axes = [a % rank for a in axes]
    if len(set(axes)) != len(axes):
        raise c.error(f"axes {short(axes)} repeat an axis")
    pieces = []
    for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
        if step != 1:
            raise c.error(
                f"Slice with step {step} on axis {axis} is not supported; nnfx slices with step 1",
                UnsupportedOpError,
            )
        if axis == 0:
            if start != 0 or end < _TO_THE_END:
                raise c.error(
                    f"slicing the batch axis ([{start}:{end}] on axis 0) is not supported",
                    UnsupportedOpError,
                )
            continue
        size = v.onnx_shape[axis - 1]
        lo = min(max(start + size if start < 0 else start, 0), size)
        hi = min(max(end + size if end < 0 else end, 0), size)
        if hi <= lo:
            raise c.error(f"[{start}:{end}] on axis {axis} of size {size} keeps no values")
        pieces.append((axis, lo, hi))
    c.set_output(_cut(c, v, pieces))


def split(c: Converter) -> None:
    if fold(c):
        return
    names = c.inputs(1, 2)
    v = c.tensor(names[0])
    rank = len(v.onnx_shape) + 1
    axis = c.attr("axis", 0, "int")
    if not -rank <= axis < rank:
        raise c.error(f"axis {axis} is beyond the input's {rank} axes")
    axis %= rank
    if axis == 0:
        raise c.error("splitting along the batch axis is not supported", UnsupportedOpError)
    outputs = list(c.onnx_node.output)
    size = v.onnx_shape[axis - 1]
    given = c.optional_const(1, "split")
    if given is not None:
        sizes = c.integers(given, "split")
    else:
        count = c.attr("num_outputs", len(outputs), "int")
        if count != len(outputs) or count < 1:
            raise c.error(f"num_outputs={count} but the node has {len(outputs)} outputs")
        chunk = math.ceil(size / count)
        sizes = [min(chunk, size - k * chunk) for k in range(count)]
    if len(sizes) != len(outputs) or sum(sizes) != size or any(s < 1 for s in sizes):
        raise c.error(
            f"split sizes {short(sizes)} do not cut axis {axis} of size {size} into "
            f"{len(outputs)} non-empty parts"
        )
    start = 0
    for index, part in enumerate(sizes):
        attrs = SliceAttrs(v.perm.index(axis - 1), start, start + part)
        tensor = c.emit(Op.SLICE, [v.tensor], attrs, suffix="" if index == 0 else f"_{index}")
        c.set_output(c.new_value(tensor, v.perm), index)
        start += part
