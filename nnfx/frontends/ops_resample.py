"""Converters of the ops that move values across space without arithmetic: Resize and the
old Upsample (nearest, whole-number scales: each value repeated) and Pad (zeros around the
spatial axes). They produce channels-last values (:mod:`nnfx.compiler.resample`).

Resize is accepted exactly when ONNX's own definition, for these sizes, reads input position
``i // s`` at output position ``i``: its coordinate transformation and nearest rounding are
evaluated here for every output position (``asymmetric`` with ``floor`` always does;
``half_pixel`` with either ``round_prefer_*`` does for every whole scale; ``asymmetric`` with
``round_prefer_floor`` only for scale 2), and any other combination is refused naming it.
"""

from __future__ import annotations

import math

import numpy as np

from nnfx import limits
from nnfx.compiler.ir import for_message, short
from nnfx.compiler.layout import channels_last
from nnfx.compiler.ops import NoAttrs, Op
from nnfx.compiler.resample import PadAttrs, UpsampleAttrs
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import BATCH, Converter, Value
from nnfx.frontends.folding import fold

# The coordinate transformations of ONNX's Resize: the input coordinate of output position
# ``i`` (float64), given the scale and the input and output lengths.
_COORDINATES = {
    "asymmetric": lambda i, s, n, m: i / s,
    "half_pixel": lambda i, s, n, m: (i + 0.5) / s - 0.5,
    # the same as half_pixel where m = n * s exactly (no rounding of the output length)
    "half_pixel_symmetric": lambda i, s, n, m: (i + 0.5) / s - 0.5,
    "pytorch_half_pixel": lambda i, s, n, m: (i + 0.5) / s - 0.5 if m > 1 else 0 * i,
    "align_corners": lambda i, s, n, m: i * (n - 1) / (m - 1) if m > 1 else 0 * i,
    "tf_half_pixel_for_nn": lambda i, s, n, m: (i + 0.5) / s,
}
# nearest_mode: from x = floor + r (0 <= r < 1), whether the position rounds up.
_ROUND_UP = {
    "round_prefer_floor": lambda r: r > 0.5,
    "round_prefer_ceil": lambda r: r >= 0.5,
    "floor": lambda r: r < 0,
    "ceil": lambda r: r > 0,
}


def nearest_source(transform: str, nearest: str, n: int, scale: int) -> np.ndarray:
    """The input position ONNX's nearest Resize reads at each of the ``n * scale`` output
    positions of an axis of length ``n``: the coordinate, rounded, clamped to the input."""
    i = np.arange(n * scale, dtype=np.float64)
    x = _COORDINATES[transform](i, float(scale), n, n * scale)
    low = np.floor(x)
    index = low + _ROUND_UP[nearest](x - low)
    return np.clip(index, 0, n - 1).astype(np.int64)


def _identity(c: Converter, x: Value) -> None:
    out = c.emit(Op.IDENTITY, [x.tensor], NoAttrs())
    c.set_output(c.new_value(out, x.perm))


def _feature_map(c: Converter, x: Value, what: str) -> int:
    """The number of spatial axes of ``x``: 1 or 2, else refused."""
    spatial = len(x.onnx_shape) - 1
    if spatial not in (1, 2):
        raise c.error(
            f"{what} of a tensor of shape (batch, {', '.join(map(str, x.onnx_shape))}) is not "
            "supported; nnfx supports 1-D and 2-D feature maps (batch, channels, spatial...)",
            UnsupportedOpError,
        )
    return spatial


def _emit_upsample(c: Converter, x: Value, scales: list[int], transform: str, nearest: str):
    """Whole-number ``scales`` per spatial axis; the mapping checked against ONNX's rule."""
    limits.TENSOR_ELEMENTS.check(
        math.prod(x.onnx_shape) * math.prod(scales), c.culprit("its output")
    )
    for n, s in zip(x.onnx_shape[1:], scales, strict=True):
        got = nearest_source(transform, nearest, n, s)
        wrong = np.flatnonzero(got != np.arange(n * s) // s)
        if wrong.size:
            k = int(wrong[0])
            raise c.error(
                f"coordinate_transformation_mode '{transform}' with nearest_mode '{nearest}' "
                f"does not repeat each value {s} times on an axis of {n} (output {k} reads "
                f"input {int(got[k])}, not {k // s}); nnfx supports nearest resizing that is "
                "pure repetition, such as asymmetric with floor or half_pixel with "
                "round_prefer_floor",
                UnsupportedOpError,
            )
    if all(s == 1 for s in scales):
        _identity(c, x)
        return
    layout = channels_last(len(scales) + 1)
    out = c.emit(Op.UPSAMPLE, [c.in_layout(x, layout)], UpsampleAttrs(tuple(scales)))
    c.set_output(c.new_value(out, layout))


def _whole_scales(c: Converter, x: Value, scales: list[float]) -> list[int]:
    """Per-axis scales (batch and channels included) as whole numbers of the spatial axes."""
    if any(s != 1 for s in scales[:2]):
        raise c.error(
            f"scales {short(scales)} resize the batch or channel axis; nnfx resizes only the "
            "spatial axes",
            UnsupportedOpError,
        )
    for axis, s in enumerate(scales[2:], start=2):
        if not (math.isfinite(s) and s >= 1 and float(s).is_integer()):
            raise c.error(
                f"scale {for_message(repr(s), 24)} on axis {axis} is not supported; nnfx "
                "supports nearest upsampling by whole numbers (1, 2, 3, ...)",
                UnsupportedOpError,
            )
    return [int(s) for s in scales[2:]]


def _scales_of_sizes(c: Converter, x: Value, sizes: list[int]) -> list[float]:
    """The scales that give the output ``sizes`` (the batch size may stand as BATCH)."""
    batch = sizes[0]
    if not (batch == BATCH or (batch == 1 and c.batch_one)):
        raise c.error(
            f"sizes {short(sizes)} resize the batch axis; nnfx resizes only the spatial axes",
            UnsupportedOpError,
        )
    scales = [1.0, sizes[1] / x.onnx_shape[0]]
    for axis, (n, m) in enumerate(zip(x.onnx_shape[1:], sizes[2:], strict=True), start=2):
        if m % n:
            raise c.error(
                f"size {m} on axis {axis} is not a whole multiple of its {n} inputs; nnfx "
                "supports nearest upsampling by whole numbers (1, 2, 3, ...)",
                UnsupportedOpError,
            )
        scales.append(m / n)
    return scales


def _resize_factors(c: Converter, x: Value, scales, sizes) -> list[float]:
    """The scale of every axis (batch first) from Resize's constant scales or sizes."""
    rank = len(x.onnx_shape) + 1
    axes = c.attr("axes", None, "ints")
    axes = (
        list(range(rank))
        if axes is None
        else [a % rank if -rank <= a < rank else rank for a in axes]
    )
    if (scales is None) == (sizes is None):
        raise c.error("needs exactly one of its scales and sizes inputs")
    given = (
        [float(v) for v in np.asarray(scales, np.float64).reshape(-1)]
        if scales is not None
        else c.integers(sizes, "sizes")
    )
    if len(given) != len(axes) or len(set(axes)) != len(axes) or rank in axes:
        raise c.error(
            f"{'scales' if scales is not None else 'sizes'} {short(given)} do not fit a tensor "
            f"of {rank} axes (axes {short(axes)})"
        )
    if scales is not None:
        full: list = [1.0] * rank
    else:
        full = [BATCH, *x.onnx_shape]
    for a, v in zip(axes, given, strict=True):
        full[a] = v
    if sizes is None:
        return full
    factors = _scales_of_sizes(c, x, full)
    policy = c.attr("keep_aspect_ratio_policy", "stretch", "string")
    if policy != "stretch" and len({factors[a] for a in axes if a > 0}) > 1:
        raise c.error(
            f"keep_aspect_ratio_policy '{for_message(policy, 24)}' with unequal scales is not "
            "supported; nnfx supports 'stretch' (or one scale on every resized axis)",
            UnsupportedOpError,
        )
    return factors


def _only_mode(c: Converter, supported: str, what: str) -> None:
    """Refuse a ``mode`` attribute other than ``supported`` (its default), saying ``what``
    nnfx supports."""
    mode = c.attr("mode", supported, "string")
    if mode != supported:
        raise c.error(
            f"mode '{for_message(mode, 24)}' is not supported; nnfx supports {what}",
            UnsupportedOpError,
        )


def resize(c: Converter) -> None:
    """ONNX Resize, mode nearest: 1-D or 2-D, whole-number scales or sizes that are whole
    multiples, any coordinate transformation and nearest mode that repeat each value."""
    if fold(c):
        return
    names = c.inputs(1, 4) if c.opset >= 11 else c.inputs(2)
    x = c.tensor(names[0])
    _only_mode(c, "nearest", "nearest resizing by whole numbers (each value repeated)")
    if c.opset >= 11:
        transform = c.attr("coordinate_transformation_mode", "half_pixel", "string")
        nearest = c.attr("nearest_mode", "round_prefer_floor", "string")
        scales, sizes = c.optional_const(2, "scales"), c.optional_const(3, "sizes")
    else:  # Resize-10: asymmetric coordinates, truncated (floor) when upsampling
        transform, nearest = "asymmetric", "floor"
        scales, sizes = c.const(names[1], "scales"), None
    if scales is not None and scales.size == 0:  # an empty scales input stands for none
        scales = None
    if transform not in _COORDINATES or nearest not in _ROUND_UP:
        raise c.error(
            f"coordinate_transformation_mode '{for_message(transform, 24)}' with nearest_mode "
            f"'{for_message(nearest, 24)}' is not supported; nnfx supports nearest resizing "
            "that is pure repetition, such as asymmetric with floor",
            UnsupportedOpError,
        )
    _feature_map(c, x, "resizing")
    factors = _resize_factors(c, x, scales, sizes)
    _emit_upsample(c, x, _whole_scales(c, x, factors), transform, nearest)


def upsample(c: Converter) -> None:
    """ONNX Upsample (opsets 7 to 9): nearest, ``out[i] = in[floor(i / scale)]``."""
    if fold(c):
        return
    names = c.inputs(2) if c.opset >= 9 else c.inputs(1)
    x = c.tensor(names[0])
    _only_mode(c, "nearest", "nearest upsampling by whole numbers (each value repeated)")
    if c.opset >= 9:
        scales = [float(v) for v in c.numbers(names[1], "scales").reshape(-1)]
    else:
        scales = [float(v) for v in c.attr("scales", [], "floats")]
    _feature_map(c, x, "upsampling")
    if len(scales) != len(x.onnx_shape) + 1:
        raise c.error(f"scales {short(scales)} do not fit a tensor of {len(x.onnx_shape) + 1} axes")
    _emit_upsample(c, x, _whole_scales(c, x, scales), "asymmetric", "floor")


def _pad_constant(c: Converter, names: list[str]) -> float:
    if c.opset < 11:
        return float(c.attr("value", 0.0, "float"))
    value = c.optional_const(2, "constant_value")
    if value is None:
        return 0.0
    values = c.numbers(names[2], "constant_value").reshape(-1)
    if values.size != 1:
        raise c.error(f"constant_value holds {values.size} values; expected one")
    return float(values[0])


def pad(c: Converter) -> None:
    """ONNX Pad, mode constant with the value 0, on the spatial axes of a 1-D or 2-D feature
    map."""
    if fold(c):
        return
    names = c.inputs(2, 4) if c.opset >= 11 else c.inputs(1)
    x = c.tensor(names[0])
    _only_mode(c, "constant", "constant padding with zeros")
    value = _pad_constant(c, names)
    if value != 0:
        raise c.error(
            f"padding with the value {for_message(repr(value), 24)} is not supported; nnfx "
            "pads with zeros",
            UnsupportedOpError,
        )
    rank = len(x.onnx_shape) + 1
    if c.opset >= 11:
        pads = c.integers(c.const(names[1], "pads"), "pads")
        given_axes = c.optional_const(3, "axes")
        axes = list(range(rank)) if given_axes is None else c.integers(given_axes, "axes")
    else:
        pads, axes = list(c.attr("pads", [], "ints")), list(range(rank))
    axes = [a % rank if -rank <= a < rank else rank for a in axes]
    if len(pads) != 2 * len(axes) or len(set(axes)) != len(axes) or rank in axes:
        raise c.error(
            f"pads {short(pads)} do not fit a tensor of {rank} axes (axes {short(axes)}): "
            "expected the begins, then the ends, one per axis"
        )
    begins, ends = [0] * rank, [0] * rank
    for k, a in enumerate(axes):
        begins[a], ends[a] = pads[k], pads[k + len(axes)]
    if min(begins + ends) < 0:
        raise c.error(
            f"negative pads {short(pads)} (cropping) are not supported; nnfx pads with zeros",
            UnsupportedOpError,
        )
    if any(begins[:2] + ends[:2]):
        raise c.error(
            f"pads {short(pads)} pad the batch or channel axis; nnfx pads only the spatial axes",
            UnsupportedOpError,
        )
    spatial = _feature_map(c, x, "padding")
    if not any(begins + ends):
        _identity(c, x)
        return
    for p in begins + ends:
        limits.PADS.check(p, c.culprit("its padding"))
    layout = channels_last(spatial + 1)
    attrs = PadAttrs((*begins[2:], *ends[2:]))
    out = c.emit(Op.PAD, [c.in_layout(x, layout)], attrs)
    c.set_output(c.new_value(out, layout))
