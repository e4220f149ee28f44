"""Sequential end to end: learning, gradient-descent modes, regularization, early stopping."""

import numpy as np
import pytest

from nnfx.errors import ConfigError, DataError, ModelError
from nnfx.trainer import (
    L1,
    L2,
    SGD,
    Adam,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    EarlyStopping,
    Flatten,
    MaxPool2D,
    Sequential,
    Standardizer,
    load_dataset,
    train_val_test_split,
)

from .gradcheck import numerical_gradient


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    train, val, test = train_val_test_split(data.X, data.y, seed=0)
    scaler = Standardizer().fit(train[0])
    return tuple((scaler.transform(X), y) for X, y in (train, val, test))


def mlp(seed=0, **dense_kwargs):
    return Sequential(
        [
            Dense(32, activation="relu", **dense_kwargs),
            Dense(10, activation="softmax", **dense_kwargs),
        ],
        input_shape=(64,),
        seed=seed,
    )


def test_whole_network_gradient_matches_finite_differences(rng):
    """Backprop through Conv, BatchNorm, pooling, Dense and the fused softmax + CE loss."""
    model = Sequential(
        [
            Conv2D(3, 3, padding=1, activation="tanh"),
            BatchNorm2D(),
            MaxPool2D(2),
            Flatten(),
            Dense(6, activation="elu", kernel_regularizer=L2(0.01)),
            Dense(4, activation="softmax"),
        ],
        input_shape=(2, 6, 6),
        seed=1,
        dtype="float64",
    )
    model.compile(SGD(0.1), loss="categorical_crossentropy")
    X = rng.standard_normal((5, 2, 6, 6))
    Y = np.eye(4)[rng.integers(0, 4, 5)]
    model.compute_gradients(X, Y)
    for p in model.parameters():
        analytic = p.grad.copy()
        numeric = numerical_gradient(lambda: model.compute_gradients(X, Y)[0], p.value)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_digits_mlp_reaches_95_percent(digits):
    (X, y), val, (Xt, yt) = digits
    model = Sequential(
        [
            Dense(64, activation="relu"),
            Dense(32, activation="relu"),
            Dense(10, activation="softmax"),
        ],
        input_shape=(64,),
        seed=0,
    )
    model.compile(Adam(0.001), "categorical_crossentropy", ["accuracy", "f1"])
    history = model.fit(X, y, epochs=30, batch_size=32, validation_data=val, verbose=0)
    assert model.evaluate(Xt, yt)["accuracy"] >= 0.95
    assert set(history.history) == {
        "loss",
        "accuracy",
        "f1",
        "val_loss",
        "val_accuracy",
        "val_f1",
        "lr",
    }
    assert len(history["loss"]) == 30 and history["loss"][-1] < history["loss"][0] / 5


def test_digits_cnn_learns(digits):
    (X, y), _, (Xt, yt) = digits
    model = Sequential(
        [
            Conv2D(8, 3, padding="same", activation="relu"),
            MaxPool2D(2),
            Flatten(),
            Dropout(0.1),
            Dense(10, activation="softmax"),
        ],
        input_shape=(1, 8, 8),
        seed=0,
    )
    model.compile(Adam(0.003), "categorical_crossentropy", ["accuracy"])
    model.fit(X.reshape(-1, 1, 8, 8), y, epochs=8, verbose=0)
    assert model.evaluate(Xt.reshape(-1, 1, 8, 8), yt)["accuracy"] >= 0.93


@pytest.mark.parametrize("batch_size,steps", [(None, 1), (1, 120), (32, 4), (50, 3)])
def test_gradient_descent_modes(batch_size, steps, rng):
    """Full batch, stochastic and mini-batch: the number of updates per epoch."""
    X, y = rng.standard_normal((120, 4)), rng.integers(0, 3, 120)
    model = Sequential([Dense(3, activation="softmax")], input_shape=(4,))
    model.compile(SGD(0.1), "categorical_crossentropy")
    model.fit(X, y, epochs=2, batch_size=batch_size, verbose=0)
    assert model.optimizer.iterations == 2 * steps


def test_full_batch_gradient_descent_solves_least_squares(rng):
    X = rng.standard_normal((200, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.3
    model = Sequential([Dense(1)], input_shape=(3,), dtype="float64")
    model.compile(SGD(0.1), loss="mse", metrics=["mae", "mse"])
    model.fit(X, y, epochs=300, batch_size=None, verbose=0)
    coef, *_ = np.linalg.lstsq(np.c_[X, np.ones(200)], y, rcond=None)
    np.testing.assert_allclose(model.layers[0].W.value[:, 0], coef[:3], atol=1e-6)
    assert model.evaluate(X, y)["mae"] < 1e-6


def test_binary_classifiers_with_sigmoid_and_hinge():
    data = load_dataset("breast_cancer")
    (X, y), _, (Xt, yt) = train_val_test_split(data.X, data.y, seed=1)
    scaler = Standardizer().fit(X)
    X, Xt = scaler.transform(X), scaler.transform(Xt)
    for last, loss in [("sigmoid", "binary_crossentropy"), ("linear", "hinge")]:
        model = Sequential(
            [Dense(16, activation="relu"), Dense(1, activation=last)], input_shape=(30,), seed=0
        )
        model.compile(Adam(0.005), loss, ["accuracy", "precision", "recall", "f1"])
        model.fit(X, y, epochs=20, verbose=0)
        metrics = model.evaluate(Xt, yt)
        assert metrics["accuracy"] > 0.93, (loss, metrics)
        assert set(np.unique(model.predict_classes(Xt))) <= {0, 1}


def test_same_seed_same_model_other_seed_other_model(digits):
    (X, y), _, _ = digits
    weights = []
    for seed in (5, 5, 6):
        model = Sequential(
            [
                Dense(32, activation="relu"),
                Dropout(0.3),  # masks are seeded too
                Dense(10, activation="softmax"),
            ],
            input_shape=(64,),
            seed=seed,
        )
        model.compile(Adam(0.01), "categorical_crossentropy")
        model.fit(X[:200], y[:200], epochs=2, verbose=0)
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(weights[0], weights[1], strict=True))
    assert not np.array_equal(weights[0][0], weights[2][0])


def test_early_stopping_restores_the_best_epoch(digits):
    (X, y), (Xv, yv), _ = digits
    model = mlp()
    model.compile(Adam(0.05), "categorical_crossentropy", ["accuracy"])  # too fast: overfits
    stopper = EarlyStopping("val_loss", patience=2)
    history = model.fit(X, y, epochs=100, validation_data=(Xv, yv), callbacks=[stopper], verbose=0)
    assert history.stopped_early and history.epochs_run < 100
    best = history.best_epoch
    assert history["val_loss"][best] == min(history["val_loss"])
    assert np.isclose(model.evaluate(Xv, yv)["loss"], history["val_loss"][best], rtol=1e-5)


def test_early_stopping_on_a_metric_to_maximize(digits):
    (X, y), (Xv, yv), _ = digits
    model = mlp()
    model.compile(Adam(0.01), "categorical_crossentropy", ["accuracy"])
    stopper = EarlyStopping("val_accuracy", patience=1)
    assert stopper.mode == "max"
    model.fit(X, y, epochs=50, validation_data=(Xv, yv), callbacks=[stopper], verbose=0)
    assert stopper.stopped_epoch is not None


def test_early_stopping_without_validation_is_a_clear_error(digits):
    (X, y), _, _ = digits
    model = mlp()
    model.compile()
    with pytest.raises(ConfigError, match="val_loss"):
        model.fit(X, y, epochs=2, callbacks=[EarlyStopping()], verbose=0)


def test_l2_shrinks_and_l1_sparsifies_weights(digits):
    (X, y), _, _ = digits
    results = {}
    for name, reg in [("none", None), ("l2", L2(0.01)), ("l1", L1(0.003))]:
        model = mlp(kernel_regularizer=reg)
        model.compile(Adam(0.01), "categorical_crossentropy")
        model.fit(X, y, epochs=15, verbose=0)
        W = model.layers[0].W.value
        results[name] = (np.sqrt(np.sum(W**2)), np.mean(np.abs(W) < 1e-2))
    assert results["l2"][0] < 0.6 * results["none"][0]
    assert results["l1"][1] > 2 * results["none"][1]


def test_validation_split_and_schedule_recorded(rng):
    X, y = rng.standard_normal((100, 4)), rng.integers(0, 2, 100)
    from nnfx.trainer import StepDecay

    model = Sequential([Dense(2, activation="softmax")], input_shape=(4,))
    model.compile(SGD(StepDecay(0.1, factor=0.5, every=1)), "categorical_crossentropy")
    history = model.fit(X, y, epochs=3, validation_split=0.2, verbose=0)
    assert "val_loss" in history.history
    np.testing.assert_allclose(history["lr"], [0.1, 0.05, 0.025])


def test_progress_output(capsys, rng):
    X, y = rng.standard_normal((40, 4)), rng.integers(0, 2, 40)
    model = Sequential([Dense(2, activation="softmax")], input_shape=(4,))
    model.compile()
    model.fit(X, y, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "val_loss" not in out and "loss" in out and "    1/2" in out and "    2/2" in out


def test_summary_lists_layers_and_parameters():
    text = mlp().summary()
    assert "dense_1" in text and "softmax_1" in text and "total parameters: 2410" in text


@pytest.mark.parametrize(
    "X,y,error",
    [
        (np.ones((10, 64)), np.zeros(9, int), "9 labels but X has 10 samples"),
        (np.full((10, 64), np.nan), np.zeros(10, int), "NaN"),
        (np.ones((10, 63)), np.zeros(10, int), "expects \\(batch, 64\\)"),
        (np.ones((10, 64)), np.zeros((10, 3)), "3 column"),
    ],
)
def test_bad_data_is_a_clear_error(X, y, error):
    model = mlp()
    model.compile()
    with pytest.raises(DataError, match=error):
        model.fit(X, y, epochs=1, verbose=0)


def test_misuse_is_a_clear_error():
    with pytest.raises(ModelError, match="compile"):
        mlp().fit(np.ones((4, 64)), np.zeros(4, int))
    with pytest.raises(ModelError, match="Flatten"):
        Sequential([Dense(3)], input_shape=(1, 8, 8))
    with pytest.raises(ModelError, match="larger than"):
        Sequential([Conv2D(2, 5)], input_shape=(1, 3, 3))
