"""Converters of the ops that move values without arithmetic: Identity, Dropout, Cast and
Constant; the shape and layout ops (Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Concat);
Shape and the ops nnfx supports on constants only (shape computations, folded)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from nnfx.compiler.ir import FLOAT, for_message, short
from nnfx.compiler.layout import compose, inverse
from nnfx.compiler.ops import ConcatAttrs, NoAttrs, Op, ReshapeAttrs
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import (
    BATCH,
    CONSTANT_TYPES,
    MAX_RANK,
    Converter,
    ConverterFn,
    Value,
    tensor_array,
)
from nnfx.frontends.folding import fold


def _identity_of(c: Converter, v: Value) -> None:
    """The output equals the input: an IR Identity node (remove_identity drops it later), or
    the same constant."""
    if v.is_const:
        c.set_output(v)
        return
    out = c.emit(Op.IDENTITY, [v.tensor], NoAttrs(), dtype=v.dtype)
    c.set_output(c.new_value(out, v.perm, dtype=v.dtype))


def alias(c: Converter) -> None:
    """Identity and Dropout (which is the identity at inference)."""
    node = c.onnx_node
    c.inputs(1, 3)
    _identity_of(c, c.value(node.input[0]))
    for extra in node.output[1:]:
        if extra:  # Dropout's mask: nothing may read it at inference
            c.values[extra] = Value(const=np.ones(c.value(node.input[0]).onnx_shape, bool))


def cast(c: Converter) -> None:
    v = c.value(c.inputs(1)[0])
    to = c.attr("to", kind="int")
    if to not in CONSTANT_TYPES:
        raise c.error(
            f"a cast to data type {to} is not supported; expected float, double, float16, "
            "bool or an integer type",
            UnsupportedOpError,
        )
    np_type = CONSTANT_TYPES[to]
    if v.is_const:
        c.set_output(Value(const=v.const.astype(np_type)))
        return
    floating = np.issubdtype(np_type, np.floating)
    if floating != (v.dtype == FLOAT):
        raise c.error(
            f"a cast from {v.dtype} to {np.dtype(np_type)} of computed data is not "
            "supported; nnfx supports float-to-float and int-to-int casts",
            UnsupportedOpError,
        )
    _identity_of(c, v)


def constant(c: Converter) -> None:
    kinds = {
        "value": "tensor",
        "value_float": "float",
        "value_int": "int",
        "value_floats": "floats",
        "value_ints": "ints",
    }
    for a in c.onnx_node.attribute:
        if a.name not in kinds:
            raise c.error(
                f"Constant attribute '{for_message(a.name)}' is not supported", UnsupportedOpError
            )
        value = c.attr(a.name, kind=kinds[a.name])
        if a.name == "value":
            c.set_output(Value(const=tensor_array(value, c.culprit("its value"))))
        else:
            c.set_output(Value(const=np.array(value)))
        return
    raise c.error("Constant node has no value")


def flatten(c: Converter) -> None:
    v = c.value(c.inputs(1)[0])
    if v.is_const:
        fold(c)
        return
    axis = c.attr("axis", 1, "int") % (len(v.onnx_shape) + 1)
    if axis == 0 and c.batch_one:  # a batch of 1 in the file: axis 0 is axis 1 (Keras habit)
        axis = 1
    if axis != 1:
        raise c.error(
            f"Flatten with axis={axis} is not supported; nnfx keeps the batch axis apart (axis=1)",
            UnsupportedOpError,
        )
    tensor = c.in_layout(v, tuple(range(len(v.onnx_shape))))
    out = c.emit(Op.FLATTEN, [tensor], NoAttrs(), dtype=v.dtype)
    c.set_output(c.new_value(out, (0,), dtype=v.dtype))


def _reshape_target(c: Converter, v: Value, target: np.ndarray) -> tuple[int, ...]:
    target = c.integers(np.asarray(target), "the target shape")
    if len(target) > MAX_RANK:
        raise c.error(
            f"Reshape to {len(target)} axes is not supported; nnfx supports up to {MAX_RANK}",
            UnsupportedOpError,
        )
    allow_zero = c.attr("allowzero", 0, "int")
    full = (BATCH, *v.onnx_shape)
    if not allow_zero:
        target = [full[i] if t == 0 and i < len(full) else t for i, t in enumerate(target)]
    size = math.prod(v.onnx_shape)
    first, rest = (target[0], target[1:]) if target else (None, [])
    if first not in (BATCH, -1) and not (first is not None and first > 0):
        raise c.error(f"Reshape to {short(target)} must keep the batch axis first")
    if first == -1:
        if -1 in rest or any(t <= 0 for t in rest) or math.prod(rest) != size:
            raise c.error(
                f"Reshape to {short(target)} does not keep the batch axis apart; "
                f"each sample has {size} values",
                UnsupportedOpError,
            )
    elif first not in (BATCH, 1) and -1 not in rest and math.prod(rest) * first == size:
        # A leading 1 is the batch axis of a batch-1 export ([1, N]); any other size merges.
        raise c.error(
            f"Reshape to {short(target)} merges the batch axis into the sample",
            UnsupportedOpError,
        )
    if rest.count(-1) > 1:
        raise c.error(f"Reshape to {short(target)} has more than one -1")
    if -1 in rest:
        known = math.prod(t for t in rest if t != -1)
        rest = [size // known if t == -1 and known > 0 else t for t in rest]
    if any(t < 1 for t in rest):
        raise c.error(f"Reshape to {short(target)}: every axis of a sample needs a size")
    if math.prod(rest) != size:
        raise c.error(
            f"Reshape to {short(target)}: {math.prod(rest)} values per sample, the input has {size}"
        )
    return tuple(rest)


def reshape(c: Converter) -> None:
    x_name, shape_name = c.inputs(2)
    v = c.value(x_name)
    if v.is_const:
        fold(c)
        return
    shape = _reshape_target(c, v, c.const(shape_name, "shape"))
    tensor = c.in_layout(v, tuple(range(len(v.onnx_shape))))
    out = c.emit(Op.RESHAPE, [tensor], ReshapeAttrs(shape), dtype=v.dtype)
    c.set_output(c.new_value(out, tuple(range(len(shape))), dtype=v.dtype))


def squeeze_unsqueeze(op_type: str) -> ConverterFn:
    def convert(c: Converter) -> None:
        if fold(c):
            return
        v = c.value(c.inputs(1, 2)[0])
        if v.is_const:
            c.tensor(c.onnx_node.input[0])  # refused: computed data is expected
        axes = c.optional_const(1, "axes")
        axes = [] if axes is None else c.integers(axes, "axes")
        full = [BATCH, *v.onnx_shape]
        if op_type == "Squeeze":
            rank = len(full)
            axes = [a % rank for a in axes] or [i for i, d in enumerate(full) if d == 1]
            if 0 in axes:
                raise c.error("squeezing the batch axis is not supported", UnsupportedOpError)
            shape = [d for i, d in enumerate(full) if i not in axes][1:]
        else:
            rank = len(full) + len(axes)
            axes = sorted(a % rank for a in axes)
            if len(set(axes)) != len(axes):
                raise c.error(f"axes {short(axes)} repeat an axis")
            if 0 in axes:
                raise c.error(
                    "unsqueezing before the batch axis is not supported", UnsupportedOpError
                )
            it = iter(full)
            shape = [1 if i in axes else next(it) for i in range(rank)][1:]
        if op_type == "Squeeze" and _undo_unsqueeze(c, v, tuple(shape)):
            return
        tensor = c.in_layout(v, tuple(range(len(v.onnx_shape))))
        out = c.emit(Op.RESHAPE, [tensor], ReshapeAttrs(tuple(shape)), dtype=v.dtype)
        c.set_output(c.new_value(out, tuple(range(len(shape))), dtype=v.dtype))

    return convert


def _undo_unsqueeze(c: Converter, v: Value, shape: tuple[int, ...]) -> bool:
    """A Squeeze that undoes an Unsqueeze with only BatchNorm-like affine maps between (PyTorch
    0.3's BatchNorm1d: Gemm -> Unsqueeze -> BatchNormalization -> Squeeze): the affine maps
    move onto the tensor before the Unsqueeze and both reshapes vanish, so that fold_batchnorm
    folds them into the Dense as everywhere else. True when it did."""
    producers = {n.outputs[0]: n for n in c.nodes}
    chain, node = [], producers.get(v.tensor)
    while node is not None and node.op is Op.BATCH_NORM:
        chain.append(node)
        node = producers.get(node.inputs[0])
    if (
        not chain
        or node is None
        or node.op is not Op.RESHAPE
        or v.perm != tuple(range(len(v.perm)))
    ):
        return False
    source = node.inputs[0]
    if c.tensors[source].shape != shape or any(len(n.outputs) != 1 for n in chain):
        return False
    inner = [node.outputs[0], *(n.outputs[0] for n in reversed(chain))]
    read = [i for n in c.nodes for i in n.inputs]
    if any(read.count(t) != (1 if t != inner[-1] else 0) for t in inner):
        return False  # another IR node reads one of them
    keys = [k for k, val in c.values.items() if val.tensor in inner]
    if any(c.readers(k) != 1 for k in keys):
        return False  # a later ONNX node (or a graph output) reads one of them
    chain.reverse()  # in data order
    c.nodes.remove(node)
    del c.tensors[node.outputs[0]]
    previous = source
    for n in chain:
        for role in ("scale", "bias"):
            key = n.params[role]
            full = np.broadcast_to(c.constants[key], c.tensors[n.outputs[0]].shape).reshape(shape)
            flat = full.reshape(-1, full.shape[-1]) if full.ndim else full.reshape(1, 1)
            per_channel = np.all(flat == flat[:1])
            c.constants[key] = np.ascontiguousarray(flat[0] if per_channel else full)
        t = c.tensors[n.outputs[0]]
        c.tensors[n.outputs[0]] = dataclasses.replace(t, shape=shape)
        c.nodes[c.nodes.index(n)] = dataclasses.replace(n, inputs=(previous, *n.inputs[1:]))
        previous = n.outputs[0]
    c.set_output(c.new_value(previous, tuple(range(len(shape))), dtype=v.dtype))
    return True


def transpose(c: Converter) -> None:
    v = c.value(c.inputs(1)[0])
    if v.is_const:
        fold(c)
        return
    rank = len(v.onnx_shape) + 1
    perm = tuple(c.attr("perm", list(reversed(range(rank))), "ints"))
    if sorted(perm) != list(range(rank)):
        raise c.error(
            f"perm {short(perm)} is not a permutation of the input's {rank} axes (batch included)"
        )
    if perm[0] != 0:
        raise c.error(
            f"Transpose perm {short(perm)} moves the batch axis; nnfx supports layout "
            "changes that keep the batch axis first",
            UnsupportedOpError,
        )
    sample = tuple(p - 1 for p in perm[1:])  # out_sample = in_sample.transpose(sample)
    # ir = in_sample.transpose(v.perm) = out_sample.transpose(compose(inverse(sample), v.perm))
    new_perm = compose(inverse(sample), v.perm)
    c.set_output(Value(v.tensor, new_perm, tuple(v.onnx_shape[i] for i in sample), dtype=v.dtype))


def concat(c: Converter) -> None:
    if fold(c):
        return
    values = [c.tensor(n) for n in c.inputs(1, 1 << 16)]
    rank = len(values[0].onnx_shape) + 1
    axis = c.attr("axis", None, "int")
    if axis is None:
        raise c.error("needs the attribute 'axis'")
    axis %= rank
    if axis == 0:
        raise c.error("concatenation along the batch axis is not supported", UnsupportedOpError)
    first = values[0].onnx_shape
    for v in values[1:]:
        shape = v.onnx_shape
        if len(shape) != len(first) or any(
            a != b for i, (a, b) in enumerate(zip(shape, first, strict=True)) if i != axis - 1
        ):
            raise c.error(
                f"inputs of shapes (batch, {', '.join(map(str, first))}) and "
                f"(batch, {', '.join(map(str, shape))}) do not concatenate along axis {axis}"
            )
    perm = values[0].perm
    tensors = [c.in_layout(v, perm) for v in values]
    out = c.emit(Op.CONCAT, tensors, ConcatAttrs(perm.index(axis - 1)))
    c.set_output(c.new_value(out, perm))


def shape_of(c: Converter) -> None:
    v = c.value(c.inputs(1)[0])
    if v.is_const and v.batch_axis is not None:  # a tensor shaped like the batch
        full = np.array(v.const.shape, dtype=np.int64)
        full[v.batch_axis] = BATCH
        start, end = c.attr("start", 0, "int"), c.attr("end", None, "int")
        c.set_output(Value(const=full[start:end]))
        return
    if v.is_const:
        fold(c)
        return
    axis = 0  # where the batch stands in this value's ONNX array
    tensor = c.tensors.get(v.tensor) if v.tensor is not None else None
    if tensor is not None and tensor.batch_axis not in (None, 0):  # a time-major graph input
        if c.input_values.get(c.inputs(1)[0]) != v.tensor:
            raise c.error(
                "the shape of a time-major input after a layout change is not supported",
                UnsupportedOpError,
            )
        axis = tensor.batch_axis
    full = np.array([*v.onnx_shape[:axis], BATCH, *v.onnx_shape[axis:]], dtype=np.int64)
    start, end = c.attr("start", 0, "int"), c.attr("end", None, "int")
    c.set_output(Value(const=full[start:end]))


def expand(c: Converter) -> None:
    """Expand: folded on constants (a shape holding the batch size gives a tensor shaped like
    the batch); on computed data, only where it leaves each sample's shape as it is."""
    x_name, shape_name = c.inputs(2)
    if fold(c):
        return
    v = c.tensor(x_name)
    target = c.integers(c.const(shape_name, "shape"), "the shape")
    target = [1 if t == BATCH else t for t in target]
    try:
        out = np.broadcast_shapes((1, *v.onnx_shape), tuple(target))
    except ValueError:
        raise c.error(
            f"shape {short(target)} does not broadcast against "
            f"(batch, {', '.join(map(str, v.onnx_shape))})"
        ) from None
    if tuple(out) != (1, *v.onnx_shape):
        raise c.error(
            f"Expand of computed data of shape (batch, {', '.join(map(str, v.onnx_shape))}) "
            f"to {short(target)} is not supported; nnfx supports it only where it changes "
            "no sample's shape",
            UnsupportedOpError,
        )
    _identity_of(c, v)


def constant_only(c: Converter) -> None:
    if not fold(c):
        raise c.error(
            "this op is supported on constants only (shape computations), not on computed data",
            UnsupportedOpError,
        )
