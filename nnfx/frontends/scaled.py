"""Quantizers whose scale is not a power of two, or whose zero point is not 0: QONNX ``Quant``
and ONNX ``QuantizeLinear``/``DequantizeLinear`` (docs/semantics.md, "Non-power-of-two scales").

No fixed-point type is the grid ``s (q - z)``, so nnfx folds ``s`` and ``z``:

- **A constant** (weight or bias): its integer codes ``q - z`` are exact; the real value
  ``s (q - z)`` is quantized once to a type :data:`GUARD` bits finer than ``s``
  (``2^-F <= s 2^-GUARD``), round half to even: each weight is within
  ``s 2^-(GUARD + 1)`` of the model's.
- **Computed data** ``x`` (one scale and zero point per tensor): two affine nodes
  (BatchNorm, one exact product and one quantization each). First ``x`` takes a type
  ``GUARD`` bits finer than ``s`` (at its producer when that node computes an exact value,
  as for a power-of-two Quant); then the codes
  ``q = Q_U(x M + z)`` with ``M = Q_M(1/s)`` of ``b + GUARD + 2`` significant bits and ``U``
  the integer type of the codes (the Quant's rounding and saturation); then the value
  ``Q_D(q S - z S)`` with ``S = Q_S(s)`` (``b + GUARD + 2`` significant bits) and ``D``
  ``GUARD`` bits finer than ``s``. The codes ``q`` equal the model's except where ``x / s``
  lies within about ``2^-GUARD`` codes of a rounding boundary; the report counts them
  (nnfx/report/scales.py).
"""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np

from nnfx.compiler.fixed import MAX_WIDTH, FixedType, quantize
from nnfx.compiler.ir import LayerPrecision
from nnfx.compiler.model_types import exact_constant_type
from nnfx.compiler.ops import NoAttrs, Op
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter, Value

GUARD = 12  # bits of every folded value below its scale's step

# QuantizeLinear outputs of computed data with a folded scale: ONNX name -> (scale, zero
# point), per converter, for the DequantizeLinear nodes that read them.
PENDING: weakref.WeakKeyDictionary[Converter, dict[str, tuple[float, int]]] = (
    weakref.WeakKeyDictionary()
)

# The ONNX names of folded constants, per converter.
FOLDED: weakref.WeakKeyDictionary[Converter, set[str]] = weakref.WeakKeyDictionary()


def bias_add(c: Converter, node, name: str) -> bool:
    """Whether ``node`` is an Add of the folded constant ``name``, or of a quantized one to a
    Dense or Conv output (a bias, as onnxruntime's quantizer writes MatMul + Add, and tf2onnx
    a Keras Dense): it is read as a float constant on its own grid, which the layer's bias
    type then holds exactly (docs/semantics.md, "QONNX Quant")."""
    if node.op_type != "Add":
        return False
    if name in FOLDED.get(c, set()):
        return True
    v = c.values.get(name)
    if v is None or not v.is_const or not isinstance(v.dtype, FixedType):
        return False
    others = [c.values.get(n) for n in node.input if n != name]
    if len(others) != 1 or others[0] is None or others[0].tensor is None:
        return False
    producer = next((n for n in c.nodes if others[0].tensor in n.outputs), None)
    return producer is not None and producer.op in (Op.DENSE, Op.CONV)


def type_bias_add(c: Converter, node, first: int) -> None:
    """After an Add of a folded constant is converted (its IR nodes from ``first``): its
    affine node takes the constant's type as its bias type (and its exact sum as its output's,
    nnfx/compiler/model_types.py)."""
    names = [n for n in node.input if bias_add(c, node, n)]
    if not names:
        return
    t = c.values[names[0]].dtype
    for k in range(first, len(c.nodes)):
        n = c.nodes[k]
        if n.op is Op.BATCH_NORM and n.precision is None and isinstance(t, FixedType):
            precision = LayerPrecision(weight=FixedType(2, 2), bias=t)
            c.nodes[k] = dataclasses.replace(n, precision=precision)


def is_power_of_two(scale: np.ndarray) -> bool:
    """Whether every entry of ``scale`` is a (positive, finite) power of two."""
    scale = np.asarray(scale, np.float64)
    mantissa, _ = np.frexp(scale)
    return bool(np.all((scale > 0) & np.isfinite(scale) & (mantissa == 0.5)))


def _refuse(c: Converter, reason: str) -> UnsupportedOpError:
    return UnsupportedOpError(c.culprit(reason))


def _frac(step: float) -> int:
    """The fewest fractional bits ``F`` with ``2^-F <= step``."""
    return int(np.ceil(-np.log2(step)))


def _bits_above(max_abs: float) -> int:
    """The smallest ``e`` with ``max_abs < 2^e`` (1 for 0)."""
    return int(np.frexp(max_abs)[1]) if max_abs > 0 else 1


def _type(c: Converter, max_abs: float, frac: int, signed: bool = True, **kw) -> FixedType:
    integer = _bits_above(max_abs) + int(signed)
    width = integer + frac
    if not 1 <= width <= MAX_WIDTH:
        raise _refuse(c, f"its folded scale needs a {width}-bit type, beyond nnfx's {MAX_WIDTH}")
    return FixedType(
        width, integer, signed, kw.get("rounding", "RND_CONV"), kw.get("overflow", "SAT")
    )


def _significant(c: Converter, value: float, bits: int) -> tuple[float, FixedType]:
    """``value`` (> 0) rounded to ``bits`` significant bits, and the signed type that holds it."""
    t = _type(c, value, bits - _bits_above(value))
    return float(quantize(np.asarray(value), t)), t


def check_scale(c: Converter, scale: np.ndarray) -> None:
    scale = np.asarray(scale, np.float64)
    if not np.all((scale > 0) & np.isfinite(scale)):
        raise _refuse(c, f"its scale {scale.reshape(-1)[:4].tolist()} must be positive and finite")


def scaled_constant(c: Converter, steps: np.ndarray, scale: np.ndarray) -> Value:
    """The constant ``scale * steps`` (``steps = q - z``, exact integers; ``scale`` broadcast
    against them, per tensor or per channel) in a type ``GUARD`` bits finer than the smallest
    scale, rounded once."""
    check_scale(c, scale)
    values = np.asarray(steps, np.float64) * np.asarray(scale, np.float64)
    frac = GUARD + _frac(float(np.min(scale)))
    t = _type(c, float(np.max(np.abs(values))) if values.size else 0.0, frac)
    if c.onnx_node is not None:
        FOLDED.setdefault(c, set()).update(o for o in c.onnx_node.output if o)
    return Value(const=quantize(values, t), dtype=t)


def _affine(c: Converter, x: str, scale: float, t_scale, bias: float, out_t, suffix: str) -> str:
    """A BatchNorm ``Q_out(x * scale + bias)``, its constants' types fixed by the model."""
    channels = c.tensors[x].shape[-1]
    params = {"scale": np.full(channels, scale), "bias": np.full(channels, bias)}
    out = c.emit(Op.BATCH_NORM, [x], NoAttrs(), params, suffix=suffix, dtype=out_t)
    t_bias = exact_constant_type(np.array([bias]))
    if t_bias is None:
        raise _refuse(c, f"its zero point offset {bias} has no exact fixed-point type")
    precision = LayerPrecision(weight=t_scale, bias=t_bias)
    c.nodes[-1] = dataclasses.replace(c.nodes[-1], precision=precision)
    return out


def code_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    if signed:
        return -(2 ** (bits - 1)) + int(narrow), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1 - int(narrow)


def quantize_codes(
    c: Converter, x_name: str, scale: float, zero: int, code_type: FixedType, suffix: str
) -> Value:
    """Computed data ``x`` to its integer codes ``Q_U(x M + z)`` (``U = code_type``, whose
    rounding and saturation are the quantizer's)."""
    from nnfx.frontends.ops_quant import typed

    check_scale(c, np.asarray(scale))
    bits = code_type.width
    low, high = code_type.min, code_type.max
    reach = scale * (max(abs(low - zero), abs(high - zero)) + 2)  # beyond it every code clips
    fine = _type(c, reach, GUARD + _frac(scale))
    x = typed(c, x_name, c.tensor(x_name), fine, suffix="_fine")
    m, t_m = _significant(c, 1.0 / scale, bits + GUARD + 2)
    out = _affine(c, str(x.tensor), m, t_m, float(zero), code_type, suffix)
    return c.new_value(out, x.perm, dtype=code_type)


def dequantize_codes(
    c: Converter, codes: Value, scale: float, zero: int, code_type: FixedType
) -> Value:
    """Integer codes ``q`` to the value ``Q_D(q S - z S)``, ``D`` ``GUARD`` bits finer than
    ``s``."""
    bits = code_type.width
    s, t_s = _significant(c, scale, bits + GUARD + 2)
    reach = s * max(abs(code_type.min - zero), abs(code_type.max - zero))
    out_t = _type(c, reach, GUARD + _frac(scale))
    out = _affine(c, str(codes.tensor), s, t_s, -zero * s, out_t, "")
    return c.new_value(out, codes.perm, dtype=out_t)


def quant(
    c: Converter, x_name: str, scale: np.ndarray, zero: np.ndarray, code_type: FixedType
) -> None:
    """A QONNX Quant with a folded scale (its settings in ``code_type``, the integer type of
    its codes): on a constant, codes ``R(x / s + z)`` computed in float32 as qonnx does,
    saturated, then :func:`scaled_constant`; on computed data (one scale, one zero point),
    codes then the value."""
    check_scale(c, scale)
    if np.any(zero != np.round(zero)):
        raise _refuse(c, f"its zero point {zero.reshape(-1)[:4].tolist()} is not an integer")
    x = c.value(x_name)
    if x.is_const:
        values = np.asarray(x.const, np.float32)
        try:
            sc, zc = (np.broadcast_to(a.astype(np.float32), values.shape) for a in (scale, zero))
        except ValueError:
            raise c.error(
                f"scale {scale.shape} or zero point {zero.shape} does not broadcast to the "
                f"constant's {values.shape}"
            ) from None
        ints = quantize((values / sc + zc).astype(np.float64), code_type)
        c.set_output(scaled_constant(c, ints - zc, sc))
        return
    if scale.size != 1 or zero.size != 1:
        raise _refuse(
            c,
            "a per-channel scale that is not a power of two, or a per-channel zero point, on "
            "computed data is not supported (a folded scale is one per tensor; power-of-two "
            "per-channel scales with zero point 0 are)",
        )
    s, z = float(np.float32(scale.reshape(-1)[0])), int(zero.reshape(-1)[0])
    codes = quantize_codes(c, x_name, s, z, code_type, "_codes")
    c.set_output(dequantize_codes(c, codes, s, z, code_type))
