"""MultiThreshold in the float and the fixed-point ONNX graphs (docs/semantics.md,
"MultiThreshold"): ``GreaterOrEqual`` against the thresholds along a new last axis, the count
reached (``ReduceSum``), and the result for that count (``Gather``)."""

from __future__ import annotations

from onnx import TensorProto

from nnfx.compiler.threshold import levels


def _count(b, x: str, thresholds: str) -> str:
    """``#{i : x >= t_ci}`` as int64, thresholds ``(C or 1, B)`` against ``x[..., None]``."""
    reached = b.op("GreaterOrEqual", [b.op("Unsqueeze", [x, b.ints([-1])]), thresholds])
    cast = b.op("Cast", [reached], "reached", to=TensorProto.INT64)
    return b.op("ReduceSum", [cast, b.ints([-1])], "count", keepdims=0)


def write_float(b, g, node, xs) -> str:
    thresholds = node.constant(g, "thresholds")
    results = b.const(levels(node.attrs, thresholds.shape[-1]), "levels")
    count = _count(b, xs[0], b.const(thresholds, "thresholds"))
    return b.op("Gather", [results, count], "multi_threshold", axis=0)


def write_fixed(e, node, xs) -> str:
    """Codes against codes (the thresholds are on the input's grid, one integer bit wider);
    the stored result code for the count."""
    t = node.precision.weight
    e.check(node, t.width + 1, "the threshold codes")
    count = _count(e.b, xs[0], e.const_raw(node, "thresholds", t, "thresholds"))
    results = e.const_raw(node, "levels", e.type_of(node.outputs[0]), "levels")
    return e.b.op("Gather", [results, count], "multi_threshold", axis=0)
