"""Each optimizer's update rule against steps computed by hand (numbers in the comments)."""

import numpy as np
import pytest

from nnfx.errors import ConfigError
from nnfx.trainer import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Constant,
    CosineDecay,
    ExponentialDecay,
    Momentum,
    Nesterov,
    Parameter,
    RMSprop,
    StepDecay,
    clip_gradients,
)
from nnfx.trainer.optimizers import get_optimizer


def param(values=(1.0, -2.0), decay=True):
    w = np.array(values, dtype=np.float64)
    return Parameter("w", w, np.zeros_like(w), decay=decay)


G = np.array([0.5, 0.25])


def run(optimizer, grads, p=None):
    p = p or param()
    for g in grads:
        p.grad = np.array(g, dtype=np.float64)
        optimizer.step([p])
    return p.value


def test_sgd():
    # w - lr g = [1 - 0.05, -2 - 0.025]
    np.testing.assert_allclose(run(SGD(0.1), [G]), [0.95, -2.025])


def test_momentum():
    # v1 = -lr g = [-0.05, -0.025];  v2 = 0.9 v1 - lr g = [-0.095, -0.0475]
    # w2 = w0 + v1 + v2 = [0.855, -2.0725]
    np.testing.assert_allclose(run(Momentum(0.1, momentum=0.9), [G, G]), [0.855, -2.0725])


def test_nesterov():
    # step 1: v = [-0.05, -0.025]; w += 0.9 v - lr g = [-0.095, -0.0475] -> [0.905, -2.0475]
    # step 2: v = [-0.095, -0.0475]; w += 0.9 v - lr g = [-0.1355, -0.06775] -> [0.7695, -2.11525]
    np.testing.assert_allclose(run(Nesterov(0.1, momentum=0.9), [G, G]), [0.7695, -2.11525])


def test_adagrad():
    # step 1: G = g^2, step = lr g / |g| = 0.1 -> [0.9, -2.1]
    # step 2: G = 2 g^2, step = lr / sqrt(2) = 0.0707107 -> [0.8292893, -2.1707107]
    np.testing.assert_allclose(
        run(Adagrad(0.1, epsilon=0.0), [G, G]), [0.82928932, -2.17071068], rtol=1e-7
    )


def test_rmsprop():
    # s = 0.1 g^2, step = lr g / sqrt(0.1 g^2) = 0.01 * sqrt(10) = 0.0316228
    np.testing.assert_allclose(
        run(RMSprop(0.01, rho=0.9, epsilon=0.0), [G]), [0.96837722, -2.03162278], rtol=1e-7
    )


def test_adam():
    # step 1: m_hat = g, v_hat = g^2 -> step = lr sign(g) = 0.1 -> [0.9, -2.1]
    # step 2 with g2 = [-0.5, 0.25]: m = [-0.005, 0.0475], m_hat = m / 0.19 = [-0.0263158, 0.25]
    #   v_hat = (0.999*0.001 g1^2 + 0.001 g2^2) / 0.001999 = [0.25, 0.0625] -> sqrt [0.5, 0.25]
    #   step = 0.1 * [-0.0526316, 1] -> [0.9052632, -2.2]
    value = run(Adam(0.1, epsilon=0.0), [G, [-0.5, 0.25]])
    np.testing.assert_allclose(value, [0.90526316, -2.2], rtol=1e-7)


def test_adamw_decouples_weight_decay_and_spares_biases():
    # w *= 1 - lr wd = 0.99 -> [0.99, -1.98]; then Adam's first step 0.1 sign(g) -> [0.89, -2.08]
    np.testing.assert_allclose(run(AdamW(0.1, weight_decay=0.1, epsilon=0.0), [G]), [0.89, -2.08])
    bias = run(AdamW(0.1, weight_decay=0.1, epsilon=0.0), [G], param(decay=False))
    np.testing.assert_allclose(bias, [0.9, -2.1])


def test_coupled_weight_decay_adds_to_the_gradient():
    # g + wd w = [0.6, 0.05]; w - 0.1 (g + wd w) = [0.94, -2.005]
    np.testing.assert_allclose(run(SGD(0.1, weight_decay=0.1), [G]), [0.94, -2.005])


def test_adam_with_weight_decay_is_not_adamw():
    coupled = run(Adam(0.1, weight_decay=0.1), [G, G])
    decoupled = run(AdamW(0.1, weight_decay=0.1), [G, G])
    assert not np.allclose(coupled, decoupled)


def test_clip_by_value_then_sgd():
    # g clipped to [0.3, 0.25]; w - 1.0 g = [0.7, -2.25]
    np.testing.assert_allclose(run(SGD(1.0, clip_value=0.3), [[0.5, 0.25]]), [0.7, -2.25])


def test_clip_by_global_norm_keeps_the_direction():
    a, b = np.array([3.0]), np.array([0.0, 4.0])  # global norm 5
    clipped = clip_gradients([a, b], clip_norm=1.0)
    np.testing.assert_allclose(clipped[0], [0.6])
    np.testing.assert_allclose(clipped[1], [0.0, 0.8])
    untouched = clip_gradients([a, b], clip_norm=10.0)
    np.testing.assert_array_equal(untouched[1], b)


def test_clip_norm_applies_in_step():
    # grads [3, 4] -> [0.6, 0.8] at clip_norm 1; w - 1.0 g
    np.testing.assert_allclose(run(SGD(1.0, clip_norm=1.0), [[3.0, 4.0]]), [0.4, -2.8])


def test_optimizers_minimize_a_quadratic():
    target = np.array([3.0, -1.0])
    for opt in [
        SGD(0.1),
        Momentum(0.05),
        Nesterov(0.05),
        Adagrad(0.5),
        RMSprop(0.05),
        Adam(0.1),
        AdamW(0.1, weight_decay=1e-4),
    ]:
        p = param()
        for _ in range(500):
            p.grad = 2 * (p.value - target)
            opt.step([p])
        np.testing.assert_allclose(p.value, target, atol=0.05, err_msg=type(opt).__name__)


def test_schedules():
    step = StepDecay(0.1, factor=0.5, every=10)
    assert [step(e) for e in (0, 9, 10, 25)] == [0.1, 0.1, 0.05, 0.025]
    assert np.isclose(ExponentialDecay(1.0, 0.9)(2), 0.81)
    cosine = CosineDecay(1.0, epochs=10, minimum=0.0)
    assert np.isclose(cosine(0), 1.0) and np.isclose(cosine(5), 0.5) and np.isclose(cosine(10), 0.0)
    assert np.isclose(cosine(20), 0.0)
    assert Constant(0.3)(100) == 0.3


def test_schedule_drives_the_optimizer():
    opt = SGD(StepDecay(1.0, factor=0.1, every=1))
    opt.set_epoch(2)
    assert np.isclose(opt.learning_rate, 0.01)


@pytest.mark.parametrize(
    "make",
    [
        lambda: get_optimizer("lion"),
        lambda: SGD(-1.0),
        lambda: SGD(0.1, momentum=1.5),
        lambda: SGD(0.1, nesterov=True),
        lambda: Adam(0.1, clip_norm=0.0),
    ],
)
def test_bad_optimizer_settings_are_clear_errors(make):
    with pytest.raises(ConfigError):
        make()
