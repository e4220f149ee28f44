"""Converters of the dense layers: Gemm and MatMul, on (batch, features) data."""

from __future__ import annotations

import numpy as np

from nnfx.compiler.ir import for_message
from nnfx.compiler.ops import DenseAttrs, Op
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter, Value


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


def gemm(c: Converter) -> None:
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


def matmul(c: Converter) -> None:
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
