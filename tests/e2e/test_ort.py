"""End to end: digits models (an MLP and a CNN) trained by our trainer, exported to ONNX,
compiled at a fixed type and with "auto" calibration, then run as the fixed-point ONNX model
on onnxruntime, bit-exact with the fixed reference."""

from __future__ import annotations

import numpy as np
import pytest

import nnfx
from tests.helpers import raw_equal


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_whole_models(name, rng, tmp_path):
    from nnfx.trainer import Conv2D, Dense, Flatten, MaxPool2D, Sequential, load_dataset

    data = load_dataset("digits", images=name == "digits_cnn")
    X = (data.X / 16.0).astype(np.float32)
    layers = (
        [Conv2D(4, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten()]
        if name == "digits_cnn"
        else [Dense(32, activation="relu")]
    )
    model = Sequential([*layers, Dense(10, activation="softmax")], input_shape=X.shape[1:], seed=0)
    model.compile("adam", "categorical_crossentropy")
    model.fit(X[:600], data.y[:600], epochs=3, verbose=0)
    model.export_onnx(tmp_path / "m.onnx")
    for precision in ("fixed<16,6>", "auto"):
        compiled = nnfx.compile(tmp_path / "m.onnx", precision, calibration=X[:300], width=9)
        assert raw_equal(compiled.predict_raw(X, "ort"), compiled.predict_raw(X))
