"""End to end: trained models (our trainer's digits and wine MLPs, a PyTorch CNN) compiled at
a fixed type and with "auto" calibration, then run in both C-simulations of the generated HLS
project (ac_fixed and ap_fixed), bit-exact with the fixed reference."""

from __future__ import annotations

import shutil

import pytest

import nnfx
from tests.helpers import export_torch_digits_cnn, raw_equal

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)
ENGINES = ["csim", "csim-ap"]


def trained_digits_mlp(tmp_path):
    from nnfx.trainer import recipe

    result = recipe.train(recipe.TrainConfig(epochs=5), verbose=0)
    result.model.export_onnx(tmp_path / "mlp.onnx")
    return tmp_path / "mlp.onnx", result.test[0]


def wine_softmax_mlp(tmp_path):
    from nnfx.trainer import recipe

    result = recipe.train(recipe.TrainConfig(dataset="wine", hidden=(16,), epochs=20), verbose=0)
    result.model.export_onnx(tmp_path / "wine.onnx")
    return tmp_path / "wine.onnx", result.test[0]


def torch_digits_cnn(tmp_path):
    path, X, _ = export_torch_digits_cnn(tmp_path)
    return path, X[:200]


@pytest.mark.parametrize(
    "make",
    [trained_digits_mlp, wine_softmax_mlp, torch_digits_cnn],
    ids=["digits_mlp", "wine_mlp_softmax", "pytorch_digits_cnn"],
)
@pytest.mark.parametrize("precision", ["fixed<16,6>", "auto"])
def test_whole_models(make, precision, tmp_path):
    path, X = make(tmp_path)
    compiled = nnfx.compile(path, precision, calibration=X, width=10)
    reference = compiled.predict_raw(X)
    for engine in ENGINES:
        assert raw_equal(compiled.predict_raw(X, engine), reference), engine
