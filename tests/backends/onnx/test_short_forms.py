"""The shorter exact forms of the fixed-point ONNX graph (nnfx issue #16,
nnfx/backends/onnx/quantize.py): a WRAP input reduced by ``x - P * Round(x / P)`` instead of
Mod, and a Dense's TRN (or halved RND) with signed WRAP as the four-op ``tick_wrap``. Each at
the edges of its proof: the tick form at the largest sums its check allows, in float64 and
float32, against Python integers; the reduction on tiny, huge, tie and just-below-grid
inputs; whole models at random widths and modes against the reference and against the long
forms (``short_forms=False``)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import nnfx
from nnfx.backends.onnx import to_fixed_onnx
from nnfx.backends.onnx.builder import OPSET, Builder
from nnfx.backends.onnx.quantize import tick_wrap, tick_wrap_exact
from nnfx.compiler.fixed import ROUNDING_RULES, FixedType
from nnfx.compiler.passes import PIPELINE, fuse_activations
from tests.helpers import make_model, raw_equal
from tests.op_models import node


def _run(b: Builder, out: str, v: np.ndarray, dtype: int) -> np.ndarray:
    graph = helper.make_graph(
        b.nodes,
        "tick",
        [helper.make_tensor_value_info("v", dtype, [None])],
        [helper.make_tensor_value_info(out, dtype, [None])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"v": v})[0]


def _wrap(m: int, shift: int, width: int) -> int:
    """The signed WRAP of ``floor(m / 2**shift)``, on Python integers."""
    code = m >> shift
    return (code + (1 << (width - 1))) % (1 << width) - (1 << (width - 1))


@pytest.mark.parametrize("dtype", [TensorProto.DOUBLE, TensorProto.FLOAT])
def test_tick_wrap_at_the_largest_sums_its_check_allows(dtype, rng):
    p = 53 if dtype == TensorProto.DOUBLE else 24
    np_dtype = np.float64 if dtype == TensorProto.DOUBLE else np.float32
    for _ in range(12):
        width = int(rng.integers(2, 20))
        shift = int(rng.integers(0, 12))
        t = FixedType(width, 1, True, "TRN", "WRAP")
        b = Builder(dtype)
        largest = (1 << (p - 1)) - 1  # 2 * largest + 1 = 2**p - 1, the most the check allows
        while not tick_wrap_exact(b, t, largest, shift, False, None):
            largest //= 2  # the magnitude bound binds (a narrow type, a short shift)
        assert not tick_wrap_exact(b, t, largest + 1, shift, False, None)
        # sums at and near the ends, at the codes' own edges, and at random
        h = 1 << (width - 1)
        ends = [largest - k for k in range(40)] + [-largest + k for k in range(40)]
        edges = [
            ((j * (1 << width) + e) << shift) + d
            for j in (-3, 0, 5)
            for e in (-h - 1, -h, h - 1, h)
            for d in {0, 1, (1 << shift) - 1}
        ]
        randoms = [int(m) for m in rng.integers(-largest, largest, 200, dtype=np.int64)]
        ms = [m for m in ends + edges + randoms if abs(m) <= largest]
        tick = 2.0 ** -(shift + 1)
        v = np.array([m * 2.0**-shift + tick for m in ms], np.float64)
        units = (v * 2.0 ** (shift + 1)).astype(np.int64)  # exact: the inputs hold every bit
        assert units.tolist() == [2 * m + 1 for m in ms]
        out = tick_wrap(b, "v", t)
        got = _run(b, out, v.astype(np_dtype), dtype)
        assert np.array_equal(got, np.array([_wrap(m, shift, width) for m in ms], np_dtype))


def _identity(n: int):
    return make_model([node("Flatten", ["x"], ["y"], axis=1)], [("x", ["N", n])], [("y", None)])


SHIFT_FREE = [m for m, r in ROUNDING_RULES.items() if r.tie in ("never", "always", "odd")]


@pytest.mark.parametrize("rounding", list(ROUNDING_RULES))
def test_wrap_input_reduction_at_its_edges(rounding, rng):
    """Every rounding mode (the sign-dependent ones keep Mod), random widths: inputs tiny,
    huge, at ties of the reduction (odd multiples of P/2), just below and above grid
    points, and around the period, against the reference and the long form."""
    for _ in range(3):
        width = int(rng.integers(2, 40))
        integer = int(rng.integers(0, width + 3))
        period = 2.0**integer
        lsb = 2.0 ** (integer - width)
        k = np.arange(-7, 8)
        values = [0.0, -0.0, 5e-324, -5e-324, -1e-310, -1e-300, 1e-300, 1e300, -1e300]
        values += [2.0**60 + 2.0**8, -(2.0**70), 2.0**-1030, -(2.0**-1030)]
        values += list((k + 0.5) * period) + list(k * period)
        grid = np.array([3.0, -3.0, period / 2, -period / 2, period - lsb, -period + lsb]) + lsb
        values += list(grid) + list(np.nextafter(grid, np.inf)) + list(np.nextafter(grid, -np.inf))
        values += list(rng.standard_normal(60) * period * 4)
        X = np.array(values, np.float64)
        X = np.resize(X, (len(X) // 4 + 1) * 4).reshape(-1, 4)
        compiled = nnfx.compile(_identity(4), f"fixed<{width},{integer},{rounding},WRAP>")
        reference = compiled.predict_raw(X, "reference")
        assert raw_equal(compiled.predict_raw(X, "ort"), reference)
        long = to_fixed_onnx(compiled.graph, short_forms=False)
        short = to_fixed_onnx(compiled.graph)
        ops = {n.op_type for n in short.graph.node}
        assert ("Mod" in ops) != (rounding in SHIFT_FREE)  # the short form where it applies
        runs = [
            ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
                None, {"x": X}
            )[0]
            for m in (long, short)
        ]
        assert np.array_equal(runs[0], runs[1])


def _dense(rng, n_in: int, n_out: int, w_max: float, relu: bool):
    signs = rng.choice([-1.0, 1.0], (n_in, n_out))
    weights = (signs * w_max * rng.choice([1.0, 0.5, 0.25], (n_in, n_out))).astype(np.float32)
    nodes = [node("MatMul", ["x", "W"], ["m"]), node("Add", ["m", "b"], ["y" if not relu else "a"])]
    if relu:
        nodes.append(node("Relu", ["a"], ["y"]))
    bias = (rng.standard_normal(n_out) * w_max).astype(np.float32)
    return make_model(nodes, [("x", ["N", n_in])], [("y", None)], {"W": weights, "b": bias})


@pytest.mark.parametrize("seed", range(4))
def test_dense_tick_wrap_is_the_reference_at_random_widths(seed):
    """Dense layers (fused ReLU or not) at random widths, TRN or RND and WRAP, inputs at the
    type's extremes (the sums at their bounds) and at random: every precision equals the
    reference, the short form equals the long one, and float32 codes take the tick form
    somewhere (its 24-bit check, at the edge, decided per node)."""
    rng = np.random.default_rng(1600 + seed)
    ticked32 = 0
    for case in range(6):
        width = int(rng.integers(4, 17))
        integer = int(rng.integers(1, width))
        rounding = ("TRN", "RND")[case % 2]
        t = f"fixed<{width},{integer},{rounding},WRAP>"
        w_max = (2 ** (width - 1) - 1) * 2.0 ** (integer - width)
        n_in = int(rng.integers(2, 40))
        model = _dense(rng, n_in, 6, w_max, relu=case % 3 == 0)
        passes = (*PIPELINE, fuse_activations) if case % 3 == 0 else PIPELINE
        compiled = nnfx.compile(nnfx.load(model, passes=passes), t)
        low = -(2.0 ** (integer - 1))
        X = rng.standard_normal((48, n_in)) * 2.0**integer
        X[:6] = low * rng.choice([-1.0, 1.0], (6, n_in))
        X[6:12] = np.round(X[6:12] * 2.0 ** (width - integer)) * 2.0 ** (integer - width)
        reference = compiled.predict_raw(X, "reference")
        assert raw_equal(compiled.predict_raw(X, "ort"), reference)
        runs = []
        for kwargs in ({"short_forms": False}, {}, {"precision": "float64"}):
            m = to_fixed_onnx(compiled.graph, **kwargs)
            if kwargs == {} and "float32" in {p.value for p in m.metadata_props}:
                ticked32 += any(n.name.endswith("plus_magic") for n in m.graph.node)
            s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            runs.append(s.run(None, {s.get_inputs()[0].name: X})[0])
        assert all(np.array_equal(runs[0], r) for r in runs[1:])
    assert ticked32 or seed % 2  # float32 tick forms occur (not every seed draws one)
