"""The ops that only move codes across space: nearest upsampling by whole numbers and zero
padding, on channels-last samples ``(length, channels)`` or ``(height, width, channels)``.
Their attributes and shape rules (:mod:`nnfx.compiler.ops` tables them), and their index
mapping on batched arrays, which both references run (float values or integer codes alike;
docs/semantics.md: codes copied, padding is the code 0 of the input type)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnfx.errors import ModelError

Shape = tuple[int, ...]


def _whole(values, least: int, what: str, name: str) -> None:
    if len(values) not in (1, 2) or any(not isinstance(v, int) or v < least for v in values):
        raise ModelError(
            f"{what} {name} {list(values)} must be whole numbers >= {least}, one per spatial "
            "axis of a 1-D or 2-D feature map"
        )


@dataclass(frozen=True)
class UpsampleAttrs:
    """Nearest upsampling: along spatial axis ``k`` every value is repeated ``scales[k]``
    times, ``out[i] = in[i // scales[k]]``."""

    scales: tuple[int, ...]

    def __post_init__(self):
        _whole(self.scales, 1, "Upsample", "scales")


@dataclass(frozen=True)
class PadAttrs:
    """Zero padding of the spatial axes; ``pads`` as ONNX gives them: the begins of every
    spatial axis, then the ends."""

    pads: tuple[int, ...]

    def __post_init__(self):
        if len(self.pads) % 2:
            raise ModelError(f"Pad pads {list(self.pads)} must hold a begin and an end per axis")
        _whole(self.pads[: len(self.pads) // 2], 0, "Pad", "begins")
        _whole(self.pads[len(self.pads) // 2 :], 0, "Pad", "ends")


def _feature_map(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank + 1:
        raise ModelError(
            f"{what} of {rank} spatial axes needs a (spatial..., channels) input of rank "
            f"{rank + 1}, got shape {shape}"
        )


def upsample_shape(shapes: list[Shape], a: UpsampleAttrs) -> Shape:
    (shape,) = shapes
    _feature_map(shape, len(a.scales), "Upsample")
    return (*(n * s for n, s in zip(shape, a.scales, strict=False)), shape[-1])


def pad_shape(shapes: list[Shape], a: PadAttrs) -> Shape:
    (shape,) = shapes
    rank = len(a.pads) // 2
    _feature_map(shape, rank, "Pad")
    return (*(shape[k] + a.pads[k] + a.pads[k + rank] for k in range(rank)), shape[-1])


def upsample(x: np.ndarray, scales: tuple[int, ...]) -> np.ndarray:
    """``x`` (batch, spatial..., channels) with ``out[:, i, j] = x[:, i // s_h, j // s_w]``."""
    for axis, s in enumerate(scales):
        x = np.repeat(x, s, axis=axis + 1)
    return x


def source_index(size: int, scale: int) -> np.ndarray:
    """The input position each output position along one axis reads: ``i // scale``."""
    return np.arange(size * scale) // scale


def pad_zeros(x: np.ndarray, pads: tuple[int, ...]) -> np.ndarray:
    """``x`` (batch, spatial..., channels) with zeros around its spatial axes."""
    rank = len(pads) // 2
    widths = [(0, 0), *((pads[k], pads[k + rank]) for k in range(rank)), (0, 0)]
    return np.pad(x, widths, constant_values=0)


def batched_pads(a: PadAttrs) -> list[int]:
    """``a.pads`` as ONNX's Pad takes them for a batched channels-last array: no padding of
    the batch and channel axes."""
    rank = len(a.pads) // 2
    return [0, *a.pads[:rank], 0, 0, *a.pads[rank:], 0]
