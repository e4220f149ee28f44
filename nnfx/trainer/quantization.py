"""Quantization-aware training: fake quantization with a straight-through estimator.

A :class:`QuantSpec` is a fixed-point type, as nnfx's type strings write it (``fixed<6,2>``,
``ufixed<8,0,RND,SAT>``), or a bit width whose power-of-two scale is *calibrated*
(``QuantSpec.parse(6)``, ``"bits=6"``, ``"ubits=6"``): for weights and biases from their
current ``max |v|``, for activations from an exponential moving average of the batches'
``max |x|`` kept during training and frozen at inference. A calibrated width ``W`` takes
``I = ceil(log2 max) + 1`` integer bits when signed (``ceil(log2 max)`` unsigned), so that
``max`` is within the range up to one code; its scale is ``2^-(W - I)``.

The forward pass is nnfx's quantization ``Q_T`` exactly (docs/semantics.md, "Types and
quantization": the nine rounding modes, the four overflow modes), on float64 values, which
hold every code of up to 53 bits exactly. The backward pass is the straight-through
estimator: ``dQ/dx = 1`` where ``x`` lies within the type's range ``[lo, hi] * 2^-F`` (the
saturated bounds: ``+-max`` for SAT_SYM), 0 outside it for the saturating modes (SAT,
SAT_SYM, SAT_ZERO); 1 everywhere with WRAP. That is the derivative of ``clip(x, lo, hi)``,
which is what :func:`surrogate` computes for gradient checks.

Layers: :class:`Quantize` (an activation quantizer, e.g. after a ReLU, or on the input),
:class:`QDense` and :class:`QConv2D` (Dense and Conv2D whose weight and bias are fake-quantized
in every forward pass; the float weights are what the optimizer updates). A model with them
computes in float64 (``Sequential(dtype="float64")``): a Dense's sum of products of codes is
then exact while ``b_x + b_w + ceil(log2 n) <= 53`` bits (checked by :func:`check_exact` at
export), the sum nnfx computes exactly before it quantizes once at the layer's output type.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from nnfx.errors import ConfigError, ModelError
from nnfx.trainer.conv import Conv2D
from nnfx.trainer.layers import Dense, Layer

ROUNDING = (
    "TRN",
    "TRN_ZERO",
    "RND",
    "RND_ZERO",
    "RND_INF",
    "RND_MIN_INF",
    "RND_CONV",
    "CEIL",
    "UP",
)
OVERFLOW = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")
SATURATING = ("SAT", "SAT_ZERO", "SAT_SYM")
MAX_WIDTH = 53  # every code exact in float64
MAX_INTEGER = 64  # |I| of a calibrated scale, far beyond any trained value
_TYPE = re.compile(r"^\s*(u?)fixed\s*<\s*([^>]*)>\s*$", re.IGNORECASE)
_BITS = re.compile(r"^\s*(u?)bits\s*=\s*(\d+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class QuantSpec:
    """A fake quantizer: ``width`` bits, ``integer`` bits (None: a calibrated power-of-two
    scale), signedness, nnfx's rounding and overflow modes, and the EMA momentum of a
    calibrated activation's running ``max |x|``. Modes default to RND_CONV (QONNX's ROUND,
    half to even) and SAT (QONNX's clamp), the pair a QONNX ``Quant`` expresses."""

    width: int
    integer: int | None = None
    signed: bool = True
    rounding: str = "RND_CONV"
    overflow: str = "SAT"
    momentum: float = 0.99

    def __post_init__(self):
        if not 1 <= int(self.width) <= MAX_WIDTH:
            raise ConfigError(f"quantizer width {self.width} is outside 1 to {MAX_WIDTH} bits")
        if self.rounding not in ROUNDING:
            raise ConfigError(
                f"rounding mode '{self.rounding}' is unknown; expected one of {', '.join(ROUNDING)}"
            )
        if self.overflow not in OVERFLOW:
            raise ConfigError(
                f"overflow mode '{self.overflow}' is unknown; expected one of {', '.join(OVERFLOW)}"
            )
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"quantizer momentum must be in [0, 1), got {self.momentum}")

    @staticmethod
    def parse(spec: QuantSpec | str | int) -> QuantSpec:
        """``fixed<6,2>``, ``ufixed<6,0,RND,SAT>``, ``6`` or ``bits=6`` (``ubits=6``)."""
        if isinstance(spec, QuantSpec):
            return spec
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            return QuantSpec(int(spec))
        text = str(spec)
        if text.strip().isdigit():
            return QuantSpec(int(text))
        bits = _BITS.match(text)
        if bits:
            return QuantSpec(int(bits[2]), signed=not bits[1])
        match = _TYPE.match(text)
        args = [a.strip().upper().removeprefix("AP_") for a in match[2].split(",")] if match else []
        if not match or not 2 <= len(args) <= 4 or not all(_is_int(a) for a in args[:2]):
            raise ConfigError(
                f"cannot read quantizer '{text}'; expected e.g. fixed<6,2>, "
                "ufixed<6,0,RND_CONV,SAT>, bits=6 or 6"
            )
        modes = {"rounding": args[2]} if len(args) > 2 else {}
        if len(args) > 3:
            modes["overflow"] = args[3]
        return QuantSpec(int(args[0]), int(args[1]), signed=not match[1], **modes)

    def integer_bits(self, max_abs: float) -> int:
        """The integer bits: the fixed ones, or those a calibrated ``max |v|`` needs."""
        if self.integer is not None:
            return self.integer
        if not max_abs > 0 or not math.isfinite(max_abs):
            return 1 if self.signed else 0
        need = math.ceil(math.log2(max_abs)) + (1 if self.signed else 0)
        return max(-MAX_INTEGER, min(MAX_INTEGER, need))

    def frac(self, max_abs: float = 0.0) -> int:
        return self.width - self.integer_bits(max_abs)

    def code_range(self) -> tuple[int, int]:
        """The smallest and largest code after overflow (SAT_SYM: ``+-max`` when signed)."""
        if not self.signed:
            return 0, 2**self.width - 1
        low, high = -(2 ** (self.width - 1)), 2 ** (self.width - 1) - 1
        if self.overflow == "SAT_SYM" and self.width > 1:
            low = -high
        return low, high

    def type_string(self, frac: int) -> str:
        """nnfx's type string of this quantizer at ``frac`` fractional bits."""
        kind = "fixed" if self.signed else "ufixed"
        return f"{kind}<{self.width},{self.width - frac},{self.rounding},{self.overflow}>"

    def __str__(self) -> str:
        if self.integer is None:
            return f"{'' if self.signed else 'u'}bits={self.width}"
        return self.type_string(self.width - self.integer)


def _is_int(text: str) -> bool:
    return text.lstrip("+-").isdigit()


def spec_or_none(spec) -> QuantSpec | None:
    return None if spec is None else QuantSpec.parse(spec)


# Whether a mode rounds up: ``rest`` = s - floor(s) in [0, 1), ``x`` the value, ``floor``
# = floor(s) (docs/semantics.md, "Types and quantization", rule 1).
_UP = {
    "TRN": lambda rest, x, floor: np.zeros(rest.shape, bool),
    "TRN_ZERO": lambda rest, x, floor: (rest > 0) & (x < 0),
    "RND": lambda rest, x, floor: rest >= 0.5,
    "RND_ZERO": lambda rest, x, floor: (rest > 0.5) | ((rest == 0.5) & (x < 0)),
    "RND_INF": lambda rest, x, floor: (rest > 0.5) | ((rest == 0.5) & (x > 0)),
    "RND_MIN_INF": lambda rest, x, floor: rest > 0.5,
    "RND_CONV": lambda rest, x, floor: (rest > 0.5) | ((rest == 0.5) & (np.mod(floor, 2) == 1)),
    "CEIL": lambda rest, x, floor: rest > 0,
    "UP": lambda rest, x, floor: (rest > 0) & (x > 0),
}


def quantize(x: np.ndarray, spec: QuantSpec, frac: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Q_T(x), dQ/dx)`` in float64 for ``T = spec`` at ``frac`` fractional bits: the
    rounding of ``x * 2^F`` by nnfx's rule (``f = floor``, ``r`` the rest; up or not by the
    mode), the overflow of the integer, the code times ``2^-F``; the mask is the STE's."""
    x = np.asarray(x, np.float64)
    scaled = np.ldexp(x, frac)  # exact: a power of two
    floor = np.floor(scaled)
    rest = scaled - floor  # exact
    up = _UP[spec.rounding](rest, x, floor)
    codes = floor + up
    low, high = spec.code_range()
    inside = (scaled >= low) & (scaled <= high)
    if spec.overflow == "WRAP":
        span = 2.0**spec.width
        base = -(2.0 ** (spec.width - 1)) if spec.signed else 0.0
        codes = np.mod(codes - base, span) + base
        mask = np.ones_like(x)
    else:
        out = (codes < low) | (codes > high)
        if spec.overflow == "SAT_ZERO":
            codes = np.where(out, 0.0, codes)
        else:
            codes = np.clip(codes, low, high)
        mask = inside.astype(np.float64)
    return np.ldexp(codes, -frac), mask


def surrogate(x: np.ndarray, spec: QuantSpec, frac: int) -> np.ndarray:
    """The continuous function whose derivative the STE is: ``clip(x, lo, hi)`` in value
    units for the saturating modes, ``x`` with WRAP (used by the gradient checks)."""
    if spec.overflow == "WRAP":
        return np.asarray(x, np.float64)
    low, high = spec.code_range()
    return np.clip(np.asarray(x, np.float64), np.ldexp(low, -frac), np.ldexp(high, -frac))


class _Fake:
    """Shared by the layers: quantize, or in surrogate mode clip (for gradient checks)."""

    surrogate_mode = False

    def _fake(self, x: np.ndarray, spec: QuantSpec, frac: int) -> tuple[np.ndarray, np.ndarray]:
        q, mask = quantize(x, spec, frac)
        return (surrogate(x, spec, frac), mask) if self.surrogate_mode else (q, mask)


def _require_float64(layer: Layer, dtype: np.dtype) -> None:
    if np.dtype(dtype) != np.float64:
        raise ModelError(
            f"layer '{layer.name}' ({type(layer).__name__}) is quantization-aware and needs "
            "a float64 model (Sequential(dtype='float64')), whose sums of codes are exact"
        )


class Quantize(_Fake, Layer):
    """Fake-quantize the values that pass (an activation, the input): ``Q_T(x)`` forward,
    the straight-through estimator backward. A calibrated spec (``bits=W``) keeps the running
    ``max |x|`` (EMA with ``spec.momentum``, the first batch taken as is) as a buffer."""

    def __init__(self, spec: QuantSpec | str | int, name: str | None = None):
        super().__init__(name)
        self.spec = QuantSpec.parse(spec)
        self.running_max = np.zeros((), np.float64)
        self._mask: np.ndarray | None = None

    def build(self, input_shape, rng, dtype):
        _require_float64(self, dtype)
        return super().build(input_shape, rng, dtype)

    @property
    def frac(self) -> int:
        """The fractional bits in use (calibrated: from the running maximum)."""
        return self.spec.frac(float(self.running_max))

    def forward(self, x, training=False):
        if training and self.spec.integer is None and x.size:
            batch = float(np.max(np.abs(x)))
            if np.isfinite(batch):
                m = self.spec.momentum if self.running_max > 0 else 0.0
                self.running_max = np.asarray(m * self.running_max + (1 - m) * batch)
        out, self._mask = self._fake(x, self.spec, self.frac)
        return out

    def backward(self, grad_output):
        return grad_output * self._mask

    def buffers(self):
        return {} if self.spec.integer is not None else {"running_max": self.running_max}

    def set_buffers(self, buffers):
        if "running_max" in buffers:
            self.running_max = np.asarray(buffers["running_max"], np.float64).reshape(())

    def config(self):
        return {"spec": str(self.spec)}


class _QuantizedWeights(_Fake):
    """A Dense or Conv2D whose weight and bias are fake-quantized in every forward pass; the
    float weights stay the parameters, and their gradients pass the STE's mask."""

    W: object
    b: object
    use_bias: bool

    def _init_quantizers(self, weight, bias) -> None:
        self.weight_spec = spec_or_none(weight)
        self.bias_spec = spec_or_none(bias)
        self._masks: dict[str, np.ndarray] = {}

    def build(self, input_shape, rng, dtype):
        _require_float64(self, dtype)
        return super().build(input_shape, rng, dtype)

    def config(self):
        spec = {"weight": str(self.weight_spec), "bias": str(self.bias_spec)}
        return {**super().config(), **spec}

    def _quantized(self) -> list[tuple[object, QuantSpec]]:
        pairs = [(self.W, self.weight_spec)]
        if self.use_bias:
            pairs.append((self.b, self.bias_spec))
        return [(p, s) for p, s in pairs if s is not None]

    def constant_frac(self, key: str) -> int:
        """The fractional bits of the weight (``W``) or bias (``b``) quantizer now."""
        p = self.W if key == "W" else self.b
        spec = self.weight_spec if key == "W" else self.bias_spec
        return spec.frac(float(np.max(np.abs(p.value), initial=0.0)))

    def quantized_value(self, key: str) -> np.ndarray:
        """The quantized weight (``W``) or bias (``b``), as the forward pass uses it."""
        p = self.W if key == "W" else self.b
        spec = self.weight_spec if key == "W" else self.bias_spec
        return p.value if spec is None else quantize(p.value, spec, self.constant_frac(key))[0]

    def _swapped(self):
        saved = {}
        for p, spec in self._quantized():
            q, self._masks[p.name] = self._fake(p.value, spec, self.constant_frac(p.name))
            saved[p.name] = p.value
            p.value = q
        return saved

    def _restore(self, saved) -> None:
        for p, _ in self._quantized():
            p.value = saved[p.name]

    def forward(self, x, training=False):
        saved = self._swapped()
        try:
            return super().forward(x, training)
        finally:
            self._restore(saved)

    def backward(self, grad_output):
        saved = self._swapped()
        try:
            grad = super().backward(grad_output)
        finally:
            self._restore(saved)
        for p, _ in self._quantized():
            p.grad = p.grad * self._masks[p.name]
        return grad


class QDense(_QuantizedWeights, Dense):
    """:class:`Dense` with fake-quantized weight (``weight=``) and bias (``bias=``), each a
    :class:`QuantSpec` (or its string) or None for float. Quantize its output with a
    :class:`Quantize` layer after it (after its ReLU: a ReLU of codes is exact)."""

    def __init__(self, units: int, weight=None, bias=None, **kwargs):
        super().__init__(units, **kwargs)
        self._init_quantizers(weight, bias)


class QConv2D(_QuantizedWeights, Conv2D):
    """:class:`Conv2D` with fake-quantized weight and bias (see :class:`QDense`)."""

    def __init__(self, filters: int, kernel_size, weight=None, bias=None, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._init_quantizers(weight, bias)


def set_surrogate(model_or_layers, on: bool = True) -> None:
    """Switch every quantizer to its continuous surrogate (``clip``) or back; the backward
    pass is the same, so finite differences of the surrogate check the STE's gradients."""
    layers = getattr(model_or_layers, "layers", model_or_layers)
    for layer in layers:
        if isinstance(layer, _Fake):
            layer.surrogate_mode = on
