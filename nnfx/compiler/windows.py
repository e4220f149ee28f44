"""Sliding windows over channels-last tensors (Conv and pooling geometry): shared by the float
and fixed references and the precision assignment (average-pool divisors)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def windows(x: np.ndarray, attrs, pad_value) -> np.ndarray:
    """A (N, *out_spatial, C, *kernel) view over the padded input (N, *spatial, C) for a
    Conv or pooling node's ``kernel_shape``, ``strides``, ``pads`` and ``dilations``."""
    rank = len(attrs.kernel_shape)
    pads = attrs.pads
    if any(pads):
        # Not np.pad: on an object array (the reference's wide-integer path) it would insert
        # NumPy int64 scalars, whose arithmetic wraps; np.full keeps Python ints there.
        padded = np.full(
            (
                x.shape[0],
                *(x.shape[i + 1] + pads[i] + pads[i + rank] for i in range(rank)),
                x.shape[-1],
            ),
            pad_value,
            dtype=x.dtype,
        )
        inner = tuple(slice(pads[i], pads[i] + x.shape[i + 1]) for i in range(rank))
        index = (slice(None), *inner, slice(None))  # not in the brackets: 3.11 syntax there
        padded[index] = x
        x = padded
    dilations = getattr(attrs, "dilations", (1,) * rank)
    extent = tuple(d * (k - 1) + 1 for k, d in zip(attrs.kernel_shape, dilations, strict=True))
    view = sliding_window_view(x, extent, axis=tuple(range(1, rank + 1)))
    spatial = tuple(slice(None, None, s) for s in attrs.strides)
    taps = tuple(slice(None, None, d) for d in dilations)
    index = (slice(None), *spatial, slice(None), *taps)
    return view[index]


def kernel_axes(attrs) -> tuple[int, ...]:
    """The axes of a :func:`windows` view that run over the kernel taps."""
    rank = len(attrs.kernel_shape)
    return tuple(range(rank + 2, 2 * rank + 2))
