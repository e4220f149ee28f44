"""Slice and Split on computed data, and PRelu with a slope per channel (issue #14): each
loads, agrees with onnxruntime in float (1e-5), keeps the value's layout (a channel slice of a
channels-last feature map cuts its last IR axis, no Transpose appears), and what nnfx does not
support is refused in one sentence naming the node."""

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.ops import Activation, Op
from nnfx.errors import ModelError, UnsupportedOpError
from tests.helpers import assert_matches_ort, make_model, ops, rand

N = 6


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=f"{op.lower()}_{outputs[0]}", **attrs)


def ints(*values):
    return np.array(values, dtype=np.int64)


def slice_model(shape, starts, ends, axes=None, steps=None, before=None, inits=None):
    inits = {"st": ints(*starts), "en": ints(*ends), **(inits or {})}
    names = ["h", "st", "en"]
    if axes is not None:
        inits["ax"] = ints(*axes)
        names.append("ax")
    if steps is not None:
        inits["sp"] = ints(*steps)
        names.append("sp")
    nodes = [before or node("Relu", ["x"], ["h"]), node("Slice", names, ["y"])]
    return make_model(nodes, [("x", ["N", *shape])], [("y", None)], inits)


@pytest.mark.parametrize(
    "shape,starts,ends,axes",
    [
        ((7,), [2], [5], [1]),  # features of (batch, F)
        ((7,), [0, -5], [2**63 - 1, -1], None),  # default axes: the batch axis whole
        ((7,), [0, 3], [2**63 - 1, 100], [0, -1]),  # the batch axis whole, an end beyond
        ((3, 8), [1], [3], [1]),  # channels of a 1-D feature map
        ((3, 8), [2, 0], [-1, 2], [2, 1]),  # length and channels
        ((4, 5, 6), [1, 1, 2], [3, 4, 6], [1, 2, 3]),  # channels, rows and columns
    ],
)
def test_slice_of_data_matches_onnxruntime(shape, starts, ends, axes, rng):
    model = slice_model(shape, starts, ends, axes)
    loaded = assert_matches_ort(model, rand(rng, N, *shape))
    assert Op.SLICE.value in ops(loaded) and Op.TRANSPOSE.value not in ops(loaded)


def test_a_channel_slice_of_a_feature_map_cuts_the_last_ir_axis(rng):
    conv = node("Conv", ["x", "W"], ["h"], pads=[1, 1, 1, 1])
    model = slice_model((2, 4, 4), [1], [4], [1], before=conv, inits={"W": rand(rng, 5, 2, 3, 3)})
    loaded = assert_matches_ort(model, rand(rng, N, 2, 4, 4))
    assert ops(loaded) == ["Conv", "Slice"]
    (cut,) = [n for n in loaded.graph.nodes if n.op is Op.SLICE]
    assert (cut.attrs.axis, cut.attrs.start, cut.attrs.end) == (2, 1, 4)  # (H, W, C): C


def test_a_slice_that_keeps_everything_is_the_identity(rng):
    loaded = assert_matches_ort(slice_model((5,), [0], [99], [1]), rand(rng, N, 5))
    assert Op.SLICE.value not in ops(loaded)


@pytest.mark.parametrize(
    "split_attrs,sizes,shape,outputs,opset",
    [
        ({"axis": 1}, [1, 3], (4, 3, 3), 2, 18),  # channels, given sizes
        ({"axis": -1}, [2, 2, 3], (7,), 3, 18),  # features
        ({"axis": 2, "num_outputs": 3}, None, (2, 7), 3, 18),  # the length, 3 + 3 + 1
        ({"axis": 1}, None, (4, 5), 2, 17),  # equal parts without sizes
    ],
)
def test_split_of_data_matches_onnxruntime(split_attrs, sizes, shape, outputs, opset, rng):
    names = [f"p{k}" for k in range(outputs)]
    inits = {} if sizes is None else {"sizes": ints(*sizes)}
    inputs = ["h"] + (["sizes"] if sizes is not None else [])
    nodes = [node("Relu", ["x"], ["h"]), node("Split", inputs, names, **split_attrs)]
    nodes += [node("Sigmoid", [name], [f"y{k}"]) for k, name in enumerate(names)]
    model = make_model(
        nodes,
        [("x", ["N", *shape])],
        [(f"y{k}", None) for k in range(outputs)],
        inits,
        opset=opset,
    )
    loaded = assert_matches_ort(model, rand(rng, N, *shape))
    assert ops(loaded).count(Op.SLICE.value) == outputs


@pytest.mark.parametrize(
    "shape,slope_shape",
    [
        ((5,), (5,)),  # per feature
        ((3, 4, 4), (3, 1, 1)),  # nn.PReLU(C)'s export
        ((3, 4, 4), (1, 3, 1, 1)),
        ((3, 6), (3, 1)),  # 1-D feature maps
        ((3, 4, 5), (5,)),  # along ONNX's last axis (broadcast from the right)
        ((2, 4), (1, 4)),  # a (batch, L, F) sequence: per feature
    ],
)
def test_prelu_with_a_slope_per_channel_matches_onnxruntime(shape, slope_shape, rng):
    slope = (rand(rng, *slope_shape) * 0.5).astype(np.float32)
    model = make_model(
        [node("Relu", ["x"], ["r"]), node("Sub", ["r", "k"], ["h"])]
        + [node("PRelu", ["h", "slope"], ["y"])],
        [("x", ["N", *shape])],
        [("y", None)],
        {"slope": slope, "k": np.float32(0.5)},
    )
    loaded = assert_matches_ort(model, rand(rng, N, *shape))
    (act,) = [n for n in loaded.graph.nodes if n.op is Op.ACTIVATION and n.params]
    assert act.attrs.kind is Activation.LEAKY_RELU
    assert act.param(loaded.graph, "alpha").shape == (max(slope_shape),)


def test_prelu_per_channel_compiles_and_is_never_fused(rng):
    from nnfx.compiler.passes import fuse_activations

    slopes = np.array([0.1, -0.5, 1.5], np.float32)
    model = make_model(
        [node("Gemm", ["x", "W"], ["h"]), node("PRelu", ["h", "slope"], ["y"])],
        [("x", ["N", 4])],
        [("y", None)],
        {"W": rand(rng, 4, 3), "slope": slopes},
    )
    compiled = nnfx.compile(model, "fixed<24,8,RND,SAT>")
    assert [n.op for n in fuse_activations(compiled.graph).nodes] == [Op.DENSE, Op.ACTIVATION]
    (act,) = [n for n in compiled.graph.nodes if n.op is Op.ACTIVATION]
    # each slope quantized in fixed<18,2,RND,SAT>: -0.5 and 1.5 are codes of it
    assert list(act.param(compiled.graph, "alpha")[1:]) == [-0.5, 1.5]
    X = rand(rng, 40, 4) * 3
    h = X.astype(np.float64) @ nnfx.load(model).graph.constants["gemm_h.weight"]
    expected = np.where(h > 0, h, h * slopes)  # each column's negative side by its own slope
    assert np.any(h < 0, axis=0).all()
    np.testing.assert_allclose(compiled.predict(X), expected, atol=2e-3 * np.abs(h).max())


@pytest.mark.parametrize(
    "model_args,message",
    [
        (((6,), [0], [6], [1], [2]), "step 2 on axis 1 is not supported; nnfx slices with step 1"),
        (((6,), [1], [3], [0]), "slicing the batch axis ([1:3] on axis 0) is not supported"),
    ],
)
def test_slice_refusals_are_one_sentence(model_args, message):
    with pytest.raises(UnsupportedOpError) as info:
        nnfx.load(slice_model(*model_args))
    text = str(info.value)
    assert text.startswith("node 'slice_y' (Slice): ") and message in text
    assert text.count(". ") == 0


def test_an_empty_slice_is_refused(rng):
    with pytest.raises(ModelError, match=r"node 'slice_y' \(Slice\): \[4:2\] on axis 1 of size"):
        nnfx.load(slice_model((6,), [4], [2], [1]))


def test_split_along_the_batch_axis_is_refused():
    model = make_model(
        [node("Split", ["x"], ["a", "b"], axis=0)],
        [("x", ["N", 4])],
        [("a", None), ("b", None)],
    )
    with pytest.raises(UnsupportedOpError) as info:
        nnfx.load(model)
    assert str(info.value) == (
        "node 'split_a' (Split): splitting along the batch axis is not supported"
    )


def test_split_sizes_that_do_not_fit_are_refused():
    model = make_model(
        [node("Split", ["x", "s"], ["a", "b"], axis=1)],
        [("x", ["N", 4])],
        [("a", ["N", 1]), ("b", ["N", 2])],
        {"s": ints(1, 2)},
    )
    with pytest.raises(ModelError, match="split sizes \\[1, 2\\] do not cut axis 1 of size 4"):
        nnfx.load(model)


def test_a_prelu_slope_varying_along_two_axes_is_refused(rng):
    model = make_model(
        [node("PRelu", ["x", "slope"], ["y"])],
        [("x", ["N", 2, 3, 3])],
        [("y", None)],
        {"slope": rand(rng, 2, 3, 1)},
    )
    with pytest.raises(UnsupportedOpError) as info:
        nnfx.load(model)
    text = str(info.value)
    assert text.startswith("node 'prelu_y' (PRelu): a PRelu slope of shape (2, 3, 1) against")
    assert "one per channel or feature (varying along one axis)" in text
    assert text.count(". ") == 0


def test_slice_and_per_channel_slopes_round_trip(tmp_path, rng):
    model = make_model(
        [
            node("Split", ["x", "s"], ["a", "b"], axis=1),
            node("PRelu", ["b", "slope"], ["p"]),
            node("Concat", ["p", "a"], ["y"], axis=1),
        ],
        [("x", ["N", 3, 4])],
        [("y", None)],
        {"s": ints(1, 2), "slope": rand(rng, 2, 1)},
    )
    compiled = nnfx.compile(model, "fixed<12,4,RND,SAT>")
    compiled.save(tmp_path / "out")
    again = nnfx.load_compiled(tmp_path / "out")
    X = rand(rng, 9, 3, 4) * 2
    np.testing.assert_array_equal(again.predict_raw(X)["y"], compiled.predict_raw(X)["y"])
    cuts = [n.attrs for n in again.graph.nodes if n.op is Op.SLICE]
    assert [(c.start, c.end) for c in cuts] == [(0, 1), (1, 3)]
