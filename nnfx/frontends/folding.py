"""Constant folding: a node whose inputs are all constants is evaluated here, with ONNX's own
reference evaluator, and never reaches the IR (shape computations such as
Shape -> Gather -> Concat -> Reshape, constant subgraphs of exporters).

The batch size is unknown while converting: :data:`~nnfx.frontends.context.BATCH` stands for it,
and only ops that move values around may carry it.
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
    "Cast",
    "Reshape",
    "Identity",
    "Flatten",
    "Transpose",
}


def fold(c: Converter) -> bool:
    """Evaluate a node whose inputs are all constants; True when it was folded."""
    node = c.onnx_node
    inputs = [c.value(i) if i else None for i in node.input]
    if not all(v is None or v.is_const for v in inputs):
        return False
    arrays = [None if v is None else v.const for v in inputs]
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
        c.set_output(Value(const=result), index)
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
