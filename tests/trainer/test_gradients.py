"""Every layer's and every loss's backward pass against central finite differences (float64)."""

import numpy as np
import pytest

from nnfx.trainer import (
    ELU,
    AvgPool2D,
    BatchNorm,
    BatchNorm1D,
    BatchNorm2D,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Hinge,
    LeakyReLU,
    Linear,
    MaxPool2D,
    MeanAbsoluteError,
    MeanSquaredError,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from nnfx.trainer.activations import softmax, stable_sigmoid

from .gradcheck import built, check_layer, numerical_gradient


@pytest.mark.parametrize("use_bias", [True, False])
def test_dense(rng, use_bias):
    layer = built(Dense(5, use_bias=use_bias), (7,), rng)
    check_layer(layer, rng.standard_normal((4, 7)), rng)


@pytest.mark.parametrize(
    "kwargs,shape",
    [
        ({"filters": 3, "kernel_size": 3}, (2, 6, 6)),
        ({"filters": 2, "kernel_size": (2, 3), "strides": 2}, (3, 7, 8)),
        ({"filters": 4, "kernel_size": 3, "padding": 1}, (2, 5, 5)),
        ({"filters": 2, "kernel_size": 3, "strides": (2, 1), "padding": "same"}, (1, 6, 5)),
        ({"filters": 1, "kernel_size": 1, "use_bias": False}, (3, 4, 4)),
    ],
)
def test_conv2d(rng, kwargs, shape):
    layer = built(Conv2D(**kwargs), shape, rng)
    check_layer(layer, rng.standard_normal((2, *shape)), rng)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"pool_size": 2},
        {"pool_size": 3, "strides": 2},
        {"pool_size": 2, "strides": 1, "padding": 1},
    ],
)
def test_pooling(rng, cls, kwargs):
    layer = built(cls(**kwargs), (2, 6, 7), rng)
    check_layer(layer, rng.standard_normal((3, 2, 6, 7)), rng)


def test_maxpool_routes_gradient_to_the_maximum_only():
    layer = MaxPool2D(2)
    layer.name = "pool"
    layer.build((1, 2, 2), np.random.default_rng(0), np.dtype(np.float64))
    x = np.array([[[[1.0, 5.0], [3.0, 2.0]]]])
    assert layer.forward(x)[0, 0, 0, 0] == 5.0
    dx = layer.backward(np.array([[[[7.0]]]]))
    np.testing.assert_array_equal(dx, [[[[0, 7.0], [0, 0]]]])


def test_flatten(rng):
    layer = built(Flatten(), (2, 3, 4), rng)
    check_layer(layer, rng.standard_normal((2, 2, 3, 4)), rng)


def test_dropout_with_a_fixed_mask(rng):
    layer = built(Dropout(0.4), (10,), rng)

    def same_mask():
        layer._rng = np.random.default_rng(7)

    check_layer(layer, rng.standard_normal((6, 10)), rng, before_forward=same_mask)


def test_dropout_is_identity_at_inference_and_keeps_the_mean(rng):
    layer = built(Dropout(0.5), (1000,), rng)
    x = np.ones((50, 1000))
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    y = layer.forward(x, training=True)
    assert set(np.unique(y)) == {0.0, 2.0}
    assert abs(y.mean() - 1.0) < 0.02


@pytest.mark.parametrize(
    "cls,shape", [(BatchNorm1D, (5,)), (BatchNorm2D, (3, 4, 4)), (BatchNorm, (4,))]
)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(rng, cls, shape, training):
    layer = built(cls(), shape, rng)
    layer.running_mean = rng.standard_normal(shape[0])
    layer.running_var = rng.uniform(0.5, 2.0, shape[0])
    check_layer(layer, rng.standard_normal((6, *shape)) * 2 + 1, rng, training=training)


def test_batchnorm_normalizes_and_tracks_running_statistics(rng):
    layer = built(BatchNorm2D(momentum=0.0), (3, 5, 5), rng)
    layer.gamma.value[...] = 1
    layer.beta.value[...] = 0
    x = rng.standard_normal((8, 3, 5, 5)) * 3 + 2
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    m = 8 * 5 * 5
    np.testing.assert_allclose(layer.running_mean, x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(layer.running_var, x.var(axis=(0, 2, 3)) * m / (m - 1))


@pytest.mark.parametrize(
    "layer",
    [ReLU(), LeakyReLU(0.1), ELU(0.7), Sigmoid(), Tanh(), Softmax(), Linear()],
    ids=lambda l: type(l).__name__,
)
def test_activations(rng, layer):
    built(layer, (6,), rng)
    x = rng.standard_normal((5, 6)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kinks of ReLU and friends
    check_layer(layer, x, rng)


def test_activation_values():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    for layer, expected in [
        (ReLU(), [0, 0, 0, 0.5, 3]),
        (LeakyReLU(0.1), [-0.2, -0.05, 0, 0.5, 3]),
        (ELU(1.0), [np.expm1(-2), np.expm1(-0.5), 0, 0.5, 3]),
        (Sigmoid(), 1 / (1 + np.exp(-x[0]))),
        (Tanh(), np.tanh(x[0])),
    ]:
        np.testing.assert_allclose(layer.forward(x)[0], expected, rtol=1e-12)
    p = Softmax().forward(x)
    np.testing.assert_allclose(p.sum(), 1.0)
    np.testing.assert_allclose(p[0], np.exp(x[0]) / np.exp(x[0]).sum())


def test_sigmoid_and_softmax_do_not_overflow():
    big = np.array([[-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(stable_sigmoid(big), [[0.0, 0.5, 1.0]])
        np.testing.assert_allclose(softmax(big), [[0, 0, 1]])


LOSS_CASES = [
    (MeanSquaredError(), lambda r: r.standard_normal((4, 3)), lambda r: r.standard_normal((4, 3))),
    (MeanAbsoluteError(), lambda r: r.standard_normal((4, 3)), lambda r: r.standard_normal((4, 3))),
    (
        BinaryCrossentropy(),
        lambda r: r.uniform(0.05, 0.95, (5, 1)),
        lambda r: r.integers(0, 2, (5, 1)).astype(float),
    ),
    (
        CategoricalCrossentropy(),
        lambda r: softmax(r.standard_normal((4, 5))),
        lambda r: np.eye(5)[r.integers(0, 5, 4)],
    ),
    (
        Hinge(),
        lambda r: r.standard_normal((6, 1)) * 3,
        lambda r: r.integers(0, 2, (6, 1)).astype(float),
    ),
]


@pytest.mark.parametrize(
    "loss,make_pred,make_true", LOSS_CASES, ids=lambda c: getattr(c, "name", "")
)
def test_loss_gradients(rng, loss, make_pred, make_true):
    p, y = make_pred(rng), make_true(rng)
    numeric = numerical_gradient(lambda: loss.value(p, y), p)
    np.testing.assert_allclose(loss.gradient(p, y), numeric, rtol=1e-5, atol=1e-8)


def test_loss_values_by_hand():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    y = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    assert np.isclose(CategoricalCrossentropy().value(p, y), -(np.log(0.7) + np.log(0.8)) / 2)
    assert np.isclose(MeanSquaredError().value(p, y), np.mean((p - y) ** 2))
    assert np.isclose(MeanAbsoluteError().value(p, y), np.mean(np.abs(p - y)))
    # Hinge with 0/1 labels mapped to -1/+1: margins 1-(-1)(0.5)=1.5 and 1-(1)(2)=-1 -> 0.
    assert np.isclose(Hinge().value(np.array([[0.5], [2.0]]), np.array([[0.0], [1.0]])), 0.75)
    bce = BinaryCrossentropy().value(np.array([[0.9], [0.2]]), np.array([[1.0], [0.0]]))
    assert np.isclose(bce, -(np.log(0.9) + np.log(0.8)) / 2)


@pytest.mark.parametrize(
    "loss,activation,shape",
    [(CategoricalCrossentropy(), softmax, (5, 4)), (BinaryCrossentropy(), stable_sigmoid, (6, 1))],
)
def test_fused_gradients_equal_the_chain_rule(rng, loss, activation, shape):
    z = rng.standard_normal(shape) * 3
    y = (
        np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
        if shape[1] > 1
        else rng.integers(0, 2, shape).astype(float)
    )
    value, grad = loss.value_and_gradient_from_logits(z, y)
    assert np.isclose(value, loss.value(activation(z), y), rtol=1e-9)
    numeric = numerical_gradient(lambda: loss.value(activation(z), y), z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_fused_cross_entropy_is_finite_for_extreme_logits():
    z = np.array([[1000.0, -1000.0]])
    value, grad = CategoricalCrossentropy().value_and_gradient_from_logits(
        z, np.array([[0.0, 1.0]])
    )
    assert np.isclose(value, 2000.0) and np.all(np.isfinite(grad))
