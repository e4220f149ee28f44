"""What a model's outputs are measured with: the task (classification or regression), found
from the targets ``y`` or forced, and each task's metrics.

- classification: ``y`` holds integer labels (1-D) or one-hot rows (2-D, 0/1 entries, one 1
  per row) for the output's classes; the metric is top-1 accuracy (``nnfx.search.accuracy``).
- regression: anything else — float targets with the outputs' shape (several outputs are
  compared as their flattened values side by side, in the model's output order); the metrics
  are the mean squared error, the mean absolute error and the largest absolute error, over
  all values and per output column.
"""

from __future__ import annotations

import numpy as np

from nnfx.errors import ConfigError, DataError

TASKS = ("classification", "regression")
MAX_COLUMNS = 16  # per-column errors are kept for outputs of up to this many columns


def check_task(task: str | None) -> None:
    if task is not None and task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def _named(values) -> dict[str, np.ndarray]:
    """A model's outputs (one array, or a dict by output name) by name."""
    if isinstance(values, dict):
        return {k: np.asarray(v) for k, v in values.items()}
    return {"output": np.asarray(values)}


def class_count(values) -> int | None:
    """Classes the outputs score (None when the model outputs labels, whose count it does not
    say); 2 for one probability per sample."""
    named = _named(values)
    floats = [v for v in named.values() if not np.issubdtype(v.dtype, np.integer)]
    if any(np.issubdtype(v.dtype, np.integer) and v.ndim == 1 for v in named.values()):
        scores = [v for v in floats if v.ndim == 2 and v.shape[1] > 1]
        return scores[0].shape[1] if scores else None
    out = next(iter(named.values()))
    if out.ndim == 2 and out.shape[1] > 1:
        return int(out.shape[1])
    if out.ndim >= 1 and out.size == len(out):
        return 2
    return None


def is_one_hot(y: np.ndarray) -> bool:
    """Rows of 0/1 entries with exactly one 1 (two columns or more)."""
    if y.ndim != 2 or y.shape[1] < 2 or y.size == 0:
        return False
    return bool(np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all())


def class_labels(y, values) -> np.ndarray | None:
    """``y`` as integer labels when it is classification targets for ``values`` (the model's
    outputs): integer labels within the class count, or one-hot rows of that width; else
    None."""
    y = np.asarray(y)
    classes = class_count(values)
    if y.ndim == 1 and (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
        y = y.astype(np.int64)
        if y.size == 0 or classes is None or (y.min() >= 0 and y.max() < classes):
            return y
        return None
    if is_one_hot(y) and y.shape[1] == classes:
        return y.argmax(axis=1).astype(np.int64)
    return None


def detect_task(values, y, task: str | None = None) -> str:
    """``task`` when given (checked), else classification when ``y`` is class labels for the
    outputs ``values`` (see :func:`class_labels`), regression otherwise."""
    check_task(task)
    if task is not None:
        return task
    return "classification" if class_labels(y, values) is not None else "regression"


def labels_for(y, values) -> np.ndarray:
    """``y`` as integer labels for classification (forced or found), or one sentence why not."""
    labels = class_labels(y, values)
    if labels is not None:
        return labels
    y = np.asarray(y)
    if y.ndim == 1 and np.all(np.isfinite(y)) and np.all(y == np.round(y)) and y.size:
        labels = y.astype(np.int64)
        classes = class_count(values)
        if classes is None or (labels.min() >= 0 and labels.max() < classes):
            return labels
    raise DataError(
        f"classification needs y as integer labels or one-hot rows for the model's "
        f"{class_count(values) or 'unknown number of'} classes; y has shape {y.shape} and "
        f"dtype {y.dtype} (use task regression for other targets)"
    )


def columns(values) -> tuple[np.ndarray, list[str]]:
    """The outputs as one (samples, columns) float64 matrix, in output order, with a label per
    column (``name[j]``; ``output[j]`` for one output given as an array)."""
    named = _named(values)
    blocks, names = [], []
    for name, v in named.items():
        v = v.astype(np.float64).reshape(len(v), -1)
        blocks.append(v)
        names += [f"{name}[{j}]" for j in range(v.shape[1])]
    return np.concatenate(blocks, axis=1), names


def targets(y, values) -> np.ndarray:
    """Regression targets ``y`` (one array, or a dict by output name) as the (samples,
    columns) matrix of :func:`columns`; one sentence when they do not match the outputs."""
    predicted, _ = columns(values)
    if isinstance(y, dict):
        named = _named(values)
        missing = [k for k in named if k not in y]
        if missing:
            raise DataError(f"y has no targets for output(s) {', '.join(missing)}")
        y = np.concatenate(
            [np.asarray(y[k], np.float64).reshape(len(y[k]), -1) for k in named], axis=1
        )
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
        raise DataError(f"y has dtype {y.dtype}; regression targets must be numbers")
    flat = y.astype(np.float64).reshape(len(y), -1) if y.ndim else y.reshape(1, 1)
    if flat.shape != predicted.shape:
        raise DataError(
            f"regression targets y have shape {y.shape} but the model's outputs have "
            f"{predicted.shape[1]} values per sample for {predicted.shape[0]} samples"
        )
    return flat


def errors(values, target: np.ndarray) -> dict:
    """MSE, MAE and max |error| of ``values`` (the model's outputs) against ``target`` (a
    matrix from :func:`targets` or :func:`columns`), over all values and, for outputs of up
    to ``MAX_COLUMNS`` columns, per column."""
    predicted, names = columns(values)
    err = predicted - target
    result = _summary(err)
    if len(names) <= MAX_COLUMNS:
        result["columns"] = [
            {"output": name, **_summary(err[:, j])} for j, name in enumerate(names)
        ]
    return result


def _summary(err: np.ndarray) -> dict:
    if err.size == 0:
        return {"mse": float("nan"), "mae": float("nan"), "max_abs_error": float("nan")}
    return {
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "max_abs_error": float(np.max(np.abs(err))),
    }
