"""Constant folding: a node whose inputs are all constants is evaluated here, with ONNX's own
reference evaluator, and never reaches the IR (shape computations such as
Shape -> Gather -> Concat -> Reshape, constant subgraphs of exporters).

The batch size is unknown while converting: :data:`~nnfx.frontends.context.BATCH` stands for it,
and only ops that move values around may carry it. ConstantOfShape and Expand to a shape that
holds it (exporters' zero initial states, ``Shape -> Gather(0) -> Unsqueeze -> Concat ->
ConstantOfShape``) give a constant of size 1 on that axis, marked ``batch_axis``: it broadcasts
like the batch, and element-wise arithmetic and Transpose carry it along.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from nnfx import limits
from nnfx.compiler.ir import for_message
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import BATCH, Converter, Value, first_line

# Ops that only move values around: they may carry the batch-size placeholder of a folded Shape.
VALUE_MOVERS = {
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Slice",
    "Split",
    "Cast",
    "Reshape",
    "Identity",
    "Flatten",
    "Transpose",
}


# Ops that keep a tensor shaped like the batch (``Value.batch_axis``) shaped like the batch.
BATCH_CARRIERS = {"Add", "Sub", "Mul", "Div", "Neg", "Cast", "Identity", "Expand", "Transpose"}


def _batch_shape(c: Converter, arrays: list, index: int) -> tuple[list, int | None]:
    """The shape input ``index`` of ConstantOfShape/Expand with the batch size replaced by 1,
    and where it was (None where it holds none)."""
    if len(arrays) <= index or arrays[index] is None or arrays[index].dtype != np.int64:
        return arrays, None
    shape = np.asarray(arrays[index]).reshape(-1)
    where = np.flatnonzero(shape == BATCH)
    if where.size == 0:
        return arrays, None
    if where.size > 1:
        raise c.error(
            "a shape that holds the batch size twice is not supported", UnsupportedOpError
        )
    arrays = list(arrays)
    arrays[index] = np.where(shape == BATCH, 1, shape).astype(np.int64)
    return arrays, int(where[0])


def _carried_axis(c: Converter, inputs: list, result: np.ndarray, axis: int | None) -> int | None:
    """Where the batch axis of the inputs (or of the shape, ``axis``) lands in the result."""
    if axis is not None:  # Expand: the shape aligns to the right of the result
        shape_len = int(np.asarray(c.value(c.onnx_node.input[1]).const).size)
        return result.ndim - shape_len + axis
    for v in inputs:
        if v is not None and v.batch_axis is not None:
            if c.onnx_node.op_type == "Transpose":
                perm = c.attr("perm", list(reversed(range(result.ndim))), "ints")
                return list(perm).index(v.batch_axis)
            return result.ndim - v.const.ndim + v.batch_axis
    return None


def fold(c: Converter) -> bool:
    """Evaluate a node whose inputs are all constants; True when it was folded."""
    node = c.onnx_node
    inputs = [c.value(i) if i else None for i in node.input]
    if not all(v is None or v.is_const for v in inputs):
        return False
    arrays = [None if v is None else v.const for v in inputs]
    batch_axis = None
    if node.op_type in ("ConstantOfShape", "Expand"):
        arrays, batch_axis = _batch_shape(c, arrays, 0 if node.op_type == "ConstantOfShape" else 1)
    batched = batch_axis is not None or any(
        v is not None and v.batch_axis is not None for v in inputs
    )
    if batched and node.op_type not in BATCH_CARRIERS | {"ConstantOfShape"}:
        raise c.error(
            "a tensor shaped like the batch (from ConstantOfShape or Expand) is supported only "
            "in element-wise arithmetic and as a constant operand",
            UnsupportedOpError,
        )
    has_batch = any(a is not None and a.dtype == np.int64 and np.any(a == BATCH) for a in arrays)
    if has_batch and node.op_type not in VALUE_MOVERS:
        raise c.error("arithmetic on the batch size is not supported", UnsupportedOpError)
    limits.TENSOR_ELEMENTS.check(_folded_size(c, arrays), c.culprit("its constant result"))
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if a is not None else "" for i, a in enumerate(arrays)]
    single = onnx.helper.make_node(
        node.op_type,
        names,
        list(node.output),
        domain=node.domain,
        **{a.name: onnx.helper.get_attribute_value(a) for a in node.attribute},
    )
    graph = onnx.helper.make_graph(
        [single],
        "fold",
        [
            onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None)
            for n in names
            if n
        ],
        [
            onnx.helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None)
            for o in node.output
            if o
        ],
    )
    model = onnx.helper.make_model(graph, opset_imports=c.model.opset_import)
    feeds = {n: a for n, a in zip(names, arrays, strict=True) if n}
    try:
        results = ReferenceEvaluator(model).run(None, feeds)
    except Exception as e:  # noqa: BLE001  (ONNX's evaluator on whatever the file holds)
        message = for_message(first_line(e), 200)
        raise c.error(f"folding its constant inputs failed ({message})") from None
    for index, result in enumerate(results):
        result = np.asarray(result)
        limits.TENSOR_ELEMENTS.check(result.size, c.culprit("its constant result"))
        carried = None
        if batched:
            carried = (
                batch_axis
                if node.op_type == "ConstantOfShape"
                else _carried_axis(c, inputs, result, batch_axis)
            )
        c.set_output(Value(const=result, batch_axis=carried), index)
    return True


def _folded_size(c: Converter, arrays: list) -> int:
    """An upper bound of the elements a folded op produces, known before it runs: the ops
    that make arrays from numbers (ConstantOfShape, Range) are bounded by those numbers.
    0 where the inputs make no sense: ONNX's evaluator then refuses them."""
    op = c.onnx_node.op_type
    given = [a for a in arrays if a is not None]
    try:
        if op == "ConstantOfShape" and given:
            total = 1
            for d in np.asarray(given[0]).reshape(-1):
                total = min(total * max(int(d), 0), 2**62)
            return total
        if op == "Range" and len(given) == 3:
            start, limit, delta = (float(np.asarray(a).reshape(-1)[0]) for a in given)
            return max(0, math.ceil((limit - start) / delta))
        if op == "Gather" and len(given) == 2:
            return int(given[0].size) * int(given[1].size)
        if op in ("Add", "Sub", "Mul", "Div", "Equal", "Where"):
            return math.prod(np.broadcast_shapes(*(a.shape for a in given)))
    except (ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError):
        return 0
    return sum(int(a.size) for a in given)
