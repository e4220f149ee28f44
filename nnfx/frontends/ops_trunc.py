"""QONNX's ``Trunc`` (domains ``qonnx.custom_op.general`` and ``onnx.brevitas``): Brevitas's
average pooling drops the low bits of a sum (docs/semantics.md, "QONNX Trunc").

Brevitas 0.13 exports ``TruncAvgPool2d`` as an AveragePool followed by qonnx's version-2
Trunc with six inputs ``(x, scale, zero point, input bit width, output scale, output bit
width)``: ``y = R(clamp(round(x / s) / 2^k)) * s_out`` with ``2^k = s_out / s``. With power-of-
two scales ``s = 2^-F_in``, ``s_out = 2^-F_out`` and zero point 0, that is ``Q_T(Q_U(x))``:
``U = fixed<b_in + 1, b_in + 1 - F_in, RND_CONV, SAT>`` (numpy's round to the input grid, wide
enough for a signed or an unsigned ``b_in``-bit input) and ``T = fixed<b_out, b_out - F_out, R,
SAT>`` (``ufixed`` when unsigned, ``SAT_SYM`` when narrow), both requantizes exact.

qonnx's version 1 (5 inputs ``(x, scale, zero point, input bit width, output bit width)``, the
domain imported at version 1) computes ``y = R(round(x / s) / 2^k) * s``, ``k = b_in - b_out``,
unclamped and on the input's grid: ``Q_T(Q_U(x) 2^-k)``, a BatchNorm's exact product by
``2^-k`` quantized once (:func:`_trunc_v1`).
"""

from __future__ import annotations

import numpy as np

from nnfx.compiler.ir import for_message
from nnfx.compiler.ops import Activation, ActivationAttrs, Op
from nnfx.frontends.context import Converter
from nnfx.frontends.ops_quant import QONNX_ROUNDING, _exponents, _refuse, _type, typed


def _one_integer(c: Converter, name: str, what: str) -> int:
    bits = c.numbers(name, what)
    if bits.size != 1 or bits.reshape(-1)[0] != int(bits.reshape(-1)[0]):
        raise c.error(f"{what} {bits.reshape(-1)[:4].tolist()} must be one integer")
    return int(bits.reshape(-1)[0])


def _one_exponent(c: Converter, name: str, what: str) -> int:
    frac = np.unique(_exponents(c, c.numbers(name, what)))
    if frac.size != 1:
        raise _refuse(c, f"its {what} differs between elements; nnfx supports one per tensor")
    return int(frac[0])


def _domain_version(c: Converter) -> int | None:
    """The version the model imports the Trunc's domain at (qonnx picks its Trunc by it)."""
    domain = c.onnx_node.domain
    return next((int(o.version) for o in c.model.opset_import if o.domain == domain), None)


def trunc(c: Converter) -> None:
    names = list(c.onnx_node.input)
    if len(names) == 5:
        version = _domain_version(c)
        if version is not None and version >= 2:
            raise c.error(
                f"has 5 inputs (qonnx's version-1 Trunc), but the model imports its domain at "
                f"version {version}, whose Trunc takes 6 inputs"
            )
        _trunc_v1(c)
        return
    x_name, scale, zero, in_bits, out_scale, out_bits = c.inputs(6)
    if not all(c.value(n).is_const for n in (scale, zero, in_bits, out_scale, out_bits)):
        raise _refuse(
            c,
            "its scales, zero point and bit widths must be constants (initializers); a value "
            "computed at run time has no fixed-point type",
        )
    if np.any(c.numbers(zero, "zero point") != 0):
        raise _refuse(c, "a non-zero zero point is not supported (a fixed-point type's zero is 0)")
    f_in = _one_exponent(c, scale, "scale")
    f_out = _one_exponent(c, out_scale, "output scale")
    b_in = _one_integer(c, in_bits, "input bit width")
    b_out = _one_integer(c, out_bits, "output bit width")
    if not 1 <= b_in <= 61 or not 1 <= b_out <= 62:
        raise _refuse(c, f"bit widths {b_in} -> {b_out} are outside nnfx's 1 to 62 bits")
    signed = bool(c.attr("signed", 1, "int"))
    narrow = bool(c.attr("narrow", 0, "int"))
    mode = str(c.attr("rounding_mode", "FLOOR", "string")).upper()
    if mode not in QONNX_ROUNDING:
        raise c.error(
            f"rounding_mode '{for_message(mode, 20)}' is unknown; expected one of "
            f"{', '.join(QONNX_ROUNDING)}"
        )
    if signed and b_out == 1:
        raise _refuse(c, "a signed 1-bit output is bipolar (-1 or +1), which no type is")
    if narrow and not signed:
        raise _refuse(c, f"an unsigned narrow output range [0, 2^{b_out} - 2] is no type's")
    x = c.value(x_name)
    if x.is_const:
        raise _refuse(c, "a Trunc of a constant is not supported (Brevitas truncates sums)")
    x = c.tensor(x_name)
    grid = _type(c, b_in + 1, f_in, True, "RND_CONV", "SAT")
    out = _type(c, b_out, f_out, signed, QONNX_ROUNDING[mode], "SAT_SYM" if narrow else "SAT")
    u = typed(c, x_name, x, grid, suffix="_grid")
    attrs = ActivationAttrs(Activation.LINEAR)
    y = c.emit(Op.ACTIVATION, [str(u.tensor)], attrs, dtype=out)
    c.set_output(c.new_value(y, x.perm, dtype=out))


def _constants(c: Converter, names: list[str]) -> None:
    if not all(c.value(n).is_const for n in names):
        raise _refuse(
            c,
            "its scales, zero point and bit widths must be constants (initializers); a value "
            "computed at run time has no fixed-point type",
        )


def _trunc_v1(c: Converter) -> None:
    """qonnx's version 1, ``(x, s, z, b_in, b_out)``: ``y = (R(round(x / s + z) / 2^k) - z) s``,
    ``k = b_in - b_out``, no clamp, the output on the input's grid ``s``. With ``s = 2^-F``
    and ``z = 0`` it is ``Q_T(Q_U(x) 2^-k)``: ``U`` as for version 2, a BatchNorm's exact
    product by ``2^-k``, ``T = fixed<b_out + 2, b_out + 2 - F, R, SAT>`` (every ``R(n / 2^k)``
    of ``|n| <= 2^b_in`` fits, so it never saturates)."""
    from nnfx.frontends.per_channel import affine

    x_name, scale, zero, in_bits, out_bits = c.inputs(5)
    _constants(c, [scale, zero, in_bits, out_bits])
    if np.any(c.numbers(zero, "zero point") != 0):
        raise _refuse(c, "a non-zero zero point is not supported (a fixed-point type's zero is 0)")
    f_in = _one_exponent(c, scale, "scale")
    b_in = _one_integer(c, in_bits, "input bit width")
    b_out = _one_integer(c, out_bits, "output bit width")
    if not 1 <= b_in <= 61 or not 1 <= b_out <= 60:
        raise _refuse(c, f"bit widths {b_in} -> {b_out} are outside nnfx's 1 to 60 bits")
    mode = str(c.attr("rounding_mode", "FLOOR", "string")).upper()
    if mode not in QONNX_ROUNDING:
        raise c.error(
            f"rounding_mode '{for_message(mode, 20)}' is unknown; expected one of "
            f"{', '.join(QONNX_ROUNDING)}"
        )
    if c.value(x_name).is_const:
        raise _refuse(c, "a Trunc of a constant is not supported (Brevitas truncates sums)")
    x = c.tensor(x_name)
    grid = _type(c, b_in + 1, f_in, True, "RND_CONV", "SAT")
    out = _type(c, b_out + 2, f_in, True, QONNX_ROUNDING[mode], "SAT")
    u = typed(c, x_name, x, grid, suffix="_grid")
    channels = c.tensors[str(u.tensor)].shape[-1]
    shift = np.full(channels, np.ldexp(1.0, b_out - b_in))
    y = affine(c, str(u.tensor), shift, out, "")
    c.set_output(c.new_value(y, x.perm, dtype=out))
