"""The standard training recipe behind ``nnfx train`` and ``nnfx demo``.

Load a data set, split it 70/15/15 (stratified), standardize with the training statistics
(by default as the model's first layer, so that the model and its ONNX file take the raw
features; ``standardize_in_model=False`` standardizes the data instead), train an MLP
classifier (or, with ``conv``, a CNN on images; with ``recurrent``, a recurrent network on
sequences; see :mod:`nnfx.trainer.builders`; quantization-aware with ``quantize`` or
``precision``) with early stopping on the validation loss, evaluate on the test split,
export ONNX (QONNX when quantization-aware) and check (with the function the caller passes
in, see :func:`save`) that the exported model agrees with ``predict``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnfx.errors import ConfigError
from nnfx.trainer.builders import (  # noqa: F401  (build_mlp: part of the recipe's API)
    as_images,
    as_sequences,
    build_cnn,
    build_mlp,
    build_rnn,
)
from nnfx.trainer.callbacks import EarlyStopping
from nnfx.trainer.data import Dataset, Standardizer, load_dataset, train_val_test_split
from nnfx.trainer.model import History, Sequential
from nnfx.trainer.optimizers import get_optimizer
from nnfx.trainer.preprocessing import Standardize
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
    standardize_in_model: bool = True  # the model's first layer (ONNX Sub, Div): raw inputs
    quantize: int | None = None  # quantization-aware: this many bits, power-of-two scales
    precision: str | None = None  # quantization-aware: this type (e.g. fixed<6,2>) everywhere
    conv: tuple[int, ...] = ()  # filters of the 3x3 conv layers before the dense ones (a CNN)
    recurrent: tuple[str, ...] = ()  # recurrent layers before the dense ones, e.g. ("lstm:32",)


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


def train(config: TrainConfig, verbose: int = 1) -> TrainResult:
    """Run the recipe; nothing is written to disk (see :func:`save`)."""
    if config.conv and config.recurrent:
        raise ConfigError(
            "choose a CNN (conv, --conv) or a recurrent model (recurrent, --recurrent), not both"
        )
    data = load_dataset(config.dataset, images=bool(config.conv))
    if config.recurrent:
        data.X = as_sequences(data.X, config.dataset)
    elif config.conv:
        data.X = as_images(data.X, config.dataset)
    elif data.X.ndim != 2:
        data.X = data.X.reshape(len(data.X), -1)
    if data.n_classes < 2:
        raise ConfigError(
            f"dataset '{config.dataset}' has a single class; a classifier needs two or more"
        )
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = train_val_test_split(
        data.X, data.y, config.split, seed=config.seed
    )
    scaler, first = None, ()
    if config.standardize:
        scaler = Standardizer().fit(X_train)
        if config.standardize_in_model:  # the model takes the raw features
            first = (Standardize(scaler.mean, scaler.std),)
        else:  # the old way: the model expects standardized inputs
            X_train, X_val, X_test = (scaler.transform(a) for a in (X_train, X_val, X_test))
    if config.recurrent:
        model = build_rnn(config, data.X.shape[1:], data.n_classes, first)
    elif config.conv:
        model = build_cnn(config, data.X.shape[1:], data.n_classes, first)
    else:
        model = build_mlp(config, data.X.shape[1], data.n_classes, first)
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


def quantized(config: TrainConfig) -> bool:
    """Whether the recipe trains quantization-aware (and exports QONNX)."""
    return config.quantize is not None or config.precision is not None


HISTORY_FORMAT = "nnfx-train-history"  # the marker of history.json ("nnfx_format")
TEST_DATA_FORMAT = "nnfx-test-data"  # the marker of test_data.npz (array "nnfx_format")
TRAIN_DATA_FORMAT = "nnfx-train-data"  # the marker of train_data.npz (array "nnfx_format")
_MARKER_BYTES = 64 * 2**20  # a marked file is small: larger ones are not read to check
_BESIDE = ("history.json", "test_data.npz", "train_data.npz")  # the names save writes


def output_paths(onnx_path: str | Path, train_data: bool = False) -> dict[str, Path]:
    """The files :func:`save` writes: the ONNX model, history.json and test_data.npz beside it
    (and train_data.npz, with ``train_data``)."""
    onnx_path = Path(onnx_path)
    paths = {
        "onnx": onnx_path,
        "history": onnx_path.parent / "history.json",
        "test_data": onnx_path.parent / "test_data.npz",
    }
    if train_data:
        paths["train_data"] = onnx_path.parent / "train_data.npz"
    return paths


def check_outputs(
    onnx_path: str | Path, config: TrainConfig, force: bool = False, train_data: bool = False
) -> None:
    """Refuse, in one sentence, paths that :func:`save` may not write: a folder, the data file
    being trained on, or an existing file nnfx did not write (unless ``force``)."""
    data = Path(config.dataset)
    inputs = [data.resolve()] if data.is_file() else []
    paths = output_paths(onnx_path, train_data)
    for role, path in paths.items():
        try:
            resolved = path.resolve()
            exists, is_file = resolved.exists(), resolved.is_file()
        except (OSError, RuntimeError) as e:
            raise ConfigError(f"cannot use '{path}' as an output ({e.strerror or e})") from None
        if resolved in inputs:
            raise ConfigError(
                f"output '{path}' is the data file '{config.dataset}'; choose another"
            )
        if exists and not is_file:
            raise ConfigError(f"output '{path}' exists and is not a file; give a file name")
        if exists and not force and not _OWNED[role](resolved):
            raise ConfigError(
                f"output '{path}' exists and nnfx did not write it; choose another file or "
                "pass --force (force=True)"
            )
    if paths["onnx"].name in _BESIDE:
        raise ConfigError(
            f"output '{onnx_path}' has the name of a file train writes beside the model; "
            "choose another name, e.g. model.onnx"
        )


def save(
    result: TrainResult,
    onnx_path: str | Path,
    config: TrainConfig,
    force: bool = False,
    run_onnx: Callable[[Path, np.ndarray], np.ndarray] | None = None,
    train_data: bool = False,
) -> dict[str, Path]:
    """Write the ONNX model, ``history.json`` and ``test_data.npz`` beside it (with
    ``train_data``, also ``train_data.npz``: the training split, for calibration; both splits
    as the model takes them — raw when the standardization is in the model, else
    standardized — in the model's input layout, arrays ``X`` and ``y``; a quantization-aware
    model is written as QONNX). With
    ``run_onnx`` (a function of the written model's path and X, e.g. :func:`nnfx.runtime.ort.run`;
    passed in because the trainer sits below the runtime), check the ONNX model against
    ``predict`` on the test split. Every file is written atomically, and replaces only a file
    nnfx wrote (``force``: any file; see :func:`check_outputs`)."""
    from nnfx.files import atomic_file
    from nnfx.trainer.onnx_export import to_onnx

    check_outputs(onnx_path, config, force, train_data)
    paths = output_paths(onnx_path, train_data)
    with atomic_file(paths["onnx"]) as f:
        f.write(to_onnx(result.model, qonnx=quantized(config)).SerializeToString())
    X_test, y_test = result.test
    if len(X_test) and run_onnx is not None:
        X_check = X_test.astype(np.float32)  # as test_data.npz holds it
        ours = result.model.predict(X_check)
        theirs = run_onnx(paths["onnx"], X_check)
        result.onnx_agreement = float(np.mean(ours.argmax(1) == theirs.argmax(1)))
        result.onnx_max_abs_diff = float(np.max(np.abs(ours - theirs)))
    record = {
        "nnfx_format": HISTORY_FORMAT,
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(config).items()},
        "test_metrics": result.test_metrics,
        "onnx_test_agreement": result.onnx_agreement,
        "standardizer": None
        if result.standardizer is None
        else {"mean": result.standardizer.mean.tolist(), "std": result.standardizer.std.tolist()},
        "standardized_in_model": result.standardizer is not None and config.standardize_in_model,
        **result.history.to_dict(),
    }
    with atomic_file(paths["history"]) as f:
        f.write((json.dumps(record, indent=2) + "\n").encode())
    with atomic_file(paths["test_data"]) as f:
        np.savez(f, X=X_test.astype(np.float32), y=y_test, nnfx_format=np.array(TEST_DATA_FORMAT))
    if train_data and result.train is not None:
        X_train, y_train = result.train
        with atomic_file(paths["train_data"]) as f:
            marker = np.array(TRAIN_DATA_FORMAT)
            np.savez(f, X=X_train.astype(np.float32), y=y_train, nnfx_format=marker)
    result.files = paths
    return result.files


def _small(path: Path) -> bool:
    try:
        return path.stat().st_size <= _MARKER_BYTES
    except OSError:
        return False


def _onnx_by_nnfx(path: Path) -> bool:
    """Whether the ONNX file's producer_name is nnfx's (see onnx_export.to_onnx); only its
    first fields are read: ir_version (field 1) and producer_name (field 2) come first."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    position = 0
    while position < len(head):
        tag, position = _varint(head, position)
        if tag == (1 << 3):  # ir_version, a varint
            _, position = _varint(head, position)
        elif tag == (2 << 3) | 2:  # producer_name, length-delimited
            length, position = _varint(head, position)
            return head[position : position + length] == b"nnfx"
        else:
            return False
    return False


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while position < len(data) and shift < 64:
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position, shift = position + 1, shift + 7
        if not byte & 0x80:
            return value, position
    return -1, len(data)


def _history_by_nnfx(path: Path) -> bool:
    try:
        record = json.loads(path.read_bytes()) if _small(path) else None
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("nnfx_format") == HISTORY_FORMAT


def _data_by_nnfx(path: Path, marker: str, limit: int | None = _MARKER_BYTES) -> bool:
    """Whether the .npz file carries ``marker``; only a zip archive (``np.load`` then reads
    its directory and the one small member) up to ``limit`` bytes is opened."""
    if limit is not None and not _small(path):
        return False
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                return False
        with np.load(path, allow_pickle=False) as archive:
            return "nnfx_format" in archive.files and bool(archive["nnfx_format"] == marker)
    except Exception:  # any unreadable file is simply not ours
        return False


_OWNED = {
    "onnx": _onnx_by_nnfx,
    "history": _history_by_nnfx,
    "test_data": lambda path: _data_by_nnfx(path, TEST_DATA_FORMAT),
    # the training split may be large: a zip is checked by its small marker member alone
    "train_data": lambda path: _data_by_nnfx(path, TRAIN_DATA_FORMAT, limit=None),
}
