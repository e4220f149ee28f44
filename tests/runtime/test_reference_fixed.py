"""The fixed reference against an independent slow oracle: every op, random precisions and
every rounding/overflow mode, computed element by element in exact rational arithmetic
(``fractions.Fraction``) from docs/semantics.md: tests/oracles.py, on the op models of
tests/op_models.py."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import nnfx
from nnfx.compiler.ir import INTEGER
from nnfx.compiler.ops import Op
from nnfx.runtime.reference_fixed import run_fixed
from tests.op_models import MODEL_NAMES, model_input_shape, models, random_compile
from tests.oracles import ORACLE, run_oracle


def test_the_oracle_covers_every_op():
    assert not [op for op in Op if op not in ORACLE]


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("seed", range(4))
def test_fixed_reference_equals_the_oracle(name, seed):
    rng = np.random.default_rng(1000 * seed + MODEL_NAMES.index(name))
    compiled, loaded = random_compile(rng, name, narrow_accumulators=bool(seed % 2))
    X = (rng.standard_normal((3, *model_input_shape(loaded))) * 3).astype(np.float32)
    raw_inputs = compiled.quantize_inputs(X)
    ours = run_fixed(compiled.graph, raw_inputs, intermediate=True)
    expected = run_oracle(compiled.graph, raw_inputs)
    for tensor, value in expected.items():
        t = compiled.graph.tensors[tensor].dtype
        if t == INTEGER:
            want = value.astype(np.int64)
        else:
            scale = Fraction(2) ** t.frac
            want = np.vectorize(lambda v, s=scale: int(v * s), otypes=[object])(value)
            want = want.astype(np.int64)
        assert np.array_equal(ours[tensor], want), f"{name}: tensor '{tensor}' ({t}) differs"


def test_sized_accumulator_equals_sequential_accumulation(rng):
    """The exact path and the ap_fixed loop give the same bits with the compiler's accumulator."""
    model = dict(models(rng))["dense"]
    compiled = nnfx.compile(model, precision="fixed<10,3,RND,SAT>")
    dense = compiled.graph.nodes[0]
    assert dense.precision.accum_sized
    import dataclasses

    sequential = dataclasses.replace(
        dense, precision=dataclasses.replace(dense.precision, accum_sized=False)
    )
    graph = compiled.graph.replace(nodes=(sequential,))
    raw = compiled.quantize_inputs(rng.standard_normal((50, 6)) * 4)
    assert np.array_equal(run_fixed(compiled.graph, raw)["y"], run_fixed(graph, raw)["y"])
