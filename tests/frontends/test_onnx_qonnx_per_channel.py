"""Per-channel power-of-two scales on computed data (QONNX ``Quant`` and ``BipolarQuant``):
the codes ``Q_U(x 2^F_c)`` then the values ``q 2^-F_c`` in one union type; every engine's
output codes equal qonnx's own execution after a Dense and after a Conv, channels-first and
channels-last, in every rounding mode, and for a Brevitas export with per-channel activation
scaling (docs/semantics.md, "QONNX Quant")."""

from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import nnfx
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ops import Op
from nnfx.errors import UnsupportedOpError
from nnfx.runtime.reference_fixed import run_fixed
from tests.csim_union import share_csim
from tests.qonnx_helpers import (
    ENGINES,
    MODES,
    NNFX_MODE,
    Builder,
    equals_qonnx,
    ties,
)

pytest.importorskip("qonnx")

PRODUCERS = ["dense", "conv", "conv-nhwc"]
# (qonnx's channels-last conversion reads every attribute of a Conv)
CL = "qonnx.custom_op.channels_last"
CONV = {"strides": [1, 1], "dilations": [1, 1], "group": 1}


def layer(b: Builder, rng, x: str, producer: str, relu: bool):
    """Quant(x) -> Dense (6 -> 5) or Conv (2 -> 4 channels, 3x3, NCHW) with quantized weight
    and bias [-> Relu] [-> Transpose to NHWC]: (output, its shape, the data's shape, the sum's
    fractional bits, the data's Quant (frac, bits) and the weight's bits). The sums stay
    within float32's 24 exact bits (bx + bw + 5 <= 17)."""
    bx, bw = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    fx, fw = int(rng.integers(0, 4)), int(rng.integers(0, 4))
    xq = b.quant(x, fx, bx, signed=True, mode="ROUND")
    if producer == "dense":
        W = rng.standard_normal((5, 6)) * 2.0 ** (bw - 1 - fw)
        shape, data, channels = ["N", 5], (96, 6), 5
    else:
        W = rng.standard_normal((4, 2, 3, 3)) * 2.0 ** (bw - 1 - fw)
        shape, data, channels = ["N", 4, 5, 5], (96, 2, 5, 5), 4
    wq = b.quant(b.const(W), fw, bw, signed=True)
    bias = rng.integers(-(2 ** (bx + bw - 2)), 2 ** (bx + bw - 2), channels) * 2.0 ** -(fx + fw)
    bq = b.quant(b.const(bias), fx + fw, bx + bw, signed=True)
    if producer == "dense":
        h = b.node("Gemm", [xq, wq, bq], transB=1)
    else:
        h = b.node("Conv", [xq, wq, bq], pads=[1, 1, 1, 1], kernel_shape=[3, 3], **CONV)
    if relu:
        h = b.node("Relu", [h])
    if producer == "conv-nhwc":
        h = b.node("Transpose", [h], perm=[0, 2, 3, 1])
        shape = ["N", 5, 5, 4]
    return h, shape, data, fx + fw, (fx, bx, bw)


def scale_shape(producer: str, channels: int) -> tuple[int, ...]:
    return {"dense": (1, channels), "conv": (1, channels, 1, 1), "conv-nhwc": (1, 1, 1, channels)}[
        producer
    ]


def exponents(rng, base: int, channels: int) -> np.ndarray:
    """One exponent per channel, spanning four octaves (the first two channels the ends)."""
    frac = base + rng.integers(0, 5, channels)
    frac[:2] = base, base + 4
    return rng.permutation(frac)


def branches(rng):
    """Every rounding mode after a producer (a Dense, a Conv, a Conv read channels-last, in
    turn; after a ReLU every other time): per-channel Quants of 2 to 8 bits, signed, unsigned
    and narrow; and per-channel BipolarQuants after a Dense and a Conv. One model, so one
    C-simulation build."""
    b = Builder(rng)
    inputs, outputs, X, expect = [], [], {}, {}
    k = 0
    for i, mode in enumerate(MODES):
        producer, bits = PRODUCERS[i % 3], 2 + i
        signed, narrow = i in (0, 2, 3, 5), i in (2, 3)
        k += 1
        x = f"x{k}"
        h, shape, data, frac, (fx, bx, bw) = layer(b, rng, x, producer, relu=bool(i % 2))
        channels = shape[1] if producer != "conv-nhwc" else shape[-1]
        # the sums reach about 2^(bx + bw - frac - 1): the codes' range around it, the
        # channels four octaves apart (some saturate, some round on the sums' grid)
        f = exponents(rng, min(frac + bits - bx - bw - 1, frac - 2), channels)
        y = b.quant(h, f.reshape(scale_shape(producer, channels)), bits, signed, narrow, mode)
        inputs.append((x, ["N", *data[1:]]))
        outputs.append((y, shape))
        X[x] = ties(rng, data, fx, 2.0 ** (bx - fx))
        expect[y] = (bits, signed, narrow, mode, f)
    for producer in ["dense", "conv"]:
        k += 1
        x = f"x{k}"
        h, shape, data, frac, (fx, bx, bw) = layer(b, rng, x, producer, relu=False)
        f = exponents(rng, -2, shape[1])
        y = b.bipolar(h, f.reshape(scale_shape(producer, shape[1])))
        inputs.append((x, ["N", *data[1:]]))
        outputs.append((y, shape))
        X[x] = ties(rng, data, fx, 2.0 ** (bx - fx))
        expect[y] = (2, True, False, "bipolar", f)
    return b.model(inputs, outputs), X, expect


def conv_net(seed: int, last: bool):
    """Quant -> Conv (3x3) -> Relu -> per-channel Quant -> Conv (1x1) -> per-channel Quant,
    channels-first, or (``last``) the same net channels-last as qonnx's
    ConvertToChannelsLastAndClean writes it (``qonnx.custom_op.channels_last`` Convs, weights
    ``(out, kh, kw, in)``, the scales on the last axis: written by hand, since qonnx's
    conversion leaves a per-channel activation scale on axis 1)."""
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    domain = {"domain": CL} if last else {}
    layout = (0, 2, 3, 1) if last else (0, 1, 2, 3)

    def on_channels(frac):
        return frac.reshape(1, 1, 1, -1) if last else frac.reshape(1, -1, 1, 1)

    xq = b.quant("x", 2, 5)
    W1 = rng.standard_normal((4, 2, 3, 3)) * 4
    w1 = b.quant(b.const(W1.transpose(layout)), 2, 4)
    h = b.node("Conv", [xq, w1], pads=[1] * 4, kernel_shape=[3, 3], **CONV, **domain)
    r = b.node("Relu", [h])
    a = b.quant(r, on_channels(exponents(rng, 1, 4)), 4, signed=False, mode="FLOOR")
    W2 = rng.standard_normal((3, 4, 1, 1)) * 4
    w2 = b.quant(b.const(W2.transpose(layout)), 2, 4)
    c2 = b.node("Conv", [a, w2], pads=[0] * 4, kernel_shape=[1, 1], **CONV, **domain)
    y = b.quant(c2, on_channels(exponents(rng, 0, 3)), 6, mode="HALF_UP")
    shape = [48, 5, 5, 3] if last else [48, 3, 5, 5]
    model = b.model([("x", [48, 5, 5, 2] if last else [48, 2, 5, 5])], [(y, shape)])
    x = ties(rng, (48, 2, 5, 5), 2, 4.0)
    if last:
        model.opset_import.append(helper.make_opsetid(CL, 1))
        shapes = {xq: [48, 5, 5, 2], h: [48, 5, 5, 4], r: [48, 5, 5, 4], a: [48, 5, 5, 4]}
        shapes.update({c2: [48, 5, 5, 3], w1: [4, 3, 3, 2], w2: [3, 1, 1, 4]})
        model.graph.value_info.extend(
            helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()
        )
    return model, {"x": x.transpose(layout)}


def brevitas_net(path: str) -> onnx.ModelProto:
    """QuantIdentity -> QuantConv2d (per-channel weights, its channels scaled apart by
    octaves) -> QuantReLU with scaling_per_output_channel and power-of-two scales ->
    QuantConv2d, exported by Brevitas's export_qonnx and cleaned by qonnx."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantReLU
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    torch.manual_seed(4)
    per_channel = Int8WeightPerTensorFixedPoint.let(scaling_per_output_channel=True)
    net = torch.nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=6, return_quant_tensor=True),
        QuantConv2d(2, 4, 3, padding=1, weight_bit_width=5, weight_quant=per_channel, bias=False),
        QuantReLU(
            act_quant=Uint8ActPerTensorFixedPoint,
            bit_width=5,
            scaling_per_output_channel=True,
            per_channel_broadcastable_shape=(1, 4, 1, 1),
            scaling_stats_permute_dims=(1, 0, 2, 3),
            return_quant_tensor=True,
        ),
        QuantConv2d(4, 3, 1, weight_bit_width=4, weight_quant=per_channel, bias=False),
    )
    with torch.no_grad():
        net[1].weight.mul_(torch.tensor([1.0, 8.0, 0.125, 2.0]).reshape(4, 1, 1, 1))
        net.train()
        for _ in range(3):  # the activations' scales fitted to the data
            net(torch.randn(32, 2, 5, 5) * 2)
    net.eval()
    export_qonnx(net, torch.randn(1, 2, 5, 5), export_path=path, dynamo=False)
    return cleanup_model(ModelWrapper(path)).model


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    rng = np.random.default_rng(13)
    out = {}
    model, X, expect = branches(rng)
    out["branches"] = (model, nnfx.compile(model), X, expect)
    for name in ["nchw", "channels-last"]:
        m, X = conv_net(17, name == "channels-last")
        out[name] = (m, nnfx.compile(m), X, None)
    if importlib.util.find_spec("brevitas") is not None:
        m = brevitas_net(str(tmp_path_factory.mktemp("pc") / "brevitas.onnx"))
        x = ties(rng, (48, 2, 5, 5), 3, 8.0)
        out["brevitas"] = (m, nnfx.compile(m), {m.graph.input[0].name: x}, None)
    # one build per engine; ap_fixed's (the slow one) for the hand-built branches only
    share_csim([compiled for _, compiled, _, _ in out.values()], ("csim",))
    share_csim([out["branches"][1]], ("csim-ap",))
    return out


@pytest.mark.xdist_group("qonnx-per-channel")
def test_per_channel_quants_in_every_rounding_mode_equal_qonnx_in_every_engine(cases):
    model, compiled, X, expect = cases["branches"]
    equals_qonnx(model, compiled, X)
    graph = compiled.graph
    producers = {n.outputs[0]: n for n in graph.nodes}
    raw = run_fixed(graph, compiled.quantize_inputs(X), intermediate=True)
    for y, (bits, signed, narrow, mode, f) in expect.items():
        spread = int(f.max() - f.min())
        want = FixedType(bits + spread, bits - int(f.min()), signed, "RND_CONV", "SAT")
        assert graph.tensors[y].dtype == want, y
        values = producers[y]  # the exact shift back, reading the codes (or the signs)
        assert values.op is Op.BATCH_NORM
        assert np.array_equal(graph.constants[values.params["scale"]], np.ldexp(1.0, -f))
        first = producers[values.inputs[0]]
        if mode == "bipolar":
            assert first.op is Op.ACTIVATION and first.attrs.kind.value == "bipolar"
            continue
        rounding = NNFX_MODE[mode]
        overflow = "SAT_SYM" if narrow else "SAT"
        assert graph.tensors[first.outputs[0]].dtype == FixedType(
            bits, bits, signed, rounding, overflow
        )
        assert np.array_equal(graph.constants[first.params["scale"]], np.ldexp(1.0, f))
        # the rounding was reached: x 2^F_c off the integers, exact ties among them
        t = graph.tensors[first.inputs[0]].dtype
        scaled = raw[first.inputs[0]] * np.ldexp(1.0, f - t.frac)
        assert np.any(scaled % 1 == 0.5) and np.any(scaled % 1 != 0), y
        assert producers[first.inputs[0]].op in (Op.DENSE, Op.CONV, Op.TRANSPOSE, Op.ACTIVATION)


@pytest.mark.xdist_group("qonnx-per-channel")
@pytest.mark.parametrize("name", ["nchw", "channels-last", "brevitas"])
def test_conv_nets_before_and_after_channels_last_and_a_brevitas_export_equal_qonnx(cases, name):
    if name not in cases:
        pytest.skip("brevitas is not installed")
    model, compiled, X, _ = cases[name]
    engines = ENGINES[:3]  # (csim-ap: the branches above)
    quants = [n for n in model.graph.node if n.op_type == "Quant"]
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    computed = [n for n in quants if n.input[0] not in inits]
    per_channel = [n for n in computed if np.unique(inits[n.input[1]]).size > 1]
    assert per_channel, "the model has no per-channel Quant on computed data"
    if name == "channels-last":
        assert any(n.domain == "qonnx.custom_op.channels_last" for n in model.graph.node)
        assert all(inits[n.input[1]].shape[-1] > 1 for n in per_channel)  # on the last axis
    equals_qonnx(model, compiled, X, engines)


def load(b: Builder, y: str, shape, inputs=(("x", ["N", 2, 3, 3]),)):
    return nnfx.load(b.model(list(inputs), [(y, shape)]))


@pytest.mark.parametrize(
    "case,reason",
    [
        ("input", "not on a graph input"),
        ("two axes", "varies along more than one axis"),
        ("spatial", "varies along axis 2, which is not the channel axis"),
        ("too wide", "need 65 bits in one type, more than 62"),
    ],
)
def test_unsupported_per_channel_quants_are_one_sentence(case, reason):
    b = Builder(np.random.default_rng(0))
    x = "x" if case == "input" else b.node("Relu", [b.quant("x", 2, 6)])
    frac = {
        "input": np.array([1, 2]).reshape(1, 2, 1, 1),
        "two axes": np.arange(6).reshape(1, 2, 3, 1),
        "spatial": np.array([0, 1, 2]).reshape(1, 1, 3, 1),
        "too wide": np.array([0, 5]).reshape(1, 2, 1, 1),
    }[case]
    bits = 60 if case == "too wide" else 4
    y = b.quant(x, frac, bits)
    with pytest.raises(UnsupportedOpError, match=reason) as info:
        load(b, y, ["N", 2, 3, 3])
    assert "node 'quant" in str(info.value)
    assert str(info.value).count(". ") == 0


def test_a_per_channel_bipolar_quant_on_a_graph_input_equals_qonnx():
    """The sign test needs no grid: the input's type is the two-bit floor type, exact for
    every float, so a per-channel BipolarQuant may read a graph input (a Quant may not)."""
    rng = np.random.default_rng(2)
    b = Builder(rng)
    y = b.bipolar("x", np.array([3, -1, 0]).reshape(1, 3, 1, 1))
    model = b.model([("x", ["N", 3, 2, 2])], [(y, ["N", 3, 2, 2])])
    x = rng.standard_normal((64, 3, 2, 2)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = 0.0  # 0 gives +s
    compiled = nnfx.compile(model)
    equals_qonnx(model, compiled, {"x": x}, ENGINES[:2])
    assert compiled.graph.tensors[y].dtype == FixedType(6, 3, True, "RND_CONV", "SAT")
