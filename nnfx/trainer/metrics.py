"""Metrics: what a person reads to judge a model (losses are what the optimizer reads).

Classification metrics take integer class labels (the model turns its outputs into labels);
precision, recall and F1 are per class, then averaged: ``macro`` (every class counts the same,
the default) or ``binary`` (the positive class 1 only). Regression metrics take values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnfx.errors import ConfigError


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of labels predicted exactly."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def _per_class_counts(y_true, y_pred, classes):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    tp = np.array([np.sum((y_pred == c) & (y_true == c)) for c in classes], dtype=np.float64)
    fp = np.array([np.sum((y_pred == c) & (y_true != c)) for c in classes], dtype=np.float64)
    fn = np.array([np.sum((y_pred != c) & (y_true == c)) for c in classes], dtype=np.float64)
    return tp, fp, fn


def _classes(y_true, y_pred, average):
    if average == "binary":
        return np.array([1])
    if average == "macro":
        return np.union1d(np.unique(y_true), np.unique(y_pred))
    raise ConfigError(f"unknown average '{average}'; expected 'macro' or 'binary'")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # 0/0 counts as 0 (no predictions of a class: its precision is 0), as scikit-learn does.
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def precision(y_true, y_pred, average: str = "macro") -> float:
    """Of the samples predicted as a class, the fraction that are: ``tp / (tp + fp)``."""
    tp, fp, _ = _per_class_counts(y_true, y_pred, _classes(y_true, y_pred, average))
    return float(np.mean(_ratio(tp, tp + fp)))


def recall(y_true, y_pred, average: str = "macro") -> float:
    """Of the samples of a class, the fraction found: ``tp / (tp + fn)``."""
    tp, _, fn = _per_class_counts(y_true, y_pred, _classes(y_true, y_pred, average))
    return float(np.mean(_ratio(tp, tp + fn)))


def f1(y_true, y_pred, average: str = "macro") -> float:
    """Harmonic mean of precision and recall per class: ``2 tp / (2 tp + fp + fn)``."""
    tp, fp, fn = _per_class_counts(y_true, y_pred, _classes(y_true, y_pred, average))
    return float(np.mean(_ratio(2 * tp, 2 * tp + fp + fn)))


def mean_absolute_error(y_true, y_pred) -> float:
    return float(np.mean(np.abs(np.asarray(y_pred, np.float64) - y_true)))


def mean_squared_error(y_true, y_pred) -> float:
    return float(np.mean(np.square(np.asarray(y_pred, np.float64) - y_true)))


# name -> (function, takes class labels?)
METRICS: dict[str, tuple[Callable[..., float], bool]] = {
    "accuracy": (accuracy, True),
    "precision": (precision, True),
    "recall": (recall, True),
    "f1": (f1, True),
    "mae": (mean_absolute_error, False),
    "mse": (mean_squared_error, False),
}


def check_metric(name: str) -> str:
    if name not in METRICS:
        raise ConfigError(f"unknown metric '{name}'; expected one of {', '.join(METRICS)}")
    return name
