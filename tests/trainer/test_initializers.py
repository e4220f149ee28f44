"""Initializers (nnfx/trainer/initializers.py): variances, limits, orthogonality, zeros,
unknown names."""

import numpy as np
import pytest

from nnfx.errors import ConfigError
from nnfx.trainer.initializers import INITIALIZERS, get_initializer


@pytest.mark.parametrize(
    "name,expected_var",
    [
        ("glorot_uniform", 2 / 600),
        ("glorot_normal", 2 / 600),
        ("he_uniform", 2 / 400),
        ("he_normal", 2 / 400),
    ],
)
def test_initializer_variances(name, expected_var):
    w = get_initializer(name)((400, 200), 400, 200, np.random.default_rng(0))
    assert abs(w.var() / expected_var - 1) < 0.03
    assert abs(w.mean()) < 0.01
    again = get_initializer(name)((400, 200), 400, 200, np.random.default_rng(0))
    np.testing.assert_array_equal(w, again)


def test_uniform_initializer_limits_and_zeros():
    w = INITIALIZERS["he_uniform"]((1000, 10), 6, 10, np.random.default_rng(0))
    assert np.abs(w).max() <= 1.0 and np.abs(w).max() > 0.99  # sqrt(6 / 6) = 1
    assert not INITIALIZERS["zeros"]((3, 3), 3, 3, None).any()
    with pytest.raises(ConfigError, match="unknown initializer"):
        get_initializer("orthogonl")


@pytest.mark.parametrize("shape", [(6, 24), (24, 6), (8, 8)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape):
    w = get_initializer("orthogonal")(shape, 0, 0, np.random.default_rng(1))
    assert w.shape == shape
    small = w @ w.T if shape[0] <= shape[1] else w.T @ w
    np.testing.assert_allclose(small, np.eye(min(shape)), atol=1e-12)
    assert not np.array_equal(
        w, get_initializer("orthogonal")(shape, 0, 0, np.random.default_rng(2))
    )
