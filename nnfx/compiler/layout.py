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


def to_ir(x: np.ndarray, perm: tuple[int, ...]) -> np.ndarray:
    """A batch in the ONNX layout, transposed to the IR's."""
    return x.transpose(batched(perm))


def to_onnx(y: np.ndarray, perm: tuple[int, ...]) -> np.ndarray:
    """A batch in the IR's layout, transposed back to the ONNX layout."""
    return y.transpose(batched(inverse(perm)))


def onnx_shape(shape: tuple[int, ...], perm: tuple[int, ...]) -> tuple[int, ...]:
    """The ONNX shape of one sample whose IR shape is ``shape``."""
    return tuple(shape[i] for i in inverse(perm))
