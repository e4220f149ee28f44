"""Widths 33 to 62: every engine exact, bit for bit, where int64 or float64 could overflow.

Each model keeps its inputs and outputs at most 53 bits wide (the C-simulation exchanges
doubles) and puts the wide types on internal layers: products of two 50-bit codes, sums of
codes aligned 50 bits apart, leaky_relu's alpha multiply, BatchNorm, tables indexed by 62-bit
codes. The reference is checked against the exact rational oracle of tests/oracles.py, and
the C-simulations (ac_fixed and ap_fixed) and the fixed-point ONNX model (where its float64
exactness bound accepts the types; otherwise it must refuse with a sentence naming the layer)
against the reference, with ``np.array_equal``.
The rounding and overflow modes are drawn per tensor; together the cases sample every pair's
members. At the end: a leaky_relu fused into Dense/Conv in the float and fixed ONNX writers.
"""

from __future__ import annotations

import itertools
import shutil
from fractions import Fraction

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.fixed import OVERFLOW, ROUNDING, FixedType, quantize_raw, requantize
from nnfx.compiler.ir import INTEGER
from nnfx.errors import NnfxError, PrecisionError
from nnfx.runtime.reference_fixed import run_fixed
from tests.csim_union import share_csim
from tests.helpers import make_model
from tests.oracles import oracle as quantize_code
from tests.oracles import run_oracle

HAVE_GXX = shutil.which("g++") is not None
HUGE = np.float32(3e38)  # Clip bounds that saturate to the type's extremes: Clip = Q(x)


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=outputs[0], **attrs)


def clip(x, y):
    return node("Clip", [x, "lo", "hi"], [y])


BOUNDS = {"lo": -HUGE, "hi": HUGE}
VECTOR = [("x", ["N", 6])]
IMAGE = [("x", ["N", 2, 5, 5])]


def case_models(rng):
    """name -> (ONNX model, {tensor: type without modes}, {layer: {key: type}}, input shape).
    Tensor ``x`` is the input, ``y`` the output; the rest are internal and may be 62 bits."""
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    yield (
        "mul",
        make_model(
            [clip("x", "a"), clip("x", "b"), node("Mul", ["a", "b"], ["p"]), clip("p", "y")],
            VECTOR,
            [("y", ["N", 6])],
            BOUNDS,
        ),
        {"x": "fixed<50,26>", "a": "fixed<50,26>", "b": "fixed<56,20>", "p": "fixed<62,40>"},
        {},
        (6,),
    )
    yield (
        "add_sub",
        make_model(
            [
                clip("x", "a"),
                clip("x", "b"),
                node("Add", ["a", "b"], ["s"]),
                node("Sub", ["s", "b"], ["d"]),
                clip("d", "y"),
            ],
            VECTOR,
            [("y", ["N", 6])],
            BOUNDS,
        ),
        {
            "x": "fixed<48,24>",
            "a": "fixed<60,57>",
            "b": "fixed<60,3>",
            "s": "fixed<61,40>",
            "d": "fixed<62,30>",
        },
        {},
        (6,),
    )
    yield (
        "dense",
        make_model(
            [clip("x", "h"), node("Gemm", ["h", "W", "B"], ["d"]), clip("d", "y")],
            VECTOR,
            [("y", ["N", 4])],
            {**BOUNDS, "W": f(6, 4), "B": f(4)},
        ),
        {"x": "fixed<40,22>", "h": "fixed<37,21>", "d": "fixed<58,34>"},
        {"d": {"weight": "fixed<22,2>", "bias": "fixed<45,8>"}},
        (6,),
    )
    yield (
        "dense_accumulator",
        make_model(
            [clip("x", "h"), node("Gemm", ["h", "W", "B"], ["d"]), clip("d", "y")],
            VECTOR,
            [("y", ["N", 4])],
            {**BOUNDS, "W": f(6, 4), "B": f(4)},
        ),
        {"x": "fixed<48,40>", "h": "fixed<48,40>", "d": "fixed<62,36>"},
        {"d": {"weight": "fixed<34,3>", "bias": "fixed<40,10>", "accum": "fixed<40,20,RND,SAT>"}},
        (6,),
    )
    yield (
        "conv_accumulator",
        make_model(
            [
                clip("x", "h"),
                node("Conv", ["h", "W", "B"], ["c"], pads=[1, 0, 0, 1]),
                node("Flatten", ["c"], ["fc"]),
                clip("fc", "y"),
            ],
            IMAGE,
            [("y", ["N", 48])],
            {**BOUNDS, "W": f(3, 2, 2, 2), "B": f(3)},
        ),
        {"x": "fixed<46,40>", "h": "fixed<46,40>", "c": "fixed<60,33>"},
        {"c": {"weight": "fixed<36,4>", "bias": "fixed<33,6>", "accum": "fixed<44,24>"}},
        (2, 5, 5),
    )
    yield (
        "conv",
        make_model(
            [
                clip("x", "h"),
                node("Conv", ["h", "W", "B"], ["c"], strides=[2, 1]),
                node("Flatten", ["c"], ["fc"]),
                clip("fc", "y"),
            ],
            IMAGE,
            [("y", ["N", 24])],
            {**BOUNDS, "W": f(3, 2, 2, 3), "B": f(3)},
        ),
        {"x": "fixed<44,20>", "h": "fixed<36,20>", "c": "fixed<57,40>"},
        {"c": {"weight": "fixed<20,3>", "bias": "fixed<50,12>"}},
        (2, 5, 5),
    )
    yield (
        "batchnorm",
        make_model(
            [
                clip("x", "h"),
                node("BatchNormalization", ["h", "s", "b", "m", "v"], ["n"]),
                clip("n", "y"),
            ],
            IMAGE,
            [("y", ["N", 2, 5, 5])],
            {**BOUNDS, "s": f(2), "b": f(2), "m": f(2), "v": np.abs(f(2)) + 0.5},
        ),
        {"x": "fixed<50,25>", "h": "fixed<50,25>", "n": "fixed<62,31>"},
        {"n": {"weight": "fixed<45,5>", "bias": "fixed<55,20>"}},
        (2, 5, 5),
    )
    yield (
        "leaky_relu_hard_sigmoid",
        make_model(
            [
                clip("x", "h"),
                node("LeakyRelu", ["h"], ["l"], alpha=0.15),
                node("HardSigmoid", ["h"], ["g"], alpha=0.3, beta=0.45),
                node("Add", ["l", "g"], ["s"]),
                clip("s", "y"),
            ],
            VECTOR,
            [("y", ["N", 6])],
            BOUNDS,
        ),
        {
            "x": "fixed<52,30>",
            "h": "fixed<60,30>",
            "l": "fixed<62,33>",
            "g": "ufixed<40,1>",
            "s": "fixed<53,31>",
        },
        {},
        (6,),
    )
    yield (
        "tables",
        make_model(
            [
                clip("x", "h"),
                clip("x", "k"),
                node("Sigmoid", ["h"], ["s"]),
                node("Tanh", ["k"], ["t"]),
                node("Add", ["s", "t"], ["y"]),
            ],
            VECTOR,
            [("y", ["N", 6])],
            BOUNDS,
        ),
        {
            "x": "fixed<53,60>",
            "h": "fixed<62,40>",
            "k": "fixed<60,58>",
            "s": "ufixed<34,1>",
            "t": "fixed<40,2>",
            "y": "fixed<45,4>",
        },
        {},
        (6,),
    )
    yield (
        "softmax",
        make_model(
            [
                clip("x", "h"),
                clip("x", "k"),
                node("Softmax", ["h"], ["s"]),
                node("LogSoftmax", ["k"], ["l"]),
                node("Add", ["s", "l"], ["y"]),
            ],
            VECTOR,
            [("y", ["N", 6])],
            BOUNDS,
        ),
        {
            "x": "fixed<53,60>",
            "h": "fixed<62,32>",
            "k": "fixed<60,58>",
            "s": "ufixed<40,1>",
            "l": "fixed<62,59>",
            "y": "fixed<50,47>",
        },
        {},
        (6,),
    )
    yield (
        "global_avg_pool",
        make_model(
            [
                clip("x", "h"),
                node("GlobalAveragePool", ["h"], ["g"]),
                node("Flatten", ["g"], ["fg"]),
                clip("fg", "y"),
            ],
            IMAGE,
            [("y", ["N", 2])],
            BOUNDS,
        ),
        {"x": "fixed<53,45>", "h": "fixed<62,48>", "g_pool": "fixed<62,50>"},
        {},
        (2, 5, 5),
    )
    yield (  # LayerNorm of 62-bit codes: d = n x - S of 66 bits, U of 135, d * T[u] of 84
        "layer_norm",
        make_model(
            [
                clip("x", "h"),
                node("LayerNormalization", ["h", "g", "b"], ["l"], epsilon=1e-30),
                clip("l", "y"),
            ],
            VECTOR,
            [("y", ["N", 6])],
            {**BOUNDS, "g": f(6), "b": f(6)},
            opset=17,
        ),
        {"x": "fixed<53,20>", "h": "fixed<62,24>", "l": "fixed<50,8>"},
        {"l": {"weight": "fixed<58,4>", "bias": "fixed<60,6>"}},
        (6,),
    )


def variant(name: str, tensors: dict, layers: dict | None = None) -> tuple:
    model, base, base_layers, shape = CASES[name]
    return model, {**base, **tensors}, base_layers if layers is None else layers, shape


CASES = {name: rest for name, *rest in case_models(np.random.default_rng(0))}
# The same graph with the table inputs within 2**31 steps of the table
CASES["tables_in_range"] = variant("tables", {"x": "fixed<40,20>"})
# Fine-grained inputs whose exact intermediates need more than 62 bits: softmax's max - x of a
# 62-bit input (63 bits; a 62-bit cap dropped 2 fraction bits, below the table's step) and
# hard_sigmoid's x * alpha + beta (50 + 15 fraction bits; a cap dropped the low ones)
CASES["softmax_62_coarse"] = variant(
    "softmax", {"x": "fixed<40,30>", "h": "fixed<62,58>", "y": "fixed<50,30>"}
)
CASES["hard_sigmoid_fine"] = variant("leaky_relu_hard_sigmoid", {"x": "fixed<52,2>"})
MODES = list(itertools.product(ROUNDING, OVERFLOW))


def build(name: str, seed: int, output: str = "fixed<50,24>", case: tuple | None = None):
    """The case (``case``: instead of CASES[name]) compiled with its types, each given a
    rounding/overflow pair drawn so that the cases together sample every pair; returns
    (compiled, inputs)."""
    rng = np.random.default_rng(1000 * seed + list(CASES).index(name))
    model, tensors, layers, shape = case or CASES[name]
    loaded = nnfx.load(model)
    tensors = {"y": output, **tensors}

    def moded(text: str) -> str:  # a draw, unless the case gives the modes
        t = FixedType.parse(text)
        r, o = MODES[int(rng.integers(len(MODES)))]
        return text if text.count(",") > 1 else str(t.with_(rounding=r, overflow=o))

    precision = {
        "default": "fixed<16,6>",
        "tensors": {k: moded(v) for k, v in tensors.items()},
        "layers": {n: {k: moded(v) for k, v in spec.items()} for n, spec in layers.items()},
    }
    compiled = nnfx.compile(loaded, precision)
    n = 12
    t = compiled.graph.tensors["x"].dtype
    scale = 2.0 ** rng.uniform(-4, 1, size=(n, *[1] * len(shape))) * t.max
    X = rng.standard_normal((n, *shape)) * scale
    X[:3] = np.round(rng.standard_normal((3, *shape)) * 64) / 8  # ties for the rounding modes
    X[3] = 100.0
    X[4], X[5] = t.max, t.min  # the extremes fill the internal types
    return compiled, X


def raw_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def widths(compiled) -> list[int]:
    return [t.dtype.width for t in compiled.graph.tensors.values() if t.dtype != INTEGER]


def test_the_cases_sample_every_mode_and_width_band():
    types = [
        t.dtype
        for name in CASES
        for seed in (0, 1)
        for t in build(name, seed)[0].graph.tensors.values()
        if t.dtype != INTEGER
    ]
    assert {t.rounding for t in types} == set(ROUNDING)
    assert {t.overflow for t in types} == set(OVERFLOW)
    assert {t.width for t in types} >= {34, 40, 46, 48, 50, 53, 56, 58, 60, 61, 62}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_equals_the_exact_oracle(name, seed):
    compiled, X = build(name, seed)
    assert max(widths(compiled)) > 53
    raw_inputs = compiled.quantize_inputs(X)
    ours = run_fixed(compiled.graph, raw_inputs, intermediate=True)
    expected = run_oracle(compiled.graph, raw_inputs)
    for tensor, value in expected.items():
        t = compiled.graph.tensors[tensor].dtype
        scale = Fraction(2) ** t.frac
        want = np.vectorize(lambda v, s=scale: int(v * s), otypes=[object])(value)
        assert np.array_equal(ours[tensor], want.astype(np.int64)), f"{name}: '{tensor}' ({t})"


@pytest.fixture(scope="module")
def wide_cases():
    """Every case at seed 0, their C-simulations one build per engine (tests/csim_union.py)."""
    cases = {name: build(name, 0) for name in CASES}
    share_csim([compiled for compiled, _ in cases.values()])
    return cases


@pytest.mark.skipif(not HAVE_GXX, reason="g++ is not installed: the C-simulation needs it")
@pytest.mark.xdist_group("wide-types")  # one worker builds the shared C-simulations
@pytest.mark.parametrize("name", list(CASES))
def test_csim_and_ort_equal_the_reference(name, wide_cases):
    compiled, X = wide_cases[name]
    reference = compiled.predict_raw(X)
    for engine in ("csim", "csim-ap"):
        assert raw_equal(compiled.predict_raw(X, engine), reference), engine
    try:
        ort = compiled.predict_raw(X, "ort")
    except NnfxError as e:  # float64 cannot hold these products: a refusal naming the layer
        assert any(f"node '{n.name}'" in str(e) for n in compiled.graph.nodes), str(e)
        assert "\n" not in str(e)
    else:
        assert raw_equal(ort, reference)


def table_model():
    """Sigmoid, tanh and elu branches, each on its own type: inputs far beyond the table (up
    to 2**59), at its ends and bin edges +- one LSB, of 33 to 62 bits, an LSB coarser than the
    table's step (F < 0) and finer (F = 58), signed and unsigned. ``x`` is coarse, ``f`` fine."""
    nodes, outputs, types = [], [], {}
    branches = [
        ("x", "a", "fixed<40,36,RND,SAT>", "Sigmoid", "ufixed<20,1,RND,SAT>"),
        ("x", "b", "fixed<62,60,RND_CONV,WRAP>", "Tanh", "fixed<20,2,RND,SAT>"),
        ("x", "c", "fixed<33,33,TRN,SAT>", "Elu", "fixed<40,34,RND_ZERO,SAT>"),
        ("x", "g", "fixed<24,60,RND_INF,SAT_SYM>", "Sigmoid", "ufixed<20,1,TRN,SAT>"),
        ("f", "d", "fixed<62,4,RND_MIN_INF,SAT>", "Sigmoid", "ufixed<24,1,RND,SAT>"),
        ("f", "e", "ufixed<61,2,RND,SAT>", "Sigmoid", "ufixed<24,1,RND,SAT>"),
        ("f", "k", "fixed<60,3,TRN_ZERO,WRAP>", "Elu", "fixed<30,4,RND_CONV,SAT>"),
    ]
    for source, h, h_type, op, y_type in branches:
        nodes += [clip(source, h), node(op, [h], [f"y{h}"])]
        outputs.append((f"y{h}", ["N", 12]))
        types.update({h: h_type, f"y{h}": y_type})
    inputs = [("x", ["N", 12]), ("f", ["N", 12])]
    types.update({"x": "fixed<53,45,RND,SAT>", "f": "fixed<53,4,RND,SAT>"})
    return make_model(nodes, inputs, outputs, BOUNDS), types


@pytest.mark.skipif(not HAVE_GXX, reason="g++ is not installed: the C-simulation needs it")
def test_table_indices_equal_the_reference_at_every_input_width(rng):
    """The index rule clip(floor(x * 2**shift) - start, 0, size - 1) in the C++ at every input
    width: sigmoid of 2**25 in fixed<40,36> read entry 0 in csim and csim-ap (a 32-bit
    saturating index minus a negative start overflowed int), the last entry in the reference."""
    model, types = table_model()
    compiled = nnfx.compile(model, {"default": "fixed<16,6>", "tensors": types})
    lsb = 2.0**-49  # the LSB of f
    edges = np.array([-8.0, 8.0, -4.0, 4.0, 0.0, 2.0**-6, -(2.0**-6), 3 * 2.0**-7])
    fine = np.concatenate([edges, edges - lsb, edges + lsb, rng.uniform(-9, 9, 24)])
    coarse = [2.0**25, -(2.0**25), 2.0**31, -(2.0**31), 2.0**44, -(2.0**44), 8.0, -8.0, 8.5]
    coarse += [-8.0 - 2.0**-8, 2.0**-8, 0.0, 1e300, -1e300, *rng.uniform(-300, 300, 34)]
    X = {"x": np.array(coarse).reshape(4, 12), "f": fine.reshape(4, 12)}
    reference = compiled.predict_raw(X)
    table = compiled.graph.constants["ya.table"]  # sigmoid on fixed<40,36>: 2**25 is X[0, 0]
    y = compiled.graph.tensors["ya"].dtype
    assert reference["ya"][0, 0] == round(table[-1] * 2.0**y.frac)
    for engine in ("csim", "csim-ap"):
        assert raw_equal(compiled.predict_raw(X, engine), reference), engine


@pytest.mark.skipif(not HAVE_GXX, reason="g++ is not installed: the C-simulation needs it")
def test_no_conversion_aborts_the_ap_fixed_simulation(rng):
    """ap_fixed's conversion reads the bit below the result's LSB even when it lies above the
    source's MSB; under a rounding mode other than TRN that failed an ap_private assertion and
    aborted the process (Conv on ufixed<36,-1> into fixed<8,8,RND>, found by the differential
    tester), as did an int 0 converted into a type whose LSB is 2**33 or coarser. Every kernel
    that converts, with such types: both C-simulations must run and equal the reference."""
    conv_weights = (rng.standard_normal((2, 2, 2, 2)) * 0.01).astype(np.float32)
    nodes = [
        clip("x", "h"),
        node("Conv", ["h", "W", "B"], ["c"]),
        node("Conv", ["h", "W", "B"], ["cu"]),
        node("Add", ["h", "h"], ["s"]),
        node("Mul", ["h", "h"], ["m"]),
        node("Relu", ["h"], ["r"]),
        clip("h", "k"),
        node("Concat", ["h", "k"], ["j"], axis=1),
        node("Sub", ["x", "h"], ["d"]),
        node("Relu", ["d"], ["rd"]),
        node("LeakyRelu", ["d"], ["l"], alpha=0.01),
        node("HardSigmoid", ["h"], ["g"], alpha=0.001, beta=0.0),
        node("GlobalAveragePool", ["h"], ["p"]),
    ]
    outputs = ["c", "cu", "s", "m", "r", "k", "j", "rd", "l", "g", "p"]
    model = make_model(
        nodes,
        IMAGE,
        [(o, None) for o in outputs],
        {**BOUNDS, "W": conv_weights, "B": np.zeros(2, np.float32)},
    )
    tensors = {
        "x": "fixed<40,2,RND,SAT>",
        "h": "ufixed<36,-1,RND,SAT>",
        "c": "fixed<8,8,RND>",
        "cu": "fixed<12,4,RND_CONV,SAT>",
        "s": "fixed<8,10,RND_CONV>",
        "m": "ufixed<8,8,RND_INF,SAT>",
        "r": "fixed<8,50,RND_MIN_INF>",
        "k": "fixed<8,8,RND_ZERO,SAT_SYM>",
        "j": "fixed<10,9,RND>",
        "d": "fixed<40,3>",
        "rd": "ufixed<8,60,RND,SAT>",
        "l": "fixed<6,40,RND_INF,SAT>",
        "g": "ufixed<8,8,RND>",
        "p_pool": "fixed<8,9,RND_CONV>",
    }
    layers = {
        "c": {"weight": "fixed<12,-4>", "bias": "fixed<8,-2>"},
        # a chosen accumulator whose LSB lies far above each product's MSB
        "cu": {"weight": "fixed<12,-4>", "bias": "fixed<8,-2>", "accum": "fixed<10,8,RND>"},
    }
    compiled = nnfx.compile(model, {"default": "fixed<16,6>", "tensors": tensors, "layers": layers})
    X = rng.standard_normal((16, 2, 5, 5)) * 0.3
    X[0] = 0.49
    reference = compiled.predict_raw(X)
    assert {"c", "r", "rd"} <= {k for k, v in reference.items() if not np.any(v)}  # all zero
    for engine in ("csim", "csim-ap"):
        assert raw_equal(compiled.predict_raw(X, engine), reference), engine


# Types of 33 to 53 bits whose every product and sum the ONNX export proves below 2**53: the
# fixed-point ONNX model must accept them and agree too.
ORT_TYPES = {
    "mul": {"x": "fixed<33,13>", "a": "fixed<26,10>", "b": "fixed<27,12>", "p": "fixed<53,22>"},
    "add_sub": {
        "x": "fixed<40,20>",
        "a": "fixed<40,20>",
        "b": "fixed<44,24>",
        "s": "fixed<46,26>",
        "d": "fixed<48,28>",
    },
    "dense": {"x": "fixed<38,20>", "h": "fixed<34,18>", "d": "fixed<47,26>"},
    "leaky_relu_hard_sigmoid": {"x": "fixed<36,20>", "h": "fixed<35,20>", "l": "fixed<51,21>"},
}


@pytest.fixture(scope="module")
def ort_cases():
    """The ORT_TYPES cases, their C-simulations shared as for :func:`wide_cases`."""
    cases = {
        name: build(name, 2, "fixed<44,20>", (CASES[name][0], types, {}, CASES[name][3]))
        for name, types in ORT_TYPES.items()
    }
    share_csim([compiled for compiled, _ in cases.values()])
    return cases


@pytest.mark.skipif(not HAVE_GXX, reason="g++ is not installed: the C-simulation needs it")
@pytest.mark.xdist_group("wide-types-ort")
@pytest.mark.parametrize("name", list(ORT_TYPES))
def test_every_engine_agrees_from_33_to_53_bits(name, ort_cases):
    compiled, X = ort_cases[name]
    assert max(widths(compiled)) <= 53 and sum(w >= 33 for w in widths(compiled)) >= 3
    reference = compiled.predict_raw(X)
    for engine in ("ort", "csim", "csim-ap"):
        assert raw_equal(compiled.predict_raw(X, engine), reference), engine


def test_the_issue_repro_mul_at_40_bits():
    """Mul(x, x) at fixed<40,10,RND,SAT> with x = 100 saturates (it gave 0 in the reference)."""
    model = make_model([node("Mul", ["x", "x"], ["y"])], [("x", ["N", 2])], [("y", ["N", 2])])
    compiled = nnfx.compile(model, "fixed<40,10,RND,SAT>")
    out = compiled.predict_raw(np.array([[100.0, -3.25]]))["y"]
    assert out.tolist() == [[2**39 - 1, round(3.25**2 * 2**30)]]
    with pytest.raises(PrecisionError, match="node 'y' \\(Mul\\): the product needs 80 bits"):
        compiled.predict_raw(np.array([[1.0, 2.0]]), "ort")


@pytest.mark.parametrize("t", ["fixed<62,62>", "fixed<62,1,RND,WRAP>", "ufixed<62,10>"])
def test_quantize_raw_wraps_and_saturates_exactly_at_62_bits(t, rng):
    t = FixedType.parse(t)
    values = np.concatenate(
        [
            rng.standard_normal(50) * 2.0 ** rng.integers(-60, 80, 50),
            [-1.0, 1e300, -1e300, 2.0**70 + 2.0**62, -(2.0**70 + 2.0**61), 5e-324],
        ]
    )
    for mode in OVERFLOW:
        for rounding in ("TRN", "RND_CONV", "RND_ZERO"):
            tt = t.with_(overflow=mode, rounding=rounding)
            got = quantize_raw(values, tt)
            want = [quantize_code(Fraction(float(v)), tt) for v in values]
            assert got.tolist() == want, tt


def test_requantize_of_python_ints_matches_the_oracle(rng):
    """The wide path of requantize (object arrays) against the rational oracle."""
    raw = np.array(
        [
            int(v) << int(k)
            for v, k in zip(rng.integers(-(2**62), 2**62, 40), range(0, 80, 2), strict=True)
        ]
        + [2**124, -(2**124), 3 * 2**89, -(3 * 2**89)],
        dtype=object,
    )
    for rounding, overflow in MODES:
        for frac, t in [(90, FixedType(62, 30)), (3, FixedType(40, -10)), (0, FixedType(33, 0))]:
            tt = t.with_(rounding=rounding, overflow=overflow)
            got = requantize(raw, frac, tt)
            want = [quantize_code(Fraction(int(v), 2**frac), tt) for v in raw]
            assert got.tolist() == want, (tt, frac)


# -- a leaky_relu fused into Dense/Conv: the ONNX writers ------------------------------------
def leaky_model():
    rng = np.random.default_rng(11)
    nodes = [
        node("Conv", ["x", "K", "KB"], ["a"], pads=[1, 1, 1, 1]),
        node("LeakyRelu", ["a"], ["la"], alpha=0.2),
        node("Flatten", ["la"], ["fl"]),
        node("Gemm", ["fl", "W", "B"], ["h"]),
        node("LeakyRelu", ["h"], ["y"], alpha=0.3),
    ]
    inits = {
        "K": rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
        "KB": rng.standard_normal(3).astype(np.float32),
        "W": (rng.standard_normal((75, 4)) * 0.3).astype(np.float32),
        "B": rng.standard_normal(4).astype(np.float32),
    }
    return make_model(nodes, IMAGE, [("y", ["N", 4])], inits)


def test_the_float_onnx_export_keeps_a_fused_leaky_relu(rng):
    """The float export on onnxruntime against the float reference, within 1e-5 of the largest
    output: the export runs in float32 (inputs, weights and every partial sum rounded to 24-bit
    mantissas, ~6e-8 relative per step over at most 75 terms per layer) and the reference in
    float64, so they differ by ~1e-6 at most; a dropped slope differed by 1.25."""
    from nnfx.backends.onnx import to_float_onnx
    from nnfx.compiler.passes import PIPELINE, fuse_activations
    from nnfx.runtime.ort import session

    model = nnfx.load(leaky_model(), passes=(*PIPELINE, fuse_activations))
    layers = [n for n in model.graph.nodes if n.op.name in ("CONV", "DENSE")]
    assert [n.attrs.activation for n in layers] == ["leaky_relu", "leaky_relu"]
    X = (rng.standard_normal((64, 2, 5, 5)) * 2).astype(np.float32)
    expected = model.predict(X)
    assert np.any(expected < 0)  # the slope is exercised
    theirs = session(to_float_onnx(model.graph)).run(None, {"x": X})[0]
    assert np.max(np.abs(theirs - expected)) <= 1e-5 * np.max(np.abs(expected))


@pytest.mark.parametrize(
    "base,widest",
    [("fixed<10,4,RND,SAT>", 53), ("fixed<34,16,RND_CONV,WRAP>", 62)],
)
def test_a_fused_leaky_relu_is_bit_exact_in_every_engine(base, widest, rng):
    """y = Q(acc) for acc > 0, else Q(acc * a) on the accumulator, a = Q(alpha) in
    fixed<18,2,RND,SAT>. The oracle is the unfused model whose layer outputs are typed as the
    accumulators, so an unfused leaky_relu sees the exact sums. With 58-bit accumulators the
    reference takes its wide path and the ONNX export refuses (float64 cannot hold them)."""
    from nnfx.compiled import CompiledModel
    from nnfx.compiler.passes import fuse_activations

    layers = {"a": {"weight": "fixed<20,4>"}, "h": {"weight": "fixed<20,4>"}}
    precision = {"default": base, "layers": layers if widest > 53 else {}}
    unfused = nnfx.compile(leaky_model(), precision)
    accum = {
        n.outputs[0]: str(n.precision.accum)
        for n in unfused.graph.nodes
        if n.op.name in ("CONV", "DENSE")
    }
    assert (max(FixedType.parse(t).width for t in accum.values()) > 44) == (widest > 53)
    oracle = nnfx.compile(leaky_model(), {**precision, "tensors": accum})
    fused = CompiledModel(fuse_activations(unfused.graph), unfused.float_model, unfused.options)
    X = rng.standard_normal((64, 2, 5, 5)) * 4
    expected = oracle.predict_raw(X)
    assert np.any(expected["y"] < 0)
    engines = ["reference", "ort"] + (["csim", "csim-ap"] if HAVE_GXX else [])
    for engine in engines:
        if engine == "ort" and widest > 53:
            with pytest.raises(PrecisionError, match="node 'a' \\(Conv\\): the accumulator needs"):
                fused.predict_raw(X, engine)
            continue
        assert raw_equal(fused.predict_raw(X, engine), expected), engine


def test_the_onnx_export_bounds_every_aligned_operand():
    """A 50-bit BatchNorm bias aligned 10 bits up reaches 2**59 even though x * scale is
    30 bits: the export must count it and refuse, naming the layer (it used to accept)."""
    model = CASES["batchnorm"][0]
    precision = {
        "default": "fixed<16,6>",
        "tensors": {"x": "fixed<16,6>", "h": "fixed<16,6>", "n": "fixed<40,20>"},
        "layers": {"n": {"weight": "fixed<16,6>", "bias": "fixed<50,40>"}},
    }
    compiled = nnfx.compile(model, precision)
    with pytest.raises(
        PrecisionError, match="node 'n' \\(BatchNorm\\): x \\* scale \\+ bias needs 61"
    ):
        compiled.fixed_onnx()
