"""Layouts as permutations: how a value's IR array relates to the ONNX array of one sample.

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
