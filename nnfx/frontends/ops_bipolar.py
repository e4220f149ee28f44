"""QONNX's ``BipolarQuant`` (domains ``qonnx.custom_op.general`` and ``onnx.brevitas``):
binary networks' ``y = s`` where ``x >= 0``, else ``-s`` (docs/semantics.md, "QONNX
BipolarQuant").

With a power-of-two scale ``s = 2^-F`` the two values are the codes +1 and -1 of
``fixed<2, 2 - F>``. On a constant (a binary weight) the frontend computes them once and the
layer's weight type is that type (per-channel scales: each channel's codes in one type of
``2 + F_max - F_min`` bits, as for a Quant). On computed data it is the activation kind
``bipolar`` with ``alpha = s``: an exact sign test choosing between ``Q(-s)`` and ``Q(s)``.
Where the input is computed by a node that quantizes an exact value once (a graph input, Dense,
Conv, BatchNorm, Add, Sub, an average pool, a ReLU or linear activation) and read only here,
that node's output type is ``fixed<2, 2, TRN, SAT>``: flooring keeps the sign of the exact
value (``floor(v) >= 0`` exactly when ``v >= 0``), so the test sees qonnx's sign, in two bits.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ir import FLOAT
from nnfx.compiler.ops import Activation, ActivationAttrs, Op
from nnfx.frontends import per_channel
from nnfx.frontends.context import Converter, Value
from nnfx.frontends.ops_quant import EXACT_ACTIVATIONS, _exponents, _refuse, _type

# The ops whose output is one quantization Q(v) of an exact value v (docs/semantics.md).
SIGN_KEEPING = {Op.DENSE, Op.CONV, Op.BATCH_NORM, Op.ADD, Op.SUB, Op.AVG_POOL, Op.GLOBAL_AVG_POOL}
# floor(v) clamped to [-2, 1]: negative exactly when v is.
SIGN_TYPE = FixedType(2, 2, True, "TRN", "SAT")


def keep_sign(c: Converter, x_name: str, x: Value, t: FixedType) -> Value:
    """``x`` typed ``t`` (a flooring type) at its producer, where the producer's rule is one
    quantization of an exact value and only this node reads it; else ``x`` unchanged."""
    name = str(x.tensor)
    producer = next((n for n in c.nodes if name in n.outputs), None)
    keeps = (
        producer is None
        or producer.op in SIGN_KEEPING
        or (producer.op is Op.ACTIVATION and producer.attrs.kind in EXACT_ACTIVATIONS)
    )
    outputs = {o.name for o in c.model.graph.output}
    alone = c.readers(x_name) == 1 and x_name not in outputs
    tensor = c.tensors[name]
    if not (keeps and alone and tensor.dtype == FLOAT):
        return x
    c.tensors[name] = dataclasses.replace(tensor, dtype=t)
    return dataclasses.replace(x, dtype=t)


def bipolar_quant(c: Converter) -> None:
    x_name, scale_name = c.inputs(2)
    if not c.value(scale_name).is_const:
        raise _refuse(
            c,
            "its scale must be a constant (an initializer); a scale computed at run time has "
            "no fixed-point type",
        )
    scale = c.numbers(scale_name, "scale")
    exponents = _exponents(c, scale)
    x = c.value(x_name)
    if x.is_const:
        values = np.asarray(x.const, np.float64)
        try:
            frac = np.broadcast_to(exponents, values.shape)
        except ValueError:
            raise c.error(
                f"scale of shape {scale.shape} does not broadcast to the constant's {values.shape}"
            ) from None
        low, high = (int(frac.min()), int(frac.max())) if frac.size else (0, 0)
        t = _type(c, 2 + high - low, high, True, "RND_CONV", "SAT")
        signs = np.where(values >= 0, 1.0, -1.0)
        c.set_output(Value(const=signs * np.ldexp(1.0, -frac), dtype=t))
        return
    if np.unique(exponents).size != 1:  # per channel: signs +-1, then +-2^-F_c
        _per_channel(c, x_name, exponents)
        return
    frac = int(exponents.reshape(-1)[0])
    x = keep_sign(c, x_name, c.tensor(x_name), SIGN_TYPE)
    t = _type(c, 2, frac, True, "RND_CONV", "SAT")
    attrs = ActivationAttrs(Activation.BIPOLAR, alpha=float(np.ldexp(1.0, -frac)))
    out = c.emit(Op.ACTIVATION, [str(x.tensor)], attrs, dtype=t)
    c.set_output(c.new_value(out, x.perm, dtype=t))


def _per_channel(c: Converter, x_name: str, exponents: np.ndarray) -> None:
    """A per-channel scale ``2^-F_c`` on computed data: the bipolar activation with
    ``alpha = 1`` (codes +1 and -1 of ``fixed<2, 2>``), then an exact per-channel multiply by
    ``2^-F_c`` into ``fixed<2 + F_max - F_min, 2 - F_min>`` (frontends/per_channel.py)."""
    x = c.tensor(x_name)
    frac = per_channel.channel_exponents(c, x, exponents)
    signs_t = FixedType(2, 2, True, "RND_CONV", "SAT")
    per_channel.union_type(c, frac, signs_t)  # refused before any node is emitted
    x = keep_sign(c, x_name, x, SIGN_TYPE)
    attrs = ActivationAttrs(Activation.BIPOLAR, alpha=1.0)
    out = c.emit(Op.ACTIVATION, [str(x.tensor)], attrs, suffix="_sign", dtype=signs_t)
    signs = c.new_value(out, x.perm, dtype=signs_t)
    c.set_output(per_channel.dequantize(c, signs, frac, signs_t))
