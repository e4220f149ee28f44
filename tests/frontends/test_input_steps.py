"""Input steps (docs/semantics.md, "Input steps"): a leading Add/Sub/Mul/Div by constants on a
graph input that nothing else reads is the model's float preprocessing, applied in float64
before the input quantizer by every engine — bit-exact across them, and no BatchNorm with
quantized constants in the datapath."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper

import nnfx
from nnfx.backends.onnx import to_float_onnx
from nnfx.compiled import load_compiled
from nnfx.compiler.ops import Op
from nnfx.errors import DataError
from tests.csim_union import share_csim
from tests.helpers import make_model, raw_equal

ENGINES = ("reference", "ort", "csim", "csim-ap")


def standardized_mlp(rng, extra_reader: bool = False):
    m = rng.standard_normal(6).astype(np.float32) * 3
    s = (rng.random(6) * 2 + 0.05).astype(np.float32)
    nodes = [
        helper.make_node("Sub", ["x", "m"], ["centred"]),
        helper.make_node("Div", ["centred", "s"], ["z"]),
        helper.make_node("Gemm", ["z", "W", "B"], ["h"]),
        helper.make_node("Relu", ["h"], ["y" if not extra_reader else "r"]),
    ]
    inits = {
        "m": m,
        "s": s,
        "W": rng.standard_normal((6, 4)).astype(np.float32),
        "B": rng.standard_normal(4).astype(np.float32),
    }
    if extra_reader:  # the standardized value is also read raw: the Sub cannot fold
        nodes.append(helper.make_node("Gemm", ["x", "W2"], ["raw"]))
        nodes.append(helper.make_node("Add", ["r", "raw"], ["y"]))
        inits["W2"] = rng.standard_normal((6, 4)).astype(np.float32)
    return make_model(nodes, [("x", ["N", 6])], [("y", ["N", 4])], inits)


def image_model(rng):
    """x / 255, then (x - mean) * (1 / std) per channel on NCHW images, then a Conv."""
    nodes = [
        helper.make_node("Div", ["x", "k255"], ["u"]),
        helper.make_node("Sub", ["u", "mean"], ["c"]),
        helper.make_node("Mul", ["c", "inv_std"], ["z"]),
        helper.make_node("Conv", ["z", "W"], ["y"], pads=[1, 1, 1, 1]),
    ]
    inits = {
        "k255": np.float32(255.0),
        "mean": np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1),
        "inv_std": (1 / np.array([0.229, 0.224, 0.225], np.float32)).reshape(3, 1, 1),
        "W": rng.standard_normal((2, 3, 3, 3)).astype(np.float32),
    }
    return make_model(nodes, [("x", ["N", 3, 5, 5])], [("y", ["N", 2, 5, 5])], inits)


@pytest.fixture(scope="module")
def compiled_models():
    rng = np.random.default_rng(11)
    mlp, image = standardized_mlp(rng), image_model(rng)
    X_mlp = rng.standard_normal((64, 6)) * 4 + 2
    X_mlp[:8] = np.round(X_mlp[:8])  # raw integer features, as digits' pixels are
    X_img = np.round(rng.random((16, 3, 5, 5)) * 255)
    models = {
        "mlp": (mlp, nnfx.compile(mlp, "auto", calibration=X_mlp, width=8), X_mlp),
        "image": (image, nnfx.compile(image, "auto", calibration=X_img, width=10), X_img),
    }
    share_csim([c for _, c, _ in models.values()])
    return models


@pytest.mark.xdist_group("input-steps")
@pytest.mark.parametrize("name", ["mlp", "image"])
def test_leading_affine_steps_fold_and_every_engine_agrees(name, compiled_models):
    onnx_model, compiled, X = compiled_models[name]
    graph = compiled.graph
    steps = graph.tensors[graph.inputs[0]].steps
    assert [s.op for s in steps] == (["sub", "div"] if name == "mlp" else ["div", "sub", "mul"])
    assert Op.BATCH_NORM not in [n.op for n in graph.nodes]
    reference = compiled.predict_raw(X)
    for engine in ENGINES[1:]:
        assert raw_equal(compiled.predict_raw(X, engine), reference), engine
    # the float model (NumPy and its float ONNX) follows the file as onnxruntime runs it
    session = ort.InferenceSession(onnx_model.SerializeToString())
    want = session.run(None, {"x": X.astype(np.float32)})[0]
    model = nnfx.load(onnx_model)
    assert np.allclose(model.predict(X), want, rtol=1e-5, atol=1e-4)
    float_onnx = ort.InferenceSession(to_float_onnx(model.graph).SerializeToString())
    assert np.allclose(float_onnx.run(None, {"x": X.astype(np.float32)})[0], want, atol=1e-4)


def test_the_input_quantizer_sees_the_stepped_values(compiled_models):
    """Quantizing (x - m) / s computed in float64 is the input's codes: the steps cost no
    precision, where a BatchNorm would round its constants to the width."""
    onnx_model, compiled, X = compiled_models["mlp"]
    steps = compiled.graph.tensors["x"].steps
    m, s = steps[0].constant(), steps[1].constant()
    from nnfx.compiler.fixed import quantize_raw

    codes = quantize_raw((X - m) / s, compiled.graph.tensors["x"].dtype)
    assert np.array_equal(compiled.quantize_inputs(X)["x"], codes)


def test_an_affine_read_elsewhere_or_returned_stays_in_the_datapath():
    rng = np.random.default_rng(2)
    shared = nnfx.load(standardized_mlp(rng, extra_reader=True))
    assert not shared.graph.tensors["x"].steps
    assert Op.BATCH_NORM in [n.op for n in shared.graph.nodes]
    returned = make_model(
        [helper.make_node("Mul", ["x", "k"], ["y"])],
        [("x", ["N", 3])],
        [("y", ["N", 3])],
        {"k": np.float32(2.0)},
    )
    assert not nnfx.load(returned).graph.tensors["x"].steps
    divide_by_zero = make_model(
        [helper.make_node("Div", ["x", "k"], ["z"]), helper.make_node("Relu", ["z"], ["y"])],
        [("x", ["N", 2])],
        [("y", ["N", 2])],
        {"k": np.array([1.0, 0.0], np.float32)},
    )
    with pytest.raises(nnfx.NnfxError, match="divides by a constant that holds zero"):
        nnfx.load(divide_by_zero)


def test_steps_survive_save_and_load(compiled_models, tmp_path):
    _, compiled, X = compiled_models["image"]
    compiled.save(tmp_path / "saved")
    again = load_compiled(tmp_path / "saved")
    assert (
        again.graph.tensors[again.graph.inputs[0]].steps
        == compiled.graph.tensors[compiled.graph.inputs[0]].steps
    )
    assert raw_equal(again.predict_raw(X), compiled.predict_raw(X))


def test_a_step_that_overflows_to_infinity_is_refused_under_wrap():
    """The special-value rule applies to what the input quantizer sees: a finite input that a
    step takes to infinity is refused under a wrapping input type, in every engine alike."""
    model = make_model(
        [helper.make_node("Mul", ["x", "k"], ["z"]), helper.make_node("Relu", ["z"], ["y"])],
        [("x", ["N", 2])],
        [("y", ["N", 2])],
        {"k": np.float32(1e30)},
    )
    compiled = nnfx.compile(
        model, {"default": "fixed<12,4>", "tensors": {"x": "fixed<8,4,TRN,WRAP>"}}
    )
    X = np.array([[1.0, 2.0], [1e300, 0.0]])
    for engine in ("reference", "ort"):
        with (
            np.errstate(over="ignore"),
            pytest.raises(DataError, match="input 'x' holds infinity at sample 1"),
        ):
            compiled.predict_raw(X, engine)
