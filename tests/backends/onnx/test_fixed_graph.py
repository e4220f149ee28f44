"""The fixed-point ONNX export (nnfx/backends/onnx/fixed_graph.py): on onnxruntime it is
bit-exact with the fixed reference (every op, every rounding and overflow mode, random
precisions, a scikit-learn classifier's label); it is standard ONNX, and refuses what it
cannot export exactly. Trained whole models: tests/e2e/test_ort.py."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import nnfx
from nnfx.backends.onnx import to_fixed_onnx
from nnfx.compiler.fixed import OVERFLOW, ROUNDING, FixedType
from nnfx.errors import UnsupportedOpError
from tests.helpers import raw_equal
from tests.op_models import MODEL_NAMES, model_input_shape, models, random_compile


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("seed", range(3))
def test_fixed_onnx_equals_the_reference_for_every_op(name, seed):
    rng = np.random.default_rng(77 + 1000 * seed + MODEL_NAMES.index(name))
    compiled, loaded = random_compile(rng, name, max_table_log2=9)
    X = rng.standard_normal((64, *model_input_shape(loaded))) * 4
    X[:8] = np.round(X[:8] * 8) / 8  # values on coarse grids: ties for every rounding mode
    assert raw_equal(compiled.predict_raw(X, "ort"), compiled.predict_raw(X, "reference"))


@pytest.mark.parametrize("rounding", ROUNDING)
@pytest.mark.parametrize("overflow", OVERFLOW)
def test_every_rounding_and_overflow_mode(rounding, overflow, rng):
    model = dict(models(rng))["conv"]
    t = FixedType(7, 2, True, rounding, overflow)
    compiled = nnfx.compile(model, precision=f"fixed<7,2,{rounding},{overflow}>")
    assert compiled.graph.tensors["y"].dtype == t
    X = np.round(rng.standard_normal((40, 2, 5, 5)) * 64) / 16  # ties and overflows
    assert raw_equal(compiled.predict_raw(X, "ort"), compiled.predict_raw(X, "reference"))


def test_sklearn_classifier_label_output(rng):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.datasets import load_wine
    from sklearn.neural_network import MLPClassifier

    X, y = load_wine(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    clf = MLPClassifier((8,), max_iter=400, random_state=0).fit(X, y)
    onx = skl2onnx.to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    compiled = nnfx.compile(onx, "auto", calibration=X, width=10)
    ours, theirs = compiled.predict_raw(X, "ort"), compiled.predict_raw(X)
    assert raw_equal(ours, theirs)


def test_fixed_export_is_standard_and_named(tmp_path, rng):
    compiled = nnfx.compile(dict(models(rng))["softmax"], "fixed<10,3,RND,SAT>")
    path = compiled.export_onnx(tmp_path / "fixed.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert all(n.domain in ("", "ai.onnx") for n in model.graph.node)
    assert {n.op_type for n in model.graph.node} >= {"Gather", "ReduceMax", "ReduceSum", "Clip"}
    assert any(n.name.startswith("y/") for n in model.graph.node)  # grouped by IR node


def test_user_accumulators_have_no_export_yet(rng):
    model = dict(models(rng))["dense"]
    compiled = nnfx.compile(
        model, {"default": "fixed<10,3>", "layers": {"y": {"accum": "fixed<14,6>"}}}
    )
    with pytest.raises(UnsupportedOpError, match="user-chosen accumulator"):
        to_fixed_onnx(compiled.graph)


def test_exactness_bound_is_enforced(rng):
    model = dict(models(rng))["dense"]
    compiled = nnfx.compile(model, "fixed<30,8>")  # accumulator of 54..62 bits
    with pytest.raises(nnfx.PrecisionError, match="more than the 53"):
        to_fixed_onnx(compiled.graph)
