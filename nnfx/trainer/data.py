"""Data helpers: the built-in data sets, splitting, one-hot encoding, standardization.

The built-in data sets are the small ones bundled inside scikit-learn (no download at run
time): ``digits`` (8x8 images of 0-9), ``iris``, ``wine`` and ``breast_cancer``; and two
sequence data sets, ``X`` of shape ``(samples, steps, features)``, for recurrent models:
``digits-seq`` (the digits read row by row: 8 steps of 8 pixels) and ``sine-seq`` (noisy sine
waves of three periods to tell apart, generated from a fixed seed; see :func:`sine_sequences`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnfx.errors import DataError

DATASETS = ("digits", "iris", "wine", "breast_cancer")
SEQUENCE_DATASETS = ("digits-seq", "sine-seq")
SINE_PERIODS = (6.0, 9.0, 14.0)  # the classes of sine-seq, in steps per cycle


@dataclass
class Dataset:
    """Features ``X`` (float), labels ``y`` (int classes) and what they mean."""

    name: str
    X: np.ndarray
    y: np.ndarray
    class_names: list[str]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def load_dataset(name: str, images: bool = False) -> Dataset:
    """One of :data:`DATASETS` or :data:`SEQUENCE_DATASETS`, or a ``.npz`` file holding arrays
    ``X`` and ``y``.

    ``images=True`` returns digits as ``(N, 1, 8, 8)`` NCHW images for convolutional models.
    """
    if Path(name).suffix or "/" in name:
        return _load_npz(Path(name))
    if name == "sine-seq":
        X, y = sine_sequences()
        return Dataset(name, X, y, [f"period {p:g}" for p in SINE_PERIODS])
    if name == "digits-seq":
        digits = load_dataset("digits")
        return Dataset(name, digits.X.reshape(-1, 8, 8), digits.y, digits.class_names)
    if name not in DATASETS:
        raise DataError(
            f"unknown dataset '{name}'; expected one of "
            f"{', '.join(DATASETS + SEQUENCE_DATASETS)} or a .npz file"
        )
    from sklearn import datasets as skd  # bundled data files, imported only when needed

    bunch = getattr(skd, f"load_{name}")()
    X = np.asarray(bunch.data, dtype=np.float64)
    if images and name == "digits":
        X = X.reshape(-1, 1, 8, 8)
    names = [str(c) for c in bunch.target_names]
    return Dataset(name, X, np.asarray(bunch.target, dtype=np.int64), names)


def sine_sequences(
    samples: int = 1200, steps: int = 40, noise: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A time-series classification task: which of :data:`SINE_PERIODS` a noisy sine wave has.

    Each sample is ``a sin(2 pi t / period + phase) + noise`` for ``t = 0..steps-1``, with a
    random amplitude ``a`` in [0.5, 1.5], a random phase and Gaussian noise of standard
    deviation ``noise``; ``X`` is ``(samples, steps, 1)``, ``y`` the period's index. The same
    ``seed`` gives the same data."""
    rng = np.random.default_rng(seed)
    y = np.arange(samples) % len(SINE_PERIODS)
    rng.shuffle(y)
    periods = np.asarray(SINE_PERIODS)[y][:, None]
    amplitude = rng.uniform(0.5, 1.5, (samples, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (samples, 1))
    t = np.arange(steps)[None, :]
    X = amplitude * np.sin(2 * np.pi * t / periods + phase) + noise * rng.standard_normal(
        (samples, steps)
    )
    return X[:, :, None], y.astype(np.int64)


def read_npz(path: str | Path, what: str = "data") -> dict[str, np.ndarray]:
    """Every array of a .npz archive; one clear error if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except Exception as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{what} file '{path}' is not a readable .npz archive ({first})") from None


def _load_npz(path: Path) -> Dataset:
    if path.is_file() and path.suffix != ".npz":
        raise DataError(f"data file '{path}' is not a .npz archive with arrays X and y")
    arrays = read_npz(path)
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise DataError(
            f"data file '{path}' lacks array(s) {', '.join(missing)}; it holds "
            f"{', '.join(arrays) or 'nothing'} and needs X (features) and y (labels)"
        )
    X, y = arrays["X"], arrays["y"]
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"data file '{path}': X has dtype {X.dtype}; expected numbers")
    X = X.astype(np.float64)
    check_xy(X, y, source=f"data file '{path}'")
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot labels -> classes
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0:
        raise DataError(f"data file '{path}': y must hold class labels 0..K-1 (or one-hot rows)")
    y = y.astype(np.int64)
    n_classes = int(y.max()) + 1
    return Dataset(path.stem, X, y, [str(i) for i in range(n_classes)])


def check_xy(X: np.ndarray, y: np.ndarray | None, source: str = "the data") -> None:
    """Raise a :class:`DataError` for mismatched lengths, NaN or infinity."""
    if X.ndim < 2:
        raise DataError(f"{source}: X has shape {X.shape}; expected (samples, features...)")
    if not np.all(np.isfinite(X)):
        bad = int(np.sum(~np.isfinite(X)))
        raise DataError(f"{source}: X contains {bad} NaN or infinite value(s)")
    if y is None:
        return
    if len(y) != len(X):
        raise DataError(
            f"{source}: y has {len(y)} labels but X has {len(X)} samples; they must match"
        )
    if np.issubdtype(np.asarray(y).dtype, np.floating) and not np.all(np.isfinite(y)):
        raise DataError(f"{source}: y contains NaN or infinite values")


def train_val_test_split(
    X: np.ndarray,
    y: np.ndarray,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    stratify: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Shuffle and split into (train, validation, test) pairs of ``(X, y)``.

    With ``stratify`` (the default for integer labels) every class is split in the same
    proportions, so small classes appear in all three parts.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise DataError(
            f"split fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    check_xy(X, y)
    rng = np.random.default_rng(seed)
    labels = np.asarray(y)
    groups = [np.arange(len(X))]
    if stratify and labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer):
        groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    parts: list[list[np.ndarray]] = [[], [], []]
    for group in groups:
        group = rng.permutation(group)
        n_train = int(round(fractions[0] * len(group)))
        n_val = int(round(fractions[1] * len(group)))
        parts[0].append(group[:n_train])
        parts[1].append(group[n_train : n_train + n_val])
        parts[2].append(group[n_train + n_val :])
    out = []
    for chunks in parts:
        index = rng.permutation(np.concatenate(chunks))
        out.append((X[index], labels[index]))
    return tuple(out)


def one_hot(y: np.ndarray, n_classes: int | None = None, dtype=np.float32) -> np.ndarray:
    """Integer labels ``(N,)`` to rows of zeros with a 1 at the label ``(N, n_classes)``."""
    y = np.asarray(y).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.mod(y, 1) == 0):
            raise DataError("one_hot needs integer class labels")
        y = y.astype(np.int64)
    n = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.size and (y.min() < 0 or y.max() >= n):
        raise DataError(f"labels must lie in 0..{n - 1}, got {int(y.min())}..{int(y.max())}")
    out = np.zeros((y.size, n), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out


@dataclass
class Standardizer:
    """``(x - mean) / std`` per feature, with statistics from the training data only.

    Constant features (std 0) are only centred, never divided by zero.
    """

    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> Standardizer:
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.mean is None:
            raise DataError("Standardizer.transform called before fit")
        return (X - self.mean) / self.std

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        return X * self.std + self.mean
