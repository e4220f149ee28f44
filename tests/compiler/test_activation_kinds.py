"""Activation kinds: one enum and one table of properties (compiler/ops.py), and every engine
covering every kind: its activation table has an entry, and a one-layer model of the kind
compiles, runs and writes in every engine (bit-exact where the engines promise it)."""

import dataclasses
import json
import math

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.backends.hls.emit_activation import HLS_ACTIVATIONS
from nnfx.backends.onnx import to_float_onnx
from nnfx.backends.onnx.fixed_activation import FIXED_ACTIVATIONS as FIXED_ONNX_ACTIVATIONS
from nnfx.backends.onnx.float_graph import FLOAT_ACTIVATIONS as FLOAT_ONNX_ACTIVATIONS
from nnfx.compiler import tables
from nnfx.compiler.estimate import ACTIVATION_ESTIMATORS, estimate
from nnfx.compiler.ir import Graph
from nnfx.compiler.ops import (
    ACTIVATION_KINDS,
    ACTIVATIONS,
    PARAMS,
    Activation,
    ActivationAttrs,
    ConvAttrs,
    DenseAttrs,
    Op,
    activation_rule,
)
from nnfx.compiler.passes import fuse_activations
from nnfx.compiler.precision_activations import ACTIVATION_RULES
from nnfx.errors import ModelError, UnsupportedOpError
from nnfx.runtime import reference_fixed
from nnfx.runtime.reference import FLOAT_ACTIVATIONS
from tests.helpers import make_model

ACTIVATION_TABLES = [
    (ACTIVATION_KINDS, "property table (ACTIVATION_KINDS)"),
    (FLOAT_ACTIVATIONS, "float reference"),
    (reference_fixed.FIXED_ACTIVATIONS, "fixed reference"),
    (FIXED_ONNX_ACTIVATIONS, "fixed-point ONNX"),
    (FLOAT_ONNX_ACTIVATIONS, "float ONNX"),
    (HLS_ACTIVATIONS, "HLS writer"),
    (ACTIVATION_ESTIMATORS, "estimator"),
    (ACTIVATION_RULES, "precision"),
]

# The attributes each kind is tried with: slopes and bounds that the data exercises.
ATTRIBUTES = {
    Activation.LEAKY_RELU: {"alpha": 0.1},
    Activation.ELU: {"alpha": 1.0},
    Activation.HARD_SIGMOID: {"alpha": 0.2, "beta": 0.5},
    Activation.CLIP: {"min": -1.0, "max": 2.0},
    Activation.BIPOLAR: {"alpha": 0.75},
    Activation.SELU: {"alpha": 1.6732632423543772, "beta": 1.0507009873554805},
}


@pytest.mark.parametrize("table,engine", ACTIVATION_TABLES, ids=[n for _, n in ACTIVATION_TABLES])
def test_every_activation_kind_has_an_entry_in_every_engine(table, engine):
    missing = [kind.value for kind in Activation if kind not in table]
    assert not missing, f"the {engine} has no entry for the activation kinds {missing}"
    extra = [str(kind) for kind in table if not isinstance(kind, Activation)]
    assert not extra, f"the {engine} is keyed by {extra}, not by Activation members"


def test_the_table_kinds_have_a_table_function_and_no_other_kind_has():
    table_kinds = {k for k, p in ACTIVATION_KINDS.items() if p.table}
    assert set(tables.FUNCTIONS) == table_kinds, "tables.FUNCTIONS differs from the table kinds"
    assert set(tables.DEFAULT_RANGES) == table_kinds
    for kind, p in ACTIVATION_KINDS.items():
        assert set(p.constants) <= set(PARAMS[Op.ACTIVATION]), (kind, p.constants)
        assert ("table" in p.constants) == p.table, kind


def test_activations_is_the_tuple_of_the_kinds_strings():
    assert ACTIVATIONS == tuple(kind.value for kind in Activation)
    assert all(isinstance(k, str) for k in ACTIVATIONS)


def test_strings_are_coerced_to_the_enum_and_write_as_the_same_strings():
    attrs = ActivationAttrs("leaky_relu", alpha=0.1)
    assert attrs.kind is Activation.LEAKY_RELU and attrs == ActivationAttrs(
        Activation.LEAKY_RELU, alpha=0.1
    )
    dense = DenseAttrs(3, 2, "relu")
    conv = ConvAttrs(1, 1, (3,), (1,), (0, 0), (1,), activation="leaky_relu")
    assert dense.activation is Activation.RELU and conv.activation is Activation.LEAKY_RELU
    assert DenseAttrs(3, 2).activation is Activation.LINEAR
    text = json.dumps([attrs.kind, dense.activation, f"{attrs.kind}", str(conv.activation)])
    assert text == '["leaky_relu", "relu", "leaky_relu", "leaky_relu"]'


@pytest.mark.parametrize("make", [ActivationAttrs, lambda k: DenseAttrs(3, 2, k)])
@pytest.mark.parametrize("kind", ["swish", "RELU", "", None])
def test_an_unknown_kind_is_one_sentence_naming_the_supported_kinds(make, kind):
    with pytest.raises(ModelError) as info:
        make(kind)
    message = str(info.value)
    assert message == f"unknown activation '{kind}'; supported kinds: {', '.join(ACTIVATIONS)}"
    assert message.startswith("unknown activation") and "linear, relu, leaky_relu" in message


def test_an_engine_without_the_kind_names_itself_and_the_kind():
    with pytest.raises(UnsupportedOpError) as info:
        activation_rule({Activation.RELU: None}, Activation.TANH, "HLS writer")
    assert str(info.value) == "the HLS writer has no rule for activation 'tanh'; it has relu"


def dense_then(kind: Activation, rng) -> nnfx.Model:
    """x (N, 4) -> Dense(4 -> 3) -> an activation of ``kind``."""
    nodes = [
        helper.make_node("Gemm", ["x", "W", "B"], ["h"], name="fc"),
        helper.make_node("Relu", ["h"], ["y"], name="act"),
    ]
    inits = {
        "W": rng.standard_normal((4, 3)).astype(np.float32),
        "B": rng.standard_normal(3).astype(np.float32),
    }
    model = nnfx.load(make_model(nodes, [("x", ["N", 4])], [("y", ["N", 3])], inits))
    act = next(n for n in model.graph.nodes if n.op is Op.ACTIVATION)
    attrs = ActivationAttrs(kind.value, **ATTRIBUTES.get(kind, {}))  # the string, coerced
    nodes = tuple(dataclasses.replace(n, attrs=attrs) if n is act else n for n in model.graph.nodes)
    return nnfx.Model(model.graph.replace(nodes=nodes))


def run_every_engine(model: nnfx.Model, tmp_path, X) -> nnfx.CompiledModel:
    compiled = nnfx.compile(model, "fixed<16,6>")
    model.predict(X)  # the float reference
    to_float_onnx(model.graph)  # the float ONNX writer
    reference = compiled.predict_raw(X)  # the fixed reference
    assert np.array_equal(compiled.predict_raw(X, engine="ort")["y"], reference["y"])
    compiled.write_hls(tmp_path / "hls")  # the HLS writer
    estimate(compiled.graph)  # the estimator
    return compiled


@pytest.mark.parametrize("kind", list(Activation), ids=[k.value for k in Activation])
def test_every_engine_runs_every_kind(kind, rng, tmp_path):
    X = (rng.standard_normal((64, 4)) * 3).astype(np.float32)
    model = dense_then(kind, rng)
    compiled = run_every_engine(model, tmp_path, X)
    (node,) = [n for n in compiled.graph.nodes if n.op is Op.ACTIVATION]
    props = ACTIVATION_KINDS[kind]
    assert set(node.params) == set(props.constants), "precision stores other constants"
    assert (node.precision is not None and node.precision.table is not None) == props.table
    auto = nnfx.compile(model, "auto", calibration=X).graph  # auto picks the sign
    out = auto.tensors[node.outputs[0]].dtype
    assert out.signed != props.non_negative, f"{kind}'s result type has the wrong sign"


@pytest.mark.parametrize(
    "kind", [k for k, p in ACTIVATION_KINDS.items() if p.fusable], ids=lambda k: k.value
)
def test_every_engine_runs_every_fusable_kind_fused(kind, rng, tmp_path):
    fused = dense_then(kind, rng)
    fused = nnfx.Model(fuse_activations(fused.graph))
    (layer,) = fused.graph.nodes
    assert layer.op is Op.DENSE and layer.attrs.activation is kind
    X = (rng.standard_normal((64, 4)) * 3).astype(np.float32)
    run_every_engine(fused, tmp_path, X)


def test_a_non_fusable_kind_stays_a_node(rng):
    kinds = [k for k, p in ACTIVATION_KINDS.items() if not p.fusable and k is not Activation.LINEAR]
    for kind in kinds:
        graph = fuse_activations(dense_then(kind, rng).graph)
        assert [n.op for n in graph.nodes] == [Op.DENSE, Op.ACTIVATION], kind


def test_a_missing_engine_entry_is_an_nnfx_error_not_a_key_error(rng, monkeypatch):
    compiled = nnfx.compile(dense_then(Activation.TANH, rng), "fixed<16,6>")
    monkeypatch.delitem(reference_fixed.FIXED_ACTIVATIONS, Activation.TANH)
    with pytest.raises(UnsupportedOpError, match="fixed-point reference .* activation 'tanh'"):
        compiled.predict_raw(np.zeros((2, 4), np.float32))


def test_serialization_keeps_the_kinds_strings(rng, tmp_path):
    model = nnfx.Model(
        fuse_activations(dense_then(Activation.LEAKY_RELU, rng).graph), source="leaky"
    )
    graph = dense_then(Activation.HARD_SIGMOID, rng).graph
    for name, g in (("fused", model.graph), ("plain", graph)):
        g.save(tmp_path / name)
        text = (tmp_path / name / "model.json").read_text()
        again = Graph.load(tmp_path / name)
        assert again.nodes == g.nodes
        for node in again.nodes:
            kind = getattr(node.attrs, "kind", getattr(node.attrs, "activation", None))
            assert type(kind) is Activation, node
    assert '"activation": "leaky_relu"' in (tmp_path / "fused" / "model.json").read_text()
    assert '"kind": "hard_sigmoid"' in text and "Activation." not in text


def test_loading_an_unknown_kind_is_the_one_sentence(rng, tmp_path):
    dense_then(Activation.TANH, rng).graph.save(tmp_path / "ir")
    path = tmp_path / "ir" / "model.json"
    document = json.loads(path.read_text())
    (node,) = [n for n in document["nodes"] if n["op"] == "Activation"]
    node["attrs"]["kind"] = "swish"
    path.write_text(json.dumps(document))
    with pytest.raises(ModelError, match=r"^unknown activation 'swish'; supported kinds: linear,"):
        Graph.load(tmp_path / "ir")


def test_table_ranges_are_finite_and_increasing():
    for kind, p in ACTIVATION_KINDS.items():
        if p.table:
            low, high = p.table_range
            assert math.isfinite(low) and math.isfinite(high) and low < high, kind


@pytest.mark.parametrize("kind", list(Activation), ids=[k.value for k in Activation])
def test_the_monotone_property_holds_in_the_float_reference(kind):
    x = np.linspace(-10.0, 10.0, 2001)
    a = {"alpha": 0.0, "beta": 0.0, "min": -np.inf, "max": np.inf, **ATTRIBUTES.get(kind, {})}
    y = FLOAT_ACTIVATIONS[kind](x, a["alpha"], a["beta"], a["min"], a["max"])
    assert bool(np.all(np.diff(y) >= 0)) == ACTIVATION_KINDS[kind].monotone, kind
