"""The models of the training recipe (``nnfx train``): an MLP, a CNN (``conv``) or a recurrent
classifier (``recurrent``), each ending in the dense layers of ``hidden`` and a softmax; and
the shapes of data each one takes (:func:`as_images`, :func:`as_sequences`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nnfx.errors import ConfigError
from nnfx.trainer.activations import get_activation
from nnfx.trainer.conv import Conv2D, MaxPool2D
from nnfx.trainer.data import DATASETS
from nnfx.trainer.layers import Dense, Dropout, Flatten, Layer
from nnfx.trainer.model import Sequential
from nnfx.trainer.normalization import BatchNorm1D, BatchNorm2D
from nnfx.trainer.quantization import QConv2D, QDense, Quantize, QuantSpec
from nnfx.trainer.recurrent import GRU, LSTM, Recurrent, SimpleRNN
from nnfx.trainer.regularizers import L2

if TYPE_CHECKING:
    from nnfx.trainer.recipe import TrainConfig

RECURRENT_KINDS: dict[str, type[Recurrent]] = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def _initializer(config: TrainConfig) -> str:
    relu_like = config.activation in ("relu", "leaky_relu", "elu")
    return "he_uniform" if relu_like else "glorot_uniform"


class QatSpecs:
    """The quantizers of a quantization-aware recipe model, or none (``enabled`` False).
    ``quantize=W``: calibrated power-of-two scales; ``W``-bit weights and activations (those
    after a ReLU unsigned), ``2W``-bit biases, and the input and the logits at ``max(W, 8)``
    bits (the usual 8-bit first and last quantizers: a 4-bit input loses the digits' shapes).
    ``precision="fixed<W,I>"``: that type everywhere."""

    def __init__(self, config: TrainConfig):
        quantize, precision = getattr(config, "quantize", None), getattr(config, "precision", None)
        self.enabled = quantize is not None or precision is not None
        if quantize is not None and precision is not None:
            raise ConfigError("choose quantize (--quantize) or precision (--precision), not both")
        if not self.enabled:
            return
        if config.recurrent or config.batchnorm or config.activation != "relu":
            raise ConfigError(
                "quantization-aware training builds relu MLPs and CNNs without batchnorm (the "
                "layers whose quantization nnfx reproduces bit for bit)"
            )
        if precision is not None:
            spec = QuantSpec.parse(precision)
            self.input = self.weight = self.bias = self.relu = self.logits = spec
        else:
            bits = int(quantize)
            self.weight = QuantSpec(bits)
            self.input = self.logits = QuantSpec(max(bits, 8))  # the usual 8-bit ends
            self.bias = QuantSpec(min(2 * bits, 24))
            self.relu = QuantSpec(bits, signed=False)

    def dtype(self) -> str:
        return "float64" if self.enabled else "float32"


def _start(model: Sequential, first: tuple[Layer, ...], qat: QatSpecs) -> None:
    for layer in first:
        model.add(layer)
    if qat.enabled:
        model.add(Quantize(qat.input))


def build_mlp(
    config: TrainConfig, n_features: int, n_classes: int, first: tuple[Layer, ...] = ()
) -> Sequential:
    """Dense layers of ``config.hidden`` units (+ BatchNorm, dropout), softmax output; after
    the layers ``first`` (e.g. a Standardize), quantization-aware with ``config.quantize``
    or ``config.precision``."""
    qat = QatSpecs(config)
    name = f"{Path(config.dataset).stem}_mlp"
    model = Sequential(seed=config.seed, name=name, dtype=qat.dtype())
    _start(model, first, qat)
    _dense_head(model, config, n_classes, qat)
    model.build((n_features,))
    return model


def build_cnn(
    config: TrainConfig, image_shape: tuple[int, ...], n_classes: int, first: tuple[Layer, ...] = ()
) -> Sequential:
    """For each of ``config.conv``: a 3x3 ``same`` convolution with that many filters
    (+ BatchNorm), the activation and 2x2 max pooling while the image is at least 2x2; then
    Flatten and the dense layers of :func:`build_mlp`. ``image_shape`` is ``(C, H, W)``."""
    if min(config.conv) < 1:
        raise ConfigError(f"conv filter counts must be positive integers, got {config.conv}")
    regularizer = L2(config.l2) if config.l2 else None
    qat = QatSpecs(config)
    model = Sequential(seed=config.seed, name=f"{Path(config.dataset).stem}_cnn", dtype=qat.dtype())
    _start(model, first, qat)
    height, width = image_shape[1:]
    for filters in config.conv:
        args = {"kernel_initializer": _initializer(config), "kernel_regularizer": regularizer}
        if qat.enabled:
            model.add(QConv2D(filters, 3, qat.weight, qat.bias, padding="same", **args))
        else:
            model.add(Conv2D(filters, 3, padding="same", **args))
        if config.batchnorm:
            model.add(BatchNorm2D())
        model.add(get_activation(config.activation))
        if qat.enabled:
            model.add(Quantize(qat.relu))
        if height >= 2 and width >= 2:
            model.add(MaxPool2D(2))
            height, width = height // 2, width // 2
    model.add(Flatten())
    _dense_head(model, config, n_classes, qat)
    model.build(tuple(image_shape))
    return model


def parse_recurrent(specs: tuple[str, ...] | list[str]) -> list[tuple[type[Recurrent], int]]:
    """``("lstm:32", "gru:16")`` -> ``[(LSTM, 32), (GRU, 16)]``; kinds rnn, lstm, gru."""
    layers = []
    for spec in specs:
        kind, _, units = str(spec).strip().partition(":")
        cls = RECURRENT_KINDS.get(kind.strip().lower())
        if cls is None or not units.strip().isdigit() or int(units) < 1:
            raise ConfigError(
                f"recurrent layer '{spec}' is not KIND:UNITS with KIND one of "
                f"{', '.join(RECURRENT_KINDS)} and UNITS a positive integer, e.g. lstm:32"
            )
        layers.append((cls, int(units)))
    if not layers:
        raise ConfigError("no recurrent layer given; e.g. lstm:32 or gru:32,gru:16")
    return layers


def build_rnn(
    config: TrainConfig,
    sequence_shape: tuple[int, ...],
    n_classes: int,
    first: tuple[Layer, ...] = (),
) -> Sequential:
    """The recurrent layers of ``config.recurrent`` in order, each but the last returning its
    whole sequence to the next, the last returning its final state; then the dense layers of
    :func:`build_mlp`. ``sequence_shape`` is ``(steps, features)``."""
    layers = parse_recurrent(config.recurrent)
    regularizer = L2(config.l2) if config.l2 else None
    qat = QatSpecs(config)  # refuses quantization-aware recurrent models
    model = Sequential(seed=config.seed, name=f"{Path(config.dataset).stem}_rnn")
    _start(model, first, qat)
    for k, (cls, units) in enumerate(layers):
        model.add(
            cls(
                units,
                return_sequences=k < len(layers) - 1,
                kernel_regularizer=regularizer,
                recurrent_regularizer=regularizer,
            )
        )
    _dense_head(model, config, n_classes, qat)
    model.build(tuple(sequence_shape))
    return model


def _dense_head(model: Sequential, config: TrainConfig, n_classes: int, qat: QatSpecs) -> None:
    if not config.hidden or min(config.hidden) < 1:
        raise ConfigError(f"hidden layer sizes must be positive integers, got {config.hidden}")
    regularizer = L2(config.l2) if config.l2 else None
    args = {"kernel_initializer": _initializer(config), "kernel_regularizer": regularizer}
    for units in config.hidden:
        if qat.enabled:
            model.add(QDense(units, qat.weight, qat.bias, **args))
        else:
            model.add(Dense(units, **args))
        if config.batchnorm:
            model.add(BatchNorm1D())
        model.add(get_activation(config.activation))
        if qat.enabled:
            model.add(Quantize(qat.relu))
        if config.dropout:
            model.add(Dropout(config.dropout))
    if qat.enabled:  # the logits quantized, the softmax left in float after the last Quant
        model.add(QDense(n_classes, qat.weight, qat.bias, kernel_regularizer=regularizer))
        model.add(Quantize(qat.logits))
        model.add(get_activation("softmax"))
    else:
        model.add(Dense(n_classes, activation="softmax", kernel_regularizer=regularizer))


def as_images(X: np.ndarray, dataset: str) -> np.ndarray:
    """``X`` as ``(N, C, H, W)`` images for a CNN: kept if 4-D, ``(N, H, W)`` gains a channel,
    and the rows of a .npz file with a square number of features (at least 4) become one
    square channel; anything else is refused in one sentence."""
    if X.ndim == 4:
        return X
    if X.ndim == 3:
        return X[:, None]
    side = int(round(np.sqrt(X.shape[1]))) if X.ndim == 2 else 0
    if dataset not in DATASETS and side >= 2 and side * side == X.shape[1]:
        return X.reshape(len(X), 1, side, side)
    raise ConfigError(
        f"a convolutional model (--conv) needs images, but dataset '{dataset}' has samples of "
        f"shape {X.shape[1:]}; use digits or a .npz file whose X is (N, C, H, W), (N, H, W) or "
        "(N, side*side)"
    )


def as_sequences(X: np.ndarray, dataset: str) -> np.ndarray:
    """``X`` as ``(N, steps, features)`` sequences for a recurrent model: only 3-D data are
    sequences; anything else is refused in one sentence."""
    if X.ndim == 3:
        return X
    raise ConfigError(
        f"a recurrent model (--recurrent) needs sequences, but dataset '{dataset}' has samples "
        f"of shape {X.shape[1:]}; use digits-seq, sine-seq or a .npz file whose X is "
        "(samples, steps, features)"
    )
