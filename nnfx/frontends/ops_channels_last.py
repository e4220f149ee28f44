"""qonnx's channels-last ops (domain ``qonnx.custom_op.channels_last``: ``Conv``, ``MaxPool``,
``BatchNormalization``), which ``ConvertToChannelsLastAndClean`` writes between the Transposes it
puts at a model's input and output (docs/semantics.md, "QONNX channels-last").

Each is ONNX's op of the same name on a channels-last array: qonnx executes it by moving the
channel axis of its first input (and of a Conv's weight, stored ``(out, *kernel, in)``) to
axis 1, running the ONNX op, and moving the output's channel axis back to the end. nnfx's IR is
channels-last already, so the conversion is a change of view: the input is seen in the
channels-first order (the same IR tensor under another ``perm``, no node), ONNX's own converter
runs, and its output is seen channels-last again.
"""

from __future__ import annotations

import dataclasses

from nnfx.compiler.layout import channels_last, compose, inverse
from nnfx.compiler.ops import Op
from nnfx.errors import UnsupportedOpError
from nnfx.frontends import ops_elementwise, ops_spatial
from nnfx.frontends.context import Converter, ConverterFn, Value

DOMAIN = "qonnx.custom_op.channels_last"


def _reorder(shape: tuple[int, ...], perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[i] for i in perm)


def channels_first_view(v: Value) -> Value:
    """A computed value whose ONNX array is channels-last, seen as the channels-first array it
    stands for: ``last = first.transpose(cl)``, so ``ir = first.transpose(compose(cl, perm))``."""
    cl = channels_last(len(v.onnx_shape))
    return dataclasses.replace(
        v, perm=compose(cl, v.perm), onnx_shape=_reorder(v.onnx_shape, inverse(cl))
    )


def channels_last_view(v: Value) -> Value:
    """The inverse of :func:`channels_first_view`."""
    cl = channels_last(len(v.onnx_shape))
    return dataclasses.replace(
        v, perm=compose(inverse(cl), v.perm), onnx_shape=_reorder(v.onnx_shape, cl)
    )


def wrapped(convert: ConverterFn, weight: bool = False) -> ConverterFn:
    """The channels-last twin of ONNX's converter ``convert``: input 0 (and, with ``weight``,
    the constant input 1, ``(out, *kernel, in)`` -> ``(out, in, *kernel)``) seen channels-first
    while ``convert`` runs, the output seen channels-last after. The converter's values are
    restored, so later readers of the inputs see the file's own layout."""

    def convert_channels_last(c: Converter) -> None:
        names = list(c.onnx_node.input)
        x = c.tensor(names[0]) if names else None
        if x is None or len(x.onnx_shape) < 2:
            raise c.error(
                "a channels-last op needs input (batch, *spatial, channels) with at least one "
                "spatial axis",
                UnsupportedOpError,
            )
        saved = {n: c.values[n] for n in names[: 2 if weight else 1]}
        c.values[names[0]] = channels_first_view(x)
        if weight and len(names) > 1:
            w = c.value(names[1])
            if w.is_const and w.const.ndim >= 3:
                order = (0, w.const.ndim - 1, *range(1, w.const.ndim - 1))
                c.values[names[1]] = dataclasses.replace(w, const=w.const.transpose(order))
        try:
            convert(c)
        finally:
            c.values.update(saved)
        out = c.onnx_node.output[0]
        c.values[out] = channels_last_view(c.values[out])

    return convert_channels_last


conv = wrapped(ops_spatial.conv, weight=True)
max_pool = wrapped(ops_spatial.pool(Op.MAX_POOL))
batchnorm = wrapped(ops_elementwise.batchnorm)
