"""qonnx's channels-last ops (``qonnx.custom_op.channels_last``: Conv, MaxPool,
BatchNormalization), as ``ConvertToChannelsLastAndClean`` writes them: every engine's output codes
equal qonnx's own execution for Brevitas exports at 2, 4 and 8 bits, before and after the
conversion (docs/semantics.md, "QONNX channels-last"); a hand-built model with per-channel Quants
on the last axis and a MultiThreshold with data_layout NHWC; the float ops against qonnx."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import nnfx
from nnfx.compiler.ops import Op
from nnfx.errors import UnsupportedOpError
from tests.csim_union import share_csim
from tests.qonnx_helpers import ENGINES, Builder, equals_qonnx, qonnx_outputs, ties

pytest.importorskip("qonnx")

CL = "qonnx.custom_op.channels_last"
BITS = [2, 4, 8]
VARIANTS = ["nchw", "channels-last", "channels-last input"]
# The C-simulations run on the channels-last files' IR (one union build per engine; ap_fixed's,
# the slow one to build, for the 8-bit net and the hand-built model); the other variants' IR is
# the same layers (asserted), so they run the reference and ort only.
SIMULATED = "channels-last"
AP_BITS = 8


def brevitas_net(bits: int, path: str) -> onnx.ModelProto:
    """QuantIdentity -> QuantConv2d -> QuantReLU -> MaxPool2d -> QuantConv2d (per-channel
    weights) -> QuantReLU -> TruncAvgPool2d -> Flatten -> QuantLinear, every quantizer a
    power-of-two scale at ``bits``; exported by Brevitas's export_qonnx, cleaned by qonnx."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU, TruncAvgPool2d
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    torch.manual_seed(bits)
    per_tensor = {"weight_quant": Int8WeightPerTensorFixedPoint, "bias": False}
    per_channel = {
        "weight_quant": Int8WeightPerTensorFixedPoint.let(scaling_per_output_channel=True),
        "bias": False,
    }
    act = {"act_quant": Uint8ActPerTensorFixedPoint, "bit_width": bits, "return_quant_tensor": True}
    net = torch.nn.Sequential(
        QuantIdentity(
            act_quant=Int8ActPerTensorFixedPoint, bit_width=bits, return_quant_tensor=True
        ),
        QuantConv2d(2, 4, 3, padding=1, weight_bit_width=bits, **per_tensor),
        QuantReLU(**act),
        torch.nn.MaxPool2d(2),
        QuantConv2d(4, 4, 3, padding=1, weight_bit_width=bits, **per_channel),
        QuantReLU(**act),
        TruncAvgPool2d(kernel_size=2, stride=2, bit_width=bits, return_quant_tensor=True),
        torch.nn.Flatten(),
        QuantLinear(16, 3, weight_bit_width=bits, **per_tensor),
    ).eval()
    with torch.no_grad():  # activations' scales fitted to the test data's range
        net.train()
        for _ in range(3):
            net(torch.randn(32, 2, 8, 8) * 2)
        net.eval()
    # TorchScript's exporter: the same QONNX graph as the dynamo one after cleanup, 2x faster
    export_qonnx(net, torch.randn(1, 2, 8, 8), export_path=path, dynamo=False)
    return cleanup_model(ModelWrapper(path)).model


def channels_last(model: onnx.ModelProto, input_too: bool) -> onnx.ModelProto:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.infer_shapes import InferShapes

    wrapper = ModelWrapper(model).transform(InferShapes())
    wrapper = wrapper.transform(ConvertToChannelsLastAndClean(input_too))
    return wrapper.model


def hand_built(rng) -> onnx.ModelProto:
    """A channels-last graph input: Quant -> channels-last Conv (weight (out, kh, kw, in),
    per-channel Quant) -> Quant -> channels-last MaxPool -> MultiThreshold (data_layout NHWC,
    per-channel thresholds)."""
    b = Builder(rng)
    xq = b.quant("x", 3, 6)
    w = b.quant(b.const(rng.standard_normal((2, 3, 3, 3))), np.array([2, 3]).reshape(2, 1, 1, 1), 4)
    b.count += 1
    conv = f"conv{b.count}"
    b.nodes.append(
        helper.make_node(
            "Conv",
            [xq, w],
            [conv],
            name=conv,
            domain=CL,
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            strides=[1, 1],
            dilations=[1, 1],
            group=1,
        )
    )
    yq = b.quant(conv, 2, 7, mode="HALF_UP")
    b.count += 1
    pooled = f"pool{b.count}"
    b.nodes.append(
        helper.make_node(
            "MaxPool",
            [yq],
            [pooled],
            name=pooled,
            domain=CL,
            kernel_shape=[2, 2],
            strides=[2, 2],
            pads=[0, 0, 0, 0],
        )
    )
    thresholds = np.sort(rng.integers(-40, 41, size=(2, 5)) / 8.0, axis=1)
    b.multi_threshold(pooled, thresholds, out="y", data_layout="NHWC", out_scale=0.5)
    model = b.model([("x", ["N", 4, 4, 3])], [("y", ["N", 2, 2, 2])])
    model.opset_import.append(helper.make_opsetid(CL, 1))
    shapes = {
        w: [2, 3, 3, 3],
        xq: [1, 4, 4, 3],
        conv: [1, 4, 4, 2],
        yq: [1, 4, 4, 2],
        pooled: [1, 2, 2, 2],
    }
    model.graph.value_info.extend(
        helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()
    )
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    pytest.importorskip("brevitas")
    rng = np.random.default_rng(5)
    out = {}
    for bits in BITS:
        nchw = brevitas_net(bits, str(tmp_path_factory.mktemp("cl") / f"net{bits}.onnx"))
        variants = [nchw, channels_last(nchw, False), channels_last(nchw, True)]
        x = ties(rng, (48, 2, 8, 8), 3, 4.0)
        for name, model in zip(VARIANTS, variants, strict=True):
            data = x.transpose(0, 2, 3, 1) if name == "channels-last input" else x
            out[bits, name] = (model, nnfx.compile(model), {model.graph.input[0].name: data})
    model = hand_built(rng)
    X = {"x": ties(rng, (64, 4, 4, 3), 3, 8.0)}
    out["hand-built"] = (model, nnfx.compile(model), X)
    simulated = [c for key, (_, c, _) in out.items() if key[1:] == (SIMULATED,)]
    share_csim([*simulated, out["hand-built"][1]], ("csim",))
    share_csim([out[AP_BITS, SIMULATED][1], out["hand-built"][1]], ("csim-ap",))
    return out


@pytest.mark.xdist_group("qonnx-channels-last")
@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_brevitas_exports_before_and_after_channels_last_equal_qonnx(models, bits, variant):
    model, compiled, X = models[bits, variant]
    ops = {f"{n.domain}.{n.op_type}" for n in model.graph.node}
    if variant != "nchw":
        assert {f"{CL}.Conv", f"{CL}.MaxPool"} <= ops
        # the channels-last file is in the IR's order: no layout change anywhere
        assert Op.TRANSPOSE not in {n.op for n in compiled.graph.nodes}
    engines = ENGINES[:2] if variant != SIMULATED else ENGINES[:3] if bits != AP_BITS else ENGINES
    equals_qonnx(model, compiled, X, engines)
    if variant != "nchw":  # the same IR as the channels-first file, less its layout changes
        first = models[bits, "nchw"][1].graph
        layers = [n.op for n in first.nodes if n.op is not Op.TRANSPOSE]
        assert [n.op for n in compiled.graph.nodes] == layers


@pytest.mark.xdist_group("qonnx-channels-last")
def test_per_channel_weights_and_an_nhwc_multithreshold_equal_qonnx(models):
    model, compiled, X = models["hand-built"]
    equals_qonnx(model, compiled, X, ENGINES)
    types = compiled.graph.tensors
    conv = next(n for n in compiled.graph.nodes if n.op is Op.CONV)
    assert types[conv.outputs[0]].dtype.rounding == "RND_INF"  # the Quant after it


def test_float_channels_last_conv_batchnorm_maxpool_agree_with_qonnx():
    """Conv -> BatchNormalization -> Relu -> MaxPool, float, converted by qonnx: nnfx's float
    model agrees with qonnx's execution (onnxruntime on each op) within 1e-5 relative."""
    rng = np.random.default_rng(2)
    inits = {
        "w": rng.standard_normal((4, 3, 3, 3)),
        "bias": rng.standard_normal(4),
        "gamma": rng.random(4) + 0.5,
        "beta": rng.standard_normal(4),
        "mean": rng.standard_normal(4),
        "var": rng.random(4) + 0.5,
    }
    nodes = [
        helper.make_node(
            "Conv",
            ["x", "w", "bias"],
            ["c"],
            pads=[1, 1, 1, 1],
            strides=[1, 1],
            kernel_shape=[3, 3],
            dilations=[1, 1],
        ),
        helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r"]),
        helper.make_node(
            "MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2], pads=[0] * 4
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "float",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3, 3])],
        [onnx.numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    converted = channels_last(model, False)
    ops = {f"{n.domain}.{n.op_type}" for n in converted.graph.node}
    assert {f"{CL}.Conv", f"{CL}.BatchNormalization", f"{CL}.MaxPool"} <= ops
    X = {"x": rng.standard_normal((16, 3, 6, 6)).astype(np.float32)}
    want = qonnx_outputs(converted, X)["y"]
    got = nnfx.load(converted).predict(X)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_a_channels_last_conv_with_a_computed_weight_is_one_sentence():
    b = Builder(np.random.default_rng(0))
    b.nodes.append(
        helper.make_node("Conv", ["x", "w"], ["y"], name="clconv", domain=CL, kernel_shape=[1, 1])
    )
    model = b.model([("x", ["N", 2, 2, 3]), ("w", [4, 1, 1, 3])], [("y", ["N", 2, 2, 4])])
    with pytest.raises(UnsupportedOpError, match="node 'clconv'.*weight 'w' must be a constant"):
        nnfx.load(model)


def test_a_per_channel_quant_on_channels_last_data_is_refused_as_on_channels_first():
    """nnfx keeps one type per tensor: a per-channel scale on computed data is refused, on the
    last axis of a channels-last tensor as on axis 1 of a channels-first one."""
    b = Builder(np.random.default_rng(0))
    y = b.quant("x", np.array([2, 3, 1]).reshape(1, 1, 1, 3), 6)
    model = b.model([("x", ["N", 4, 4, 3])], [(y, ["N", 4, 4, 3])])
    with pytest.raises(UnsupportedOpError, match="node 'quant.*per-channel scale on computed"):
        nnfx.load(model)
