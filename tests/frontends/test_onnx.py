"""Bad input to the frontend: one sentence naming the culprit."""

import numpy as np
import onnx
import pytest
from onnx import helper

import nnfx
from nnfx.errors import DataError, ModelError, UnsupportedOpError
from tests.helpers import make_model


def gemm_model(**kw):
    return make_model(
        [helper.make_node("Gemm", ["x", "W"], ["y"], name="fc")],
        [("x", ["N", 3])],
        [("y", ["N", 2])],
        {"W": np.ones((3, 2), np.float32)},
        **kw,
    )


def test_a_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("this is not a protobuf, just text\n" * 20)
    with pytest.raises(ModelError, match="notes.onnx' is not a readable ONNX model"):
        nnfx.load(path)


def test_a_truncated_file(tmp_path):
    data = gemm_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cut.onnx"):
        nnfx.load(path)


def test_a_missing_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        nnfx.load(tmp_path / "nope.onnx")


def test_a_graph_with_a_cycle():
    model = make_model(
        [
            helper.make_node("Add", ["x", "b"], ["a"], name="first"),
            helper.make_node("Relu", ["a"], ["b"], name="second"),
            helper.make_node("Relu", ["a"], ["y"], name="out"),
        ],
        [("x", ["N", 3])],
        [("y", ["N", 3])],
    )
    with pytest.raises(ModelError, match="cycle through node\\(s\\) first, second"):
        nnfx.load(model)


def test_nodes_out_of_order_are_sorted(rng):
    model = make_model(
        [
            helper.make_node("Relu", ["h"], ["y"], name="second"),
            helper.make_node("Gemm", ["x", "W"], ["h"], name="first"),
        ],
        [("x", ["N", 3])],
        [("y", ["N", 2])],
        {"W": np.ones((3, 2), np.float32)},
    )
    assert [n.name for n in nnfx.load(model).graph.nodes] == ["first", "second"]


def test_a_missing_initializer():
    model = gemm_model()
    del model.graph.initializer[:]
    with pytest.raises(ModelError, match="'W'"):
        nnfx.load(model)


def test_an_unsupported_op_is_one_sentence_naming_op_node_and_nnfx_ops():
    model = make_model(
        [helper.make_node("Cos", ["x"], ["y"], name="wave")], [("x", ["N", 3])], [("y", ["N", 3])]
    )
    with pytest.raises(UnsupportedOpError) as info:
        nnfx.load(model)
    assert str(info.value) == (
        "op type 'Cos' (node 'wave') is not supported; `nnfx ops` lists the supported ops"
    )


@pytest.mark.parametrize(
    "nodes,inits,message",
    [
        ([helper.make_node("Div", ["k", "x"], ["y"], name="d")], {"k": np.float32(2)}, "dividing"),
        ([helper.make_node("Div", ["x", "x"], ["y"], name="m")], {}, "Div of two computed"),
        (
            [helper.make_node("MaxPool", ["x"], ["y"], name="p", kernel_shape=[2, 2], ceil_mode=1)],
            {},
            "ceil_mode=1",
        ),
    ],
)
def test_unsupported_attributes_are_named(nodes, inits, message):
    model = make_model(nodes, [("x", ["N", 2, 4, 4])], [("y", None)], inits)
    with pytest.raises(UnsupportedOpError, match=message):
        nnfx.load(model)


def test_a_dynamic_non_batch_dimension():
    model = make_model(
        [helper.make_node("Relu", ["x"], ["y"], name="r")],
        [("x", ["N", "features"])],
        [("y", ["N", "features"])],
    )
    with pytest.raises(ModelError, match="dynamic dimension 'features' on axis 1"):
        nnfx.load(model)


def test_an_opset_outside_the_supported_range():
    with pytest.raises(ModelError, match="opset 99"):
        nnfx.load(gemm_model(opset=99))


def test_an_old_opset_is_upgraded(rng):
    model = nnfx.load(gemm_model(opset=11))
    assert model.predict(np.ones((2, 3))).shape == (2, 2)


@pytest.mark.parametrize(
    "X,message",
    [
        (np.ones((4, 5)), "has shape \\(4, 5\\); the model expects \\(batch, 3\\)"),
        (np.ones(3), "has shape \\(3,\\)"),
        (np.array([["a", "b", "c"]]), "dtype"),
    ],
)
def test_inputs_of_the_wrong_shape_to_predict(X, message):
    with pytest.raises(DataError, match=message):
        nnfx.load(gemm_model()).predict(X)


def test_image_input_shapes_are_reported_in_the_models_layout():
    model = make_model(
        [helper.make_node("Relu", ["x"], ["y"], name="r")],
        [("x", ["N", 3, 4, 5])],
        [("y", ["N", 3, 4, 5])],
    )
    with pytest.raises(DataError, match="expects \\(batch, 3, 4, 5\\)"):
        nnfx.load(model).predict(np.ones((2, 4, 5, 3)))


def test_checker_failures_are_one_sentence():
    model = gemm_model()
    model.graph.node[0].op_type = ""
    with pytest.raises(ModelError) as info:
        nnfx.load(model)
    assert "\n" not in str(info.value)


def test_onnx_module_is_untouched_by_loading():
    model = gemm_model()
    before = model.SerializeToString()
    nnfx.load(model)
    assert model.SerializeToString() == before
    assert isinstance(model, onnx.ModelProto)
