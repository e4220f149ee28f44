"""The standard training recipe behind ``nnfx train`` and ``nnfx demo``.

Load a data set, split it 70/15/15 (stratified), standardize with the training statistics,
train an MLP classifier with early stopping on the validation loss, evaluate on the test split,
export ONNX and check that onnxruntime agrees with ``predict``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnfx.errors import ConfigError
from nnfx.trainer.activations import get_activation
from nnfx.trainer.callbacks import EarlyStopping
from nnfx.trainer.data import Dataset, Standardizer, load_dataset, train_val_test_split
from nnfx.trainer.layers import Dense, Dropout
from nnfx.trainer.model import History, Sequential
from nnfx.trainer.normalization import BatchNorm1D
from nnfx.trainer.optimizers import get_optimizer
from nnfx.trainer.regularizers import L2
from nnfx.trainer.schedules import make_schedule


@dataclass
class TrainConfig:
    """Every choice of the recipe, with the CLI's defaults."""

    dataset: str = "digits"
    hidden: tuple[int, ...] = (64, 32)
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 0.001
    epochs: int = 30
    batch_size: int | None = 32
    seed: int = 0
    schedule: str = "constant"
    momentum: float = 0.9
    weight_decay: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    batchnorm: bool = False
    patience: int | None = None
    clip_norm: float | None = None
    clip_value: float | None = None
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    standardize: bool = True


@dataclass
class TrainResult:
    model: Sequential
    history: History
    test_metrics: dict[str, float]
    dataset: Dataset
    standardizer: Standardizer | None
    test: tuple[np.ndarray, np.ndarray]
    train: tuple[np.ndarray, np.ndarray] | None = None
    files: dict[str, Path] = field(default_factory=dict)
    onnx_agreement: float | None = None
    onnx_max_abs_diff: float | None = None


def build_mlp(config: TrainConfig, n_features: int, n_classes: int) -> Sequential:
    """Dense layers of ``config.hidden`` units (+ BatchNorm, dropout), softmax output."""
    if not config.hidden or min(config.hidden) < 1:
        raise ConfigError(f"hidden layer sizes must be positive integers, got {config.hidden}")
    regularizer = L2(config.l2) if config.l2 else None
    initializer = (
        "he_uniform" if config.activation in ("relu", "leaky_relu", "elu") else "glorot_uniform"
    )
    model = Sequential(seed=config.seed, name=f"{Path(config.dataset).stem}_mlp")
    for units in config.hidden:
        model.add(Dense(units, kernel_initializer=initializer, kernel_regularizer=regularizer))
        if config.batchnorm:
            model.add(BatchNorm1D())
        model.add(get_activation(config.activation))
        if config.dropout:
            model.add(Dropout(config.dropout))
    model.add(Dense(n_classes, activation="softmax", kernel_regularizer=regularizer))
    model.build((n_features,))
    return model


def train(config: TrainConfig, verbose: int = 1) -> TrainResult:
    """Run the recipe; nothing is written to disk (see :func:`save`)."""
    data = load_dataset(config.dataset)
    if data.X.ndim != 2:
        data.X = data.X.reshape(len(data.X), -1)
    if data.n_classes < 2:
        raise ConfigError(
            f"dataset '{config.dataset}' has a single class; a classifier needs two or more"
        )
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = train_val_test_split(
        data.X, data.y, config.split, seed=config.seed
    )
    scaler = None
    if config.standardize:
        scaler = Standardizer().fit(X_train)
        X_train, X_val, X_test = (scaler.transform(a) for a in (X_train, X_val, X_test))
    model = build_mlp(config, data.X.shape[1], data.n_classes)
    optimizer_args = {
        "learning_rate": make_schedule(config.schedule, config.learning_rate, config.epochs),
        "weight_decay": config.weight_decay,
        "clip_norm": config.clip_norm,
        "clip_value": config.clip_value,
    }
    if config.optimizer in ("momentum", "nesterov"):
        optimizer_args["momentum"] = config.momentum
    model.compile(
        get_optimizer(config.optimizer, **optimizer_args),
        loss="categorical_crossentropy",
        metrics=["accuracy", "precision", "recall", "f1"],
    )
    callbacks = []
    has_validation = len(X_val) > 0
    if config.patience is not None and has_validation:
        callbacks.append(EarlyStopping("val_loss", patience=config.patience))
    history = model.fit(
        X_train,
        y_train,
        epochs=config.epochs,
        batch_size=config.batch_size,
        validation_data=(X_val, y_val) if has_validation else None,
        callbacks=callbacks,
        verbose=verbose,
    )
    test_metrics = model.evaluate(X_test, y_test) if len(X_test) else {}
    return TrainResult(
        model, history, test_metrics, data, scaler, (X_test, y_test), train=(X_train, y_train)
    )


def save(result: TrainResult, onnx_path: str | Path, config: TrainConfig) -> dict[str, Path]:
    """Write the ONNX model, ``history.json`` and ``test_data.npz`` beside it; verify the ONNX
    model with onnxruntime on the test split. Every file is written atomically."""
    from nnfx.runtime.ort import run

    onnx_path = Path(onnx_path)
    folder = onnx_path.parent
    result.model.export_onnx(onnx_path)
    X_test, y_test = result.test
    if len(X_test):
        ours = result.model.predict(X_test)
        theirs = run(onnx_path, X_test)
        result.onnx_agreement = float(np.mean(ours.argmax(1) == theirs.argmax(1)))
        result.onnx_max_abs_diff = float(np.max(np.abs(ours - theirs)))
    record = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(config).items()},
        "test_metrics": result.test_metrics,
        "onnx_test_agreement": result.onnx_agreement,
        "standardizer": None
        if result.standardizer is None
        else {"mean": result.standardizer.mean.tolist(), "std": result.standardizer.std.tolist()},
        **result.history.to_dict(),
    }
    history_path = folder / "history.json"
    data_path = folder / "test_data.npz"
    _atomic_write_text(history_path, json.dumps(record, indent=2) + "\n")
    tmp = folder / "test_data.tmp.npz"
    np.savez(tmp, X=X_test.astype(np.float32), y=y_test)
    tmp.replace(data_path)
    result.files = {"onnx": onnx_path, "history": history_path, "test_data": data_path}
    return result.files


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
