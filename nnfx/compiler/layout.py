"""Layouts as permutations: how a value's IR array relates to the ONNX array of one sample
(one module that the frontend, the ONNX backend and the public classes share).

Every value remembers ``perm``: ``ir = onnx.transpose(perm)``. Convolutions and pooling produce
channels-last values; element-wise ops keep whatever they get; ops that care about order
(Flatten, Reshape) ask for the ONNX order, and a Transpose node appears only where a value's
layout must actually change — which the passes then fold into the next Dense layer's weights.
An ONNX Transpose only relabels ``perm`` and costs nothing.
"""

from __future__ import annotations

import numpy as np


def channels_last(rank: int) -> tuple[int, ...]:
    """The perm that moves ONNX's channel axis (first of the sample) to the end."""
    return tuple(range(1, rank)) + (0,) if rank >= 2 else tuple(range(rank))


def compose(first: tuple[int, ...], then: tuple[int, ...]) -> tuple[int, ...]:
    """``x.transpose(first).transpose(then) == x.transpose(compose(first, then))``."""
    return tuple(first[i] for i in then)


def inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


def batched(perm: tuple[int, ...]) -> tuple[int, ...]:
    """``perm`` for a batch of samples: the batch axis stays first."""
    return (0, *(p + 1 for p in perm))


def model_to_ir(perm: tuple[int, ...], batch_axis: int = 0) -> tuple[int, ...]:
    """The permutation of a batch in the model's layout, whose batch is on ``batch_axis``
    (a graph input's or output's ``Tensor.batch_axis``), to the IR's batch-first layout:
    ``ir = x.transpose(model_to_ir(perm, batch_axis))``."""
    rank = len(perm) + 1
    first = (batch_axis, *(a for a in range(rank) if a != batch_axis))
    return compose(first, batched(perm))


def to_ir(x: np.ndarray, perm: tuple[int, ...], batch_axis: int = 0) -> np.ndarray:
    """A batch in the ONNX layout (batch on ``batch_axis``), transposed to the IR's."""
    return x.transpose(model_to_ir(perm, batch_axis))


def to_onnx(y: np.ndarray, perm: tuple[int, ...], batch_axis: int = 0) -> np.ndarray:
    """A batch in the IR's layout, transposed back to the ONNX layout (batch on ``batch_axis``)."""
    return y.transpose(inverse(model_to_ir(perm, batch_axis)))


def model_shape(shape: tuple[int, ...], perm: tuple[int, ...], batch_axis: int, batch):
    """The model-layout shape of a batch of ``batch`` samples whose IR shape is ``shape``."""
    sample = list(onnx_shape(shape, perm))
    return (*sample[:batch_axis], batch, *sample[batch_axis:])


def onnx_shape(shape: tuple[int, ...], perm: tuple[int, ...]) -> tuple[int, ...]:
    """The ONNX shape of one sample whose IR shape is ``shape``."""
    return tuple(shape[i] for i in inverse(perm))
