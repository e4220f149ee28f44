"""The training recipe's CNN and recurrent models: their layers, and which data they take as
images or sequences."""

import numpy as np
import pytest

from nnfx.errors import ConfigError
from nnfx.trainer.recipe import (
    TrainConfig,
    as_images,
    as_sequences,
    build_cnn,
    build_mlp,
    build_rnn,
    train,
)


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


def test_build_rnn_stacks_sequences_into_the_last_state():
    config = TrainConfig(dataset="sine-seq", recurrent=("lstm:8", "GRU:6", "rnn:4"), hidden=(5,))
    model = build_rnn(config, (40, 1), 3)
    kinds = [
        (type(layer).__name__, getattr(layer, "return_sequences", None)) for layer in model.layers
    ]
    assert kinds == [
        ("LSTM", True),
        ("GRU", True),
        ("SimpleRNN", False),
        ("Dense", None),
        ("ReLU", None),
        ("Dense", None),
        ("Softmax", None),
    ]
    assert model.layers[0].output_shape == (40, 8) and model.layers[2].output_shape == (4,)
    assert model.name == "sine-seq_rnn"


@pytest.mark.parametrize("spec", ["lstm", "lstm:0", "lstm:x", "conv:8", "gru:-1"])
def test_bad_recurrent_specs_are_one_sentence(spec):
    with pytest.raises(ConfigError, match=f"recurrent layer '{spec}' is not KIND:UNITS"):
        build_rnn(TrainConfig(recurrent=(spec,)), (8, 8), 10)


def test_as_sequences_and_the_choice_of_model():
    assert as_sequences(np.zeros((3, 5, 2)), "x.npz").shape == (3, 5, 2)
    with pytest.raises(ConfigError, match="needs sequences.*digits-seq, sine-seq"):
        as_sequences(np.zeros((3, 64)), "digits")
    with pytest.raises(ConfigError, match="not both"):
        train(TrainConfig(dataset="digits-seq", conv=(4,), recurrent=("gru:4",)))


def test_train_a_recurrent_model_on_sine_waves():
    config = TrainConfig(
        dataset="sine-seq", recurrent=("rnn:12",), hidden=(8,), epochs=6, learning_rate=0.01
    )
    result = train(config, verbose=0)
    assert result.test[0].shape[1:] == (40, 1) and result.test_metrics["accuracy"] >= 0.8
    assert result.standardizer.mean.shape == (40, 1)  # per step and feature, as per pixel
