"""Data helpers (nnfx/trainer/data.py): built-in and .npz datasets (sequences included), the
split, one-hot and the standardizer."""

import numpy as np
import pytest

from nnfx.errors import DataError
from nnfx.trainer import (
    DATASETS,
    SEQUENCE_DATASETS,
    Standardizer,
    load_dataset,
    one_hot,
    train_val_test_split,
)
from nnfx.trainer.data import SINE_PERIODS, sine_sequences


@pytest.mark.parametrize("name", DATASETS)
def test_builtin_datasets(name):
    data = load_dataset(name)
    assert data.X.ndim == 2 and len(data.X) == len(data.y) and data.n_classes >= 2
    assert set(np.unique(data.y)) == set(range(data.n_classes))


def test_digits_as_images():
    assert load_dataset("digits", images=True).X.shape == (1797, 1, 8, 8)


def test_digits_as_rows():
    data, digits = load_dataset("digits-seq"), load_dataset("digits")
    assert data.X.shape == (1797, 8, 8) and data.class_names == digits.class_names
    np.testing.assert_array_equal(data.X[:, 3], digits.X[:, 24:32])  # step 3 is the 4th row
    np.testing.assert_array_equal(data.y, digits.y)


def test_sine_sequences_are_seeded_balanced_and_have_their_period():
    data = load_dataset("sine-seq")
    assert data.X.shape == (1200, 40, 1) and data.n_classes == len(SINE_PERIODS) == 3
    assert np.bincount(data.y).tolist() == [400, 400, 400]
    np.testing.assert_array_equal(load_dataset("sine-seq").X, data.X)
    assert not np.array_equal(sine_sequences(seed=1)[0], data.X)
    # Without noise, each wave's strongest frequency (zero-padded FFT) is its class's 1/period.
    X, y = sine_sequences(samples=60, steps=84, noise=0.0, seed=5)
    spectrum = np.abs(np.fft.rfft(X[:, :, 0], n=4096, axis=1))
    peak = np.fft.rfftfreq(4096)[spectrum.argmax(axis=1)]
    nearest = np.abs(peak[:, None] - 1 / np.array(SINE_PERIODS)[None]).argmin(axis=1)
    np.testing.assert_array_equal(nearest, y)


def test_sequence_npz_keeps_its_steps(tmp_path):
    np.savez(tmp_path / "s.npz", X=np.ones((6, 5, 2)), y=np.array([0, 1] * 3))
    assert load_dataset(str(tmp_path / "s.npz")).X.shape == (6, 5, 2)
    assert set(SEQUENCE_DATASETS) == {"digits-seq", "sine-seq"}


def test_npz_dataset_and_its_errors(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, X=np.arange(12.0).reshape(6, 2), y=np.array([0, 1, 2, 0, 1, 2]))
    data = load_dataset(str(good))
    assert data.n_classes == 3 and data.X.shape == (6, 2)
    onehot = tmp_path / "onehot.npz"
    np.savez(onehot, X=np.ones((3, 2)), y=np.eye(3))
    np.testing.assert_array_equal(load_dataset(str(onehot)).y, [0, 1, 2])
    cases = {
        "missing.npz": (None, "does not exist"),
        "short.npz": ({"X": np.ones((4, 2)), "y": np.zeros(3)}, "3 labels but X has 4"),
        "nan.npz": ({"X": np.array([[np.nan, 1.0]]), "y": np.zeros(1)}, "NaN"),
        "noy.npz": ({"X": np.ones((4, 2))}, "lacks array\\(s\\) y"),
        "frac.npz": ({"X": np.ones((2, 2)), "y": np.array([0.5, 1.0])}, "class labels"),
    }
    for name, (arrays, message) in cases.items():
        if arrays is not None:
            np.savez(tmp_path / name, **arrays)
        with pytest.raises(DataError, match=message):
            load_dataset(str(tmp_path / name))
    with pytest.raises(DataError, match="unknown dataset 'mnist'.*digits-seq, sine-seq"):
        load_dataset("mnist")


def test_split_is_stratified_disjoint_and_seeded():
    data = load_dataset("iris")
    train, val, test = train_val_test_split(data.X, data.y, (0.7, 0.15, 0.15), seed=3)
    assert (len(train[0]), len(val[0]), len(test[0])) == (105, 24, 21)
    for _, y in (train, val, test):
        counts = np.bincount(y, minlength=3)
        assert counts.max() - counts.min() <= 1  # 50/50/50 split in equal proportions
    rows = np.concatenate([train[0], val[0], test[0]])
    assert len(np.unique(rows, axis=0)) == len(np.unique(data.X, axis=0))
    again = train_val_test_split(data.X, data.y, seed=3)
    np.testing.assert_array_equal(again[0][0], train[0])
    with pytest.raises(DataError, match="summing to 1"):
        train_val_test_split(data.X, data.y, (0.5, 0.5, 0.5))


def test_one_hot_and_standardizer():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(DataError):
        one_hot(np.array([3]), 3)
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    s = Standardizer().fit(X)
    np.testing.assert_allclose(s.transform(X), [[-1, 0], [1, 0]])  # constant column: centred
    np.testing.assert_allclose(s.inverse_transform(s.transform(X)), X)
