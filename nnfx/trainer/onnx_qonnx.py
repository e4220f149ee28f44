"""The ONNX export of quantization-aware layers and of the standardization.

With ``qonnx=True`` (:func:`nnfx.trainer.onnx_export.to_onnx`) a :class:`Quantize` layer
becomes a QONNX ``Quant`` node (domain ``qonnx.custom_op.general``: scale ``2^-F``, zero point
0, the bit width, ``signed``, ``narrow`` for SAT_SYM, ``rounding_mode``), and a
:class:`QDense`/:class:`QConv2D` reads its weight and bias through ``Quant`` nodes on the
quantized constants (their codes, which the ``Quant`` keeps). Without it, the layers export
their quantized weights in a plain float graph and the activation quantizers vanish.
:class:`Standardize` is ``Sub(mean)`` then ``Div(std)`` either way.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import helper

from nnfx.errors import ModelError, UnsupportedOpError
from nnfx.trainer.activations import Linear, ReLU
from nnfx.trainer.conv import MaxPool2D
from nnfx.trainer.layers import Dense, Dropout, Flatten, Layer
from nnfx.trainer.preprocessing import Standardize
from nnfx.trainer.quantization import QConv2D, QDense, Quantize, QuantSpec

DOMAIN = "qonnx.custom_op.general"
# nnfx's rounding -> QONNX's rounding_mode (RND and RND_MIN_INF have no QONNX mode).
QONNX_MODE = {
    "RND_CONV": "ROUND",
    "TRN": "FLOOR",
    "TRN_ZERO": "DOWN",
    "RND_INF": "HALF_UP",
    "RND_ZERO": "HALF_DOWN",
    "CEIL": "CEIL",
    "UP": "UP",
}
FLOAT64_BITS = 53
# Layers between a Quantize and a quantized layer that keep the codes (and their type).
CODE_KEEPERS = (Flatten, Dropout, ReLU, Linear, MaxPool2D)


def quant_node(g, x: str, spec: QuantSpec, frac: int, name: str, where: str) -> str:
    """Append ``Quant(x)`` for ``spec`` at ``frac`` fractional bits; return its output."""
    if spec.rounding not in QONNX_MODE:
        raise UnsupportedOpError(
            f"{where}: rounding {spec.rounding} has no QONNX rounding_mode; use one of "
            f"{', '.join(QONNX_MODE)}"
        )
    if spec.overflow not in ("SAT", "SAT_SYM"):
        raise UnsupportedOpError(
            f"{where}: overflow {spec.overflow} has no QONNX Quant (which saturates); use SAT "
            "or SAT_SYM"
        )
    if spec.signed and spec.width == 1:
        raise UnsupportedOpError(f"{where}: a signed 1-bit quantizer has no QONNX Quant")
    scale = g.constant(f"{name}.scale", np.float32(math.ldexp(1.0, -frac)))
    zero = g.constant(f"{name}.zero_point", np.float32(0.0))
    bits = g.constant(f"{name}.bit_width", np.float32(spec.width))
    output = f"{name}_out"
    g.nodes.append(
        helper.make_node(
            "Quant",
            [x, scale, zero, bits],
            [output],
            name=name,
            domain=DOMAIN,
            signed=int(spec.signed),
            narrow=int(spec.signed and spec.overflow == "SAT_SYM"),
            rounding_mode=QONNX_MODE[spec.rounding],
        )
    )
    g.quant_nodes += 1
    return output


def quantize_layer(layer: Quantize, g, x: str) -> str:
    if not g.qonnx:
        return x
    return quant_node(g, x, layer.spec, layer.frac, layer.name, f"layer '{layer.name}'")


def layer_constants(layer: QDense | QConv2D, g) -> list[str]:
    """The weight (and bias) inputs: quantized codes, each through a Quant with ``qonnx``."""
    names = []
    for key, spec in (("W", layer.weight_spec), ("b", layer.bias_spec)):
        if key == "b" and not layer.use_bias:
            continue
        name = g.constant(f"{layer.name}.{key}", layer.quantized_value(key))
        if g.qonnx and spec is not None:
            where = f"layer '{layer.name}' {'weight' if key == 'W' else 'bias'}"
            name = quant_node(g, name, spec, layer.constant_frac(key), f"{name}.quant", where)
        names.append(name)
    return names


def standardize(layer: Standardize, g, x: str) -> str:
    mean = g.constant(f"{layer.name}.mean", layer.mean.astype(np.float32))
    std = g.constant(f"{layer.name}.std", layer.std.astype(np.float32))
    return g.node("Div", [g.node("Sub", [x, mean], f"{layer.name}_sub"), std], layer.name)


def check_exact(model) -> None:
    """Refuse, naming the layer, a quantized Dense or Conv whose sums of codes may exceed
    float64's 53 exact bits (the trainer's sums would round where nnfx's are exact): with
    ``b_x``-bit input codes (from the last :class:`Quantize`), ``b_w``-bit weight codes and
    ``n`` products per output, ``b_x + b_w + log2(n)`` bits, plus the bias on its grid."""
    source: tuple[QuantSpec, int] | None = None
    for layer in model.layers:
        if isinstance(layer, Quantize):
            source = (layer.spec, layer.frac)
        elif isinstance(layer, (QDense, QConv2D)) and layer.weight_spec is not None:
            if layer.use_bias and layer.bias_spec is None:
                raise ModelError(
                    f"layer '{layer.name}' has quantized weights beside a float bias, whose "
                    "sum is not exact; give it a bias quantizer (bias=...)"
                )
            if source is not None:
                _check_layer(layer, *source)
            source = None
        elif not isinstance(layer, CODE_KEEPERS):
            source = None


def _check_layer(layer: QDense | QConv2D, spec: QuantSpec, frac_x: int) -> None:
    w = layer.weight_spec
    n = int(np.prod(layer.W.value.shape)) // (
        layer.units if isinstance(layer, Dense) else layer.filters
    )
    frac_w = layer.constant_frac("W")
    product_frac = frac_x + frac_w
    bits = spec.width + w.width + math.log2(max(n, 1))
    if layer.use_bias and layer.bias_spec is not None:
        frac_b = layer.constant_frac("b")
        bias_bits = layer.bias_spec.width + max(0, product_frac - frac_b)
        bits = max(bits + max(0, frac_b - product_frac), bias_bits) + 1
    if bits > FLOAT64_BITS:
        raise ModelError(
            f"layer '{layer.name}': its sums of {spec.width}-bit inputs and {w.width}-bit "
            f"weights over {n} products need {math.ceil(bits)} bits, more than float64's "
            f"{FLOAT64_BITS} exact bits; use narrower types"
        )


QAT_EXPORTERS = {Standardize: standardize, Quantize: quantize_layer}
QUANTIZED_LAYERS: tuple[type[Layer], ...] = (QDense, QConv2D)
