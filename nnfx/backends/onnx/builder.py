"""The ONNX graph builder shared by both exports: unique readable names, the layout
transposes at the model boundary, and an atomic save."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnfx.compiler.layout import model_shape

OPSET = 17


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-/" else "_" for c in name)


class Builder:
    """Collects nodes and initializers with unique, readable names."""

    def __init__(self, dtype: int):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.names: set[str] = set()
        self.dtype = dtype
        self.np_dtype = np.float64 if dtype == TensorProto.DOUBLE else np.float32
        self.scope = ""
        self.inexact: list[str] = []  # float32 constants that would change or leave the range
        self.short_forms = True  # the shorter exact forms of nnfx issue #16 (quantize.py)

    def set_dtype(self, dtype: int) -> None:
        """The element type of the codes (``TensorProto.DOUBLE`` or ``FLOAT``) for the nodes
        and constants that follow."""
        self.dtype = dtype
        self.np_dtype = np.float64 if dtype == TensorProto.DOUBLE else np.float32

    def fresh(self, base: str) -> str:
        base = _safe(f"{self.scope}/{base}" if self.scope else base)
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def const(self, value, base: str = "c", dtype=None) -> str:
        name = self.fresh(base)
        array = np.asarray(value, dtype=dtype or self.np_dtype)
        if array.dtype == np.float32 and not _float32_safe(np.asarray(value, np.float64)):
            self.inexact.append(name)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, values, base: str = "axes") -> str:
        return self.const(np.asarray(values, dtype=np.int64), base, np.int64)

    def op(self, op_type: str, inputs: list[str], base: str | None = None, **attrs) -> str:
        out = self.fresh(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def _float32_safe(value: np.ndarray) -> bool:
    """True when float32 holds ``value`` exactly and its non-zero finite entries lie in
    ``[2**-60, 2**64]``: a code below ``2**25`` times such a constant stays a normal float32
    (no underflow, no overflow), so scaling by it is exact."""
    if not np.array_equal(value.astype(np.float32).astype(np.float64), value, equal_nan=True):
        return False
    size = np.abs(value[np.isfinite(value) & (value != 0)])
    return bool(np.all((size >= 2.0**-60) & (size <= 2.0**64)))


def _transpose(b: Builder, x: str, perm: tuple[int, ...], base: str) -> str:
    """A Transpose node, or nothing when the permutation is the identity."""
    if list(perm) == sorted(perm):
        return x
    return b.op("Transpose", [x], base, perm=list(perm))


def slice_op(b: Builder, attrs, x: str) -> str:
    """An IR Slice (``SliceAttrs``) as ONNX's Slice on the batched tensor, in both exports."""
    starts, ends = b.ints([attrs.start], "starts"), b.ints([attrs.end], "ends")
    return b.op("Slice", [x, starts, ends, b.ints([attrs.axis + 1], "axes")], "slice")


def _model_shape(t) -> list:
    return list(model_shape(t.shape, t.onnx_perm, t.batch_axis, "N"))


def save(model: onnx.ModelProto, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        onnx.save(model, str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
