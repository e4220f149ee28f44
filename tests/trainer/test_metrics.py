"""Metrics (nnfx/trainer/metrics.py) against scikit-learn."""

import numpy as np
from sklearn import metrics as skm

from nnfx.trainer.metrics import (
    accuracy,
    f1,
    mean_absolute_error,
    mean_squared_error,
    precision,
    recall,
)


def test_metrics_match_scikit_learn(rng):
    y_true, y_pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    assert accuracy(y_true, y_pred) == skm.accuracy_score(y_true, y_pred)
    for ours, theirs in [
        (precision, skm.precision_score),
        (recall, skm.recall_score),
        (f1, skm.f1_score),
    ]:
        assert np.isclose(ours(y_true, y_pred), theirs(y_true, y_pred, average="macro"))
        b_true, b_pred = y_true % 2, y_pred % 2
        assert np.isclose(ours(b_true, b_pred, "binary"), theirs(b_true, b_pred))
    a, b = rng.standard_normal(50), rng.standard_normal(50)
    assert np.isclose(mean_absolute_error(a, b), skm.mean_absolute_error(a, b))
    assert np.isclose(mean_squared_error(a, b), skm.mean_squared_error(a, b))
