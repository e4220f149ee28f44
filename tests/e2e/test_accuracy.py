"""End to end: MLPs trained as `nnfx train` trains them (digits, wine, breast cancer),
exported to ONNX and compiled at fixed<16,6> and with "auto" calibration, keep their test
accuracy within budget; a confident sigmoid classifier's logits wrap under WRAP (the overflow
counters show it) and saturation keeps the accuracy."""

import numpy as np
import pytest

import nnfx
import nnfx.runtime.reference
from nnfx.search import accuracy
from tests.helpers import train_mlp_onnx as trained

CASES = [("digits", "softmax"), ("wine", "softmax"), ("breast_cancer", "softmax")]


@pytest.mark.parametrize("name,last", CASES)
def test_accuracy_within_budget(name, last, tmp_path_factory):
    path, X, y, Xt, yt = trained(name, tmp_path_factory, last=last)
    float_acc = accuracy(nnfx.load(path).predict(Xt), yt)
    default = accuracy(nnfx.compile(path, "fixed<16,6>").predict(Xt), yt)
    auto = accuracy(nnfx.compile(path, "auto", calibration=X, width=10).predict(Xt), yt)
    assert 100 * (float_acc - default) <= 1.0, (float_acc, default)
    assert 100 * (float_acc - auto) <= 2.0, (float_acc, auto)


def test_wrap_overflow_is_counted_and_saturation_avoids_it(tmp_path_factory):
    """A confident sigmoid classifier's logits can leave fixed<16,6>'s [-32, 32): WRAP turns
    them around (the counters show it), SAT keeps the accuracy."""
    path, X, y, Xt, yt = trained("breast_cancer", tmp_path_factory, last="sigmoid")
    float_model = nnfx.load(path)
    logits = nnfx.runtime.reference.run(
        float_model.graph, float_model.to_ir_inputs(Xt), intermediate=True
    )["dense_3_out"]
    counts = nnfx.compile(path, "fixed<16,6>").overflow_counts(Xt)
    assert (counts["dense_3"] > 0) == bool(np.any(np.abs(logits) > 32.5))
    saturating = nnfx.compile(path, "fixed<16,6,TRN,SAT>")
    float_acc = accuracy(float_model.predict(Xt), yt)
    assert 100 * (float_acc - accuracy(saturating.predict(Xt), yt)) <= 1.0
