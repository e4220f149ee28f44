"""The XNOR-popcount form of binary layers (nnfx/compiler/binary.py, templates/nnfx_binary.h;
docs/semantics.md, "QONNX BipolarQuant"): a Dense or Conv whose input is a bipolar activation
and whose weights are binary runs as XNOR and popcount in the HLS kernels, bit-exact with the
reference in both C-simulations; layers without the property keep the multiply-add kernel; the
estimate prices the binary form without DSPs.

Every model here is compiled once (module fixture) and simulated in one union build per engine
(tests.csim_union.share_csim)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import nnfx
from nnfx.backends.hls import names
from nnfx.backends.hls.emit_binary import WORD_BITS, sign_words
from nnfx.backends.hls.writer import HlsWriter
from nnfx.compiler.binary import MAX_BITS, binary_form
from nnfx.compiler.estimate import _linear_over, estimate
from nnfx.compiler.ops import Op
from tests.csim_union import share_csim
from tests.qonnx_helpers import (
    MODES,
    Builder,
    brevitas_binary_mlp,
    codes,
    equals_qonnx,
    qonnx_outputs,
)

pytest.importorskip("qonnx")
pytestmark = pytest.mark.xdist_group("binary-dense")  # one worker builds the shared C-simulations

BATCH = 48


def after(b: Builder, rng, y: str, kind: str) -> str:
    """What follows the layer: a ReLU, a BipolarQuant, or a Quant of random width, rounding
    and overflow (signed or not, narrow or not)."""
    if kind == "relu":
        return b.node("Relu", [y])
    if kind == "bipolar":
        return b.bipolar(y, int(rng.integers(-1, 3)))
    signed = bool(rng.integers(0, 2))
    return b.quant(
        y,
        int(rng.integers(-1, 4)),
        int(rng.integers(2, 9)),
        signed=signed,
        narrow=signed and bool(rng.integers(0, 2)),
        mode=str(rng.choice(MODES)),
    )


def inputs(rng, shape) -> np.ndarray:
    """Normal data with a quarter exact zeros (BipolarQuant gives +s there)."""
    x = rng.standard_normal((BATCH, *shape)).astype(np.float32)
    x[rng.random(x.shape) < 0.25] = 0.0
    return x


def dense_case(seed: int, n_in: int, kind: str, per_output: bool, bias: bool, x_kind="bipolar"):
    """x -> BipolarQuant -> Gemm(BipolarQuant(W), Quant(bias)) -> ``kind``. ``x_kind``
    "quant": a 2-bit Quant on the input instead (not bipolar); "weights": 3-bit Quant weights
    (not binary)."""
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    n_out = int(rng.integers(2, 6))
    if x_kind == "quant":
        x = b.quant("x", 0, 2)
    else:
        x = b.bipolar("x", int(rng.integers(-1, 3)))
    w = b.const(rng.standard_normal((n_out, n_in)))
    if x_kind == "weights":
        w = b.quant(w, 2, 3)
    else:
        w = b.bipolar(w, rng.integers(-1, 4, (n_out, 1)) if per_output else rng.integers(-1, 4))
    terms = [x, w]
    if bias:
        terms.append(b.quant(b.const(rng.integers(-40, 40, n_out) * 0.125), 3, 7))
    y = after(b, rng, b.node("Gemm", terms, transB=1), kind)
    model = b.model([("x", ["N", n_in])], [(y, ["N", n_out])])
    return model, {"x": inputs(rng, (n_in,))}


def conv_case(seed: int, one_d: bool):
    """x -> BipolarQuant -> Conv(per-output BipolarQuant(W), bias) -> Quant or ReLU: a 2-D conv
    with padding and stride 2; a 1-D grouped conv with dilation 2 and uneven padding."""
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    x = b.bipolar("x", int(rng.integers(-1, 3)))
    if one_d:
        shape, w_shape = (4, 9), (4, 2, 3)
        attrs = {"group": 2, "dilations": [2], "pads": [2, 1]}
        frac = rng.integers(-1, 4, (4, 1, 1))
    else:
        shape, w_shape = (3, 5, 5), (4, 3, 3, 3)
        attrs = {"strides": [2, 2], "pads": [1, 1, 1, 1]}
        frac = rng.integers(-1, 4, (4, 1, 1, 1))
    w = b.bipolar(b.const(rng.standard_normal(w_shape)), frac)
    bias = b.quant(b.const(rng.integers(-20, 20, 4) * 0.25), 2, 7)
    y = after(b, rng, b.node("Conv", [x, w, bias], **attrs), "relu" if one_d else "quant")
    out = ["N", 4, 8] if one_d else ["N", 4, 3, 3]
    model = b.model([("x", ["N", *shape])], [(y, out)])
    return model, {"x": inputs(rng, shape)}


def brevitas_mlp(path: str):
    """QuantIdentity -> QuantLinear -> QuantHardTanh -> QuantLinear (binary quantizers, scales
    1 and 1/2), exported by export_qonnx and cleaned by qonnx."""
    import torch
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    net = brevitas_binary_mlp((20, 24, 3), seed=1)
    export_qonnx(net, torch.randn(1, 20), export_path=path)
    model = cleanup_model(ModelWrapper(path)).model
    x = inputs(np.random.default_rng(3), (20,))
    return model, {model.graph.input[0].name: x}


DENSE = {  # name -> (n_in, what follows, per-output weight scales, bias)
    "n1": (1, "quant", False, True),
    "n7": (7, "relu", True, True),
    "n64": (64, "bipolar", True, False),
    "n100": (100, "quant", True, True),
    "n200": (200, "quant", False, True),
    "n200relu": (200, "relu", True, False),
    "n1100": (1100, "quant", True, True),  # above ap_uint's default 1024 bits
}
BINARY = [*DENSE, "conv2d", "conv1d"]  # the models whose layers take the binary form
# name -> (the input or weights that are not binary, a narrower accumulator than the exact one)
CONTROLS = {
    "input not bipolar": ("quant", None),
    "weights not binary": ("weights", None),
    "narrow accumulator": ("bipolar", "fixed<7,4,RND,SAT>"),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cases = {name: dense_case(k, *spec) for k, (name, spec) in enumerate(DENSE.items(), start=30)}
    cases["conv2d"] = conv_case(40, one_d=False)
    cases["conv1d"] = conv_case(41, one_d=True)
    accums = {}
    for k, (name, (x_kind, accum)) in enumerate(CONTROLS.items(), start=50):
        cases[name] = dense_case(k, 64, "quant", True, True, x_kind=x_kind)
        if accum is not None:
            dense = next(n for n in nnfx.compile(cases[name][0]).graph.nodes if n.op is Op.DENSE)
            accums[name] = {"layers": {dense.name: {"accum": accum}}}
    try:
        import brevitas  # noqa: F401

        cases["brevitas"] = brevitas_mlp(str(tmp_path_factory.mktemp("bnn") / "mlp.onnx"))
    except ImportError:
        pass
    compiled = {
        name: nnfx.compile(model, precision=accums.get(name, "fixed<16,6>"))
        for name, (model, _) in cases.items()
    }
    share_csim(list(compiled.values()))
    return {name: (cases[name][0], cases[name][1], compiled[name]) for name in cases}


def kernels(compiled) -> list[str]:
    """The kernel of each Dense and Conv call in the generated top function, in order."""
    top = HlsWriter(compiled.graph).files()["firmware/nnfx_top.cpp"]
    calls = [line.split("<")[0].strip() for line in top.splitlines() if "nnfx::" in line]
    return [c for c in calls if c.startswith(("nnfx::dense", "nnfx::conv2d"))]


@pytest.mark.parametrize("name", [*BINARY, *CONTROLS])
def test_c_simulations_equal_the_reference_and_the_reference_equals_qonnx(models, name):
    model, X, compiled = models[name]
    want = compiled.predict_raw(X, "reference")
    for engine in ("csim", "csim-ap"):
        got = compiled.predict_raw(X, engine)
        for out in compiled.graph.outputs:
            assert np.array_equal(got[out], want[out]), (name, engine, out)
    if CONTROLS.get(name, (None, None))[1] is not None:
        return  # a narrower accumulator than qonnx's float sum: nnfx's own rule only
    expected = qonnx_outputs(model, X)
    for engine in ("reference", "ort"):
        got = compiled.predict(X, engine=engine)
        got = got if isinstance(got, dict) else {model.graph.output[0].name: got}
        for out, value in expected.items():
            t = compiled.graph.tensors[out].dtype
            assert np.array_equal(codes(got[out], t), codes(value, t)), (name, engine, out)


@pytest.mark.parametrize("name", BINARY)
def test_binary_layers_use_the_xnor_popcount_kernel(models, name):
    compiled = models[name][2]
    expected = "nnfx::conv2d_binary" if name.startswith("conv") else "nnfx::dense_binary"
    assert kernels(compiled) == [expected]


@pytest.mark.parametrize("name", CONTROLS)
def test_other_layers_keep_the_multiply_add_kernel(models, name):
    compiled = models[name][2]
    assert kernels(compiled) == ["nnfx::dense"]
    node = next(n for n in compiled.graph.nodes if n.op is Op.DENSE)
    assert binary_form(compiled.graph, node) is None


def test_a_brevitas_binary_mlp_equals_qonnx_in_every_engine_with_the_binary_kernel(models):
    if "brevitas" not in models:
        pytest.skip("brevitas is not installed")
    model, X, compiled = models["brevitas"]
    assert kernels(compiled) == ["nnfx::dense_binary"] * 2
    equals_qonnx(model, compiled, X)


def test_the_generated_names_are_role_plus_stem(models):
    """The binary layers' roles (signs, units, unittype, bitstype) and kernel names keep
    nnfx/backends/hls/names.py's rule: a name with a role prefix is that role plus a stem."""
    for name in ("n100", "conv1d"):
        writer = HlsWriter(models[name][2].graph)
        text = "\n".join(writer.files().values())
        stems = {*writer.names.tensor_stems.values(), *writer.names.node_stems.values()}
        words = set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*", text)) - {"values_", "ready_"}
        assert {"signs_", "units_", "unittype_", "bitstype_"} <= set(names.PREFIXES)
        assert not [
            w for w in words if w.startswith(names.PREFIXES) and w.split("_", 1)[1] not in stems
        ], name


def test_sign_words_pack_sixteen_signs_least_significant_first():
    negative = np.zeros((40, 2), bool)
    negative[[0, 15, 16, 39], 0] = True
    negative[1, 1] = True
    words = sign_words(negative)
    assert WORD_BITS == 16 and words.shape == (2, 3)
    assert words.tolist() == [[1 | 1 << 15, 1, 1 << 7], [2, 0, 0]]


@pytest.mark.parametrize(("reuse", "strategy"), [(1, "latency"), (4, "resource")])
def test_the_estimate_prices_a_binary_layer_without_dsps_below_the_multiply_form(
    models, reuse, strategy
):
    for name in ("n64", "n200", "conv2d"):
        graph = models[name][2].graph
        node = next(n for n in graph.nodes if n.op in (Op.DENSE, Op.CONV))
        layer = next(e for e in estimate(graph, reuse, strategy).layers if e.name == node.name)
        multiply = _linear_over(graph, node, node.constant(graph, "weight"), reuse, strategy)
        assert layer.dsp == 0 and layer.multipliers == 0, name
        assert 0 < layer.lut < multiply.lut, (name, layer.lut, multiply.lut)
        assert layer.latency_cycles <= multiply.latency_cycles, name


def test_sign_vectors_above_1024_bits_widen_ap_uint_and_above_4096_keep_multiply_add(models):
    defines = HlsWriter(models["n1100"][2].graph).files()["firmware/defines.h"]
    assert "#define AP_INT_MAX_W 1100" in defines
    assert "AP_INT_MAX_W" not in HlsWriter(models["n200"][2].graph).files()["firmware/defines.h"]
    wide = nnfx.compile(dense_case(60, MAX_BITS + 1, "relu", False, True)[0])
    assert kernels(wide) == ["nnfx::dense"]
