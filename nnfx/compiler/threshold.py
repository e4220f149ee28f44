"""MultiThreshold (QONNX/FINN): ``y = out_bias + out_scale * #{i : x >= t_ci}`` with ``B``
thresholds per channel (the value's last IR axis) or one row for every channel
(docs/semantics.md, "MultiThreshold"). Its attributes and shape rule (:mod:`nnfx.compiler.ops`
tables them) and its precision rule: the thresholds become codes of the input's grid,
rounded up, so that comparing codes is comparing values; the ``B + 1`` results are a table.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nnfx.compiler.fixed import MAX_WIDTH, FixedType
from nnfx.errors import ModelError, PrecisionError

if TYPE_CHECKING:  # the IR imports this module (ops.py tables its attributes)
    from nnfx.compiler.ir import Node

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ThresholdAttrs:
    """``out_scale`` and ``out_bias`` map the count ``k`` in ``[0, B]`` to ``bias + scale k``;
    the thresholds are the node's ``thresholds`` constant of shape ``(C, B)`` or ``(1, B)``."""

    out_scale: float = 1.0
    out_bias: float = 0.0

    def __post_init__(self):
        if not (math.isfinite(self.out_scale) and math.isfinite(self.out_bias)):
            raise ModelError(
                f"MultiThreshold out_scale {self.out_scale} and out_bias {self.out_bias} must "
                "be finite"
            )


def threshold_shape(shapes: list[Shape], a: ThresholdAttrs) -> Shape:
    (shape,) = shapes
    return shape


def levels(a: ThresholdAttrs, steps: int) -> np.ndarray:
    """The ``B + 1`` results ``bias + scale k``, in float64."""
    return a.out_bias + a.out_scale * np.arange(steps + 1, dtype=np.float64)


def threshold_type(x: FixedType) -> FixedType:
    """The thresholds' type: ``x``'s grid, one integer bit more, rounding up, saturating. A
    threshold ``t`` becomes ``T = ceil(t 2^F)`` clamped to the wider type's codes, which reach
    beyond ``x``'s at both ends, and ``x >= t`` exactly when ``X >= T`` for every code ``X``:
    above every code it is never reached, below every code always."""
    if x.width + 1 > MAX_WIDTH:
        raise PrecisionError(f"MultiThreshold input type {x} is too wide for its thresholds")
    return FixedType(x.width + 1, x.integer + 1, x.signed, "CEIL", "SAT")


def assign(assigner, node: Node, in_types, out_type: FixedType) -> Node:
    """Precision rule: the thresholds on the input's grid (:func:`threshold_type`), the
    ``B + 1`` results quantized once to the output type (saturating to its codes)."""
    from nnfx.compiler.ir import LayerPrecision
    from nnfx.compiler.tables import saturating

    x = in_types[0]
    if not isinstance(x, FixedType):
        raise PrecisionError(f"MultiThreshold '{node.name}' needs a fixed-point input, got {x}")
    t = threshold_type(x)
    thresholds = node.constant(assigner.graph, "thresholds")
    results = levels(node.attrs, thresholds.shape[-1])
    params = {
        "thresholds": assigner.store(node, "thresholds", thresholds, t),
        "levels": assigner.store(node, "levels", results, saturating(out_type)),
    }
    return dataclasses.replace(node, params=params, precision=LayerPrecision(weight=t))
