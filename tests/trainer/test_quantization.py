"""Quantization-aware training: the fake quantizer is nnfx's ``quantize`` bit for bit, the
straight-through estimator is the derivative of its ``clip`` surrogate (finite differences),
and "what you train is what you get": a QAT model exported as QONNX and compiled with its own
types gives, in every engine and in qonnx's own execution, the codes of the trainer's
quantized forward (np.array_equal on integer codes)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import nnfx
from nnfx.compiler.fixed import FixedType, to_raw
from nnfx.compiler.fixed import quantize as nnfx_quantize
from nnfx.errors import ConfigError, ModelError, UnsupportedOpError
from nnfx.trainer import Flatten, MaxPool2D, ReLU, Sequential, Softmax
from nnfx.trainer.preprocessing import Standardize
from nnfx.trainer.quantization import (
    OVERFLOW,
    ROUNDING,
    QConv2D,
    QDense,
    Quantize,
    QuantSpec,
    quantize,
    set_surrogate,
)
from tests.trainer.gradcheck import built, check_layer

QONNX_ROUNDING = ["RND_CONV", "TRN", "TRN_ZERO", "RND_INF", "RND_ZERO", "CEIL", "UP"]


def grid_values(rng, n, frac, span):
    """Values on the 2^-(frac + 2) grid within +-span: ties, quarters, beyond the range."""
    k = rng.integers(-span * 2 ** (frac + 2), span * 2 ** (frac + 2) + 1, size=n)
    return np.ldexp(k.astype(np.float64), -(frac + 2))


@pytest.mark.parametrize("rounding", ROUNDING)
def test_fake_quantizer_equals_nnfx_quantize_in_every_mode(rounding):
    """Every overflow mode, signed and unsigned, widths 1..20, fractions -3..8, on ties and
    out-of-range values (and random reals): the trainer's quantizer is nnfx's Q_T."""
    rng = np.random.default_rng(ROUNDING.index(rounding))
    for overflow in OVERFLOW:
        for _ in range(12):
            width, frac = int(rng.integers(1, 21)), int(rng.integers(-3, 9))
            signed = bool(rng.integers(0, 2))
            spec = QuantSpec(width, width - frac, signed, rounding, overflow)
            t = FixedType(width, width - frac, signed, rounding, overflow)
            span = 2.0 ** (width - frac + 1)
            x = np.concatenate([grid_values(rng, 400, frac, span), rng.normal(0, span, 200)])
            ours, _ = quantize(x, spec, frac)
            assert np.array_equal(ours, nnfx_quantize(x, t)), (t, spec)


def test_spec_parsing_and_calibration():
    assert QuantSpec.parse("fixed<6,2>") == QuantSpec(6, 2)
    assert QuantSpec.parse("ufixed<8,0,TRN,SAT_SYM>") == QuantSpec(8, 0, False, "TRN", "SAT_SYM")
    assert QuantSpec.parse(6) == QuantSpec.parse("bits=6") == QuantSpec(6)
    assert QuantSpec.parse("ubits=4") == QuantSpec(4, signed=False)
    # calibrated: max |x| = 3 needs 2 integer bits and a sign; 4 needs 3 (4 saturates to 4 - lsb)
    assert QuantSpec(8).frac(3.0) == 5 and QuantSpec(8).frac(4.0) == 5
    assert QuantSpec(8, signed=False).frac(0.3) == 9
    for bad in ("fixed<6>", "float", "fixed<6,2,NEAREST>", "bits=0"):
        with pytest.raises(ConfigError):
            QuantSpec.parse(bad)


def test_ste_is_identity_inside_the_range_and_zero_outside():
    spec = QuantSpec(4, 1, rounding="RND_CONV", overflow="SAT")  # codes -8..7, LSB 1/8
    x = np.array([-1.5, -1.0, -0.99, 0.3, 0.875, 0.9, 2.0])
    q, mask = quantize(x, spec, 3)
    assert np.array_equal(q, [-1.0, -1.0, -1.0, 0.25, 0.875, 0.875, 0.875])
    assert np.array_equal(mask, [0, 1, 1, 1, 1, 0, 0])
    _, wrap = quantize(x, QuantSpec(4, 1, overflow="WRAP"), 3)
    assert np.array_equal(wrap, np.ones(7))  # WRAP passes every gradient


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: QDense(5, weight="fixed<6,2>", bias="fixed<8,3,TRN,SAT_SYM>"), (7,)),
        (lambda: QDense(4, weight=5, bias="bits=10"), (6,)),  # calibrated scales
        (lambda: QConv2D(3, 3, weight="fixed<5,1,RND,SAT>", bias=8, padding="same"), (2, 5, 5)),
        (lambda: Quantize("fixed<5,1,CEIL,SAT>"), (3, 4)),
        (lambda: Quantize("ufixed<4,1,TRN_ZERO,SAT_ZERO>"), (6,)),
    ],
)
def test_ste_gradients_are_the_surrogate_derivatives(make, shape):
    """Finite differences of the clip surrogate equal the layer's STE backward (the same
    masks the quantized forward uses): weights, biases and inputs, some outside the range."""
    rng = np.random.default_rng(len(shape) + shape[0])
    layer = built(make(), shape, rng)
    set_surrogate([layer])
    x = rng.standard_normal((4, *shape)) * 1.5
    check_layer(layer, x, rng)
    set_surrogate([layer], on=False)
    y = layer.forward(x, training=True)  # the quantized forward, then the STE backward
    g = rng.standard_normal(y.shape)
    dx, grads = layer.backward(g), [p.grad.copy() for p in layer.parameters()]
    set_surrogate([layer])
    layer.forward(x, training=True)
    surrogate_dx = layer.backward(g)
    # the same masks: a parameter's gradient is the surrogate's; dx too where nothing but the
    # mask acts (a Dense's dx reads its quantized weights, as a backward pass must)
    for p, grad in zip(layer.parameters(), grads, strict=True):
        assert np.array_equal(grad, p.grad), p.name
    if isinstance(layer, Quantize):
        assert np.array_equal(dx, surrogate_dx)


def test_quantized_model_gradient_check_through_every_layer():
    """A whole QAT model in surrogate mode: the loss gradient of every parameter by finite
    differences (the chain of STEs through Dense, ReLU, Quantize)."""
    from tests.trainer.gradcheck import numerical_gradient

    rng = np.random.default_rng(5)
    model = Sequential(
        [
            Quantize("fixed<8,3>"),
            QDense(6, weight="fixed<8,2>", bias="fixed<10,3>"),
            ReLU(),
            Quantize("ufixed<6,2>"),
            QDense(3, weight="fixed<8,2>", bias="fixed<10,3>"),
            Quantize("fixed<8,4>"),
            Softmax(),
        ],
        input_shape=(5,),
        dtype="float64",
    )
    for p in model.parameters():
        p.value[...] = rng.standard_normal(p.value.shape)
    model.compile("sgd", loss="categorical_crossentropy")
    set_surrogate(model)
    X, Y = rng.standard_normal((6, 5)) * 2, np.eye(3)[rng.integers(0, 3, 6)]
    model.compute_gradients(X, Y)
    for p in model.parameters():
        analytic = p.grad.copy()
        numeric = numerical_gradient(lambda: model.compute_gradients(X, Y)[0], p.value)
        assert np.max(np.abs(analytic - numeric)) < 1e-6 * max(np.max(np.abs(numeric)), 1e-3)


def test_quantized_layers_need_float64_and_exact_sums(tmp_path):
    with pytest.raises(ModelError, match="float64"):
        Sequential([Quantize(6), QDense(3, weight=6)], input_shape=(4,))
    wide = Sequential(
        [Quantize("fixed<30,10>"), QDense(2, weight="fixed<30,2>", bias="fixed<40,10>")],
        input_shape=(4,),
        dtype="float64",
    )
    with pytest.raises(ModelError, match="qdense_1.*53 exact bits"):
        wide.export_onnx(tmp_path / "wide.onnx", qonnx=True)
    float_bias = Sequential([Quantize(6), QDense(2, weight=6)], input_shape=(4,), dtype="float64")
    with pytest.raises(ModelError, match="qdense_1.*float bias"):
        float_bias.export_onnx(tmp_path / "float_bias.onnx", qonnx=True)
    wrap = Sequential([Quantize("fixed<6,2,RND_CONV,WRAP>")], input_shape=(4,), dtype="float64")
    with pytest.raises(UnsupportedOpError, match="quantize_1.*WRAP"):
        wrap.export_onnx(tmp_path / "wrap.onnx", qonnx=True)


# -- the round trip: train QAT -> export QONNX -> nnfx.compile -> every engine -------------------
def random_spec(rng, signed=True, width=None):
    width = width or int(rng.integers(3, 11))
    return QuantSpec(
        width,
        None if rng.integers(0, 3) == 0 else int(rng.integers(-1, 4)),  # some calibrated
        signed,
        QONNX_ROUNDING[int(rng.integers(0, len(QONNX_ROUNDING)))],
        "SAT_SYM" if signed and rng.integers(0, 2) else "SAT",
    )


def qat_mlp(rng, n_in):
    """Quantize -> QDense -> ReLU -> Quantize(unsigned) -> QDense -> Quantize: random widths
    3..10, modes and scales (fixed or calibrated), ending in the logits' Quant."""
    return Sequential(
        [
            Quantize(random_spec(rng)),
            QDense(8, weight=random_spec(rng), bias=random_spec(rng, width=12)),
            ReLU(),
            Quantize(random_spec(rng, signed=False)),
            QDense(3, weight=random_spec(rng), bias=random_spec(rng, width=12)),
            Quantize(random_spec(rng)),
        ],
        input_shape=(n_in,),
        dtype="float64",
        seed=int(rng.integers(0, 1000)),
    )


def qat_cnn(rng):
    return Sequential(
        [
            Quantize(random_spec(rng)),
            QConv2D(3, 3, weight=random_spec(rng), bias=random_spec(rng, width=12), padding="same"),
            ReLU(),
            Quantize(random_spec(rng, signed=False)),
            MaxPool2D(2),
            Flatten(),
            QDense(3, weight=random_spec(rng), bias=random_spec(rng, width=12)),
            Quantize(random_spec(rng)),
        ],
        input_shape=(1, 6, 6),
        dtype="float64",
        seed=int(rng.integers(0, 1000)),
    )


def trained(model, rng, n=96):
    """Two epochs on random data (the calibrated scales follow the activations)."""
    X = (rng.standard_normal((n, *model.input_shape)) * 1.5).astype(np.float32)
    model.compile("adam", loss="categorical_crossentropy", metrics=[], learning_rate=0.01)
    model.fit(X, rng.integers(0, 3, n), epochs=2, batch_size=16, verbose=0)
    return X.astype(np.float64)


def qonnx_run(path, X):
    """qonnx's own execution of the exported file, its batch fixed to the data's (qonnx
    needs static shapes)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    model = onnx.load(path)
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = len(X)
    wrapper = ModelWrapper(model).transform(InferShapes())
    return execute_onnx(wrapper, {"input": X.astype(np.float32)})["output"]


def assert_round_trip(model, X, tmp_path, engines, with_qonnx=True):
    path = tmp_path / "qat.onnx"
    model.export_onnx(path, qonnx=True)
    compiled = nnfx.compile(path)  # no precision: the model's own types
    t = compiled.graph.tensors["output"].dtype
    assert t.width == model.layers[-1].spec.width and t.frac == model.layers[-1].frac
    want = to_raw(model.predict(X), t.frac)
    assert len(np.unique(want)) > 3  # not a degenerate model
    for engine in engines:
        got = compiled.predict(X.astype(np.float32), engine=engine)
        assert np.array_equal(to_raw(np.asarray(got, np.float64), t.frac), want), engine
    if with_qonnx:
        assert np.array_equal(to_raw(qonnx_run(path, X).astype(np.float64), t.frac), want)


def float32_exact(source: Quantize, layer: QDense) -> bool:
    """Whether every partial sum of ``layer`` over codes from ``source`` is exact in float32
    (qonnx's arithmetic): its bound times 2^(the finest fraction) within 24 bits."""
    fx, fw, fb = source.frac, layer.constant_frac("W"), layer.constant_frac("b")
    x_bits = source.spec.width - (1 if source.spec.signed else 0)
    n = layer.W.value.shape[0]
    bound = n * 2.0 ** (x_bits - fx + layer.weight_spec.width - 1 - fw)
    bound += 2.0 ** (layer.bias_spec.width - 1 - fb)
    return np.log2(bound) + max(fx + fw, fb) <= 24


@pytest.mark.parametrize("seed", range(8))
def test_qat_mlp_round_trip_is_bit_exact(seed, tmp_path):
    """Reference and fixed ONNX (every seed), qonnx's float32 execution where its sums are
    exact (at most 24 bits: checked here from the widths)."""
    pytest.importorskip("qonnx")
    rng = np.random.default_rng(100 + seed)
    model = qat_mlp(rng, 6)
    X = trained(model, rng)
    sources = (model.layers[0], model.layers[3])
    dense = [layer for layer in model.layers if isinstance(layer, QDense)]
    fits = all(float32_exact(q, d) for q, d in zip(sources, dense, strict=True))
    assert_round_trip(model, X, tmp_path, ["reference", "ort"], with_qonnx=fits)


def test_qat_cnn_is_bit_exact_in_the_c_simulations(tmp_path):
    """Conv, ReLU, Quant, MaxPool, Flatten, Dense, Quant through csim (ac_fixed) and csim-ap
    (ap_fixed) too (one build each)."""
    rng = np.random.default_rng(7)
    cnn = qat_cnn(rng)
    X = trained(cnn, rng, n=48)
    assert_round_trip(cnn, X, tmp_path, ["reference", "ort", "csim", "csim-ap"], False)


def test_standardization_exports_as_sub_and_div(tmp_path):
    """The model takes raw features: onnxruntime on the raw data equals predict (float)."""
    from nnfx.runtime.ort import run
    from nnfx.trainer import Dense

    rng = np.random.default_rng(3)
    X = (rng.uniform(0, 16, (40, 5)) + np.arange(5) * 10).astype(np.float32)
    model = Sequential(
        [Standardize(X.mean(0), X.std(0)), Dense(4, activation="relu"), Dense(3)], input_shape=(5,)
    )
    path = tmp_path / "std.onnx"
    proto = model.export_onnx(path)
    assert [n.op_type for n in proto.graph.node[:2]] == ["Sub", "Div"]
    ours, theirs = model.predict(X), run(path, X)
    assert np.max(np.abs(ours - theirs)) <= 1e-5 * np.max(np.abs(ours))


# -- accuracy: QAT digits MLPs within a point of the float one -------------------------------
def digits_split():
    from nnfx.trainer import Standardizer, load_dataset, train_val_test_split

    d = load_dataset("digits")
    (Xt, yt), _, (Xs, ys) = train_val_test_split(d.X.reshape(len(d.X), -1), d.y, (0.7, 0.0, 0.3))
    scaler = Standardizer().fit(Xt)
    return scaler.transform(Xt), yt, scaler.transform(Xs), ys


def digits_mlp(bits, seed):
    """64 ReLU units and a softmax; quantized: ``bits``-bit weights and hidden activations,
    8-bit input and logits (the recipe's ``quantize=bits``), biases ``2 bits``."""
    if bits is None:
        from nnfx.trainer import Dense

        layers = [Dense(64, activation="relu"), Dense(10, activation="softmax")]
    else:
        layers = [
            Quantize(8),
            QDense(64, weight=bits, bias=2 * bits),
            ReLU(),
            Quantize(QuantSpec(bits, signed=False)),
            QDense(10, weight=bits, bias=2 * bits),
            Quantize(8),
            Softmax(),
        ]
    return Sequential(layers, input_shape=(64,), dtype="float64", seed=seed)


@pytest.mark.parametrize("seed", [0, 2])
def test_qat_digits_mlp_at_4_to_6_bits_is_within_a_point_of_float(seed):
    """The float MLP trained 25 epochs; each QAT MLP starts from its weights and trains 10
    more epochs quantized (about 2 s in all). Seeds 0 to 3 all pass (measured); two here."""
    Xt, yt, Xs, ys = digits_split()
    float_model = digits_mlp(None, seed)
    float_model.compile("adam", learning_rate=0.003)
    float_model.fit(Xt, yt, epochs=25, batch_size=32, verbose=0)
    accuracy = {None: float(np.mean(float_model.predict_classes(Xs) == ys))}
    for bits in (4, 5, 6):
        model = digits_mlp(bits, seed)
        for p, q in zip(model.parameters(), float_model.parameters(), strict=True):
            p.value[...] = q.value
        model.compile("adam", learning_rate=0.001)
        model.fit(Xt, yt, epochs=10, batch_size=32, verbose=0)
        accuracy[bits] = float(np.mean(model.predict_classes(Xs) == ys))
    for bits in (4, 5, 6):
        assert accuracy[bits] >= accuracy[None] - 0.01, accuracy
