"""The converter of ONNX ``LayerNormalization`` (opset 17): normalization over the last axis,
an IR ``LayerNorm`` node with its scale and bias constants (docs/semantics.md)."""

from __future__ import annotations

import math

import numpy as np

from nnfx.compiler.ops import LayerNormAttrs, Op
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter


def _per_feature(c: Converter, index: int, what: str, n: int, default: float) -> np.ndarray:
    """Scale (``index`` 1) or bias (2): one value per feature, or one for all."""
    node = c.onnx_node
    if len(node.input) <= index or not node.input[index]:
        return np.full(n, default)
    values = c.numbers(node.input[index], what)
    if values.size not in (1, n) or (values.ndim and values.shape[-1] not in (1, n)):
        raise c.error(
            f"{what} of shape {values.shape} does not fit the {n} normalized values",
            UnsupportedOpError,
        )
    if not np.all(np.isfinite(values)):
        raise c.error(f"{what} '{node.input[index]}' holds a value that is not finite")
    return np.broadcast_to(values.reshape(-1), (n,)).copy()


def layer_normalization(c: Converter) -> None:
    """LayerNormalization over the last axis (``axis=-1`` or its positive form); stash_type is
    ignored (nnfx computes in float64 or exactly); the Mean and InvStdDev outputs may exist
    but nothing may read them."""
    x = c.tensor(c.inputs(2, 3)[0])
    sample = x.onnx_shape
    rank = len(sample) + 1
    axis = c.attr("axis", -1, "int")
    if not -rank <= axis < rank or axis % rank != rank - 1 or not sample:
        raise c.error(
            f"normalization from axis {axis} of a rank-{rank} input is not supported; nnfx "
            "normalizes over the last axis only (axis=-1)",
            UnsupportedOpError,
        )
    for k, what in ((1, "Mean"), (2, "InvStdDev")):
        outputs = c.onnx_node.output
        if len(outputs) > k and outputs[k] and c.readers(outputs[k]):
            raise c.error(
                f"its {what} output is read by another node; nnfx computes only the normalized "
                "output Y",
                UnsupportedOpError,
            )
    epsilon = float(c.attr("epsilon", 1e-5, "float"))
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise c.error(f"epsilon {epsilon} must be a finite number >= 0")
    n = sample[-1]
    scale = _per_feature(c, 1, "scale", n, 1.0)
    bias = _per_feature(c, 2, "bias", n, 0.0)
    last = len(sample) - 1
    perm = x.perm if x.perm[-1] == last else (*(a for a in x.perm if a != last), last)
    tensor = c.in_layout(x, perm)
    attrs = LayerNormAttrs(size=n, epsilon=epsilon)
    out = c.emit(Op.LAYER_NORM, [tensor], attrs, {"scale": scale, "bias": bias})
    c.set_output(c.new_value(out, perm))
