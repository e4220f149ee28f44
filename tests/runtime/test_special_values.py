"""Special inputs follow one rule in every engine (docs/semantics.md, "Special values"):
NaN is refused; +-inf becomes the type's extreme under the SAT modes and is refused under WRAP;
finite values beyond the type are quantized exactly (rounding, then overflow); an empty batch
gives empty outputs of the right shape without running an engine; a batch of one is a batch.

The same inputs go through the reference, the fixed-point ONNX model on onnxruntime and both
C-simulations; the outcome (the raw codes, or the error's type and sentence) must be identical.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.errors import DataError, NnfxError
from tests.csim_union import share_csim
from tests.helpers import make_model

ENGINES = ["reference", "ort"]
if shutil.which("g++") is not None:
    ENGINES += ["csim", "csim-ap"]


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=outputs[0], **attrs)


def mlp(rng):
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return make_model(
        [
            node("Gemm", ["x", "W1", "B1"], ["h"]),
            node("Relu", ["h"], ["r"]),
            node("Gemm", ["r", "W2", "B2"], ["z"]),
            node("Softmax", ["z"], ["y"]),
        ],
        [("x", ["N", 5])],
        [("y", ["N", 3])],
        {"W1": f(5, 8), "B1": f(8), "W2": f(8, 3), "B2": f(3)},
    )


def cnn(rng):
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return make_model(
        [
            node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
            node("Relu", ["c"], ["r"]),
            node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            node("Flatten", ["p"], ["f"]),
            node("Gemm", ["f", "W2", "B2"], ["y"]),
        ],
        [("x", ["N", 1, 4, 4])],
        [("y", ["N", 2])],
        {"W": f(3, 1, 3, 3), "B": f(3), "W2": f(12, 2), "B2": f(2)},
    )


def outcome(compiled, X, engine):
    """The raw codes by output, or the error as (type name, sentence)."""
    try:
        return {k: v.tolist() for k, v in compiled.predict_raw(X, engine).items()}
    except NnfxError as e:
        return (type(e).__name__, str(e))


def special_batches(t, shape):
    """name -> model-layout batch; samples 0 and 2 are ordinary values."""
    rng = np.random.default_rng(7)

    def batch(value, n=3, at=1):
        X = rng.standard_normal((n, *shape)) * 2
        X[at].flat[min(2, X[at].size - 1)] = value
        return X

    beyond = [t.max + t.step, t.min - t.step, t.max + t.step / 2, t.min - t.step / 2]
    return {
        "nan": batch(np.nan),
        "nan_late": batch(np.nan, n=5, at=4),
        "+inf": batch(np.inf),
        "-inf": batch(-np.inf),
        "1e300": batch(1e300),
        "-1e300": batch(-1e300),
        "huge_odd": batch((2.0**52 + 1) * 2.0**t.integer),  # 2**width times an odd 53 bits
        "huge_odd_2": batch(-(2.0**53 - 1) * 2.0 ** (t.integer - 2)),
        **{f"beyond_{k}": batch(v) for k, v in enumerate(beyond)},
        "empty": np.zeros((0, *shape)),
        "one": rng.standard_normal((1, *shape)),
        "one_inf": np.full((1, *shape), -np.inf),
    }


TYPES = {
    "SAT": "fixed<12,4,RND,SAT>",
    "SAT_ZERO": "fixed<12,4,RND_CONV,SAT_ZERO>",
    "SAT_SYM": "fixed<12,4,TRN_ZERO,SAT_SYM>",
    "WRAP": "fixed<12,4,RND_INF,WRAP>",
}
CASES = [("mlp", m) for m in TYPES] + [("cnn", "SAT"), ("cnn", "WRAP")]


def compile_case(model: str, mode: str):
    rng = np.random.default_rng(3)
    onnx_model, shape = (mlp(rng), (5,)) if model == "mlp" else (cnn(rng), (1, 4, 4))
    compiled = nnfx.compile(
        onnx_model, {"default": "fixed<16,6,RND,SAT>", "tensors": {"x": TYPES[mode]}}
    )
    return compiled, shape


@pytest.fixture(scope="module")
def compiled_cases():
    """Every case compiled, their C-simulations one build per engine (tests/csim_union.py)."""
    cases = {case: compile_case(*case) for case in CASES}
    if "csim" in ENGINES:
        share_csim([compiled for compiled, _ in cases.values()])
    return cases


@pytest.mark.xdist_group("special-values")  # one worker builds the shared C-simulations
@pytest.mark.parametrize("model,mode", CASES)
def test_every_engine_follows_the_special_value_rule(model, mode, compiled_cases):
    compiled, shape = compiled_cases[model, mode]
    t = compiled.graph.tensors["x"].dtype
    for name, X in special_batches(t, shape).items():
        results = {engine: outcome(compiled, X, engine) for engine in ENGINES}
        first = results["reference"]
        for engine, result in results.items():
            assert result == first, f"{name}: {engine} gives {result!r}, the reference {first!r}"
        refused = isinstance(first, tuple)
        expect_refusal = "nan" in name or ("inf" in name and mode == "WRAP")
        assert refused == expect_refusal, (name, first)
        if refused:
            what = "NaN" if "nan" in name else "infinity"
            sample = X.shape[0] - 1 if name in ("nan_late", "one_inf") else 1
            assert first == ("DataError", first[1]) and first[1].startswith(
                f"input 'x' holds {what} at sample {sample}; "
            ), first
        elif name == "empty":
            assert first == {"y": []}
            assert compiled.predict_raw(X)["y"].shape == (0, *compiled.graph.tensors["y"].shape)
            assert compiled.predict(X).shape == (0, 2 if model == "cnn" else 3)


def test_infinity_becomes_the_extreme_code_under_the_sat_modes():
    model = mlp(np.random.default_rng(3))
    X = np.array([[np.inf, -np.inf, 1e300, -1e300, 0.5]])
    expected = {
        "SAT": [2047, -2048, 2047, -2048, 128],
        "SAT_ZERO": [0, 0, 0, 0, 128],
        "SAT_SYM": [2047, -2047, 2047, -2047, 128],
    }
    for mode, codes in expected.items():
        compiled = nnfx.compile(model, {"default": "fixed<16,6>", "tensors": {"x": TYPES[mode]}})
        assert compiled.quantize_inputs(X)["x"].tolist() == [codes], mode
    wrapping = nnfx.compile(model, {"default": "fixed<16,6>", "tensors": {"x": TYPES["WRAP"]}})
    with pytest.raises(DataError, match="input 'x' holds infinity at sample 0; its type"):
        wrapping.quantize_inputs(X)


def test_an_empty_batch_runs_no_engine():
    compiled = nnfx.compile(mlp(np.random.default_rng(3)), "fixed<16,6>")
    for engine in ENGINES:
        assert compiled.predict_raw(np.zeros((0, 5)), engine)["y"].shape == (0, 3)
    assert getattr(compiled, "_ort_session", None) is None
    assert not compiled.__dict__.get("_csim")
