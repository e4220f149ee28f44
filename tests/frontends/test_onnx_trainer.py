"""Models exported by our own trainer, every layer type: the float IR equals onnxruntime."""

import numpy as np
import pytest

from nnfx.trainer import (
    ELU,
    SGD,
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from tests.helpers import assert_matches_ort, ops, rand

TRAINER_MODELS = {
    "mlp_every_activation": (
        (10,),
        lambda: [
            Dense(16),
            ReLU(),
            Dense(16),
            LeakyReLU(0.1),
            Dense(16),
            ELU(0.5),
            Dense(12),
            Sigmoid(),
            Dense(12),
            Tanh(),
            Dense(8),
            Linear(),
            Dropout(0.3),
            Dense(4),
            Softmax(),
        ],
    ),
    "mlp_batchnorm": ((10,), lambda: [Dense(16), BatchNorm1D(), ReLU(), Dense(3)]),
    "cnn_every_layer": (
        (2, 8, 8),
        lambda: [
            Conv2D(4, 3, padding="same"),
            BatchNorm2D(),
            ReLU(),
            MaxPool2D(2),
            Conv2D(6, 3, strides=2, padding=1),
            AvgPool2D(2, strides=1, padding=1),
            Tanh(),
            Flatten(),
            Dropout(0.2),
            Dense(5, activation="softmax"),
        ],
    ),
    "cnn_valid_rect": (
        (1, 9, 7),
        lambda: [Conv2D(3, (3, 2), padding=(1, 0)), ELU(), AvgPool2D((2, 3)), Flatten(), Dense(2)],
    ),
}


@pytest.mark.parametrize("name", list(TRAINER_MODELS))
def test_trainer_models(name, tmp_path, rng):
    shape, layers = TRAINER_MODELS[name]
    model = Sequential(layers(), input_shape=shape, seed=1)
    X = rand(rng, 32, *shape)
    model.compile(SGD(0.01), "mse", metrics=[])
    model.fit(X, rng.standard_normal((32, *model.output_shape)), epochs=2, verbose=0)
    path = tmp_path / "m.onnx"
    model.export_onnx(path)
    loaded = assert_matches_ort(str(path), X)
    assert "BatchNorm" not in ops(loaded)  # folded into the Dense/Conv before it
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-4, atol=1e-5)
