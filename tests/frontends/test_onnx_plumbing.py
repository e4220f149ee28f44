"""What exporters write around the layers (issue #14): batch-1 habits (Flatten axis 0, a batch
fixed to 1, Reshape [1, N]), the zeros shaped like the batch (Shape -> Gather -> Unsqueeze ->
Concat -> ConstantOfShape / Expand), Slice and Split on shapes, BatchNormalization between
Unsqueeze and Squeeze, and the error that names the op the user wrote."""

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import nnfx
from nnfx.errors import UnsupportedOpError
from tests.helpers import assert_matches_ort, make_model, ops, ort_outputs, rand

N = 5


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=f"{op.lower()}_{outputs[0]}", **attrs)


def ints(*values):
    return np.array(values, dtype=np.int64)


def w(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def assert_matches_ort_per_sample(model, X):
    """A model whose batch is fixed to 1 in the file: onnxruntime runs one sample at a time,
    nnfx the whole batch at once."""
    loaded = nnfx.load(model)
    name = model.graph.input[0].name
    expected = np.concatenate(
        [next(iter(ort_outputs(model, {name: X[i : i + 1]}).values())) for i in range(len(X))]
    )
    ours = loaded.predict(X)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    return loaded


# -- batch-1 habits ---------------------------------------------------------------------------
def test_flatten_axis_0_in_a_batch_1_export_runs_on_any_batch(rng):
    model = make_model(
        [
            node("Relu", ["x"], ["r"]),
            node("Flatten", ["r"], ["f"], axis=0),
            node("Gemm", ["f", "W", "b"], ["y"]),
        ],
        [("x", [1, 2, 3, 3])],
        [("y", [1, 4])],
        {"W": w(rng, 18, 4), "b": w(rng, 4)},
    )
    loaded = assert_matches_ort_per_sample(model, rand(rng, N, 2, 3, 3).astype(np.float32))
    assert ops(loaded) == ["Activation", "Flatten", "Dense"]


def test_flatten_axis_0_with_a_dynamic_batch_is_still_refused(rng):
    model = make_model(
        [node("Flatten", ["x"], ["y"], axis=0)], [("x", ["N", 2, 3])], [("y", [1, None])]
    )
    with pytest.raises(UnsupportedOpError, match="Flatten with axis=0"):
        nnfx.load(model)


@pytest.mark.parametrize("target", [(1, -1), (1, 18), (1, 2, 9)])
def test_reshape_with_a_leading_1_keeps_the_batch(rng, target):
    model = make_model(
        [
            node("Reshape", ["x", "shape"], ["f"]),
            node("Reshape", ["f", "flat"], ["g"]),
            node("Gemm", ["g", "W"], ["y"]),
        ],
        [("x", [1, 2, 3, 3])],
        [("y", [1, 4])],
        {"shape": ints(*target), "flat": ints(1, -1), "W": w(rng, 18, 4)},
    )
    assert_matches_ort_per_sample(model, rand(rng, N, 2, 3, 3).astype(np.float32))


# -- zeros shaped like the batch ---------------------------------------------------------------
def _batch_shape_nodes(prefix="s"):
    """Shape(x) -> Gather(0) -> Unsqueeze -> Concat([batch, 4]): TorchScript's shape plumbing."""
    return [
        node("Shape", ["x"], [f"{prefix}_shape"]),
        node("Gather", [f"{prefix}_shape", "zero"], [f"{prefix}_n"], axis=0),
        node("Unsqueeze", [f"{prefix}_n", "axes0"], [f"{prefix}_n1"]),
        node("Concat", [f"{prefix}_n1", "four"], [f"{prefix}_target"], axis=0),
    ]


PLUMBING = {"zero": np.array(0, np.int64), "axes0": ints(0), "four": ints(4)}


def test_constant_of_shape_of_the_batch_is_a_broadcast_constant(rng):
    fill = helper.make_tensor("v", TensorProto.FLOAT, [1], [0.25])
    model = make_model(
        [
            *_batch_shape_nodes(),
            node("ConstantOfShape", ["s_target"], ["zeros"], value=fill),
            node("Gemm", ["x", "W"], ["h"]),
            node("Add", ["h", "zeros"], ["y"]),
        ],
        [("x", ["N", 6])],
        [("y", ["N", 4])],
        {"W": w(rng, 6, 4), **PLUMBING},
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 6))) == ["Dense"]


def test_expand_of_a_constant_to_the_batch_and_of_data_to_its_own_shape(rng):
    model = make_model(
        [
            *_batch_shape_nodes(),
            node("Expand", ["bias", "s_target"], ["b"]),
            node("Mul", ["b", "two"], ["b2"]),
            node("Gemm", ["x", "W"], ["h"]),
            node("Expand", ["h", "s_target"], ["h2"]),
            node("Add", ["h2", "b2"], ["y"]),
        ],
        [("x", ["N", 6])],
        [("y", ["N", 4])],
        {"W": w(rng, 6, 4), "bias": w(rng, 4), "two": np.float32([2.0]), **PLUMBING},
    )
    assert ops(assert_matches_ort(model, rand(rng, N, 6))) == ["Dense"]


def test_expand_of_data_to_a_larger_shape_is_refused(rng):
    model = make_model(
        [node("Expand", ["x", "shape"], ["y"])],
        [("x", ["N", 1])],
        [("y", ["N", 4])],
        {"shape": ints(1, 4)},
    )
    with pytest.raises(UnsupportedOpError, match="changes no sample's shape"):
        nnfx.load(model)


def test_a_tensor_shaped_like_the_batch_where_it_cannot_go_is_one_sentence(rng):
    model = make_model(
        [
            *_batch_shape_nodes(),
            node("ConstantOfShape", ["s_target"], ["zeros"]),
            node("Reshape", ["zeros", "flat"], ["z"]),
            node("Add", ["x", "z"], ["y"]),
        ],
        [("x", ["N", 4])],
        [("y", ["N", 4])],
        {"flat": ints(-1), **PLUMBING},
    )
    with pytest.raises(UnsupportedOpError, match="shaped like the batch") as info:
        nnfx.load(model)
    assert "\n" not in str(info.value)


def test_slice_and_split_of_a_shape_fold(rng):
    model = make_model(
        [
            node("Shape", ["x"], ["shape"]),
            node("Split", ["shape", "sizes"], ["batch", "sample"], axis=0),
            node("Slice", ["sample", "start", "end"], ["first"]),
            node("Concat", ["batch", "first", "minus_one"], ["target"], axis=0),
            node("Reshape", ["x", "target"], ["y"]),
        ],
        [("x", ["N", 2, 3, 3])],
        [("y", ["N", 2, 9])],
        {"sizes": ints(1, 3), "start": ints(0), "end": ints(1), "minus_one": ints(-1)},
    )
    assert_matches_ort(model, rand(rng, N, 2, 3, 3))


# -- BatchNormalization between Unsqueeze and Squeeze (PyTorch 0.3's BatchNorm1d) -------------
def _gemm_unsqueeze_bn_squeeze(rng, extra_output=False):
    outputs = [("y", ["N", 4])] + ([("n", ["N", 4, 1])] if extra_output else [])
    return make_model(
        [
            node("Gemm", ["x", "W", "b"], ["h"]),
            node("Unsqueeze", ["h", "axes"], ["u"]),
            node("BatchNormalization", ["u", "gamma", "beta", "mean", "var"], ["n"]),
            node("Squeeze", ["n", "axes"], ["s"]),
            node("Relu", ["s"], ["y"]),
        ],
        [("x", ["N", 6])],
        outputs,
        {
            "W": w(rng, 6, 4),
            "b": w(rng, 4),
            "axes": ints(2),
            "gamma": w(rng, 4),
            "beta": w(rng, 4),
            "mean": w(rng, 4),
            "var": np.abs(w(rng, 4)) + 0.5,
        },
    )


def test_batchnorm_between_unsqueeze_and_squeeze_folds_into_the_dense(rng):
    loaded = assert_matches_ort(_gemm_unsqueeze_bn_squeeze(rng), rand(rng, N, 6))
    assert ops(loaded) == ["Dense", "Activation"]


def test_batchnorm_between_unsqueeze_and_squeeze_read_elsewhere_stays(rng):
    loaded = assert_matches_ort(_gemm_unsqueeze_bn_squeeze(rng, True), rand(rng, N, 6))
    assert "BatchNorm" in ops(loaded)


# -- the error names the op the user wrote --------------------------------------------------
@pytest.mark.parametrize("kind", ["GRU", "LSTM", "RNN"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_a_pytorch_recurrent_layer_with_zero_states_from_the_batch_size(
    tmp_path, rng, kind, batch_first
):
    """TorchScript's export builds the zero initial states from the batch size (Shape, Gather,
    ConstantOfShape): batch-first and time-major (the steps on the graph input's first axis,
    the batch on its second) it loads and matches onnxruntime."""
    torch = pytest.importorskip("torch")

    class Recurrent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, kind)(4, 8, batch_first=batch_first)
            self.fc = torch.nn.Linear(8, 3)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y[:, -1] if batch_first else y[-1])

    path = tmp_path / f"{kind}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Recurrent().eval(),
            torch.randn(2, 5, 4) if batch_first else torch.randn(5, 2, 4),
            str(path),
            dynamo=False,
            input_names=["x"],
            dynamic_axes={"x": {0 if batch_first else 1: "N"}},
        )
    assert "ConstantOfShape" in {n.op_type for n in onnx.load(str(path)).graph.node}
    X = rand(rng, 6, 5, 4) if batch_first else rand(rng, 5, 6, 4)
    loaded = assert_matches_ort(onnx.load(str(path)), X)
    assert loaded.graph.tensors["x"].batch_axis == int(not batch_first)


def test_the_first_unsupported_op_is_named_even_behind_plumbing():
    model = make_model(
        [
            *_batch_shape_nodes(),
            node("ConstantOfShape", ["s_target"], ["zeros"]),
            node("Mul", ["s_target", "s_target"], ["bad"]),  # arithmetic on the batch size
            node("Cos", ["x"], ["c"]),
            node("Add", ["c", "zeros"], ["y"]),
        ],
        [("x", ["N", 4])],
        [("y", ["N", 4])],
        {**PLUMBING},
    )
    with pytest.raises(UnsupportedOpError, match="^op type 'Cos' \\(node 'cos_c'\\)"):
        nnfx.load(model)


def test_initializers_listed_as_inputs_do_not_break_the_batch_1_check(rng):
    model = make_model(
        [node("Flatten", ["x"], ["f"], axis=0), node("Gemm", ["f", "W"], ["y"])],
        [("x", [1, 2, 2])],
        [("y", [1, 3])],
        {"W": w(rng, 4, 3)},
    )
    model.graph.input.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 3]))
    assert numpy_helper.to_array(model.graph.initializer[0]).shape == (4, 3)
    assert_matches_ort_per_sample(model, rand(rng, N, 2, 2).astype(np.float32))


@pytest.mark.parametrize("threshold", [20.0, 15.0, 5.0])
def test_softplus_with_a_threshold_is_softplus_only_where_the_two_agree(threshold, rng):
    """Where(x > t, x, Softplus(x)) (PyTorch's dynamo export of nn.Softplus) is the table
    activation for t >= 15, where the two differ under float32's resolution; below, the
    Where is refused by name."""
    nodes = [
        helper.make_node("Softplus", ["x"], ["s"]),
        helper.make_node("Greater", ["x", "t"], ["g"]),
        helper.make_node("Where", ["g", "x", "s"], ["y"]),
    ]
    t = {"t": np.array(threshold, np.float32)}
    model = make_model(nodes, [("x", ["N", 6])], [("y", ["N", 6])], t)
    X = np.concatenate([rand(rng, 64, 6) * 8, np.full((1, 6), 30.0, np.float32)])
    if threshold < 15:
        with pytest.raises(UnsupportedOpError, match="Where|Greater"):
            nnfx.load(model)
        return
    loaded = assert_matches_ort(model, X)
    assert [n.op.value for n in loaded.graph.nodes] == ["Activation"]
