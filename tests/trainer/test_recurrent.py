"""Recurrent layers (nnfx/trainer/recurrent.py): backpropagation through time against finite
differences in float64, the forward pass against PyTorch's layers, stacks, initialization,
learning the digits read row by row, and gradient clipping on long sequences."""

import numpy as np
import pytest

from nnfx.errors import ModelError
from nnfx.trainer import (
    GRU,
    LSTM,
    SGD,
    Adam,
    Dense,
    Flatten,
    Sequential,
    SimpleRNN,
    Standardizer,
    load_dataset,
    one_hot,
    train_val_test_split,
)
from nnfx.trainer.data import sine_sequences

from .gradcheck import built, check_layer, numerical_gradient

LAYERS = [SimpleRNN, LSTM, GRU]
TORCH = {SimpleRNN: "RNN", LSTM: "LSTM", GRU: "GRU"}  # their torch.nn classes


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
def test_backward_through_time(rng, cls, return_sequences):
    layer = built(cls(4, return_sequences=return_sequences), (6, 3), rng)
    for p in layer.parameters():  # moderate weights: the gates neither saturate nor stay linear
        p.value *= 0.6
    check_layer(layer, rng.standard_normal((3, 6, 3)), rng)


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_forward_equals_pytorch(rng, cls):
    """PyTorch's layer with our weights (W^T, R^T, b, rb are its weight_ih, weight_hh, b_ih,
    b_hh, gates in the same order) computes the same states in float64."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (the compare extra)")
    layer = built(cls(5, return_sequences=True), (7, 3), rng)
    theirs = getattr(torch.nn, TORCH[cls])(3, 5, batch_first=True).double()
    with torch.no_grad():
        theirs.weight_ih_l0.copy_(torch.from_numpy(layer.W.value.T))
        theirs.weight_hh_l0.copy_(torch.from_numpy(layer.R.value.T))
        theirs.bias_ih_l0.copy_(torch.from_numpy(layer.b.value))
        theirs.bias_hh_l0.copy_(torch.from_numpy(layer.rb.value))
    x = rng.standard_normal((4, 7, 3))
    states, last = theirs(torch.from_numpy(x))
    last = last[0] if cls is LSTM else last  # LSTM returns (h_n, c_n)
    np.testing.assert_allclose(layer.forward(x), states.detach().numpy(), rtol=1e-12, atol=1e-13)
    layer.return_sequences = False
    np.testing.assert_allclose(layer.forward(x), last[0].detach().numpy(), rtol=1e-12, atol=1e-13)


STACKS = {
    "lstm-gru-rnn": lambda: [
        LSTM(4, return_sequences=True),
        GRU(3, return_sequences=True),
        SimpleRNN(3),
    ],
    "gru-flatten": lambda: [GRU(3, return_sequences=True), Flatten()],
}


@pytest.mark.parametrize("stack", list(STACKS))
def test_a_stack_with_a_dense_head_backpropagates_through_every_layer(rng, stack):
    """Recurrent layers feeding each other their whole sequences, the last one's final state
    (or a flattened sequence) into Dense: the model's gradients against finite differences."""
    model = Sequential(
        [*STACKS[stack](), Dense(4, activation="softmax")],
        input_shape=(5, 2),
        seed=2,
        dtype="float64",
    )
    model.compile(SGD(0.1), loss="categorical_crossentropy")
    X = rng.standard_normal((3, 5, 2))
    Y = np.eye(4)[rng.integers(0, 4, 3)]
    for p in model.parameters():
        model.compute_gradients(X, Y)  # the numerical gradients leave other values behind
        analytic = p.grad.copy()
        numeric = numerical_gradient(lambda: model.compute_gradients(X, Y)[0], p.value)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_shapes_and_initialization():
    model = Sequential(
        [LSTM(6, return_sequences=True), GRU(5), Dense(2)], input_shape=(9, 4), seed=0
    )
    lstm, gru = model.layers[:2]
    assert lstm.output_shape == (9, 6) and gru.output_shape == (5,)
    assert lstm.W.value.shape == (4, 24) and lstm.R.value.shape == (6, 24)
    assert gru.W.value.shape == (6, 15) and gru.R.value.shape == (5, 15)
    # Keras's defaults: orthogonal recurrent kernel (orthonormal rows), Glorot input kernel,
    # zero biases but the LSTM's forget gate (the second block of i, f, g, o) at 1.
    np.testing.assert_allclose(lstm.R.value @ lstm.R.value.T, np.eye(6), atol=1e-6)
    assert np.abs(lstm.W.value).max() <= np.sqrt(6 / (4 + 24))
    np.testing.assert_array_equal(lstm.b.value, np.repeat([0.0, 1.0, 0.0, 0.0], 6))
    assert not gru.b.value.any() and not gru.rb.value.any() and not lstm.rb.value.any()
    assert model.predict(np.zeros((3, 9, 4))).shape == (3, 2)
    assert [p.decay for p in lstm.parameters()] == [True, True, False, False]


def test_misuse_is_one_sentence():
    with pytest.raises(ModelError, match="expect \\(batch, steps, features\\)"):
        Sequential([LSTM(4)], input_shape=(8,))
    with pytest.raises(ModelError, match="Dense expects \\(batch, features\\)"):
        Sequential([GRU(4, return_sequences=True), Dense(2)], input_shape=(5, 3))
    with pytest.raises(ModelError, match="GRU layer needs at least one unit"):
        GRU(0)


@pytest.fixture(scope="module")
def digit_rows():
    data = load_dataset("digits-seq")
    train, val, test = train_val_test_split(data.X, data.y, seed=0)
    scaler = Standardizer().fit(train[0])
    return tuple((scaler.transform(X), y) for X, y in (train, val, test))


def test_a_gru_reads_the_digits_row_by_row_to_95_percent(digit_rows):
    (X, y), val, (Xt, yt) = digit_rows
    assert X.shape[1:] == (8, 8)
    model = Sequential(
        [GRU(24), Dense(16, activation="relu"), Dense(10, activation="softmax")],
        input_shape=(8, 8),
        seed=0,
    )
    model.compile(Adam(0.01), "categorical_crossentropy", ["accuracy"])
    model.fit(X, y, epochs=15, batch_size=32, validation_data=val, verbose=0)
    assert model.evaluate(Xt, yt)["accuracy"] >= 0.95


def _train_by_hand(model, optimizer, X, Y, epochs, batch=32, seed=0):
    """fit()'s loop, recording the global gradient norm of every step before clipping."""
    model.compile(optimizer, loss="categorical_crossentropy")
    order_rng, norms = np.random.default_rng(seed), []
    for _ in range(epochs):
        order = order_rng.permutation(len(X))
        for start in range(0, len(X), batch):
            index = order[start : start + batch]
            model.compute_gradients(X[index], Y[index])
            norms.append(np.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in model.parameters())))
            optimizer.step(model.parameters())
    return np.array(norms)


def test_gradient_clipping_lets_a_simple_rnn_learn_60_step_sequences():
    """SGD at a high learning rate on 60-step sine waves (three periods to tell apart): the
    gradient through time meets cliffs where its norm jumps a hundredfold; an unclipped step
    there throws the recurrent weights far away, the tanh units saturate and the network stays
    at chance. Clipping the global norm to 0.5 bounds every step, and it learns."""
    X, y = sine_sequences(samples=600, steps=60, seed=1)
    Xv, yv = sine_sequences(samples=300, steps=60, seed=2)
    X, Y = X.astype(np.float32), one_hot(y, 3)
    results = {}
    for clip in (None, 0.5):
        model = Sequential(
            [SimpleRNN(16), Dense(3, activation="softmax")], input_shape=(60, 1), seed=3
        )
        with np.errstate(over="ignore", invalid="ignore"):
            norms = _train_by_hand(model, SGD(0.5, clip_norm=clip), X, Y, epochs=12, seed=3)
            accuracy = np.mean(model.predict_classes(Xv) == yv)
        largest_recurrent = float(np.abs(model.layers[0].R.value).max())
        results[clip] = (norms, accuracy, largest_recurrent)
    norms, accuracy, largest_recurrent = results[None]
    assert norms.max() > 100 * np.median(norms[:10])  # the explosion, taken as it comes
    assert accuracy < 0.45 and largest_recurrent > 5  # thrown off: about chance (1/3)
    norms, accuracy, largest_recurrent = results[0.5]
    assert np.all(np.isfinite(norms)) and norms.max() > 50  # cliffs met, and cut to 0.5
    assert accuracy >= 0.85 and largest_recurrent < 3
