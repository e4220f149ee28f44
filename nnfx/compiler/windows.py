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


def conv_groups(
    view: np.ndarray, weight: np.ndarray, group: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """A Conv's operands per group: ``(patches, w)`` with ``patches`` (N, *out, K) over the
    group's input channels and ``w`` (K, M) its ``M`` output channels' weights, ``K`` ordered
    (channel, *taps) in both. ``view`` is the :func:`windows` view (N, *out, Cin, *k),
    ``weight`` the grouped weights (*k, Cin // group, Cout). Output channel ``g * M + m`` is
    group ``g``'s ``m``-th, as in ONNX."""
    rank = weight.ndim - 2
    cin, m = weight.shape[-2], weight.shape[-1] // group
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for g in range(group):
        patches = view[(slice(None),) * (rank + 1) + (slice(g * cin, (g + 1) * cin),)]
        w = np.moveaxis(weight[..., g * m : (g + 1) * m], rank, 0).reshape(-1, m)
        pairs.append((patches.reshape(*patches.shape[: rank + 1], w.shape[0]), w))
    return pairs
