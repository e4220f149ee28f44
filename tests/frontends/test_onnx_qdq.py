"""QDQ import (``QuantizeLinear``/``DequantizeLinear``): with power-of-two scales every
engine's output codes equal onnxruntime's own execution of the QDQ graph (docs/semantics.md,
"QDQ"); onnxruntime's quantizer, whose scales are not powers of two, is in
test_onnx_scaled.py."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import nnfx
from nnfx.compiler.fixed import FixedType
from nnfx.errors import UnsupportedOpError
from tests.qonnx_helpers import codes, ort_run, ties

ENGINES = ["reference", "ort", "csim", "csim-ap"]


def qdq_model(rng) -> tuple[onnx.ModelProto, dict]:
    """x -Q/DQ int8 2^-4-> Gemm(DQ(int8 W, per-axis 2^-3..2^-5), DQ(int32 bias)) -> Relu
    -Q/DQ uint8 2^-2-> Conv-free MatMul(DQ(int16 W2, 2^-9)) -Q/DQ int16 2^-6-> y."""
    inits = {
        "s_x": np.float32(2.0**-4),
        "z_x": np.int8(0),
        "W": rng.integers(-128, 128, size=(5, 6)).astype(np.int8),
        "s_w": np.float32([2.0**-3, 2.0**-5, 2.0**-4, 2.0**-3, 2.0**-5]),
        "z_w": np.zeros(5, np.int8),
        "B": rng.integers(-(2**12), 2**12, size=5).astype(np.int32),
        "s_b": np.float32(2.0**-9),
        "s_a": np.float32(2.0**-2),
        "z_a": np.uint8(0),
        "W2": rng.integers(-(2**10), 2**10, size=(5, 3)).astype(np.int16),  # float32-exact sums
        "s_w2": np.float32(2.0**-9),
        "z_w2": np.int16(0),
        "s_y": np.float32(2.0**-6),
        "z_y": np.int16(0),
    }
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"]),
        helper.make_node("DequantizeLinear", ["W", "s_w", "z_w"], ["wd"], axis=0),
        helper.make_node("DequantizeLinear", ["B", "s_b"], ["bd"]),
        helper.make_node("Gemm", ["xd", "wd", "bd"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "s_a", "z_a"], ["rq"]),
        helper.make_node("DequantizeLinear", ["rq", "s_a", "z_a"], ["rd"]),
        helper.make_node("DequantizeLinear", ["W2", "s_w2", "z_w2"], ["w2d"]),
        helper.make_node("MatMul", ["rd", "w2d"], ["m"]),
        helper.make_node("QuantizeLinear", ["m", "s_y", "z_y"], ["mq"]),
        helper.make_node("DequantizeLinear", ["mq", "s_y", "z_y"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10  # int16 QDQ is opset 21's
    X = {"x": ties(rng, (200, 6), 4, 10.0)}
    return model, X


def test_a_power_of_two_qdq_model_equals_onnxruntime_in_every_engine():
    model, X = qdq_model(np.random.default_rng(8))
    want = ort_run(model, X)["y"]
    compiled = nnfx.compile(model)
    t = compiled.graph.tensors["y"].dtype
    assert t == FixedType(16, 10, True, "RND_CONV", "SAT")
    assert compiled.graph.tensors["x"].dtype == FixedType(8, 4, True, "RND_CONV", "SAT")
    dense = next(n for n in compiled.graph.nodes if n.op.value == "Dense")
    assert dense.precision.weight == FixedType(10, 5, True, "RND_CONV", "SAT")  # 2^-3..2^-5
    assert dense.precision.bias == FixedType(32, 23, True, "RND_CONV", "SAT")
    assert len(np.unique(codes(want, t))) > 20
    for engine in ENGINES:
        got = compiled.predict(X, engine=engine)
        assert np.array_equal(codes(got, t), codes(want, t)), engine


def test_unsupported_qdq_uses_are_one_sentence():
    rng = np.random.default_rng(1)
    model, _ = qdq_model(rng)
    model.graph.node[0].output[0] = "xq_out"  # the integer tensor read by Gemm's neighbours
    model.graph.output.append(helper.make_tensor_value_info("xq_out", TensorProto.INT8, ["N", 6]))
    model.graph.node[1].input[0] = "xq_out"
    with pytest.raises(UnsupportedOpError, match="read by another op than DequantizeLinear"):
        nnfx.load(model)
    model, _ = qdq_model(rng)
    model.graph.initializer.append(numpy_helper.from_array(np.int8(3), "z_bad"))
    model.graph.node[1].input[2] = "z_bad"
    with pytest.raises(UnsupportedOpError, match="differs from its QuantizeLinear"):
        nnfx.load(model)


def test_a_weight_the_graph_quantizes_itself_per_axis_equals_onnxruntime():
    """QuantizeLinear of a float initializer (per axis, 2^-2, 2^-3, 2^-1) then
    DequantizeLinear: nnfx folds the codes; a uint8 input pair (2^-4) in front."""
    rng = np.random.default_rng(0)
    inits = {
        "W": (rng.standard_normal((4, 3)) * 2).astype(np.float32),
        "s": np.float32([0.25, 0.125, 0.5]),
        "z": np.zeros(3, np.int8),
        "s_x": np.float32(1 / 16),
        "z_x": np.uint8(0),
    }
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"]),
        helper.make_node("QuantizeLinear", ["W", "s", "z"], ["wq"], axis=1),
        helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["wd"], axis=1),
        helper.make_node("MatMul", ["xd", "wd"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "folded",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    X = {"x": ties(rng, (100, 4), 4, 20.0)}  # negative values saturate to 0 (uint8)
    want = ort_run(model, X)["y"]
    compiled = nnfx.compile(model)
    assert compiled.graph.tensors["x"].dtype == FixedType(8, 4, False, "RND_CONV", "SAT")
    assert compiled.graph.nodes[0].precision.weight == FixedType(10, 7, True, "RND_CONV", "SAT")
    for engine in ("reference", "ort"):
        assert np.array_equal(compiled.predict(X, engine=engine), want), engine
