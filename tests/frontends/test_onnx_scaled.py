"""Non-power-of-two scales and non-zero zero points, folded (docs/semantics.md,
"Non-power-of-two scales"): onnxruntime's quantize_static MLP (uint8 activations with zero
points, per-channel int8 weights), a QONNX model built here and a Brevitas export with float
scales. Each: every engine's codes equal the fixed reference's (bit-exact among nnfx's
engines), the argmax equals the model's own execution on >= 99% of the samples, and the
per-layer difference report counts the codes that differ from it (here, few or none)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import nnfx
from nnfx.errors import UnsupportedOpError
from nnfx.report.scales import run_source, scale_differences
from tests.csim_union import share_csim
from tests.qonnx_helpers import DOMAIN, Builder, ort_quantized

pytestmark = pytest.mark.xdist_group("scaled")
# csim-ap's BatchNorm kernel (the folded multiplies) is bit-exact in the op tests; one
# C-simulation build (ac_fixed) keeps this module's cold cost near 15 s
ENGINES = ["ort", "csim"]


def qonnx_model() -> onnx.ModelProto:
    """Quant(x, 0.037, z=3, 8 bits unsigned) -> Gemm(Quant(W, per-channel 0.011..0.05, int6),
    Quant(bias, 0.0013, int16)) -> Relu -> Quant(0.071, z=-5, int7, HALF_UP) -> MatMul(W2)."""
    rng = np.random.default_rng(3)
    b = Builder(rng)

    quant = b.scaled_quant

    xq = quant("x", 0.037, 3.0, 8, signed=0, narrow=0, rounding_mode="ROUND")
    w = quant(b.const(rng.standard_normal((5, 6)) * 0.4), np.linspace(0.011, 0.05, 5)[:, None],
              0.0, 6, signed=1, narrow=1, rounding_mode="ROUND")  # fmt: skip
    bias = quant(b.const(rng.standard_normal(5)), 0.0013, 0.0, 16, signed=1, narrow=0)
    h = b.node("Gemm", [xq, w, bias], transB=1)
    r = b.node("Relu", [h])
    rq = quant(r, 0.071, -5.0, 7, signed=1, narrow=0, rounding_mode="HALF_UP")
    w2 = quant(b.const(rng.standard_normal((5, 3))), 0.023, 0.0, 8, signed=1, narrow=0)
    y = b.node("MatMul", [rq, w2])
    return b.model([("x", ["N", 6])], [(y, ["N", 3])])


def brevitas_model(tmp_path) -> onnx.ModelProto:
    pytest.importorskip("brevitas")
    pytest.importorskip("onnxoptimizer")
    import torch
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (
        Int8ActPerTensorFloat,
        Int8WeightPerTensorFloat,
        Uint8ActPerTensorFloat,
    )

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True),
        QuantLinear(6, 8, bias=False, weight_quant=Int8WeightPerTensorFloat),
        QuantReLU(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True),
        QuantLinear(8, 3, bias=False, weight_quant=Int8WeightPerTensorFloat),
    )
    net.train()
    with torch.no_grad():  # calibrate the activation scales a little
        for _ in range(4):
            net(torch.randn(64, 6))
    net.eval()
    path = tmp_path / "brevitas_float.onnx"
    export_qonnx(net, torch.randn(1, 6), export_path=str(path))
    return onnx.load(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    pytest.importorskip("qonnx")
    tmp = tmp_path_factory.mktemp("scaled")
    rng = np.random.default_rng(7)
    built = {
        "ort": (ort_quantized(tmp), rng.standard_normal((400, 8)).astype(np.float32)),
        "qonnx": (qonnx_model(), (rng.standard_normal((400, 6)) * 3).astype(np.float32)),
        "brevitas": (brevitas_model(tmp), rng.standard_normal((400, 6)).astype(np.float32)),
    }
    out = {k: (m, nnfx.compile(m), X) for k, (m, X) in built.items()}
    share_csim([c for _, c, _ in out.values()], engines=("csim",))
    return out


@pytest.mark.parametrize("name", ["ort", "qonnx", "brevitas"])
def test_folded_scales_agree_with_the_models_own_execution(models, name):
    model, compiled, X = models[name]
    assert any(n.op.value == "BatchNorm" and n.precision for n in compiled.graph.nodes)
    want_ref = compiled.predict_raw(X)
    for engine in ENGINES:
        got = compiled.predict_raw(X, engine)
        for k in want_ref:
            assert np.array_equal(got[k], want_ref[k]), (engine, k)
    out = model.graph.output[0].name
    theirs = run_source(model, X, [out])[out]
    ours = compiled.predict(X)
    assert np.mean(ours.argmax(1) == theirs.reshape(ours.shape).argmax(1)) >= 0.99
    rows = scale_differences(compiled, model, X)
    quantizers = [
        n for n in model.graph.node
        if n.op_type in ("QuantizeLinear", "Quant") and n.input[0] not in
        {i.name for i in model.graph.initializer}
    ]  # fmt: skip
    assert {r["onnx_node"] for r in rows} == {n.name for n in quantizers}
    for r in rows:
        assert r["outputs"] > 0 and r["different_fraction"] <= 0.01 and r["max_abs_lsb"] <= 1, r
    # a folded scale that nnfx is told to get wrong shows in the report
    wrong = {r["onnx_node"]: r for r in scale_differences(compiled, model, X, _shifted(model, X))}
    assert max(r["different_fraction"] for r in wrong.values()) > 0.5


def _shifted(model, X):
    """The model's execution with every quantizer's codes one off (a check that the report
    compares codes)."""
    folded = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "Quant")]
    names = [n.output[0] for n in folded]
    values = run_source(model, X, names)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in folded:
        step = 1 if n.op_type == "QuantizeLinear" else float(inits[n.input[1]].reshape(-1)[0])
        values[n.output[0]] = values[n.output[0]].astype(np.float64) + step
    return values


def test_per_axis_scale_on_computed_data_is_one_sentence(models):
    model, _, _ = models["ort"]
    model = onnx.ModelProto.FromString(model.SerializeToString())
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    model.graph.initializer.append(numpy_helper.from_array(np.full(8, 0.03, np.float32), "s8"))
    q.input[1] = "s8"
    with pytest.raises(UnsupportedOpError, match="per-axis scale on computed data") as info:
        nnfx.load(model)
    assert str(info.value).count(". ") == 0


def test_the_report_shows_the_folded_scales(models, tmp_path):
    model, compiled, X = models["ort"]
    path = tmp_path / "mlp_qdq.onnx"
    onnx.save(model, path)
    y = compiled.predict(X).argmax(1)
    report = nnfx.report(path, X, y, tmp_path / "r", precisions=(), engines=("reference",),
                         progress=False)  # fmt: skip
    rows = report.data["folded_scales"]
    assert [r["layer"] for r in rows] == [r["layer"] for r in scale_differences(compiled, model, X)]
    page = next((tmp_path / "r").glob("*.md")).read_text()
    assert "Folded scales" in page and "x_QuantizeLinear" in page


@pytest.mark.parametrize("mode", ["ROUND", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN"])
def test_a_folded_quant_of_computed_data_in_every_rounding_mode(mode):
    """Quant(x) -> Gemm(Quant(W)) -> Quant(h): random bit widths, signedness, narrow range,
    scales and zero points; nnfx's codes (reference and fixed ONNX, bit-exact with each other)
    against qonnx's: all but a band near the rounding boundaries equal (the input's by one code
    at most; UP, away from zero, jumps two codes at 0)."""
    pytest.importorskip("qonnx")
    from tests.qonnx_helpers import qonnx_outputs

    rng = np.random.default_rng(sum(map(ord, mode)))
    b = Builder(rng)

    def quant(x, bits, signed, **attrs):
        b.count += 1
        out = f"q{b.count}"
        low = -(2 ** (bits - 1)) if signed else 0
        zero = float(rng.integers(low // 2, 2 ** (bits - 2) + 1)) if bits > 2 else 0.0
        scale = float(rng.uniform(0.01, 0.3))
        inputs = [x, b.const(scale), b.const(zero), b.const(float(bits))]
        b.nodes.append(
            helper.make_node("Quant", inputs, [out], name=out, domain=DOMAIN, signed=int(signed),
                             rounding_mode=mode, **attrs)
        )  # fmt: skip
        return out

    signed = bool(rng.integers(2))
    xq = quant("x", int(rng.integers(3, 11)), signed, narrow=int(signed and rng.integers(2)))
    w = quant(b.const(rng.standard_normal((4, 5))), int(rng.integers(2, 9)), True, narrow=0)
    h = b.node("Gemm", [xq, w], transB=1)
    y = quant(h, int(rng.integers(3, 11)), True, narrow=0)
    model = b.model([("x", ["N", 5])], [(y, ["N", 4])])
    X = {"x": (rng.standard_normal((300, 5)) * 2).astype(np.float32)}
    compiled = nnfx.compile(model)
    raw = compiled.predict_raw(X)
    assert all(np.array_equal(compiled.predict_raw(X, "ort")[k], raw[k]) for k in raw)
    rows = scale_differences(compiled, model, X)
    assert len(rows) == 2
    # the input's codes differ by one code at most (near a boundary); a code that differs there
    # moves the layer's sum by a weight, so the next quantizer's may differ by more
    assert rows[0]["different_fraction"] <= 0.01 and rows[0]["max_abs_lsb"] <= 1, rows[0]
    assert rows[1]["different_fraction"] <= 0.01, rows[1]
    want = qonnx_outputs(model, X)[y]
    assert np.mean(np.isclose(compiled.predict(X), want, rtol=0, atol=1e-4)) >= 0.99
