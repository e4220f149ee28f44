"""Per-channel power-of-two quantizers on computed data: QONNX ``Quant`` and ``BipolarQuant``
and a per-axis ``QuantizeLinear``/``DequantizeLinear`` pair whose scale ``2^-F_c`` differs
between channels (docs/semantics.md, "QONNX Quant").

The IR holds one type per tensor, and no one type is every channel's grid; but
``y_c = 2^-F_c Q_U(x_c 2^F_c)`` with ``U = fixed<b, b, R, O>`` (the Quant's integer codes) is
exactly QONNX's ``2^-F_c clamp(R(x_c / 2^-F_c))``, and both products are exact shifts. So the
quantizer becomes two BatchNorm nodes (one exact product and one quantization each, per
channel): the codes ``Q_U(x * 2^F_c)``, then the value ``Q_D(q * 2^-F_c)`` in the union type
``D = fixed<b + F_max - F_min, b - F_min>``, which holds every channel's values exactly. The
channel is the axis the scale varies along; it must be the value's last IR axis (a Dense's
features, a feature map's channels, channels-first or channels-last in the ONNX file).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nnfx.compiler.fixed import MAX_WIDTH, FixedType
from nnfx.compiler.ir import LayerPrecision
from nnfx.compiler.model_types import exact_constant_type
from nnfx.compiler.ops import NoAttrs, Op
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter, Value


def _refuse(c: Converter, reason: str) -> UnsupportedOpError:
    return UnsupportedOpError(c.culprit(reason))


def channel_exponents(c: Converter, x: Value, exponents: np.ndarray) -> np.ndarray:
    """``F_c`` for each index of ``x``'s last IR axis, from exponents shaped like the ONNX
    scale (broadcast against ``(batch, *x.onnx_shape)``); refused unless they vary along one
    axis, and that axis is the value's channel axis (its last IR axis)."""
    e = np.asarray(exponents)
    rank = 1 + len(x.onnx_shape)
    if e.ndim > rank:
        raise c.error(f"scale of shape {list(e.shape)} has more axes than its input's {rank}")
    e = e.reshape((1,) * (rank - e.ndim) + e.shape)
    shape: list[int] = [int(d) for d in e.shape]
    sizes: list[int] = [1, *x.onnx_shape]
    if any(d not in (1, size) for d, size in zip(shape, sizes, strict=True)):
        raise c.error(
            f"scale of shape {shape} does not broadcast to its input's {['N', *x.onnx_shape]}"
        )
    axes = [k for k, d in enumerate(shape) if d > 1]
    if len(axes) != 1 or axes[0] == 0:
        raise _refuse(
            c,
            f"its scale of shape {shape} varies along more than one axis (or the "
            "batch); nnfx supports a per-tensor or a per-channel scale on computed data",
        )
    if not x.perm or x.perm[-1] != axes[0] - 1:
        raise _refuse(
            c,
            f"its scale varies along axis {axes[0]}, which is not the channel axis of its "
            "input (nnfx quantizes per channel along a Dense's features or a feature map's "
            "channels)",
        )
    return e.reshape(-1).astype(np.int64)


def affine(c: Converter, x: str, scale: np.ndarray, out_t: FixedType, suffix: str) -> str:
    """A BatchNorm ``Q_out(x * scale)``, ``scale`` per channel, its constants' types exact."""
    params = {"scale": scale, "bias": np.zeros_like(scale)}
    out = c.emit(Op.BATCH_NORM, [x], NoAttrs(), params, suffix=suffix, dtype=out_t)
    t_scale = exact_constant_type(scale)
    if t_scale is None:
        raise _refuse(c, "its per-channel scales have no exact 62-bit fixed-point type")
    precision = LayerPrecision(weight=t_scale, bias=FixedType(1, 1))
    c.nodes[-1] = dataclasses.replace(c.nodes[-1], precision=precision)
    return out


def union_type(c: Converter, frac: np.ndarray, code_type: FixedType) -> FixedType:
    """``fixed<b + F_max - F_min, b - F_min>``: every channel's ``code 2^-F_c`` exactly (the
    integer bits and the sign of the codes' type ``fixed<b, b>``)."""
    from nnfx.frontends.ops_quant import _type

    low, high = int(frac.min()), int(frac.max())
    width = code_type.width + high - low
    if width > MAX_WIDTH:
        raise _refuse(
            c,
            f"its per-channel scales 2^{-high} to 2^{-low} need {width} bits in one type, "
            f"more than {MAX_WIDTH}",
        )
    return _type(c, width, high, code_type.signed, "RND_CONV", "SAT")


def dequantize(c: Converter, codes: Value, frac: np.ndarray, code_type: FixedType) -> Value:
    """Integer codes (channel ``c`` on the grid 1) to the values ``code * 2^-F_c``, exact."""
    out_t = union_type(c, frac, code_type)
    out = affine(c, str(codes.tensor), np.ldexp(1.0, -frac), out_t, "")
    return c.new_value(out, codes.perm, dtype=out_t)


def quantize(
    c: Converter, x: Value, frac: np.ndarray, code_type: FixedType, suffix: str = "_codes"
) -> Value:
    """Computed data to its integer codes ``Q_U(x * 2^F_c)`` (``U = code_type``)."""
    out = affine(c, str(x.tensor), np.ldexp(1.0, frac), code_type, suffix)
    return c.new_value(out, x.perm, dtype=code_type)


def quant(c: Converter, x_name: str, exponents: np.ndarray, code_type: FixedType) -> Value:
    """QONNX's per-channel ``Quant`` of computed data: codes, then values."""
    x = c.tensor(x_name)
    if not any(str(x.tensor) in n.outputs for n in c.nodes):
        raise _refuse(
            c,
            "a per-channel scale on computed data is supported after a layer, not on a graph "
            "input (an input has one type, and its float values would be rounded twice)",
        )
    frac = channel_exponents(c, x, exponents)
    union_type(c, frac, code_type)  # refused before any node is emitted
    codes = quantize(c, x, frac, code_type)
    return dequantize(c, codes, frac, code_type)
