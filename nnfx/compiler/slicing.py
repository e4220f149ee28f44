"""The Slice op's attributes, shape rule and index (:mod:`nnfx.compiler.ops` tables them):
the values ``start <= i < end`` along one axis of the sample, step 1. Both references index
with :func:`slice_index`, on float values and integer codes alike (docs/semantics.md: codes
copied, the type unchanged)."""

from __future__ import annotations

from dataclasses import dataclass

from nnfx.errors import ModelError

Shape = tuple[int, ...]


@dataclass(frozen=True)
class SliceAttrs:
    """The values ``start <= i < end`` along the sample's IR ``axis`` (step 1)."""

    axis: int
    start: int
    end: int


def slice_index(a: SliceAttrs) -> tuple[slice, ...]:
    """The NumPy index of a Slice on a batch (the batch axis first)."""
    return (slice(None),) * (a.axis + 1) + (slice(a.start, a.end),)


def slice_shape(shapes: list[Shape], a: SliceAttrs) -> Shape:
    shape = shapes[0]
    if not 0 <= a.axis < len(shape) or not 0 <= a.start < a.end <= shape[a.axis]:
        raise ModelError(f"Slice [{a.start}:{a.end}] on axis {a.axis} does not fit shape {shape}")
    return shape[: a.axis] + (a.end - a.start,) + shape[a.axis + 1 :]
