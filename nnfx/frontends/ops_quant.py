"""QONNX's ``Quant`` (``IntQuant``; domains ``qonnx.custom_op.general`` and ``onnx.brevitas``):
a quantization-aware model's own fixed-point types (docs/semantics.md, "QONNX Quant").

A ``Quant`` with a power-of-two scale ``2^-F``, zero point 0 and bit width ``b`` is exactly
nnfx's type ``fixed<b, b - F, R, SAT>`` (``ufixed`` when unsigned, ``SAT_SYM`` when narrow):
QONNX clamps ``x / scale`` to the integer range and then rounds, which is the same as rounding
then saturating. On a constant it is applied here, once, and the constant remembers its type
(:attr:`Value.dtype`); :func:`annotate` hands that type to the Gemm/MatMul/Conv reading it as
its weight or bias. On computed data, the value's IR tensor takes the type: the producing
node's own output when that node computes an exact value and quantizes once (Dense, Conv, a
ReLU or linear activation read only here), else a linear activation node that requantizes; a
per-channel scale on computed data is two exact shifts around one quantization
(:mod:`nnfx.frontends.per_channel`).
The precision assignment keeps these types over any config (:mod:`nnfx.compiler.model_types`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nnfx.compiler.fixed import MAX_ABS_INTEGER, MAX_WIDTH, FixedType, quantize
from nnfx.compiler.ir import FLOAT, LayerPrecision, for_message
from nnfx.compiler.ops import Activation, ActivationAttrs, Op
from nnfx.errors import UnsupportedOpError
from nnfx.frontends import per_channel, scaled
from nnfx.frontends.context import Converter, Value

# QONNX's rounding modes -> nnfx's (CEIL and UP are nnfx's own, docs/semantics.md).
QONNX_ROUNDING = {
    "ROUND": "RND_CONV",  # numpy's round: half to even
    "HALF_EVEN": "RND_CONV",
    "CEIL": "CEIL",
    "FLOOR": "TRN",
    "UP": "UP",  # away from zero
    "DOWN": "TRN_ZERO",  # toward zero
    "HALF_UP": "RND_INF",  # half away from zero
    "HALF_DOWN": "RND_ZERO",  # half toward zero
}
# The nodes whose output is an exact value quantized once, so that a Quant after them can be
# their own output type (docs/semantics.md): Dense and Conv accumulate exactly, a ReLU or linear
# activation changes nothing but the sign.
EXACT_PRODUCERS = {Op.DENSE, Op.CONV}
EXACT_ACTIVATIONS = {Activation.RELU, Activation.LINEAR}
# The ops whose constant result keeps a quantized constant's codes (weights reshaped or
# transposed by an exporter before the layer reads them).
LAYOUT_OPS = {"Transpose", "Reshape", "Identity", "Flatten", "Squeeze", "Unsqueeze"}
# Where a layer reads its weight and bias: ONNX op type -> input index -> role.
CONSTANT_ROLES = {
    "Gemm": {1: "weight", 2: "bias"},
    "MatMul": {1: "weight"},
    "Conv": {1: "weight", 2: "bias"},
}


def _refuse(c: Converter, reason: str) -> UnsupportedOpError:
    return UnsupportedOpError(c.culprit(reason))


def _exponents(c: Converter, scale: np.ndarray) -> np.ndarray:
    """``F`` with ``scale = 2^-F`` per element; refused unless every scale is a power of two."""
    mantissa, exponent = np.frexp(scale)
    bad = ~((scale > 0) & np.isfinite(scale) & (mantissa == 0.5))
    if bad.any():
        value = float(scale.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]])
        raise _refuse(
            c,
            f"scale {value!r} is not a power of two; nnfx maps it to an exact fixed-point "
            "type only with power-of-two scales, and folds other scales only in Quant and "
            "QuantizeLinear/DequantizeLinear",
        )
    return 1 - exponent.astype(np.int64)  # scale = 0.5 * 2^e = 2^-(1 - e)


def _settings(c: Converter, bits_name: str) -> tuple[int, bool, str, str]:
    """Bit width, signedness, nnfx rounding and overflow of the current Quant node."""
    bits = c.numbers(bits_name, "bit width")
    if bits.size != 1 or bits.reshape(-1)[0] != int(bits.reshape(-1)[0]):
        raise c.error(f"bit width {bits.reshape(-1)[:4].tolist()} must be one integer")
    width = int(bits.reshape(-1)[0])
    if not 1 <= width <= MAX_WIDTH:
        raise _refuse(c, f"bit width {width} is outside nnfx's 1 to {MAX_WIDTH} bits")
    signed = bool(c.attr("signed", 1, "int"))
    narrow = bool(c.attr("narrow", 0, "int"))
    mode = str(c.attr("rounding_mode", "ROUND", "string")).upper()
    if mode not in QONNX_ROUNDING:
        raise c.error(
            f"rounding_mode '{for_message(mode, 20)}' is unknown; expected one of "
            f"{', '.join(QONNX_ROUNDING)}"
        )
    if signed and width == 1:
        raise _refuse(c, "a signed 1-bit Quant is bipolar (-1 or +1), which no fixed-point type is")
    if narrow and not signed:
        raise _refuse(
            c,
            f"an unsigned narrow Quant's range [0, 2^{width} - 2] is no fixed-point type's "
            "(narrow is supported on signed Quants, as SAT_SYM)",
        )
    return width, signed, QONNX_ROUNDING[mode], "SAT_SYM" if narrow else "SAT"


def _type(c: Converter, width: int, frac: int, signed: bool, rounding: str, overflow: str):
    if abs(width - frac) > MAX_ABS_INTEGER:
        raise _refuse(c, f"scale 2^{-frac} is beyond nnfx's +-{MAX_ABS_INTEGER} integer bits")
    return FixedType(width, width - frac, signed, rounding, overflow)


def quant(c: Converter) -> None:
    x_name, scale_name, zero_name, bits_name = c.inputs(4)
    if not c.value(scale_name).is_const or not c.value(bits_name).is_const:
        raise _refuse(
            c,
            "its scale and bit width must be constants (initializers); a scale or bit width "
            "computed at run time has no fixed-point type",
        )
    width, signed, rounding, overflow = _settings(c, bits_name)
    scale, zero = c.numbers(scale_name, "scale"), c.numbers(zero_name, "zero point")
    if not scaled.is_power_of_two(scale) or np.any(zero != 0):  # folded (frontends/scaled.py)
        scaled.quant(c, x_name, scale, zero, FixedType(width, width, signed, rounding, overflow))
        return
    exponents = _exponents(c, scale)
    x = c.value(x_name)
    if x.is_const:
        _constant(c, x, exponents, width, signed, rounding, overflow)
        return
    x = c.tensor(x_name)
    if np.unique(exponents).size != 1:  # per channel: codes, then values (per_channel.py)
        code_type = _type(c, width, 0, signed, rounding, overflow)
        c.set_output(per_channel.quant(c, x_name, exponents, code_type))
        return
    t = _type(c, width, int(exponents.reshape(-1)[0]), signed, rounding, overflow)
    _type_value(c, x_name, x, t)


def _constant(c, x: Value, exponents, width, signed, rounding, overflow) -> None:
    """Quantize a constant once; per channel, each element with its own scale's type. The
    constant's type is one that holds every channel's codes exactly: ``F = max F_c`` and
    ``b + max F_c - min F_c`` bits."""
    values = np.asarray(x.const, np.float64)
    try:
        frac = np.broadcast_to(exponents, values.shape)
    except ValueError:
        raise c.error(
            f"scale of shape {exponents.shape} does not broadcast to the constant's {values.shape}"
        ) from None
    out = np.empty(values.shape, np.float64)
    for f in np.unique(frac):
        mask = frac == f
        out[mask] = quantize(values[mask], _type(c, width, int(f), signed, rounding, overflow))
    low, high = (int(frac.min()), int(frac.max())) if frac.size else (0, 0)
    if width + high - low > MAX_WIDTH:
        raise _refuse(
            c,
            f"its per-channel scales 2^{-high} to 2^{-low} need {width + high - low} bits in "
            f"one type, more than {MAX_WIDTH}",
        )
    t = _type(c, width + high - low, high, signed, rounding, overflow)
    c.set_output(Value(const=out, dtype=t))


def _type_value(c: Converter, x_name: str, x: Value, t: FixedType) -> None:
    c.set_output(typed(c, x_name, x, t))


def _exact_average(c: Converter, node) -> bool:
    """An average pool whose count is a power of two with no padding left out of it: its
    ``Q(sum * r)`` is the exact average quantized once (``r = 1/count`` exact)."""
    if node.op is Op.AVG_POOL:
        a = node.attrs
        count = int(np.prod(a.kernel_shape))
        uniform = a.count_include_pad or not any(a.pads)
    elif node.op is Op.GLOBAL_AVG_POOL:
        count = int(np.prod(c.tensors[node.inputs[0]].shape[1:-1]))
        uniform = True
    else:
        return False
    return uniform and count & (count - 1) == 0


def typed(c: Converter, x_name: str, x: Value, t: FixedType, suffix: str = "") -> Value:
    """Computed data given the type ``t``: as the producer's output type where the producer
    computes an exact value and quantizes once and nothing else reads it, else through a
    linear activation (its IR node named with ``suffix``)."""
    name = str(x.tensor)
    producer = next((n for n in c.nodes if name in n.outputs), None)
    chain = [name]
    if producer is not None and producer.op is Op.RESHAPE:  # a GlobalAveragePool's reshape
        inner = next((n for n in c.nodes if producer.inputs[0] in n.outputs), None)
        if inner is not None and _exact_average(c, inner):
            producer, chain = inner, [producer.inputs[0], name]
    exact = (
        producer is None
        or producer.op in EXACT_PRODUCERS
        or (producer.op is Op.ACTIVATION and producer.attrs.kind in EXACT_ACTIVATIONS)
        or _exact_average(c, producer)
    )
    outputs = {o.name for o in c.model.graph.output}
    alone = c.readers(x_name) == 1 and x_name not in outputs
    if exact and alone and all(c.tensors[k].dtype == FLOAT for k in chain):
        for k in chain:
            tensor = c.tensors[k]
            c.tensors[k] = dataclasses.replace(tensor, dtype=t)
        return dataclasses.replace(x, dtype=t)
    attrs = ActivationAttrs(Activation.LINEAR)
    out = c.emit(Op.ACTIVATION, [name], attrs, suffix=suffix, dtype=t)
    return c.new_value(out, x.perm, dtype=t)


def propagate(c: Converter, node) -> None:
    """After a layout op folded a quantized constant (a weight transposed or reshaped by the
    exporter), its result keeps the constant's type."""
    if node.op_type not in LAYOUT_OPS or not node.input or not node.output:
        return
    source = c.values.get(node.input[0])
    result = c.values.get(node.output[0])
    if source is None or result is None or not source.is_const or not result.is_const:
        return
    if isinstance(source.dtype, FixedType):
        c.values[node.output[0]] = dataclasses.replace(result, dtype=source.dtype)


def annotate(c: Converter, node, first: int) -> None:
    """After ``node`` is converted (its IR nodes from index ``first``): a Gemm, MatMul or Conv
    whose weight or bias is a quantized constant takes that constant's type; a quantized
    constant anywhere else is refused, since the config's type would requantize it."""
    propagate(c, node)
    # qonnx's channels-last Conv reads its weight and bias as ONNX's Conv does
    layer = node.domain in ("", "ai.onnx", "qonnx.custom_op.channels_last")
    roles = CONSTANT_ROLES.get(node.op_type, {}) if layer else {}
    preset: dict[str, FixedType] = {}
    for index, name in enumerate(node.input):
        v = c.values.get(name)
        if v is None or not v.is_const or not isinstance(v.dtype, FixedType):
            continue
        if index in roles:
            preset[roles[index]] = v.dtype
        elif node.op_type not in LAYOUT_OPS and not scaled.bias_add(c, node, name):
            raise _refuse(
                c,
                f"the quantized constant '{for_message(name)}' is read here, where nnfx keeps "
                "QONNX's types only for a Gemm, MatMul or Conv weight or bias",
            )
    scaled.type_bias_add(c, node, first)
    if not preset:
        return
    for k in range(first, len(c.nodes)):
        n = c.nodes[k]
        if n.op in (Op.DENSE, Op.CONV):
            precision = LayerPrecision(weight=preset.get("weight"), bias=preset.get("bias"))
            c.nodes[k] = dataclasses.replace(n, precision=precision)
