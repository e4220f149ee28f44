"""Keras models via QONNX: two QKeras models (power-of-two quantizers, briefly trained)
converted by qonnx's ``from_keras`` (tests/data/make_qkeras_models.py, run by hand in an
environment with TensorFlow) — an MLP and a small channels-last CNN — compile with their own
types, and every engine's output codes equal qonnx's execution of the files, on inputs that hit
rounding ties and saturation. tf2onnx writes a Keras Dense's bias as MatMul + Add of a
quantized constant: the general case (an Add of a quantized constant after a MatMul or a Conv,
either operand order, random widths and rounding modes) on a hand-built model, and the Add of
a quantized constant to other data, still refused. tf2onnx also puts a Keras input quantizer's
Relu before its layout Transpose: the input is still fed untransposed (a hand-built float
model against onnxruntime)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import nnfx
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ops import Op
from nnfx.errors import UnsupportedOpError
from tests.csim_union import share_csim
from tests.helpers import assert_matches_ort, make_model, rand
from tests.qonnx_helpers import MODES, Builder, equals_qonnx, qonnx_outputs, ties

pytest.importorskip("qonnx")

ENGINES = ["reference", "ort", "csim"]
DATA = Path(__file__).resolve().parents[1] / "data"
# name -> one sample's input shape; every file's input quantizer is quantized_relu(8, 3)
# (ufixed<8,3>: grid 2^-5, [0, 8)), its hidden one quantized_relu(6, 2) (grid 2^-4, [0, 4))
FILES = {"qkeras_mlp": (16,), "qkeras_cnn": (8, 8, 2)}
HIDDEN = "Relu_1_out0"  # the hidden quantized_relu's input (the converter's name)


def hand_built(rng) -> tuple[onnx.ModelProto, dict]:
    """Branches Quant(x) -> MatMul or Conv (no bias input) -> Add of a quantized bias (either
    operand order; a Conv's bias shaped (1, C, 1, 1), or (1, C, H, W)) -> [Relu] -> Quant:
    random bit widths and rounding modes, the bias 0 to 2 bits finer than the layer's
    accumulator; every sum within float32's 24 exact bits (bits_x + bits_w <= 16, at most 18
    terms, 2 bits of bias)."""
    b = Builder(rng)
    inputs, outputs, X = [], [], {}
    for k in range(6):
        conv = k % 2 == 1
        mode = [str(m) for m in rng.choice(MODES, 3)]
        bx = int(rng.integers(2, 11))
        bw = int(rng.integers(2, 17 - bx))
        fx, fw, fb = int(rng.integers(0, 5)), int(rng.integers(0, 5)), int(rng.integers(0, 3))
        shape = [2, 5, 5] if conv else [6]
        x = f"x{k}"
        xq = b.quant(x, fx, bx, mode=mode[0])
        w_shape = (3, 2, 3, 3) if conv else (6, 4)
        W = rng.standard_normal(w_shape) * 2.0 ** (bw - 1 - fw) * 0.6
        wq = b.quant(b.const(W), fw, bw, mode=mode[1])
        if conv:
            h = b.node("Conv", [xq, wq], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            # the last one varies along every axis: not folded, an affine node
            bias = rng.standard_normal((1, 3, 5, 5) if k == 5 else (1, 3, 1, 1))
        else:
            h = b.node("MatMul", [xq, wq])
            bias = rng.standard_normal(4)
        bias *= 2.0 ** (bx + bw - 2 - fx - fw)
        bq = b.quant(b.const(bias), fx + fw + fb, bx + bw + fb + 1)
        s = b.node("Add", [bq, h] if k % 3 == 0 else [h, bq])
        if k % 4 < 2:
            s = b.node("Relu", [s])
        # the output's range about the largest product's, its grid coarser than the sum's
        ba = int(rng.integers(3, min(10, bx + bw - 1) + 1))
        fa = ba - (bx - fx + bw - fw - 1)
        y = b.quant(s, fa, ba, signed=k % 4 >= 2, mode=mode[2])
        inputs.append((x, ["N", *shape]))
        outputs.append((y, ["N", 3, 5, 5] if conv else ["N", 4]))
        X[x] = ties(rng, (64, *shape), fx, 1.25 * 2.0 ** (bx - fx - 1))
    return b.model(inputs, outputs), X


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(13)
    out = {}
    for name, shape in FILES.items():
        model = onnx.load(DATA / f"{name}.onnx")
        # ties of the input quantizer's 2^-5 grid, negatives, and values beyond its 8
        X = {model.graph.input[0].name: ties(rng, (64, *shape), 5, 9.0)}
        out[name] = (model, nnfx.compile(model), X)
    model, X = hand_built(rng)
    out["hand-built"] = (model, nnfx.compile(model), X)
    # one ac_fixed C-simulation build for the module: the suite's time is short, and the ap_fixed
    # kernels of Dense, Conv, MaxPool and the activations are bit-exact in the op tests
    share_csim([c for _, c, _ in out.values()], ("csim",))
    return out


def hidden_values(model: onnx.ModelProto, X: dict) -> np.ndarray:
    """qonnx's value of the hidden quantizer's input (the file with it as an extra output)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(helper.make_tensor_value_info(HIDDEN, TensorProto.FLOAT, None))
    shape = next(vi for vi in model.graph.value_info if vi.name == HIDDEN).type.tensor_type.shape
    probe.graph.output[-1].type.tensor_type.shape.CopyFrom(shape)
    return qonnx_outputs(probe, X)[HIDDEN]


@pytest.mark.xdist_group("qkeras")
@pytest.mark.parametrize("name", FILES)
def test_qkeras_files_equal_qonnx_in_every_engine(models, name):
    model, compiled, X = models[name]
    equals_qonnx(model, compiled, X, ENGINES)
    # the data reach every case: ties and saturation of both quantizers
    x = next(iter(X.values())).astype(np.float64)
    assert np.any(x * 32 % 1 == 0.5) and np.any(x > 8) and np.any(x < 0)
    h = hidden_values(model, X).astype(np.float64)
    assert np.any(h * 16 % 1 == 0.5) and np.any(h >= 4) and np.any((h > 0) & (h < 4))
    # the model's own types; tf2onnx's Add of the bias is folded into its layer, and the CNN's
    # channels-last input is fed as it is (no Transpose after its input quantizer's Relu)
    graph = compiled.graph
    layers = [n for n in graph.nodes if n.op in (Op.DENSE, Op.CONV)]
    assert not {Op.BATCH_NORM, Op.TRANSPOSE} & {n.op for n in graph.nodes}
    assert all(n.precision.weight == FixedType(6, 1, True, "RND_CONV", "SAT") for n in layers)
    kinds = [str(graph.tensors[n.outputs[0]].dtype) for n in graph.nodes if n.op is Op.ACTIVATION]
    assert kinds == ["ufixed<8,3,RND_CONV,SAT>", "ufixed<6,2,RND_CONV,SAT>"]


@pytest.mark.xdist_group("qkeras")
def test_an_add_of_a_quantized_bias_after_matmul_or_conv_equals_qonnx(models):
    model, compiled, X = models["hand-built"]
    equals_qonnx(model, compiled, X, ENGINES)
    for values in qonnx_outputs(model, X).values():  # no branch all clipped or all zero
        assert np.unique(values).size >= 4
    nodes = compiled.graph.nodes
    layers = [n for n in nodes if n.op in (Op.DENSE, Op.CONV)]
    assert len(layers) == 6 and sum("bias" in n.params for n in layers) == 5
    (affine,) = [n for n in nodes if n.op is Op.BATCH_NORM]  # the (1, C, H, W) bias
    assert compiled.graph.constants[affine.params["bias"]].shape == (5, 5, 3)


def test_a_quantized_constant_added_to_other_data_is_still_refused():
    """Only a layer's output takes a quantized constant as its bias (the Add of one to a graph
    input is refused in test_onnx_qonnx.py)."""
    b = Builder(np.random.default_rng(0))
    r = b.node("Relu", [b.quant("x", 3, 6)])
    k = b.quant(b.const(np.full(4, 0.75)), 2, 4)
    b.nodes.append(helper.make_node("Add", [r, k], ["y"], name="add_after_relu"))
    with pytest.raises(UnsupportedOpError, match="node 'add_after_relu'.*quantized constant"):
        nnfx.load(b.model([("x", ["N", 4])], [("y", ["N", 4])]))


@pytest.mark.parametrize("second_reader", [False, True])
def test_activations_between_an_input_and_its_layout_transpose_leave_it_untransposed(
    second_reader,
):
    """NHWC input -> Relu -> Sigmoid -> Transpose to NCHW -> Conv: the input is fed as it is
    and the IR has no Transpose; with the Relu's output also a graph output, the Transpose
    stays. Both agree with onnxruntime."""
    rng = np.random.default_rng(3)
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Sigmoid", ["r"], ["s"]),
        helper.make_node("Transpose", ["s"], ["t"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    ]
    outputs = [("y", ["N", 3, 4, 5])] + ([("r", ["N", 4, 5, 2])] if second_reader else [])
    model = make_model(nodes, [("x", ["N", 4, 5, 2])], outputs, {"w": rand(rng, 3, 2, 3, 3)})
    loaded = assert_matches_ort(model, rand(rng, 8, 4, 5, 2))
    transposes = [n for n in loaded.graph.nodes if n.op is Op.TRANSPOSE]
    assert len(transposes) == int(second_reader)
    if not second_reader:
        assert loaded.graph.tensors["x"].shape == (4, 5, 2)  # the file's own layout
