"""The benchmark models, built the same way by every benchmark: the 16-64-32-32-5 MLP
(hls4ml's jet-tagging shape) and a digits CNN, trained briefly with nnfx's trainer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnfx.trainer import Conv2D, Dense, Flatten, MaxPool2D, Sequential, load_dataset


def build_models(folder: Path) -> dict[str, tuple[Path, np.ndarray | None, tuple[int, ...]]]:
    """Export both models into ``folder``; by name: the ONNX path, the model's own input data
    (None: standard-normal inputs) and the input shape."""
    mlp = Sequential(
        [
            Dense(64, activation="relu"),
            Dense(32, activation="relu"),
            Dense(32, activation="relu"),
            Dense(5, activation="softmax"),
        ],
        input_shape=(16,),
        seed=0,
    )
    X = np.random.default_rng(0).standard_normal((2000, 16))
    mlp.compile("adam", "categorical_crossentropy")
    mlp.fit(X, X[:, :5].argmax(1), epochs=3, verbose=0)
    mlp.export_onnx(folder / "mlp.onnx")
    digits = load_dataset("digits", images=True)
    images = np.asarray(digits.X, dtype=np.float64) / 16.0
    cnn = Sequential(
        [
            Conv2D(8, 3, padding="same", activation="relu"),
            MaxPool2D(2),
            Conv2D(16, 3, padding="same", activation="relu"),
            MaxPool2D(2),
            Flatten(),
            Dense(10, activation="softmax"),
        ],
        input_shape=(1, 8, 8),
        seed=0,
    )
    cnn.compile("adam", "categorical_crossentropy")
    cnn.fit(images, digits.y, epochs=3, verbose=0)
    cnn.export_onnx(folder / "cnn.onnx")
    return {
        "mlp_16_64_32_32_5": (folder / "mlp.onnx", None, (16,)),
        "digits_cnn": (folder / "cnn.onnx", images, (1, 8, 8)),
    }
