"""``tiny_mlp``: a small classifier (4 inputs, 8 hidden, 3 classes) trained briefly, with its
evaluation data, shared by the sweep tests."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_mlp(tmp_path_factory):
    """(onnx path, X, y): 400 samples whose class is the largest of the first three inputs."""
    from nnfx.trainer import Dense, Sequential

    rng = np.random.default_rng(7)
    X = rng.standard_normal((400, 4))
    y = X[:, :3].argmax(1)
    model = Sequential(
        [Dense(8, activation="relu"), Dense(3, activation="softmax")], input_shape=(4,), seed=0
    )
    model.compile("adam", "categorical_crossentropy")
    model.fit(X, y, epochs=20, verbose=0)
    path = tmp_path_factory.mktemp("sweep_model") / "tiny.onnx"
    model.export_onnx(path)
    return path, X, y
