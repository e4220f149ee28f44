"""The NumPy trainer: layers (dense, convolutional, recurrent), losses, optimizers, schedules,
callbacks, data, quantization-aware training, ONNX and QONNX export."""

from nnfx.trainer.activations import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from nnfx.trainer.callbacks import Callback, EarlyStopping
from nnfx.trainer.conv import AvgPool2D, Conv2D, MaxPool2D
from nnfx.trainer.data import (
    DATASETS,
    SEQUENCE_DATASETS,
    Dataset,
    Standardizer,
    load_dataset,
    one_hot,
    train_val_test_split,
)
from nnfx.trainer.layers import Dense, Dropout, Flatten, Layer, Parameter
from nnfx.trainer.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Hinge,
    MeanAbsoluteError,
    MeanSquaredError,
)
from nnfx.trainer.model import History, Sequential
from nnfx.trainer.normalization import BatchNorm, BatchNorm1D, BatchNorm2D
from nnfx.trainer.optimizers import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Momentum,
    Nesterov,
    RMSprop,
    clip_gradients,
)
from nnfx.trainer.preprocessing import Standardize
from nnfx.trainer.quantization import QConv2D, QDense, Quantize, QuantSpec
from nnfx.trainer.recurrent import GRU, LSTM, SimpleRNN
from nnfx.trainer.regularizers import L1, L1L2, L2
from nnfx.trainer.schedules import Constant, CosineDecay, ExponentialDecay, StepDecay

__all__ = [
    "ELU",
    "L1",
    "L2",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "AvgPool2D",
    "BatchNorm",
    "BatchNorm1D",
    "BatchNorm2D",
    "BinaryCrossentropy",
    "Callback",
    "CategoricalCrossentropy",
    "Constant",
    "Conv2D",
    "CosineDecay",
    "DATASETS",
    "SEQUENCE_DATASETS",
    "Dataset",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "ExponentialDecay",
    "Flatten",
    "GRU",
    "Hinge",
    "History",
    "L1L2",
    "LSTM",
    "Layer",
    "LeakyReLU",
    "Linear",
    "MaxPool2D",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Momentum",
    "Nesterov",
    "Parameter",
    "QConv2D",
    "QDense",
    "QuantSpec",
    "Quantize",
    "RMSprop",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SimpleRNN",
    "Softmax",
    "Standardize",
    "Standardizer",
    "StepDecay",
    "Tanh",
    "clip_gradients",
    "load_dataset",
    "one_hot",
    "train_val_test_split",
]
