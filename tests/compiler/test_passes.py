"""Each pass: the reference gives the same outputs before and after, the graph has the
expected shape afterwards, and the input graph is left untouched."""

import copy

import numpy as np
import pytest
from onnx import helper

from nnfx.compiler.ir import validate
from nnfx.compiler.passes import (
    PIPELINE,
    canonicalize,
    eliminate_dead_code,
    fold_batchnorm,
    fold_transposes,
    fuse_activations,
    remove_identity,
    run_passes,
)
from nnfx.frontends.onnx import convert
from nnfx.model import Model
from tests.helpers import make_model, rand


def w(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def bn_inits(rng, tag, c):
    return {
        f"s{tag}": w(rng, c),
        f"b{tag}": w(rng, c),
        f"m{tag}": w(rng, c),
        f"v{tag}": np.abs(w(rng, c)) + 0.5,
    }


def bn(x, y, tag):
    return helper.make_node(
        "BatchNormalization", [x, f"s{tag}", f"b{tag}", f"m{tag}", f"v{tag}"], [y], name=f"bn{tag}"
    )


@pytest.fixture
def raw(rng):
    """A model that needs every pass: identity, MatMul+Add, BN after Conv and Dense, a layout
    Transpose before Flatten -> Dense, an unused branch, shape chains."""
    nodes = [
        helper.make_node("Identity", ["x"], ["xi"], name="id"),
        helper.make_node("Conv", ["xi", "W"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        bn("c", "n", "1"),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("Dropout", ["r"], ["d"], name="drop"),
        helper.make_node("Flatten", ["d"], ["f"], name="flat"),
        helper.make_node("MatMul", ["f", "M"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "bias"], ["a"], name="add"),
        bn("a", "n2", "2"),
        helper.make_node("Relu", ["n2"], ["y"], name="relu2"),
        helper.make_node("Sigmoid", ["r"], ["unused"], name="dead"),
    ]
    inits = {
        "W": w(rng, 3, 2, 3, 3),
        "M": w(rng, 48, 5),
        "bias": w(rng, 5),
        **bn_inits(rng, "1", 3),
        **bn_inits(rng, "2", 5),
    }
    return convert(make_model(nodes, [("x", ["N", 2, 4, 4])], [("y", ["N", 5])], inits))


def outputs(graph, X):
    return Model(graph).predict(X)


def check_pass(p, graph, X, rtol=1e-12):
    frozen = copy.deepcopy(graph)
    after = p(graph)
    validate(after)
    np.testing.assert_allclose(outputs(after, X), outputs(graph, X), rtol=rtol, atol=1e-12)
    assert graph.nodes == frozen.nodes and graph.tensors == frozen.tensors  # input untouched
    return after


def kinds(graph):
    return [n.op.value for n in graph.nodes]


def test_remove_identity(raw, rng):
    after = check_pass(remove_identity, raw, rand(rng, 3, 2, 4, 4))
    assert "Identity" in kinds(raw) and "Identity" not in kinds(after)


def test_canonicalize_merges_matmul_and_add(raw, rng):
    after = check_pass(canonicalize, raw, rand(rng, 3, 2, 4, 4))
    dense = next(n for n in after.nodes if n.op.value == "Dense")
    assert "bias" in dense.params
    assert kinds(after).count("BatchNorm") == kinds(raw).count("BatchNorm") - 1


def test_fold_batchnorm(raw, rng):
    after = check_pass(fold_batchnorm, canonicalize(raw), rand(rng, 3, 2, 4, 4), rtol=1e-9)
    assert "BatchNorm" not in kinds(after)


def test_fold_transposes_permutes_dense_rows(raw, rng):
    before = canonicalize(raw)
    assert "Transpose" in kinds(before)
    after = check_pass(fold_transposes, before, rand(rng, 3, 2, 4, 4), rtol=1e-12)
    assert "Transpose" not in kinds(after)


def test_eliminate_dead_code(raw, rng):
    after = check_pass(eliminate_dead_code, raw, rand(rng, 3, 2, 4, 4))
    assert "dead" not in [n.name for n in after.nodes]
    assert "unused" not in after.tensors
    used = {c for n in after.nodes for c in n.params.values()}
    assert set(after.constants) == used


def test_fuse_activations(raw, rng):
    graph = run_passes(raw)
    after = check_pass(fuse_activations, graph, rand(rng, 3, 2, 4, 4))
    assert kinds(after) == ["Conv", "Flatten", "Dense"]
    assert [n.attrs.activation for n in after.nodes if n.op.value in ("Conv", "Dense")] == [
        "relu",
        "relu",
    ]


def test_the_pipeline(raw, rng):
    X = rand(rng, 3, 2, 4, 4)
    after = run_passes(raw)
    assert kinds(after) == ["Conv", "Activation", "Flatten", "Dense", "Activation"]
    np.testing.assert_allclose(outputs(after, X), outputs(raw, X), rtol=1e-9, atol=1e-12)
    assert PIPELINE[0] is remove_identity and PIPELINE[-1] is eliminate_dead_code


def test_shape_chains_collapse(rng):
    """GlobalAveragePool -> Flatten arrives as pool, two reshapes and a transpose."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="gap"),
        helper.make_node("Flatten", ["p"], ["y"], name="flat"),
    ]
    graph = convert(make_model(nodes, [("x", ["N", 4, 3, 3])], [("y", ["N", 4])]))
    assert len(graph.nodes) > 1
    after = check_pass(canonicalize, graph, rand(rng, 2, 4, 3, 3))
    assert kinds(after) == ["GlobalAvgPool"]


def test_graph_outputs_keep_their_names_when_an_identity_goes(rng):
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Identity", ["r"], ["y"], name="id"),
    ]
    graph = convert(make_model(nodes, [("x", ["N", 3])], [("y", ["N", 3])]))
    after = check_pass(remove_identity, graph, rand(rng, 2, 3))
    assert after.outputs == ("y",) and kinds(after) == ["Activation"]
