"""ONNX's ``QuantizeLinear``/``DequantizeLinear`` (QDQ, as onnxruntime's quantizer and
PyTorch's export write them), with power-of-two scales (docs/semantics.md, "QDQ").

``QuantizeLinear`` is ``saturate(round_half_even(x / s) + z)`` into an integer type (int8,
uint8, int16, uint16); ``DequantizeLinear`` is ``(q - z) * s``. nnfx holds values, not integer
codes, so:

- ``DequantizeLinear`` of an integer constant (a weight or bias initializer, or a constant the
  graph quantized itself) is a constant of the exact values ``(q - z) s``: with ``s = 2^-F``
  (per tensor, or per axis: one type holding every channel, as for a QONNX Quant), the type
  ``fixed<b, b - F>`` of the integer's ``b`` bits (one more when a zero point is not 0).
- ``QuantizeLinear`` of computed data, read only by ``DequantizeLinear`` nodes of the same
  scale and zero point 0, is a Quant: the value takes ``fixed<b, b - F, RND_CONV, SAT>``
  (``ufixed`` for the unsigned types) at its producer or through an inserted requantize, and
  the ``DequantizeLinear`` is the identity on it. Per axis (power-of-two scales, zero point
  0): the codes then the values, as a QONNX Quant per channel
  (:mod:`nnfx.frontends.per_channel`).

A scale that is not a power of two or a zero point that is not 0 is folded
(:mod:`nnfx.frontends.scaled`). Anything else (a folded per-axis scale on computed data, an
integer tensor read by another op) is refused in one sentence.
"""

from __future__ import annotations

import weakref

import numpy as np

from nnfx.compiler.fixed import MAX_WIDTH, FixedType
from nnfx.compiler.ir import for_message
from nnfx.frontends import per_channel, scaled
from nnfx.frontends.context import Converter, Value
from nnfx.frontends.ops_quant import _exponents, _refuse, _type, typed

# numpy integer type of the codes -> (bits, signed)
INTEGER_TYPES = {
    np.dtype(np.int8): (8, True),
    np.dtype(np.uint8): (8, False),
    np.dtype(np.int16): (16, True),
    np.dtype(np.uint16): (16, False),
    np.dtype(np.int32): (32, True),
}
# ONNX output_dtype (opset 21) -> numpy
OUTPUT_DTYPES = {3: np.int8, 2: np.uint8, 5: np.int16, 4: np.uint16}
# QuantizeLinear outputs of computed data: ONNX name -> (its exponent, or per axis a tuple of
# each channel's, and its zero point's dtype), per converter, for the DequantizeLinear nodes
# that read them.
_PENDING: weakref.WeakKeyDictionary[
    Converter, dict[str, tuple[int | tuple[int, ...], np.dtype]]
] = weakref.WeakKeyDictionary()


def _constants(c: Converter, names: list[str], what: str) -> None:
    for name in names:
        if name and not c.value(name).is_const:
            raise _refuse(
                c,
                f"its {what} '{for_message(name)}' must be a constant (an initializer); a value "
                "computed at run time has no fixed-point type",
            )


def _per_axis(c: Converter, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A scale or zero point shaped to broadcast against a constant of ``shape``: a scalar
    (per tensor) or a 1-D array of one entry per index of ``axis`` (per axis)."""
    if array.ndim == 0 or array.size == 1:
        return array.reshape(())
    if array.ndim != 1:
        raise _refuse(c, "blocked quantization (a scale of rank 2 or more) is not supported")
    rank = len(shape)
    axis = int(c.attr("axis", 1, "int"))
    if not -rank <= axis < rank or shape[axis % rank] != array.size:
        raise c.error(
            f"its per-axis scale or zero point of {array.size} entries does not match axis "
            f"{axis} of its input of shape {list(shape)}"
        )
    target = [1] * rank
    target[axis % rank] = array.size
    return array.reshape(target)


def quantize_linear(c: Converter) -> None:
    names = c.inputs(2, 3)
    x_name, scale_name = names[0], names[1]
    zero_name = names[2] if len(names) == 3 and names[2] else ""
    _constants(c, [scale_name, zero_name], "scale or zero point")
    if zero_name:
        zero = c.const(zero_name, "zero point")
        dtype = zero.dtype
    else:
        zero = np.zeros(())
        dtype = np.dtype(OUTPUT_DTYPES.get(int(c.attr("output_dtype", 2, "int")), np.int64))
    if dtype not in INTEGER_TYPES or dtype == np.int32:
        raise _refuse(
            c, f"quantizing to {dtype} is not supported; nnfx reads int8, uint8, int16, uint16"
        )
    bits, signed = INTEGER_TYPES[dtype]
    scale = c.numbers(scale_name, "scale")
    x = c.value(x_name)
    if x.is_const:  # folded: the integer codes, read by a DequantizeLinear
        values = np.asarray(x.const, np.float64)
        s = _per_axis(c, scale, values.shape)
        z = _per_axis(c, np.asarray(zero, np.float64), values.shape)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        if scaled.is_power_of_two(scale):  # x / s is exact
            codes = np.clip(np.round(values / s) + z, low, high)
        else:  # x / s in float32, as onnxruntime computes it
            scaled.check_scale(c, scale)
            ratio = (values.astype(np.float32) / s.astype(np.float32)).astype(np.float64)
            codes = np.clip(np.round(ratio) + z, low, high)
        c.set_output(Value(const=codes.astype(dtype)))
        return
    outputs = {o.name for o in c.model.graph.output}
    out = c.onnx_node.output[0]
    readers = [n for n in c.model.graph.node if out in n.input]
    if out in outputs or any(n.op_type != "DequantizeLinear" for n in readers):
        raise _refuse(
            c,
            "its integer output is read by another op than DequantizeLinear (or is a graph "
            "output); nnfx reads QuantizeLinear of computed data only before DequantizeLinear",
        )
    if np.size(scale) != 1 or np.size(zero) != 1:
        if np.any(np.asarray(zero) != 0) or not scaled.is_power_of_two(scale):
            raise _refuse(
                c,
                "a per-axis scale on computed data is supported only with power-of-two scales "
                "and zero point 0 (a folded scale is one per tensor)",
            )
        exponents = _exponents(c, scale)
        if np.unique(exponents).size != 1:  # per channel: codes, then values (per_channel.py)
            x = c.tensor(x_name)
            e = _per_axis(c, exponents, (1, *x.onnx_shape))
            code_type = _type(c, bits, 0, signed, "RND_CONV", "SAT")
            c.set_output(per_channel.quant(c, x_name, e, code_type))
            frac = per_channel.channel_exponents(c, x, e)
            _PENDING.setdefault(c, {})[out] = (tuple(int(f) for f in frac), dtype)
            return
    if np.any(np.asarray(zero) != 0) or not scaled.is_power_of_two(scale):
        # folded (frontends/scaled.py): the codes here, the value at the DequantizeLinear
        s, z = float(np.float32(scale.reshape(-1)[0])), int(np.asarray(zero).reshape(-1)[0])
        code_type = _type(c, bits, 0, signed, "RND_CONV", "SAT")
        c.set_output(scaled.quantize_codes(c, x_name, s, z, code_type, ""))
        scaled.PENDING.setdefault(c, {})[out] = (s, z)
        return
    exponents = np.unique(_exponents(c, scale))
    frac = int(exponents[0])
    t = _type(c, bits, frac, signed, "RND_CONV", "SAT")
    c.set_output(typed(c, x_name, c.tensor(x_name), t))
    _PENDING.setdefault(c, {})[out] = (frac, dtype)


def dequantize_linear(c: Converter) -> None:
    names = c.inputs(2, 3)
    x_name, scale_name = names[0], names[1]
    zero_name = names[2] if len(names) == 3 and names[2] else ""
    _constants(c, [scale_name, zero_name], "scale or zero point")
    scale = c.numbers(scale_name, "scale")
    zero = c.numbers(zero_name, "zero point") if zero_name else np.zeros(())
    x = c.value(x_name)
    if not x.is_const and x_name in scaled.PENDING.get(c, {}):
        s, z = scaled.PENDING[c][x_name]
        if scale.size != 1 or float(np.float32(scale.reshape(-1)[0])) != s or np.any(zero != z):
            raise _refuse(
                c,
                "its scale or zero point differs from its QuantizeLinear's; nnfx reads a "
                "QuantizeLinear/DequantizeLinear pair of one scale and zero point",
            )
        assert isinstance(x.dtype, FixedType)
        c.set_output(scaled.dequantize_codes(c, x, s, z, x.dtype))
        return
    if not x.is_const:
        pending = _PENDING.get(c, {}).get(x_name)
        if pending is None:
            raise _refuse(c, "its input is neither an integer constant nor a QuantizeLinear")
        exponents = np.unique(_exponents(c, scale))
        if isinstance(pending[0], tuple) and scale.size > 1:  # per axis: the same per channel
            e = _per_axis(c, _exponents(c, scale), (1, *x.onnx_shape))
            exponents = np.array(tuple(int(f) for f in per_channel.channel_exponents(c, x, e)))
            same = exponents.tolist() == list(pending[0])
        else:
            same = exponents.size == 1 and (int(exponents[0]),) == (pending[0],)
        if not same or np.any(zero != 0):
            raise _refuse(
                c,
                "its scale or zero point differs from its QuantizeLinear's; nnfx reads a "
                "QuantizeLinear/DequantizeLinear pair of one power-of-two scale and zero point 0",
            )
        c.set_output(x)
        return
    codes = x.const
    if codes.dtype not in INTEGER_TYPES:
        raise _refuse(c, f"dequantizing {codes.dtype} is not supported; expected an integer type")
    bits, signed = INTEGER_TYPES[codes.dtype]
    z = _per_axis(c, zero, codes.shape)
    codes = codes.astype(np.float64) - z
    if not scaled.is_power_of_two(scale):  # folded (frontends/scaled.py)
        c.set_output(scaled.scaled_constant(c, codes, _per_axis(c, scale, codes.shape)))
        return
    if np.any(z != 0):
        bits, signed = bits + 1, True  # q - z spans one bit more
    frac = np.broadcast_to(
        _per_axis(c, _exponents(c, scale).astype(np.float64), codes.shape), codes.shape
    )
    values = np.ldexp(codes, -frac.astype(np.int64))
    low, high = (int(frac.min()), int(frac.max())) if frac.size else (0, 0)
    width = bits + high - low
    if width > MAX_WIDTH:
        raise _refuse(
            c, f"its per-axis scales need {width} bits in one type, more than {MAX_WIDTH}"
        )
    t = _type(c, width, high, signed, "RND_CONV", "SAT")
    c.set_output(Value(const=values, dtype=t))
