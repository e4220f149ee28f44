"""The IR's closed set of operators: their attributes and their shape rules.

Shapes exclude the batch axis. Tensors of spatial data are channels-last: ``(length,
channels)`` for 1-D and ``(height, width, channels)`` for 2-D (see docs/ir.md for why).
Each op's attributes are a small frozen dataclass; :data:`ATTRS` maps every op to its class and
:data:`SHAPE_RULES` to its output-shape function. Adding an op means one entry in each table
here, and one in each engine's table (a test walks :class:`Op` and checks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from nnfx.compiler.activations import (  # noqa: F401  (re-exported: the IR's vocabulary)
    ACTIVATION_KINDS,
    ACTIVATIONS,
    Activation,
    ActivationKind,
    activation_kind,
    activation_rule,
)
from nnfx.compiler.recurrent import RecurrentAttrs, recurrent_shape
from nnfx.compiler.resample import PadAttrs, UpsampleAttrs, pad_shape, upsample_shape
from nnfx.compiler.slicing import SliceAttrs, slice_shape
from nnfx.compiler.threshold import ThresholdAttrs, threshold_shape
from nnfx.errors import ModelError

Shape = tuple[int, ...]


class Op(str, Enum):
    DENSE = "Dense"
    CONV = "Conv"  # 1-D or 2-D by len(kernel_shape)
    MAX_POOL = "MaxPool"
    AVG_POOL = "AvgPool"
    GLOBAL_AVG_POOL = "GlobalAvgPool"
    GLOBAL_MAX_POOL = "GlobalMaxPool"
    BATCH_NORM = "BatchNorm"  # y = x * scale + bias, constants broadcast over the sample
    ACTIVATION = "Activation"
    SOFTMAX = "Softmax"
    LAYER_NORM = "LayerNorm"  # over the last axis, then * scale + bias per entry of that axis
    ADD = "Add"
    SUB = "Sub"  # a - b, two tensors of one shape
    MUL = "Mul"  # a * b element-wise, two tensors of one shape
    CONCAT = "Concat"
    FLATTEN = "Flatten"
    RESHAPE = "Reshape"
    TRANSPOSE = "Transpose"
    IDENTITY = "Identity"
    ARGMAX = "ArgMax"
    UPSAMPLE = "Upsample"  # nearest, whole-number scales: codes copied (compiler/resample.py)
    PAD = "Pad"  # zeros on the spatial axes: codes copied, the code 0 around them
    SLICE = "Slice"  # one axis, step 1: codes copied (compiler/slicing.py)
    RECURRENT = "Recurrent"  # RNN, LSTM, GRU over (steps, features) (compiler/recurrent.py)
    THRESHOLD = "MultiThreshold"  # count of thresholds reached, per channel (threshold.py)


@dataclass(frozen=True)
class DenseAttrs:
    n_in: int
    n_out: int
    activation: Activation = Activation.LINEAR  # set by fuse_activations
    activation_alpha: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "activation", activation_kind(self.activation))


@dataclass(frozen=True)
class ConvAttrs:
    """``kernel_shape``, ``strides``, ``dilations`` per spatial axis; ``pads`` as ONNX
    (begins then ends). ``group``: the channels split into that many groups, each output
    channel summing over its group's inputs only (depthwise: ``group == in_channels``).
    Weights are ``(*kernel_shape, in_channels // group, out_channels)``."""

    in_channels: int
    out_channels: int
    kernel_shape: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    dilations: tuple[int, ...]
    activation: Activation = Activation.LINEAR
    activation_alpha: float = 0.0
    group: int = 1

    def __post_init__(self):
        object.__setattr__(self, "activation", activation_kind(self.activation))
        g = self.group
        if not isinstance(g, int) or g < 1 or self.in_channels % g or self.out_channels % g:
            raise ModelError(
                f"Conv group={g} must be a positive integer dividing its {self.in_channels} "
                f"input and {self.out_channels} output channels"
            )


@dataclass(frozen=True)
class PoolAttrs:
    kernel_shape: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    count_include_pad: bool = False  # AvgPool only: whether padding counts in the divisor


@dataclass(frozen=True)
class NoAttrs:
    pass


@dataclass(frozen=True)
class ActivationAttrs:
    """``kind`` is an :class:`Activation` (its string is accepted). ``alpha`` is the slope
    of leaky_relu, the scale of elu, selu (with ``beta`` its ``gamma``) and of hard_sigmoid
    (with ``beta`` its offset); ``clip`` uses min/max."""

    kind: Activation
    alpha: float = 0.0
    beta: float = 0.0
    min: float = -math.inf
    max: float = math.inf

    def __post_init__(self):
        object.__setattr__(self, "kind", activation_kind(self.kind))


@dataclass(frozen=True)
class SoftmaxAttrs:
    axis: int = -1
    log: bool = False


@dataclass(frozen=True)
class LayerNormAttrs:
    """Normalization over the last axis (``size`` values): ``(x - mean) / sqrt(var + epsilon)``,
    then ``* scale + bias`` (the constants, one per entry of that axis)."""

    size: int
    epsilon: float = 1e-5

    def __post_init__(self):
        if not (isinstance(self.size, int) and self.size >= 1):
            raise ModelError(f"LayerNorm size {self.size} must be a positive integer")
        if not (math.isfinite(self.epsilon) and self.epsilon >= 0):
            raise ModelError(f"LayerNorm epsilon {self.epsilon} must be a finite number >= 0")


@dataclass(frozen=True)
class ConcatAttrs:
    axis: int


@dataclass(frozen=True)
class ReshapeAttrs:
    shape: tuple[int, ...]


@dataclass(frozen=True)
class TransposeAttrs:
    perm: tuple[int, ...]


@dataclass(frozen=True)
class ArgMaxAttrs:
    """Index of the largest value along ``axis``; with ``classes`` the index is mapped to
    that label (scikit-learn's ArgMax -> ArrayFeatureExtractor)."""

    axis: int = -1
    keepdims: bool = False
    classes: tuple[int, ...] | None = field(default=None)


ATTRS: dict[Op, type] = {
    Op.DENSE: DenseAttrs,
    Op.CONV: ConvAttrs,
    Op.MAX_POOL: PoolAttrs,
    Op.AVG_POOL: PoolAttrs,
    Op.GLOBAL_AVG_POOL: NoAttrs,
    Op.GLOBAL_MAX_POOL: NoAttrs,
    Op.BATCH_NORM: NoAttrs,
    Op.ACTIVATION: ActivationAttrs,
    Op.SOFTMAX: SoftmaxAttrs,
    Op.LAYER_NORM: LayerNormAttrs,
    Op.ADD: NoAttrs,
    Op.SUB: NoAttrs,
    Op.MUL: NoAttrs,
    Op.CONCAT: ConcatAttrs,
    Op.FLATTEN: NoAttrs,
    Op.RESHAPE: ReshapeAttrs,
    Op.TRANSPOSE: TransposeAttrs,
    Op.IDENTITY: NoAttrs,
    Op.ARGMAX: ArgMaxAttrs,
    Op.UPSAMPLE: UpsampleAttrs,
    Op.PAD: PadAttrs,
    Op.SLICE: SliceAttrs,
    Op.RECURRENT: RecurrentAttrs,
    Op.THRESHOLD: ThresholdAttrs,
}

# The constants each op reads, by role (``Node.params``); optional ones may be absent.
# Fixed-point compilation adds quantized constants and tables (docs/semantics.md).
PARAMS: dict[Op, tuple[str, ...]] = {
    Op.DENSE: ("weight", "bias"),
    Op.CONV: ("weight", "bias"),
    Op.BATCH_NORM: ("scale", "bias"),
    Op.AVG_POOL: ("reciprocal",),
    Op.GLOBAL_AVG_POOL: ("reciprocal",),
    Op.ACTIVATION: ("table", "alpha", "beta", "low", "high", "slope"),
    Op.SOFTMAX: ("table", "inverse_table"),
    Op.LAYER_NORM: ("scale", "bias", "table", "epsilon"),
    Op.RECURRENT: ("weight", "recurrent", "bias", "recurrent_bias", "table", "inverse_table"),
    Op.THRESHOLD: ("thresholds", "levels"),
}


def pooled_length(size: int, kernel: int, stride: int, pad_total: int, dilation: int = 1) -> int:
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def _spatial(shape: Shape, attrs, what: str) -> tuple[Shape, int]:
    rank = len(attrs.kernel_shape)
    if len(shape) != rank + 1:
        raise ModelError(
            f"{what} with a {rank}-D kernel needs a (spatial..., channels) input of rank "
            f"{rank + 1}, got shape {shape}"
        )
    dilations = getattr(attrs, "dilations", (1,) * rank)
    out = []
    for axis in range(rank):
        n = pooled_length(
            shape[axis],
            attrs.kernel_shape[axis],
            attrs.strides[axis],
            attrs.pads[axis] + attrs.pads[axis + rank],
            dilations[axis],
        )
        if n < 1:
            raise ModelError(f"{what}: kernel {attrs.kernel_shape} does not fit input {shape}")
        out.append(n)
    return tuple(out), shape[-1]


def _dense_shape(shapes, a: DenseAttrs):
    (shape,) = shapes
    if shape != (a.n_in,):
        raise ModelError(f"Dense expects input shape ({a.n_in},), got {shape}")
    return (a.n_out,)


def _conv_shape(shapes, a: ConvAttrs):
    spatial, channels = _spatial(shapes[0], a, "Conv")
    if channels != a.in_channels:
        raise ModelError(f"Conv expects {a.in_channels} input channels, got {channels}")
    return (*spatial, a.out_channels)


def _pool_shape(shapes, a: PoolAttrs):
    spatial, channels = _spatial(shapes[0], a, "pooling")
    return (*spatial, channels)


def _global_pool_shape(shapes, a):
    if len(shapes[0]) < 2:
        raise ModelError(f"global pooling needs a (spatial..., channels) input, got {shapes[0]}")
    return (shapes[0][-1],)


def _same_shape(shapes, a):
    return shapes[0]


def _add_shape(shapes, a):
    if len(set(shapes)) != 1:
        raise ModelError(
            f"element-wise ops need inputs of one shape, got {', '.join(map(str, shapes))}"
        )
    return shapes[0]


def _layer_norm_shape(shapes, a: LayerNormAttrs):
    if not shapes[0] or shapes[0][-1] != a.size:
        raise ModelError(
            f"LayerNorm over {a.size} values needs a last axis of {a.size}, got {shapes[0]}"
        )
    return shapes[0]


def _concat_shape(shapes, a: ConcatAttrs):
    rank = len(shapes[0])
    axis = a.axis % rank
    for s in shapes[1:]:
        if len(s) != rank or any(s[i] != shapes[0][i] for i in range(rank) if i != axis):
            raise ModelError(f"Concat on axis {a.axis}: incompatible shapes {shapes}")
    return tuple(sum(s[i] for s in shapes) if i == axis else shapes[0][i] for i in range(rank))


def _flatten_shape(shapes, a):
    return (math.prod(shapes[0]),)


def _reshape_shape(shapes, a: ReshapeAttrs):
    if math.prod(a.shape) != math.prod(shapes[0]):
        raise ModelError(f"Reshape from {shapes[0]} to {a.shape} changes the number of values")
    return a.shape


def _transpose_shape(shapes, a: TransposeAttrs):
    if sorted(a.perm) != list(range(len(shapes[0]))):
        raise ModelError(f"Transpose perm {a.perm} does not fit shape {shapes[0]}")
    return tuple(shapes[0][p] for p in a.perm)


def _argmax_shape(shapes, a: ArgMaxAttrs):
    shape = shapes[0]
    axis = a.axis % len(shape)
    return shape[:axis] + ((1,) if a.keepdims else ()) + shape[axis + 1 :]


# Each rule takes the attrs class ATTRS gives its op (Any here: the op picks the class).
SHAPE_RULES: dict[Op, Callable[[list[Shape], Any], Shape]] = {
    Op.DENSE: _dense_shape,
    Op.CONV: _conv_shape,
    Op.MAX_POOL: _pool_shape,
    Op.AVG_POOL: _pool_shape,
    Op.GLOBAL_AVG_POOL: _global_pool_shape,
    Op.GLOBAL_MAX_POOL: _global_pool_shape,
    Op.BATCH_NORM: _same_shape,
    Op.ACTIVATION: _same_shape,
    Op.SOFTMAX: _same_shape,
    Op.LAYER_NORM: _layer_norm_shape,
    Op.ADD: _add_shape,
    Op.SUB: _add_shape,
    Op.MUL: _add_shape,
    Op.CONCAT: _concat_shape,
    Op.FLATTEN: _flatten_shape,
    Op.RESHAPE: _reshape_shape,
    Op.TRANSPOSE: _transpose_shape,
    Op.IDENTITY: _same_shape,
    Op.ARGMAX: _argmax_shape,
    Op.UPSAMPLE: upsample_shape,
    Op.PAD: pad_shape,
    Op.SLICE: slice_shape,
    Op.RECURRENT: recurrent_shape,
    Op.THRESHOLD: threshold_shape,
}


def infer_shape(op: Op, input_shapes: list[Shape], attrs) -> Shape:
    """The output shape of ``op`` for these input shapes (raises ModelError if they don't fit)."""
    return tuple(int(d) for d in SHAPE_RULES[op](list(input_shapes), attrs))
