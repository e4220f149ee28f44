"""Converters of the element-wise ops: activations, Clip, Add/Sub/Mul/Div (a constant operand
becomes a per-channel affine), and BatchNormalization (an affine too). Each keeps the layout
of its input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from nnfx.compiler.input_steps import InputStep
from nnfx.compiler.ops import Activation, ActivationAttrs, NoAttrs, Op
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter, ConverterFn, Value
from nnfx.frontends.folding import fold


def activation(kind: Activation, **defaults) -> ConverterFn:
    def convert(c: Converter) -> None:
        x = c.tensor(c.inputs(1)[0])
        values = {k: float(c.attr(k, v, "float")) for k, v in defaults.items()}
        for k, v in values.items():
            if not math.isfinite(v):
                raise c.error(f"attribute '{k}' is {v}; expected a finite number")
        out = c.emit(Op.ACTIVATION, [x.tensor], ActivationAttrs(kind, **values))
        c.set_output(c.new_value(out, x.perm))

    return convert


def selu(c: Converter) -> None:
    """SELU: ``alpha`` as elu's, ``gamma`` held as the attrs' ``beta``."""
    x = c.tensor(c.inputs(1)[0])
    alpha = float(c.attr("alpha", 1.67326319217681884765625, "float"))
    gamma = float(c.attr("gamma", 1.05070102214813232421875, "float"))
    if not (math.isfinite(alpha) and math.isfinite(gamma)):
        raise c.error(f"alpha {alpha} and gamma {gamma} must be finite numbers")
    attrs = ActivationAttrs(Activation.SELU, alpha=alpha, beta=gamma)
    c.set_output(c.new_value(c.emit(Op.ACTIVATION, [x.tensor], attrs), x.perm))


def gelu(c: Converter) -> None:
    """Gelu (opset 20; also PyTorch's Erf composition, patterns.py): approximate none or tanh."""
    x = c.tensor(c.inputs(1)[0])
    approximate = c.attr("approximate", "none", "string")
    kinds = {"none": Activation.GELU, "tanh": Activation.GELU_TANH}
    if approximate not in kinds:
        raise c.error(f"approximate='{approximate}' is not supported; expected 'none' or 'tanh'")
    out = c.emit(Op.ACTIVATION, [x.tensor], ActivationAttrs(kinds[approximate]))
    c.set_output(c.new_value(out, x.perm))


def prelu(c: Converter) -> None:
    """PRelu: a leaky_relu. One slope for every value is its ``alpha``; a slope that varies
    along one axis (a channel's, or a feature's) is the node's ``alpha`` constant, one value
    per entry of the IR's last axis, the value laid out with that axis last."""
    x_name, slope_name = c.inputs(2)
    x = c.tensor(x_name)
    slope = c.numbers(slope_name, "slope")
    if not np.all(np.isfinite(slope)):
        bad = float(slope[~np.isfinite(slope)][0])
        raise c.error(f"slope holds {bad}; expected finite numbers")
    if slope.size == 1 or np.unique(slope).size == 1:
        attrs = ActivationAttrs(Activation.LEAKY_RELU, alpha=float(slope.reshape(-1)[0]))
        c.set_output(c.new_value(c.emit(Op.ACTIVATION, [x.tensor], attrs), x.perm))
        return
    sample = x.onnx_shape
    try:  # leading axes of the slope beyond the sample's belong to the batch: size 1
        full = np.broadcast_to(slope, (1, *sample)).reshape(sample)
        varying = [a for a in range(len(sample)) if np.any(full != full.take([0], axis=a))]
    except ValueError:
        varying = []
    if len(varying) != 1:
        raise c.error(
            f"a PRelu slope of shape {slope.shape} against an input of shape "
            f"(batch, {', '.join(map(str, sample))}) is not supported; nnfx supports one slope, "
            "or one per channel or feature (varying along one axis)",
            UnsupportedOpError,
        )
    (axis,) = varying
    perm = x.perm if x.perm[-1] == axis else (*(a for a in x.perm if a != axis), axis)
    tensor = c.in_layout(x, perm)
    alpha = np.moveaxis(full, axis, -1).reshape(-1, sample[axis])[0]
    attrs = ActivationAttrs(Activation.LEAKY_RELU)
    out = c.emit(Op.ACTIVATION, [tensor], attrs, {"alpha": alpha})
    c.set_output(c.new_value(out, perm))


def clip(c: Converter) -> None:
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
    if lo == 0.0 and hi == math.inf:
        attrs = ActivationAttrs(Activation.RELU)
    else:
        attrs = ActivationAttrs(Activation.CLIP, min=lo, max=hi)
    out = c.emit(Op.ACTIVATION, [x.tensor], attrs)
    c.set_output(c.new_value(out, x.perm))


def _affine(c: Converter, x: Value, scale: np.ndarray, bias: np.ndarray) -> None:
    # Each comes from ir_constant: per channel (C,) or the full sample shape; a pair of one
    # of each (a scale that varies along another axis, an offset that does not) takes the
    # full shape for both.
    try:
        scale, bias = (np.ascontiguousarray(a) for a in np.broadcast_arrays(scale, bias))
    except ValueError:
        raise c.error(
            f"scale of shape {scale.shape} and offset of shape {bias.shape} do not fit together"
        ) from None
    out = c.emit(Op.BATCH_NORM, [x.tensor], NoAttrs(), {"scale": scale, "bias": bias})
    c.set_output(c.new_value(out, x.perm))


# A larger constant stays an affine node (a step holds its values as Python floats).
MAX_STEP_VALUES = 1 << 16


def _input_step(c: Converter, op_type: str, data: str, const: str) -> bool:
    """Fold ``data op constant`` into the input steps of the graph input ``data`` holds, when
    nothing else reads ``data`` (docs/semantics.md, "Input steps"): applied in float64 before
    the input quantizer, the step costs no precision. False (the node becomes a BatchNorm)
    when it does not fold: another reader, a graph output, a constant that does not broadcast
    against one sample, that is not finite (or holds 0, for Div) or that has more than
    MAX_STEP_VALUES values."""
    tensor = c.input_values.get(data)
    out = c.onnx_node.output[0]
    if tensor is None or c.readers(data) != 1 or out in {o.name for o in c.model.graph.output}:
        return False
    value = c.value(const)
    if value.batch_axis is not None:
        return False
    k = np.asarray(value.const, np.float64)
    sample = (1, *c.value(data).onnx_shape)
    try:
        fits = np.broadcast_shapes(k.shape, sample) == sample and k.ndim <= len(sample)
    except ValueError:
        fits = False
    if not fits or k.size > MAX_STEP_VALUES or not np.all(np.isfinite(k)):
        return False
    if op_type == "Div" and np.any(k == 0):
        return False
    step = InputStep(op_type.lower(), k.shape, tuple(float(v) for v in k.reshape(-1)))
    t = c.tensors[tensor]
    c.tensors[tensor] = dataclasses.replace(t, steps=(*t.steps, step))
    c.values[out] = c.value(data)
    c.input_values[out] = tensor
    return True


def binary(op_type: str) -> ConverterFn:
    def convert(c: Converter) -> None:
        if fold(c):
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
        if not (const_first and op_type in ("Sub", "Div")) and _input_step(
            c, op_type, b_name if const_first else a_name, const
        ):
            return
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


def batchnorm(c: Converter) -> None:
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
