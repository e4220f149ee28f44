"""QONNX's (and FINN's) ``MultiThreshold``: ``y = out_bias + out_scale * #{i : x >= t_ci}``
(docs/semantics.md, "MultiThreshold").

The channel axis is qonnx's: ``data_layout``'s ``C`` when given, else by rank (``NC``, ``NWC``,
``NCHW``; axis 1 beyond). The IR's threshold op counts along the value's last axis, so the
input is laid out with that axis last. The model fixes two types: the output's, the narrowest
that holds every result ``bias + scale k`` exactly (when one of at most 62 bits does), and,
where the input is computed by a node that quantizes an exact value once and read only here,
the input's: the thresholds' grid, flooring (``floor(v) >= t`` exactly when ``v >= t`` for a
``t`` on the grid), one integer bit beyond every threshold.
"""

from __future__ import annotations

import numpy as np

from nnfx.compiler.fixed import MAX_WIDTH, FixedType
from nnfx.compiler.ir import FLOAT, for_message
from nnfx.compiler.model_types import exact_constant_type
from nnfx.compiler.ops import Op
from nnfx.compiler.threshold import ThresholdAttrs, levels
from nnfx.frontends.context import Converter
from nnfx.frontends.ops_bipolar import keep_sign
from nnfx.frontends.ops_quant import _refuse

RANK_LAYOUTS = {2: "NC", 3: "NWC", 4: "NCHW"}


def _channel_axis(c: Converter, rank: int) -> int:
    """The ONNX axis of the channels, as qonnx's execution finds it."""
    layout = str(c.attr("data_layout", "", "string"))
    if not layout:
        layout = RANK_LAYOUTS.get(rank, "")
    elif len(layout) != rank:
        raise c.error(
            f"data_layout '{for_message(layout, 20)}' does not match its input of rank {rank}"
        )
    return layout.index("C") if "C" in layout else 1


def _unsigned_if_possible(t: FixedType | None, values: np.ndarray) -> FixedType | None:
    if t is None or t.width < 2 or values.min() < 0:
        return t
    return FixedType(t.width - 1, t.integer - 1, False, t.rounding, t.overflow)


def _floor_type(thresholds: np.ndarray) -> FixedType | None:
    """The flooring input type on the thresholds' grid, one integer bit beyond them."""
    t = exact_constant_type(thresholds)
    if t is None or t.width + 1 > MAX_WIDTH:
        return None
    return FixedType(t.width + 1, t.integer + 1, True, "TRN", "SAT")


def multi_threshold(c: Converter) -> None:
    x_name, t_name = c.inputs(2)
    thresholds = c.numbers(t_name, "thresholds")
    if thresholds.ndim != 2 or thresholds.shape[1] < 1:
        raise c.error(
            f"thresholds of shape {list(thresholds.shape)} must be (channels or 1, steps) "
            "with at least one step"
        )
    if not np.isfinite(thresholds).all():
        raise _refuse(c, "an infinite threshold is not supported; use a large finite one")
    attrs = ThresholdAttrs(
        float(c.attr("out_scale", 1.0, "float")), float(c.attr("out_bias", 0.0, "float"))
    )
    x = c.tensor(x_name)
    rank = len(x.onnx_shape) + 1
    if rank < 2:
        raise _refuse(c, "an input without a channel axis (rank 1) is not supported")
    axis = _channel_axis(c, rank)
    if not 1 <= axis < rank:
        raise _refuse(c, f"channel axis {axis} is the batch axis or beyond the input's rank")
    channels = x.onnx_shape[axis - 1]
    if thresholds.shape[0] not in (1, channels):
        raise c.error(
            f"has {thresholds.shape[0]} rows of thresholds for {channels} channels; expected "
            f"{channels} or 1"
        )
    floor = _floor_type(thresholds)
    if floor is not None:
        x = keep_sign(c, x_name, x, floor)
    sample = axis - 1
    perm = x.perm
    if thresholds.shape[0] > 1 and x.perm[-1] != sample:
        perm = (*(a for a in x.perm if a != sample), sample)
    tensor = c.in_layout(x, perm)
    out_type = _unsigned_if_possible(
        exact_constant_type(levels(attrs, thresholds.shape[1])),
        levels(attrs, thresholds.shape[1]),
    )
    dtype = out_type or FLOAT
    out = c.emit(Op.THRESHOLD, [tensor], attrs, {"thresholds": thresholds}, dtype=dtype)
    c.set_output(c.new_value(out, perm, dtype=dtype))
