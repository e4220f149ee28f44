"""The HLS kernels (one emitter per op, nnfx/backends/hls/emitters.py): both C-simulations
(ac_fixed and ap_fixed builds of the same kernels) are bit-exact with the fixed reference —
every op, every rounding/overflow mode, random precisions, a fused leaky_relu."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.fixed import OVERFLOW, ROUNDING
from nnfx.runtime.reference_fixed import run_fixed
from tests.csim_union import run_together
from tests.helpers import make_model, raw_equal
from tests.op_models import MODEL_NAMES, compile_for

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)
ENGINES = ["csim", "csim-ap"]


RUNS = [("csim", 0), ("csim", 1), ("csim-ap", 0)]
_together: dict[tuple[str, int], dict] = {}


def every_op_at_once(engine: str, seed: int) -> dict:
    """Every op model's ``engine`` outputs at ``seed``, from one C-simulation build of their
    union (tests/csim_union.py): one g++ run instead of one per op. Built once per process."""
    if (engine, seed) not in _together:
        models = [compile_for(name, seed) for name in MODEL_NAMES]
        raws = [c.quantize_inputs(X) for c, X in models]
        outputs = run_together(engine, [c for c, _ in models], raws)
        _together[engine, seed] = {
            name: (c, raw, out)
            for name, (c, _), raw, out in zip(MODEL_NAMES, models, raws, outputs, strict=True)
        }
    return _together[engine, seed]


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize(
    "engine,seed",
    # one worker builds each union (pyproject's --dist loadgroup), not every worker
    [pytest.param(e, s, marks=pytest.mark.xdist_group(f"csim-union-{e}-{s}")) for e, s in RUNS],
)
def test_csim_equals_the_reference_for_every_op(name, engine, seed):
    compiled, raw, out = every_op_at_once(engine, seed)[name]
    assert raw_equal(out, run_fixed(compiled.graph, raw))


def test_a_model_alone_runs_as_it_does_in_the_union():
    """The union is only packaging: a model built on its own gives the same codes."""
    compiled, X = compile_for("conv", 0)
    _, raw, out = every_op_at_once("csim", 0)["conv"]
    assert raw_equal(compiled.predict_raw(X, "csim"), out)


def all_modes_model():
    """One BatchNorm-like branch per rounding/overflow pair, each a graph output."""
    nodes, outputs, inits = [], [], {}
    for r in ROUNDING:
        for o in OVERFLOW:
            name = f"y_{r}_{o}"
            inits[f"k_{name}"] = np.float32(1.375)
            nodes.append(helper.make_node("Mul", ["x", f"k_{name}"], [name], name=name))
            outputs.append((name, ["N", 6]))
    return make_model(nodes, [("x", ["N", 6])], outputs, inits)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_rounding_and_overflow_mode(engine, rng):
    model = all_modes_model()
    tensors = {f"y_{r}_{o}": f"fixed<7,2,{r},{o}>" for r in ROUNDING for o in OVERFLOW}
    tensors["x"] = "fixed<14,6>"
    compiled = nnfx.compile(model, {"default": "fixed<12,4>", "tensors": tensors})
    X = np.round(rng.standard_normal((200, 6)) * 256) / 64  # ties and overflows
    assert raw_equal(compiled.predict_raw(X, engine), compiled.predict_raw(X))


def leaky_model():
    """Conv and Gemm each followed by a LeakyRelu (slopes 0.1 and 0.3)."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("Conv", ["x", "K", "KB"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["c"], ["a"], name="lc", alpha=0.1),
        helper.make_node("Flatten", ["a"], ["fl"], name="flat"),
        helper.make_node("Gemm", ["fl", "W", "B"], ["h"], name="fc"),
        helper.make_node("LeakyRelu", ["h"], ["y"], name="lh", alpha=0.3),
    ]
    inits = {
        "K": rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
        "KB": rng.standard_normal(3).astype(np.float32),
        "W": (rng.standard_normal((75, 4)) * 0.3).astype(np.float32),
        "B": rng.standard_normal(4).astype(np.float32),
    }
    return make_model(nodes, [("x", ["N", 2, 5, 5])], [("y", ["N", 4])], inits)


def test_a_fused_leaky_relu_runs_bit_exact(rng):
    """fuse_activations folds each LeakyRelu into its layer: y = Q(acc) for acc > 0, else
    Q(acc * a) on the exact accumulator (a = alpha in fixed<18,2,RND,SAT>). The oracle is the
    unfused model whose layer outputs are typed as the exact accumulators, so the reference's
    own leaky_relu rule sees the exact sums."""
    from nnfx.compiled import CompiledModel
    from nnfx.compiler.passes import fuse_activations

    base = {"default": "fixed<10,4,RND,SAT>"}
    unfused = nnfx.compile(leaky_model(), base)
    accum = {
        n.outputs[0]: str(n.precision.accum)
        for n in unfused.graph.nodes
        if n.op.name in ("CONV", "DENSE")
    }
    oracle = nnfx.compile(leaky_model(), {**base, "tensors": accum})
    graph = fuse_activations(unfused.graph)
    assert [n.attrs.activation for n in graph.nodes if n.op.name in ("CONV", "DENSE")] == [
        "leaky_relu",
        "leaky_relu",
    ]
    fused = CompiledModel(graph, unfused.float_model, unfused.options)
    X = rng.standard_normal((64, 2, 5, 5)) * 2
    expected = oracle.predict_raw(X)
    assert np.any(expected["y"] < 0)  # the slope is exercised
    assert raw_equal(fused.predict_raw(X), expected)  # the reference's own fused rule
    for engine in ENGINES:
        assert raw_equal(fused.predict_raw(X, engine), expected), engine
