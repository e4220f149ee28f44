"""MultiThreshold in both references (docs/semantics.md, "MultiThreshold"): the count of
thresholds reached, per channel (the last axis), then the result for that count."""

from __future__ import annotations

import numpy as np

from nnfx.compiler.ir import Graph, Node
from nnfx.compiler.threshold import levels
from nnfx.runtime.fixed_core import FixedContext


def counts(x: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``#{i : x >= t_ci}`` for ``x`` of shape ``(N, ..., C)`` and thresholds ``(C or 1, B)``."""
    return np.count_nonzero(x[..., None] >= thresholds, axis=-1)


def float_threshold(node: Node, inputs: list[np.ndarray], graph: Graph) -> np.ndarray:
    thresholds = node.constant(graph, "thresholds")
    return levels(node.attrs, thresholds.shape[-1])[counts(inputs[0], thresholds)]


def fixed_threshold(c: FixedContext, inputs: list[np.ndarray]) -> np.ndarray:
    """Codes against codes: the thresholds are on the input's grid (rounded up), so the
    comparison is exact; the result is the stored code for the count."""
    thresholds = c.const("thresholds", c.p.type_of("weight"))
    return c.const("levels", c.out)[counts(inputs[0], thresholds)]
