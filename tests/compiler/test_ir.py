"""The IR: validation, serialization round trip, summary, and every engine covering every op."""

import dataclasses

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.backends.hls.emitters import EMITTERS
from nnfx.backends.onnx import FIXED_WRITERS, FLOAT_WRITERS
from nnfx.compiler.estimate import ESTIMATORS
from nnfx.compiler.ir import Graph, validate
from nnfx.compiler.ops import ATTRS, SHAPE_RULES, DenseAttrs, Op
from nnfx.compiler.precision import PRECISION_RULES
from nnfx.errors import ModelError
from nnfx.runtime.reference import FLOAT_KERNELS
from nnfx.runtime.reference_fixed import FIXED_KERNELS
from tests.helpers import make_model, rand


def cnn_model(rng):
    w = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="relu6"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "G", "B"], ["g"], name="fc"),
        helper.make_node("Softmax", ["g"], ["y"], name="softmax"),
    ]
    inits = {"W": w(3, 2, 3, 3), "lo": np.float32(0), "hi": np.float32(6), "G": w(27, 4), "B": w(4)}
    return make_model(nodes, [("x", ["N", 2, 6, 6])], [("y", ["N", 4])], inits)


ENGINE_TABLES = [
    (ATTRS, "ATTRS"),
    (SHAPE_RULES, "SHAPE_RULES"),
    (FLOAT_KERNELS, "float reference"),
    (FIXED_KERNELS, "fixed reference"),
    (FIXED_WRITERS, "fixed-point ONNX"),
    (FLOAT_WRITERS, "float ONNX"),
    (EMITTERS, "HLS writer"),
    (ESTIMATORS, "estimator"),
    (PRECISION_RULES, "precision assignment"),
]


@pytest.mark.parametrize("table,name", ENGINE_TABLES, ids=[name for _, name in ENGINE_TABLES])
def test_every_op_has_an_entry_in_every_table(table, name):
    missing = [op.value for op in Op if op not in table]
    assert not missing, f"{name} lacks {missing}"


def test_save_and_load_are_lossless(tmp_path, rng):
    model = nnfx.load(cnn_model(rng))
    model.graph.save(tmp_path / "ir")
    written = {p.name for p in (tmp_path / "ir").iterdir()}
    assert written == {"model.json", "weights.npz", ".nnfx-output.json"}
    again = Graph.load(tmp_path / "ir")
    assert again.nodes == model.graph.nodes
    assert again.tensors == model.graph.tensors
    assert again.inputs == model.graph.inputs and again.outputs == model.graph.outputs
    assert again.constants.keys() == model.graph.constants.keys()
    for k, v in model.graph.constants.items():
        assert np.array_equal(again.constants[k], v) and again.constants[k].dtype == v.dtype
    X = rand(rng, 4, 2, 6, 6)
    assert np.array_equal(nnfx.Model(again).predict(X), model.predict(X))


def test_json_is_readable_and_deterministic(tmp_path, rng):
    model = nnfx.load(cnn_model(rng))
    model.graph.save(tmp_path / "a")
    model.graph.save(tmp_path / "b")
    text = (tmp_path / "a" / "model.json").read_text()
    assert text == (tmp_path / "b" / "model.json").read_text()
    assert '"op": "Conv"' in text and '"max": 6.0' in text and '"onnx_perm"' in text


def test_loading_a_damaged_directory_is_a_clear_error(tmp_path):
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="does not hold a readable nnfx IR"):
        Graph.load(tmp_path)


def test_summary_has_one_line_per_node(rng):
    model = nnfx.load(cnn_model(rng))
    text = model.summary()
    lines = text.splitlines()
    assert lines[0].split() == ["name", "op", "inputs", "output", "type", "params"]
    assert len(lines) == 2 + 1 + len(model.graph.nodes) + 1
    assert any(
        "conv" in line and "Conv2D" in line and "(6, 6, 2)" in line and "54" in line
        for line in lines
    )
    assert "Activation(clip)" in text and lines[-1].endswith("parameters")


def test_validate_catches_broken_graphs(rng):
    graph = nnfx.load(cnn_model(rng)).graph
    first, second = graph.nodes[0], graph.nodes[1]
    with pytest.raises(ModelError, match="before it is computed"):
        validate(graph.replace(nodes=(second, first, *graph.nodes[2:])))
    dense = next(n for n in graph.nodes if n.op is Op.DENSE)
    wrong = dataclasses.replace(dense, attrs=DenseAttrs(n_in=5, n_out=4))
    with pytest.raises(ModelError, match="Dense expects input shape \\(5,\\)"):
        validate(graph.replace(nodes=tuple(wrong if n is dense else n for n in graph.nodes)))
    with pytest.raises(ModelError, match="missing constant"):
        validate(graph.replace(constants={}))


def test_constants_are_read_only(rng):
    graph = nnfx.load(cnn_model(rng)).graph
    with pytest.raises(ValueError):
        next(iter(graph.constants.values()))[...] = 0


def test_an_op_without_a_precision_rule_is_refused_by_name(monkeypatch):
    from nnfx.compiler import precision

    model = nnfx.load(cnn_model(np.random.default_rng(0)))
    monkeypatch.delitem(precision.PRECISION_RULES, Op.SOFTMAX)
    with pytest.raises(nnfx.UnsupportedOpError, match="precision assignment has no rule for op"):
        nnfx.compile(model, "fixed<16,6>")
