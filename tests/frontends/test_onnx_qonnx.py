"""QONNX ``Quant`` import: a quantization-aware model's own types, and every engine's output
equal, code for code, to qonnx's own execution (``qonnx.core.onnx_exec.execute_onnx``).

The models are built here with onnx.helper: Dense and Conv layers with Quant on the inputs,
the weights (per tensor and per output channel), the biases and the activations, each of the
seven QONNX rounding modes, signed, unsigned and narrow, random bit widths. qonnx computes in
float32, so the layers' sums are kept within float32's 24 exact bits (docs/semantics.md says
where nnfx and qonnx part otherwise)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.fixed import FixedType
from nnfx.errors import UnsupportedOpError
from tests.qonnx_helpers import DOMAIN, MODES, NNFX_MODE, Builder, check_every_engine, ties

pytest.importorskip("qonnx")


def dense_branch(b: Builder, x: str, mode: str, rng, n_in: int, n_out: int):
    """Quant(x) -> Gemm(Quant(W), Quant(bias)) -> Relu -> Quant -> MatMul(Quant(W2)): random
    bit widths (2..12), signedness and narrow range; the two layers' sums stay within float32's
    24 exact bits (bits_x + bits_w <= 17 with 6 inputs)."""
    bx = int(rng.integers(2, 13))
    bw = int(rng.integers(2, 18 - bx))
    fx, fw = int(rng.integers(0, 6)), int(rng.integers(0, 6))
    narrow = bool(rng.integers(0, 2))
    xq = b.quant(x, fx, bx, signed=True, narrow=narrow and bx > 1, mode=mode)
    W = rng.standard_normal((n_out, n_in)) * 2.0 ** (bw - 1 - fw) * 0.6
    wq = b.quant(b.const(W), fw, bw, signed=True, narrow=narrow, mode=mode)
    bias = rng.standard_normal(n_out) * 2.0 ** (bx + bw - 2 - fx - fw)
    bq = b.quant(b.const(bias), fx + fw, bx + bw, signed=True, mode=mode)
    h = b.node("Gemm", [xq, wq, bq], transB=1)
    r = b.node("Relu", [h])
    ba = int(rng.integers(2, 13))
    fa = int(rng.integers(-2, 6))
    signed_act = bool(rng.integers(0, 2))
    aq = b.quant(r, fa, ba, signed=signed_act, mode=mode)
    bw2 = int(rng.integers(2, 18 - ba))
    fw2 = int(rng.integers(0, 6))
    W2 = rng.standard_normal((n_out, 3)) * 2.0 ** (bw2 - 1 - fw2) * 0.6
    w2q = b.quant(b.const(W2), fw2, bw2, signed=True, mode=mode)
    return b.node("MatMul", [aq, w2q]), fx, bx


def test_dense_branches_in_every_rounding_mode_equal_qonnx_in_every_engine():
    """One branch per QONNX rounding mode (one C-simulation build for all of them)."""
    rng = np.random.default_rng(2025)
    b = Builder(rng)
    inputs, outputs, X = [], [], {}
    for k, mode in enumerate(MODES):
        x = f"x{k}"
        y, fx, bx = dense_branch(b, x, mode, rng, 6, 5)
        inputs.append((x, ["N", 6]))
        outputs.append((y, ["N", 3]))
        X[x] = ties(rng, (160, 6), fx, 2.0 ** (bx - fx))
    model = b.model(inputs, outputs)
    compiled = check_every_engine(model, X)
    rounding = {t.dtype.rounding for t in compiled.graph.tensors.values()}
    assert {NNFX_MODE[m] for m in MODES} <= rounding  # every mode reached the engines


@pytest.mark.parametrize("seed", [3])
def test_conv_with_per_channel_weights_equals_qonnx(seed):
    """Quant(x) -> Conv(per-output-channel Quant(W), Quant(bias)) -> Relu -> Quant, in NCHW;
    the per-channel codes share one type (F = the widest channel's, b + spread bits)."""
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    mode = MODES[int(rng.integers(0, len(MODES)))]
    bx, bw = int(rng.integers(2, 8)), int(rng.integers(2, 7))
    fx = int(rng.integers(0, 4))
    fw = rng.integers(1, 4, size=(3, 1, 1, 1))  # one exponent per output channel
    xq = b.quant("x", fx, bx, signed=bool(rng.integers(0, 2)), mode=mode)
    W = rng.standard_normal((3, 2, 3, 3)) * np.ldexp(1.0, bw - 1 - fw) * 0.6
    wq = b.quant(b.const(W), fw, bw, signed=True, narrow=bool(rng.integers(0, 2)), mode=mode)
    bias = rng.standard_normal(3) * 4
    bq = b.quant(b.const(bias), fx + int(fw.max()), bx + bw + 2, signed=True, mode=mode)
    c = b.node("Conv", [xq, wq, bq], pads=[1, 1, 1, 1])
    r = b.node("Relu", [c])
    y = b.quant(r, int(rng.integers(0, 4)), int(rng.integers(2, 13)), signed=False, mode=mode)
    model = b.model([("x", ["N", 2, 5, 5])], [(y, ["N", 3, 5, 5])])
    X = {"x": ties(rng, (64, 2, 5, 5), fx, 2.0 ** (bx - fx))}
    compiled = check_every_engine(model, X)
    conv = next(n for n in compiled.graph.nodes if n.op.value == "Conv")
    spread = int(fw.max() - fw.min())
    assert conv.precision.weight.width == bw + spread
    assert conv.precision.weight.frac == int(fw.max())


def test_the_models_types_win_over_the_config_and_the_file_needs_no_domain_import(tmp_path):
    """No opset import for the QONNX domain (as many exporters write it) is still a valid
    model; --precision, a config's default and its overrides leave the model's types alone;
    the onnx.brevitas domain and the IntQuant name are the same op."""
    rng = np.random.default_rng(5)
    b = Builder(rng)
    xq = b.quant("x", 3, 6, mode="HALF_UP", domain="onnx.brevitas")
    wq = b.quant(b.const(rng.standard_normal((4, 2)) * 2), 2, 5, narrow=True, mode="UP")
    b.nodes[-1].op_type = "IntQuant"
    h = b.node("MatMul", [xq, wq])
    y = b.quant(h, 1, 7, mode="CEIL")
    model = b.model([("x", ["N", 4])], [(y, ["N", 2])], imports=False)
    path = tmp_path / "q.onnx"
    onnx.save(model, path)
    plain = nnfx.compile(path)
    types = {k: t.dtype for k, t in plain.graph.tensors.items()}
    assert types["x"] == FixedType(6, 3, True, "RND_INF", "SAT")
    assert types[y] == FixedType(7, 6, True, "CEIL", "SAT")
    dense = plain.graph.nodes[0]
    assert dense.precision.weight == FixedType(5, 3, True, "UP", "SAT_SYM")
    config = {"default": "fixed<6,2>", "tensors": {y: "fixed<4,1>"}, "layers": {}}
    config["layers"][dense.name] = {"weight": "fixed<4,1>"}
    overridden = nnfx.compile(path, config)
    assert {k: t.dtype for k, t in overridden.graph.tensors.items()} == types
    assert overridden.graph.nodes[0].precision.weight == dense.precision.weight
    X = {"x": ties(rng, (100, 4), 3, 8.0)}
    check_every_engine(model, X, engines=["reference", "ort"])


def refusal(b: Builder, quant_args: dict, reason: str):
    model = b.model([("x", ["N", 4])], [(b.quant("x", **quant_args), ["N", 4])])
    with pytest.raises(UnsupportedOpError, match=reason) as info:
        nnfx.load(model)
    assert "node 'quant" in str(info.value)


@pytest.mark.parametrize(
    "args,reason",
    [
        ({"frac": 0, "bits": 1, "signed": True}, "bipolar"),
        ({"frac": 0, "bits": 4, "signed": False, "narrow": True}, "unsigned narrow"),
        ({"frac": 0, "bits": 80}, "outside nnfx's 1 to 62 bits"),
        ({"frac": np.array([[0, 1, 2, 3]]), "bits": 4}, "per-channel scale on computed data"),
    ],
)
def test_unsupported_quants_are_one_sentence(args, reason):
    refusal(Builder(np.random.default_rng(0)), args, reason)


def test_a_computed_scale_is_refused():
    """(Non-power-of-two scales and zero points are folded: test_onnx_scaled.py.)"""
    b = Builder(np.random.default_rng(0))
    s = b.node("Relu", ["x"])  # a scale computed from the data
    b.nodes.append(
        helper.make_node("Quant", ["x", s, b.const(0.0), b.const(4.0)], ["y"], domain=DOMAIN)
    )
    with pytest.raises(UnsupportedOpError, match="computed at run time"):
        nnfx.load(b.model([("x", ["N", 4])], [("y", ["N", 4])]))


def test_a_quantized_constant_where_nnfx_cannot_keep_its_type_is_refused():
    b = Builder(np.random.default_rng(0))
    k = b.quant(b.const(np.full(4, 0.75)), 2, 4)
    y = b.node("Add", ["x", k])
    with pytest.raises(UnsupportedOpError, match="quantized constant"):
        nnfx.load(b.model([("x", ["N", 4])], [(y, ["N", 4])]))


def test_a_brevitas_export_equals_qonnx_in_every_engine(tmp_path):
    """QuantIdentity -> QuantLinear -> QuantReLU -> QuantLinear -> QuantConv-free head, with
    Brevitas's power-of-two (fixed-point) quantizers, exported by export_qonnx."""
    pytest.importorskip("brevitas")
    pytest.importorskip("onnxoptimizer")
    import torch
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True),
        QuantLinear(6, 8, bias=False, weight_quant=Int8WeightPerTensorFixedPoint),
        QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True),
        QuantLinear(8, 3, bias=False, weight_quant=Int8WeightPerTensorFixedPoint),
    ).eval()
    path = tmp_path / "brevitas.onnx"
    export_qonnx(net, torch.randn(1, 6), export_path=str(path))
    model = onnx.load(path)
    assert any(n.op_type == "Quant" for n in model.graph.node)
    rng = np.random.default_rng(1)
    X = {model.graph.input[0].name: ties(rng, (128, 6), 7, 1.5)}
    compiled = check_every_engine(model, X)
    assert str(compiled.graph.tensors[compiled.graph.inputs[0]].dtype) == "fixed<8,1,RND_CONV,SAT>"
