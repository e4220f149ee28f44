"""QONNX ``BipolarQuant`` (binary networks): binary weights as the codes +-1 of a 2-bit type,
the sign step as the ``bipolar`` activation; every engine's output codes equal qonnx's own
execution, for a hand-built binary Conv net and a real Brevitas binary MLP
(docs/semantics.md, "QONNX BipolarQuant")."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.estimate import estimate
from nnfx.compiler.fixed import FixedType
from nnfx.errors import UnsupportedOpError
from tests.qonnx_helpers import DOMAIN, Builder, brevitas_binary_mlp, check_every_engine, ties

pytest.importorskip("qonnx")


def test_a_binary_conv_net_equals_qonnx_in_every_engine():
    """BipolarQuant(x) -> Conv(per-channel BipolarQuant(W), Quant(bias)) -> BipolarQuant ->
    Gemm(BipolarQuant(W)) -> BipolarQuant; a second branch Quant -> MaxPool -> BipolarQuant.
    The data holds exact zeros (sign +1) and the sums hit 0 (the codes of +-2^-F sum to it)."""
    rng = np.random.default_rng(11)
    b = Builder(rng)
    xb = b.bipolar("x", 0)
    fw = np.array([[[[0]]], [[[1]]], [[[2]]], [[[1]]]])  # one exponent per output channel
    wb = b.bipolar(b.const(rng.standard_normal((4, 2, 3, 3))), fw)
    bias = b.quant(b.const(rng.integers(-2, 3, 4) * 0.25), 2, 6)
    conv = b.node("Conv", [xb, wb, bias], pads=[1, 1, 1, 1])
    hb = b.bipolar(conv, 2)
    flat = b.node("Flatten", [hb])
    wd = b.bipolar(b.const(rng.standard_normal((3, 64))), 3)
    dense = b.node("Gemm", [flat, wd], transB=1)
    y = b.bipolar(dense, -1)
    zq = b.quant("z", 2, 5, mode="FLOOR")
    pooled = b.node("MaxPool", [zq], kernel_shape=[2], strides=[2])
    z = b.bipolar(pooled, 1)
    model = b.model([("x", ["N", 2, 4, 4]), ("z", ["N", 3, 6])], [(y, ["N", 3]), (z, ["N", 3, 3])])
    x = rng.standard_normal((96, 2, 4, 4)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = 0.0
    X = {"x": x, "z": ties(rng, (96, 3, 6), 2, 4.0)}
    compiled = check_every_engine(model, X)
    conv_node = next(n for n in compiled.graph.nodes if n.op.value == "Conv")
    assert conv_node.precision.weight == FixedType(4, 2, True, "RND_CONV", "SAT")
    assert compiled.graph.tensors[y].dtype == FixedType(2, 3, True, "RND_CONV", "SAT")
    assert compiled.graph.tensors["x"].dtype == FixedType(2, 2, True, "TRN", "SAT")


def test_a_brevitas_binary_mlp_equals_qonnx_in_every_engine_and_needs_no_dsp(tmp_path):
    """QuantIdentity -> QuantLinear -> QuantHardTanh -> QuantLinear with Brevitas's binary
    quantizers (scales 1 and 1/2), exported by export_qonnx, cleaned by qonnx and converted
    to channels-last (which leaves an MLP as it is)."""
    pytest.importorskip("brevitas")
    import torch
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    net = brevitas_binary_mlp((8, 16, 4), seed=0)
    path = str(tmp_path / "binary.onnx")
    export_qonnx(net, torch.randn(1, 8), export_path=path)
    model = cleanup_model(ModelWrapper(path)).transform(ConvertToChannelsLastAndClean()).model
    assert [n.op_type for n in model.graph.node].count("BipolarQuant") == 4
    rng = np.random.default_rng(2)
    x = rng.standard_normal((128, 8)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = 0.0
    compiled = check_every_engine(model, {model.graph.input[0].name: x})
    layers = [n for n in compiled.graph.nodes if n.op.value == "Dense"]
    assert [n.precision.weight for n in layers] == [FixedType(2, 1, True, "RND_CONV", "SAT")] * 2
    report = estimate(compiled.graph)
    assert all(e.dsp == 0 for e in report.layers), [(e.name, e.dsp) for e in report.layers]


def test_unsupported_bipolar_quants_are_one_sentence():
    b = Builder(np.random.default_rng(0))
    y = b.bipolar("x", 0)
    b.inits[b.nodes[-1].input[1]] = np.float32(0.1)
    with pytest.raises(UnsupportedOpError, match="scale 0.1.* is not a power of two") as info:
        nnfx.load(b.model([("x", ["N", 4])], [(y, ["N", 4])]))
    assert "node 'bipolar" in str(info.value)
    b = Builder(np.random.default_rng(0))
    s = b.node("Relu", ["x"])
    b.nodes.append(helper.make_node("BipolarQuant", ["x", s], ["y"], name="bq", domain=DOMAIN))
    with pytest.raises(UnsupportedOpError, match="computed at run time"):
        nnfx.load(b.model([("x", ["N", 4])], [("y", ["N", 4])]))
