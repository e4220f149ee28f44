"""The training recipe's CNN: its layers, and which data it takes as images."""

import numpy as np
import pytest

from nnfx.errors import ConfigError
from nnfx.trainer.recipe import TrainConfig, as_images, build_cnn, build_mlp


def test_build_cnn_pools_while_the_image_allows():
    config = TrainConfig(conv=(4, 8, 2), hidden=(16,), batchnorm=True)
    model = build_cnn(config, (1, 4, 4), 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    block = ["Conv2D", "BatchNorm2D", "ReLU"]
    assert kinds == [
        *block,
        "MaxPool2D",  # 4x4 -> 2x2
        *block,
        "MaxPool2D",  # 2x2 -> 1x1
        *block,  # 1x1: no pooling
        "Flatten",
        "Dense",
        "BatchNorm1D",
        "ReLU",
        "Dense",
        "Softmax",
    ]
    assert model.layers[-1].output_shape == (10,) and model.layers[-7].output_shape == (2, 1, 1)
    assert model.name == "digits_cnn"


def test_build_mlp_is_unchanged():
    model = build_mlp(TrainConfig(hidden=(8, 4)), 5, 3)
    assert [layer.name for layer in model.layers] == [
        "dense_1",
        "relu_1",
        "dense_2",
        "relu_2",
        "dense_3",
        "softmax_1",
    ]


def test_as_images():
    assert as_images(np.zeros((3, 2, 5, 6)), "x.npz").shape == (3, 2, 5, 6)
    assert as_images(np.zeros((3, 5, 6)), "x.npz").shape == (3, 1, 5, 6)
    assert as_images(np.zeros((3, 16)), "x.npz").shape == (3, 1, 4, 4)
    for X, name in [(np.zeros((3, 10)), "x.npz"), (np.zeros((3, 4)), "iris")]:
        with pytest.raises(ConfigError, match="needs images"):
            as_images(X, name)
