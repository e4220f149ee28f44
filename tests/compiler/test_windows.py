"""Sliding windows: padding keeps the wide-integer path exact (Python ints, never int64)."""

from types import SimpleNamespace

import numpy as np

from nnfx.compiler.windows import kernel_axes, windows


def test_padding_an_object_array_keeps_python_ints():
    attrs = SimpleNamespace(kernel_shape=(2,), strides=(1,), pads=(1, 1), dilations=(1,))
    x = np.array([[[2**59], [2**59]]], dtype=np.int64).astype(object)
    view = windows(x, attrs, 0)
    assert all(type(v) is int for v in view.ravel())
    sums = view.sum(axis=kernel_axes(attrs))
    # an int64 pad value would wrap here: 2**59 * 2**17 does not fit in int64
    assert (sums * np.int64(2**17)).tolist() == [[[2**76], [2**77], [2**76]]]


def test_padding_values_and_positions():
    attrs = SimpleNamespace(
        kernel_shape=(2, 2), strides=(1, 1), pads=(1, 0, 0, 1), dilations=(1, 1)
    )
    x = np.arange(4).reshape(1, 2, 2, 1)
    view = windows(x, attrs, -9)
    padded = np.full((1, 3, 3, 1), -9)
    padded[:, 1:, :2] = x
    expected = np.stack(
        [padded[0, i : i + 2, j : j + 2, 0] for i in range(2) for j in range(2)]
    ).reshape(1, 2, 2, 1, 2, 2)
    assert np.array_equal(view, expected)
