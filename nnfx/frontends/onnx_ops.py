"""One small converter per ONNX op, in one table (:data:`CONVERTERS`).

A converter reads the current ONNX node through the :class:`Converter` (its inputs as IR
values or constants, its attributes), emits IR nodes, and binds the node's outputs. Ops whose
inputs are all constants are folded here and never reach the IR.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import onnx

from nnfx import limits
from nnfx.compiler.ir import FLOAT, INTEGER, for_message, short
from nnfx.compiler.ops import (
    ActivationAttrs,
    ArgMaxAttrs,
    ConcatAttrs,
    ConvAttrs,
    DenseAttrs,
    NoAttrs,
    Op,
    PoolAttrs,
    ReshapeAttrs,
    SoftmaxAttrs,
    pooled_length,
)
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.onnx import (
    BATCH,
    CONSTANT_TYPES,
    MAX_RANK,
    Converter,
    Value,
    channels_last,
    compose,
    inverse,
    tensor_array,
)

ConverterFn = Callable[[Converter], None]


def _inputs(c: Converter) -> list[str]:
    return list(c.onnx_node.input)


def _identity_of(c: Converter, v: Value) -> None:
    """The output equals the input: an IR Identity node (remove_identity drops it later), or
    the same constant."""
    if v.is_const:
        c.set_output(v)
        return
    out = c.emit(Op.IDENTITY, [v.tensor], NoAttrs(), dtype=v.dtype)
    c.set_output(c.new_value(out, v.perm, dtype=v.dtype))


def _alias(c: Converter) -> None:
    """Identity and Dropout (which is the identity at inference)."""
    node = c.onnx_node
    c.inputs(1, 3)
    _identity_of(c, c.value(node.input[0]))
    for extra in node.output[1:]:
        if extra:  # Dropout's mask: nothing may read it at inference
            c.values[extra] = Value(const=np.ones(c.value(node.input[0]).onnx_shape, bool))


def _cast(c: Converter) -> None:
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


def _constant(c: Converter) -> None:
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


# -- linear layers ---------------------------------------------------------------------------
def _vector_input(c: Converter, name: str) -> Value:
    v = c.tensor(name)
    if len(v.onnx_shape) != 1:
        raise c.error(
            f"input '{for_message(name)}' has shape (batch, {', '.join(map(str, v.onnx_shape))}); "
            "nnfx supports this op on (batch, features) only — flatten first",
            UnsupportedOpError,
        )
    return v


def _dense(c: Converter, x: Value, weight: np.ndarray, bias: np.ndarray | None) -> None:
    n_in, n_out = weight.shape
    if n_in != x.onnx_shape[0]:
        raise c.error(
            f"weight of shape {weight.shape} does not fit {n_in} != "
            f"{x.onnx_shape[0]} input features"
        )
    params = {"weight": weight}
    if bias is not None:
        params["bias"] = np.broadcast_to(
            np.asarray(bias, np.float64).reshape(-1) if np.size(bias) in (1, n_out) else bias,
            (n_out,),
        )
    out = c.emit(Op.DENSE, [x.tensor], DenseAttrs(n_in, n_out), params)
    c.set_output(c.new_value(out, (0,)))


def _gemm(c: Converter) -> None:
    a_name, b_name, *rest = c.inputs(2, 3)
    if c.attr("transA", 0, "int"):
        raise c.error(
            "transA=1 is not supported; expected the data as the first input", UnsupportedOpError
        )
    x = _vector_input(c, a_name)
    weight = c.numbers(b_name, "weight")
    if weight.ndim != 2:
        raise c.error(
            f"weight '{for_message(b_name)}' has shape {weight.shape}; expected a 2-D matrix"
        )
    if c.attr("transB", 0, "int"):
        weight = weight.T
    weight = weight * c.attr("alpha", 1.0, "float")
    bias = c.optional_const(2, "bias")
    if bias is not None:
        bias = c.numbers(c.onnx_node.input[2], "bias") * c.attr("beta", 1.0, "float")
        if bias.size not in (1, weight.shape[1]) or (bias.ndim == 2 and bias.shape[0] != 1):
            raise c.error(
                f"bias of shape {bias.shape} does not broadcast to ({weight.shape[1]},)",
                UnsupportedOpError,
            )
    _dense(c, x, weight, bias)


def _matmul(c: Converter) -> None:
    a_name, b_name = c.inputs(2)
    if c.value(a_name).is_const:
        raise c.error(
            "a constant first operand is not supported; expected data @ weight", UnsupportedOpError
        )
    x = _vector_input(c, a_name)
    weight = c.numbers(b_name, "weight")
    if weight.ndim != 2:
        raise c.error(
            f"weight '{for_message(b_name)}' has shape {weight.shape}; expected a 2-D matrix",
            UnsupportedOpError,
        )
    _dense(c, x, weight, None)


# -- convolution and pooling --------------------------------------------------------------
def _spatial_attrs(c: Converter, x: Value, kernel_shape) -> tuple:
    rank = len(kernel_shape)
    if len(x.onnx_shape) != rank + 1:
        raise c.error(
            f"a {rank}-D kernel needs input (batch, channels, {rank} spatial dims), got "
            f"(batch, {', '.join(map(str, x.onnx_shape))})",
            UnsupportedOpError,
        )
    strides = tuple(c.attr("strides", [1] * rank, "ints"))
    dilations = tuple(c.attr("dilations", [1] * rank, "ints"))
    for what, values in (("strides", strides), ("dilations", dilations)):
        if len(values) != rank or min(values) < 1:
            raise c.error(
                f"{what} {short(values)} must be {rank} positive integer(s), one per spatial axis"
            )
    auto_pad = c.attr("auto_pad", "NOTSET", "string")
    if auto_pad in ("NOTSET", "VALID"):
        pads = c.attr("pads", [0] * 2 * rank, "ints") if auto_pad == "NOTSET" else [0] * 2 * rank
        if len(pads) != 2 * rank or min(pads) < 0:
            raise c.error(
                f"pads {short(pads)} must be {2 * rank} non-negative integers (the begins, "
                "then the ends of each spatial axis)"
            )
        pads = tuple(pads)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for axis in range(rank):
            size = x.onnx_shape[axis + 1]
            extent = dilations[axis] * (kernel_shape[axis] - 1) + 1
            total = max((-(-size // strides[axis]) - 1) * strides[axis] + extent - size, 0)
            small, large = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else large)
            ends.append(large if auto_pad == "SAME_UPPER" else small)
        pads = tuple(begins + ends)
    else:
        raise c.error(
            f"auto_pad '{for_message(auto_pad)}' is not supported; expected NOTSET, VALID, "
            "SAME_UPPER or SAME_LOWER",
            UnsupportedOpError,
        )
    for pad in pads:
        limits.PADS.check(pad, c.culprit("its padding"))
    # The engines pad the input, then slide the kernel over it: both are bounded up front.
    sizes = x.onnx_shape[1:]
    padded = [sizes[i] + pads[i] + pads[i + rank] for i in range(rank)]
    limits.TENSOR_ELEMENTS.check(math.prod(padded) * x.onnx_shape[0], c.culprit("its padded input"))
    positions = [
        max(pooled_length(sizes[i], kernel_shape[i], strides[i], padded[i] - sizes[i], d), 0)
        for i, d in enumerate(dilations)
    ]
    windows = math.prod(positions) * x.onnx_shape[0] * math.prod(kernel_shape)
    limits.TENSOR_ELEMENTS.check(windows, c.culprit("its sliding-window view"))
    if c.attr("ceil_mode", 0, "int"):
        raise c.error(
            "ceil_mode=1 is not supported; export with ceil_mode=False", UnsupportedOpError
        )
    return strides, pads, dilations


def _conv(c: Converter) -> None:
    x_name, w_name, *rest = c.inputs(2, 3)
    x = c.tensor(x_name)
    weight = c.numbers(w_name, "weight")  # (out, in, *k)
    group = c.attr("group", 1, "int")
    if group != 1:
        raise c.error(f"group={group} is not supported; nnfx supports group=1", UnsupportedOpError)
    kernel = tuple(weight.shape[2:])
    if len(kernel) not in (1, 2) or weight.size == 0:
        raise c.error(
            f"a weight of shape {weight.shape} is not supported; nnfx supports 1-D and 2-D "
            "convolution, weights (out, in, *kernel)",
            UnsupportedOpError,
        )
    given = c.attr("kernel_shape", None, "ints")
    if given is not None and tuple(given) != kernel:
        raise c.error(
            f"kernel_shape {short(given)} does not match the weight's kernel {list(kernel)}"
        )
    strides, pads, dilations = _spatial_attrs(c, x, kernel)
    rank = len(kernel)
    params = {"weight": weight.transpose(*range(2, 2 + rank), 1, 0)}  # (*k, in, out)
    bias = c.optional_const(2, "bias")
    if bias is not None:
        bias = c.numbers(c.onnx_node.input[2], "bias")
        if bias.shape != (weight.shape[0],):
            raise c.error(
                f"bias of shape {bias.shape} does not fit {weight.shape[0]} output channels"
            )
        params["bias"] = bias
    attrs = ConvAttrs(weight.shape[1], weight.shape[0], kernel, strides, pads, dilations)
    layout = channels_last(rank + 1)
    out = c.emit(Op.CONV, [c.in_layout(x, layout)], attrs, params)
    c.set_output(c.new_value(out, layout))


def _pool(op: Op) -> ConverterFn:
    def convert(c: Converter) -> None:
        x = c.tensor(c.inputs(1)[0])
        kernel = tuple(c.attr("kernel_shape", [], "ints"))
        if len(kernel) not in (1, 2):
            raise c.error(
                f"kernel_shape {short(kernel)} is not supported; nnfx supports 1-D and 2-D pooling",
                UnsupportedOpError,
            )
        if min(kernel) < 1:
            raise c.error(f"kernel_shape {short(kernel)} must be positive")
        strides, pads, dilations = _spatial_attrs(c, x, kernel)
        if any(d != 1 for d in dilations):
            raise c.error("dilated pooling is not supported", UnsupportedOpError)
        rank = len(kernel)
        if any(max(pads[i], pads[i + rank]) >= kernel[i] for i in range(rank)):
            raise c.error(
                f"pads {short(pads)} must be smaller than the kernel {list(kernel)}: a window "
                "would hold only padding"
            )
        if len(c.onnx_node.output) > 1 and c.onnx_node.output[1]:
            raise c.error("MaxPool's Indices output is not supported", UnsupportedOpError)
        include = bool(c.attr("count_include_pad", 0, "int"))
        layout = channels_last(len(kernel) + 1)
        out = c.emit(op, [c.in_layout(x, layout)], PoolAttrs(kernel, strides, pads, include))
        c.set_output(c.new_value(out, layout))

    return convert


def _global_pool(op: Op) -> ConverterFn:
    def convert(c: Converter) -> None:
        x = c.tensor(c.inputs(1)[0])
        rank = len(x.onnx_shape)
        if rank < 2:
            raise c.error("global pooling needs (batch, channels, spatial...) input")
        pooled = c.emit(op, [c.in_layout(x, channels_last(rank))], NoAttrs(), suffix="_pool")
        # ONNX keeps the spatial axes as 1s: (C, 1, ...), channels-last (1, ..., C).
        keep = (1,) * (rank - 1) + (x.onnx_shape[0],)
        out = c.emit(Op.RESHAPE, [pooled], ReshapeAttrs(keep))
        c.set_output(c.new_value(out, channels_last(rank)))

    return convert


def _reduce(op: Op) -> ConverterFn:
    """ReduceMean / ReduceMax over every spatial axis: global pooling (PyTorch's dynamo
    exporter writes adaptive average pooling to 1x1 this way)."""

    def convert(c: Converter) -> None:
        if _fold(c):
            return
        x = c.tensor(c.inputs(1, 2)[0])
        rank = len(x.onnx_shape) + 1
        axes = c.attr("axes", None, "ints")
        if axes is None:
            given = c.optional_const(1, "axes")
            axes = None if given is None else c.integers(given, "axes")
        spatial = set(range(2, rank))
        if axes is None or {a % rank for a in axes} != spatial or rank < 3:
            raise c.error(
                f"reduction over axes {short(axes or [])} is not supported; nnfx supports "
                f"reducing every spatial axis {sorted(spatial)} (global pooling)",
                UnsupportedOpError,
            )
        pooled = c.emit(op, [c.in_layout(x, channels_last(rank - 1))], NoAttrs(), suffix="_pool")
        if c.attr("keepdims", 1, "int"):
            keep = (1,) * (rank - 2) + (x.onnx_shape[0],)
            out = c.emit(Op.RESHAPE, [pooled], ReshapeAttrs(keep))
            c.set_output(c.new_value(out, channels_last(rank - 1)))
        else:
            c.set_output(c.new_value(pooled, (0,)))

    return convert


# -- element-wise ----------------------------------------------------------------------------
def _activation(kind: str, **defaults) -> ConverterFn:
    def convert(c: Converter) -> None:
        x = c.tensor(c.inputs(1)[0])
        values = {k: float(c.attr(k, v, "float")) for k, v in defaults.items()}
        for k, v in values.items():
            if not math.isfinite(v):
                raise c.error(f"attribute '{k}' is {v}; expected a finite number")
        out = c.emit(Op.ACTIVATION, [x.tensor], ActivationAttrs(kind, **values))
        c.set_output(c.new_value(out, x.perm))

    return convert


def _clip(c: Converter) -> None:
    x = c.tensor(c.inputs(1, 3)[0])
    bounds = []
    for index, what, default in ((1, "min", -math.inf), (2, "max", math.inf)):
        if c.optional_const(index, what) is None:
            bounds.append(default)
            continue
        value = c.numbers(c.onnx_node.input[index], what)
        if value.size != 1:
            raise c.error(f"{what} has shape {value.shape}; expected one number")
        bounds.append(float(value.reshape(-1)[0]))
    lo, hi = bounds
    if not lo <= hi:
        raise c.error(f"min {lo} is above max {hi}")
    kind = "relu" if lo == 0.0 and hi == math.inf else "clip"
    attrs = ActivationAttrs(kind) if kind == "relu" else ActivationAttrs("clip", min=lo, max=hi)
    out = c.emit(Op.ACTIVATION, [x.tensor], attrs)
    c.set_output(c.new_value(out, x.perm))


def _softmax(log: bool) -> ConverterFn:
    def convert(c: Converter) -> None:
        x = c.tensor(c.inputs(1)[0])
        rank = len(x.onnx_shape) + 1
        axis = c.attr("axis", -1, "int") % rank
        if axis == 0:
            raise c.error("softmax over the batch axis is not supported", UnsupportedOpError)
        ir_axis = x.perm.index(axis - 1)
        out = c.emit(Op.SOFTMAX, [x.tensor], SoftmaxAttrs(ir_axis, log))
        c.set_output(c.new_value(out, x.perm))

    return convert


# Ops that only move values around: they may carry the batch-size placeholder of a folded Shape.
_VALUE_MOVERS = {
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


def _fold(c: Converter) -> bool:
    """Evaluate a node whose inputs are all constants; True when it was folded."""
    node = c.onnx_node
    inputs = [c.value(i) if i else None for i in node.input]
    if not all(v is None or v.is_const for v in inputs):
        return False
    arrays = [None if v is None else v.const for v in inputs]
    has_batch = any(a is not None and a.dtype == np.int64 and np.any(a == BATCH) for a in arrays)
    if has_batch and node.op_type not in _VALUE_MOVERS:
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
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise c.error(f"folding its constant inputs failed ({for_message(message, 200)})") from None
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


def _affine(c: Converter, x: Value, scale: np.ndarray, bias: np.ndarray) -> None:
    if scale.shape != bias.shape and scale.size != 1 and bias.size != 1:
        raise c.error(
            f"scale of shape {scale.shape} and offset of shape {bias.shape} do not fit together"
        )
    width = max(scale.size, bias.size)
    if scale.size != width:
        scale = np.broadcast_to(scale, bias.shape)
    if bias.size != width:
        bias = np.broadcast_to(bias, scale.shape)
    out = c.emit(Op.BATCH_NORM, [x.tensor], NoAttrs(), {"scale": scale, "bias": bias})
    c.set_output(c.new_value(out, x.perm))


def _binary(op_type: str) -> ConverterFn:
    def convert(c: Converter) -> None:
        if _fold(c):
            return
        a_name, b_name = c.inputs(2)
        a, b = c.value(a_name), c.value(b_name)
        for v, name in ((a, a_name), (b, b_name)):
            if not v.is_const:
                c.tensor(name)  # float data, not class indices
        if not a.is_const and not b.is_const:
            if op_type not in ("Add", "Sub", "Mul"):
                raise c.error(
                    f"{op_type} of two computed tensors is not supported; "
                    "nnfx supports Add, Sub and Mul of two tensors, and Div by a constant",
                    UnsupportedOpError,
                )
            if a.onnx_shape != b.onnx_shape:
                raise c.error(
                    f"{op_type} of shapes {a.onnx_shape} and {b.onnx_shape} needs "
                    "broadcasting, which is not supported",
                    UnsupportedOpError,
                )
            op = {"Add": Op.ADD, "Sub": Op.SUB, "Mul": Op.MUL}[op_type]
            out = c.emit(op, [a.tensor, c.in_layout(b, a.perm)], NoAttrs())
            c.set_output(c.new_value(out, a.perm))
            return
        x, const, const_first = (b, a_name, True) if a.is_const else (a, b_name, False)
        k = c.ir_constant(c.numbers(const, "constant"), x)
        one, zero = np.ones_like(k), np.zeros_like(k)
        if op_type == "Add":
            _affine(c, x, one, k)
        elif op_type == "Sub":
            _affine(c, x, -one, k) if const_first else _affine(c, x, one, -k)
        elif op_type == "Mul":
            _affine(c, x, k, zero)
        elif const_first:  # Div: constant / x
            raise c.error(
                "dividing a constant by computed data is not supported", UnsupportedOpError
            )
        elif np.any(k == 0):
            raise c.error("divides by a constant that holds zero")
        else:
            _affine(c, x, 1.0 / k, zero)

    return convert


def _batchnorm(c: Converter) -> None:
    x_name, *params = c.inputs(5)
    x = c.tensor(x_name)
    if c.attr("training_mode", 0, "int"):
        raise c.error(
            "training_mode=1 is not supported; export the model in eval mode", UnsupportedOpError
        )
    if any(o for o in c.onnx_node.output[1:]):
        raise c.error(
            "the running-statistics outputs are not supported at inference", UnsupportedOpError
        )
    gamma, beta, mean, var = (
        c.numbers(p, k) for p, k in zip(params, ("scale", "B", "mean", "var"), strict=True)
    )
    channels = x.onnx_shape[0] if x.onnx_shape else 1
    for array, what in ((gamma, "scale"), (beta, "B"), (mean, "mean"), (var, "var")):
        if array.shape != (channels,):
            raise c.error(
                f"{what} has shape {array.shape}; expected ({channels},), one per channel"
            )
    var = var + c.attr("epsilon", 1e-5, "float")
    if np.any(var <= 0):
        raise c.error("var + epsilon must be positive")
    scale = gamma / np.sqrt(var)
    shift = beta - mean * scale
    per_channel = (-1,) + (1,) * (len(x.onnx_shape) - 1)  # along ONNX axis 1
    _affine(
        c,
        x,
        c.ir_constant(scale.reshape(per_channel), x),
        c.ir_constant(shift.reshape(per_channel), x),
    )


# -- shape and layout -----------------------------------------------------------------------
def _flatten(c: Converter) -> None:
    v = c.value(c.inputs(1)[0])
    if v.is_const:
        _fold(c)
        return
    axis = c.attr("axis", 1, "int") % (len(v.onnx_shape) + 1)
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
    elif first != BATCH and -1 not in rest and math.prod(rest) * first == size:
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


def _reshape(c: Converter) -> None:
    x_name, shape_name = c.inputs(2)
    v = c.value(x_name)
    if v.is_const:
        _fold(c)
        return
    shape = _reshape_target(c, v, c.const(shape_name, "shape"))
    tensor = c.in_layout(v, tuple(range(len(v.onnx_shape))))
    out = c.emit(Op.RESHAPE, [tensor], ReshapeAttrs(shape), dtype=v.dtype)
    c.set_output(c.new_value(out, tuple(range(len(shape))), dtype=v.dtype))


def _squeeze_unsqueeze(op_type: str) -> ConverterFn:
    def convert(c: Converter) -> None:
        if _fold(c):
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
        tensor = c.in_layout(v, tuple(range(len(v.onnx_shape))))
        out = c.emit(Op.RESHAPE, [tensor], ReshapeAttrs(tuple(shape)), dtype=v.dtype)
        c.set_output(c.new_value(out, tuple(range(len(shape))), dtype=v.dtype))

    return convert


def _transpose(c: Converter) -> None:
    v = c.value(c.inputs(1)[0])
    if v.is_const:
        _fold(c)
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


def _concat(c: Converter) -> None:
    if _fold(c):
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


def _shape(c: Converter) -> None:
    v = c.value(c.inputs(1)[0])
    if v.is_const:
        _fold(c)
        return
    full = np.array([BATCH, *v.onnx_shape], dtype=np.int64)
    start, end = c.attr("start", 0, "int"), c.attr("end", None, "int")
    c.set_output(Value(const=full[start:end]))


def _constant_only(c: Converter) -> None:
    if not _fold(c):
        raise c.error(
            "this op is supported on constants only (shape computations), not on computed data",
            UnsupportedOpError,
        )


# -- classifier heads (scikit-learn) --------------------------------------------------------
def _argmax(c: Converter) -> None:
    x = c.tensor(c.inputs(1)[0])
    rank = len(x.onnx_shape) + 1
    axis = c.attr("axis", 0, "int") % rank
    if axis == 0 or c.attr("select_last_index", 0, "int"):
        raise c.error(
            "ArgMax over the batch axis or with select_last_index=1 is not supported",
            UnsupportedOpError,
        )
    keepdims = bool(c.attr("keepdims", 1, "int"))
    tensor = c.in_layout(x, tuple(range(len(x.onnx_shape))))
    out = c.emit(Op.ARGMAX, [tensor], ArgMaxAttrs(axis - 1, keepdims), dtype=INTEGER)
    c.set_output(c.new_value(out, tuple(range(len(c.tensors[out].shape))), dtype=INTEGER))


def _array_feature_extractor(c: Converter) -> None:
    """``classes[argmax]``: scikit-learn's label output, folded into the ArgMax."""
    classes_name, index_name = c.inputs(2)
    classes = c.const(classes_name, "classes")
    index = c.value(index_name)
    producer = next((n for n in c.nodes if index.tensor in n.outputs), None)
    if producer is None or producer.op is not Op.ARGMAX or producer.attrs.classes is not None:
        raise c.error(
            "ArrayFeatureExtractor is supported only on the output of an ArgMax "
            "(a classifier's label)",
            UnsupportedOpError,
        )
    if not np.issubdtype(classes.dtype, np.integer):
        raise c.error(
            f"class labels of type {classes.dtype} are not supported; expected integer labels",
            UnsupportedOpError,
        )
    attrs = dataclasses.replace(producer.attrs, classes=tuple(int(k) for k in classes.reshape(-1)))
    c.nodes[c.nodes.index(producer)] = dataclasses.replace(producer, attrs=attrs)
    c.set_output(index)


def _zipmap(c: Converter) -> None:
    """Probabilities as a list of {label: p} maps; nnfx keeps the probability tensor."""
    c.set_output(c.tensor(c.inputs(1)[0]))


CONVERTERS: dict[str, ConverterFn] = {
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Conv": _conv,
    "MaxPool": _pool(Op.MAX_POOL),
    "AveragePool": _pool(Op.AVG_POOL),
    "GlobalAveragePool": _global_pool(Op.GLOBAL_AVG_POOL),
    "GlobalMaxPool": _global_pool(Op.GLOBAL_MAX_POOL),
    "ReduceMean": _reduce(Op.GLOBAL_AVG_POOL),
    "ReduceMax": _reduce(Op.GLOBAL_MAX_POOL),
    "BatchNormalization": _batchnorm,
    "Relu": _activation("relu"),
    "LeakyRelu": _activation("leaky_relu", alpha=0.01),
    "Elu": _activation("elu", alpha=1.0),
    "Sigmoid": _activation("sigmoid"),
    "Tanh": _activation("tanh"),
    "HardSigmoid": _activation("hard_sigmoid", alpha=0.2, beta=0.5),
    "Clip": _clip,
    "Softmax": _softmax(log=False),
    "LogSoftmax": _softmax(log=True),
    "Add": _binary("Add"),
    "Sub": _binary("Sub"),
    "Mul": _binary("Mul"),
    "Div": _binary("Div"),
    "Concat": _concat,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Squeeze": _squeeze_unsqueeze("Squeeze"),
    "Unsqueeze": _squeeze_unsqueeze("Unsqueeze"),
    "Transpose": _transpose,
    "Identity": _alias,
    "Dropout": _alias,
    "Cast": _cast,
    "Constant": _constant,
    "Shape": _shape,
    "Gather": _constant_only,
    "Slice": _constant_only,
    "ConstantOfShape": _constant_only,
    "Range": _constant_only,
    "Equal": _constant_only,
    "Where": _constant_only,
    "ArgMax": _argmax,
    "ai.onnx.ml.ArrayFeatureExtractor": _array_feature_extractor,
    "ai.onnx.ml.ZipMap": _zipmap,
}


def supported_ops() -> list[str]:
    return sorted(CONVERTERS)
