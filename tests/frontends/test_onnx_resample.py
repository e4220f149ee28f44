"""Resize, Upsample and Pad from ONNX (issue #14): nearest upsampling by whole numbers and
zero padding load, agree with onnxruntime in float (1e-5), and everything else is refused in
one sentence naming what. Resize is accepted exactly where onnxruntime's result is the
repetition ``out[i] = in[i // s]``: every coordinate transformation and nearest mode is
tried against onnxruntime itself."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.estimate import estimate
from nnfx.compiler.ops import Op
from nnfx.errors import ModelError, UnsupportedOpError
from tests.helpers import assert_matches_ort, make_model, ort_outputs, rand

TRANSFORMS = [
    "asymmetric",
    "half_pixel",
    "half_pixel_symmetric",
    "pytorch_half_pixel",
    "align_corners",
    "tf_crop_and_resize",
]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
f32 = lambda *v: np.array(v, np.float32)  # noqa: E731


def _resize(inputs, inits, shape=("N", 2, 3, 4), opset=19, out=None, **attrs):
    node = helper.make_node("Resize", ["x", *inputs], ["y"], name="r", **attrs)
    return make_model([node], [("x", list(shape))], [("y", out)], inits, opset=opset)


def _one_sentence(info, start: str) -> str:
    message = str(info.value)
    assert message.startswith(start), message
    assert message.count(". ") == 0 and message.count(";") <= 1, message
    return message


def _ops(loaded) -> list[str]:
    return [n.op.value for n in loaded.graph.nodes]


@pytest.mark.parametrize("scale,shape", [(2, (3, 4)), (3, (3, 4)), (2, (2, 5))])
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_resize_is_accepted_exactly_where_it_repeats(transform, scale, shape, rng):
    """For every nearest_mode: nnfx loads the node iff onnxruntime's output repeats every
    value ``scale`` times (then it matches it), and otherwise names both modes."""
    for nearest in NEAREST:
        model = _resize(
            ["", "scales"],
            {"scales": f32(1, 1, scale, 1)},
            ("N", 2, *shape),
            coordinate_transformation_mode=transform,
            nearest_mode=nearest,
        )
        X = rand(rng, 3, 2, *shape)
        theirs = ort_outputs(model, {"x": X})["y"]
        repeats = np.array_equal(theirs, X.repeat(scale, axis=2))
        if repeats and transform != "tf_crop_and_resize":  # a roi nnfx does not read
            loaded = assert_matches_ort(model, X)
            assert _ops(loaded) == ["Upsample"] and loaded.graph.nodes[0].attrs.scales == (
                scale,
                1,
            )
            continue
        with pytest.raises(UnsupportedOpError) as info:
            nnfx.load(model)
        message = _one_sentence(info, "node 'r' (Resize): coordinate_transformation_mode ")
        assert f"'{transform}' with nearest_mode '{nearest}'" in message


@pytest.mark.parametrize(
    "inputs,inits,attrs",
    [
        (["", "scales"], {"scales": f32(1, 1, 2, 3)}, {}),  # half_pixel, round_prefer_floor
        (["", "", "sizes"], {"sizes": i64(1, 2, 6, 12)}, {}),
        (["", "", "sizes"], {"sizes": i64(8, 9)}, {"axes": [3, 2]}),
        (["", "scales"], {"scales": f32(2, 1)}, {"axes": [-2, -1]}),
        (["", "scales"], {"scales": f32(1, 1, 1, 1)}, {}),  # nothing resized: an Identity
    ],
)
def test_resize_scales_sizes_and_axes(inputs, inits, attrs, rng):
    model = _resize(
        inputs,
        inits,
        shape=(1, 2, 3, 4),
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
        **attrs,
    )
    X = rand(rng, 1, 2, 3, 4)
    loaded = assert_matches_ort(model, X)
    assert _ops(loaded) in (["Upsample"], ["Identity"])


def test_resize_of_a_sequence_and_sizes_computed_from_shape(rng):
    """1-D, and the TorchScript form: sizes = Concat(Shape(x)[0:2], constant sizes)."""
    node = helper.make_node
    model = make_model(
        [
            node("Shape", ["x"], ["s"]),
            node("Slice", ["s", "zero", "two"], ["nc"]),
            node("Concat", ["nc", "target"], ["sizes"], axis=0),
            node(
                "Resize",
                ["x", "", "", "sizes"],
                ["u"],
                mode="nearest",
                nearest_mode="floor",
                coordinate_transformation_mode="asymmetric",
            ),  # fmt: skip
            node("Resize", ["u", "", "scales"], ["y"], mode="nearest"),
        ],
        [("x", ["N", 3, 5])],
        [("y", None)],
        {"zero": i64(0), "two": i64(2), "target": i64(15), "scales": f32(1, 1, 2)},
    )
    loaded = assert_matches_ort(model, rand(rng, 4, 3, 5))
    assert [n.attrs.scales for n in loaded.graph.nodes] == [(3,), (2,)]


def test_resize_10_and_the_old_upsample(rng):
    X = rand(rng, 3, 2, 3, 4)
    resize10 = _resize(
        ["scales"], {"scales": f32(1, 1, 3, 2)}, opset=10, out=["N", 2, 9, 8], mode="nearest"
    )
    assert _ops(assert_matches_ort(resize10, X)) == ["Upsample"]
    for opset in (7, 9):
        inputs, attrs = (
            (["x", "scales"], {}) if opset == 9 else (["x"], {"scales": [1.0, 1.0, 2.0, 3.0]})
        )
        node = helper.make_node("Upsample", inputs, ["y"], name="u", mode="nearest", **attrs)
        inits = {"scales": f32(1, 1, 2, 3)} if opset == 9 else {}
        out = [("y", ["N", 2, 6, 12])]
        model = make_model([node], [("x", ["N", 2, 3, 4])], out, inits, opset=opset)
        loaded = assert_matches_ort(model, X)
        assert loaded.graph.nodes[0].attrs.scales == (2, 3)


@pytest.mark.parametrize(
    "inputs,inits,attrs,cls,start",
    [
        (["", "scales"], {"scales": f32(1, 1, 2, 2)}, {"mode": "linear"}, UnsupportedOpError,
         "mode 'linear' is not supported"),
        (["", "scales"], {"scales": f32(1, 1, 2, 2)}, {"mode": "cubic"}, UnsupportedOpError,
         "mode 'cubic' is not supported"),
        (["", "scales"], {"scales": f32(1, 1, 1.5, 2)}, {}, UnsupportedOpError,
         "scale 1.5 on axis 2 is not supported"),
        (["", "scales"], {"scales": f32(1, 1, 0.5, 1)}, {}, UnsupportedOpError,
         "scale 0.5 on axis 2 is not supported"),
        (["", "scales"], {"scales": f32(1, 2, 2, 2)}, {}, UnsupportedOpError,
         "scales [1.0, 2.0, 2.0, 2.0] resize the batch or channel axis"),
        (["", "", "sizes"], {"sizes": i64(7, 8)}, {"axes": [2, 3]}, UnsupportedOpError,
         "size 7 on axis 2 is not a whole multiple of its 3 inputs"),
        (["", "", "sizes"], {"sizes": i64(1, 2, 6, 8)}, {}, UnsupportedOpError,
         "sizes [1, 2, 6, 8] resize the batch axis"),
        (["", "scales", "sizes"], {"scales": f32(1, 1, 2, 2), "sizes": i64(1, 2, 6, 8)},
         {"out": ["N", 2, 6, 8]}, ModelError, "needs exactly one of its scales and sizes inputs"),
        (["", "", "sizes"], {"sizes": i64(6, 12)},
         {"axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"}, UnsupportedOpError,
         "keep_aspect_ratio_policy 'not_larger' with unequal scales is not supported"),
    ],
)  # fmt: skip
def test_resize_refusals_are_one_sentence(inputs, inits, attrs, cls, start):
    with pytest.raises(cls) as info:
        nnfx.load(_resize(inputs, inits, **attrs))
    _one_sentence(info, f"node 'r' (Resize): {start}")


def test_resize_of_a_3d_volume_is_refused():
    model = _resize(["", "scales"], {"scales": f32(1, 1, 2, 2, 2)}, shape=("N", 1, 2, 2, 2))
    with pytest.raises(UnsupportedOpError) as info:
        nnfx.load(model)
    _one_sentence(info, "node 'r' (Resize): resizing of a tensor of shape (batch, 1, 2, 2, 2)")


def _pad(pads, shape=("N", 2, 4, 5), value=None, opset=17, axes=None, **attrs):
    inputs, inits = ["x", "pads"], {"pads": i64(*pads)}
    if value is not None or axes is not None:
        inputs.append("value" if value is not None else "")
        if value is not None:
            inits["value"] = np.float32(value)
    if axes is not None:
        inputs.append("axes")
        inits["axes"] = i64(*axes)
    node = helper.make_node("Pad", inputs, ["y"], name="p", **attrs)
    return make_model([node], [("x", list(shape))], [("y", None)], inits, opset=opset)


@pytest.mark.parametrize(
    "pads,shape,value,axes",
    [
        ((0, 0, 1, 2, 0, 0, 3, 0), (2, 4, 5), None, None),
        ((0, 0, 1, 2, 0, 0, 3, 0), (2, 4, 5), 0.0, None),
        ((0, 0, 2, 0, 0, 1), (3, 6), None, None),
        ((1, 2, 0, 1), (2, 4, 5), None, (-1, 2)),  # opset 18's axes
        ((0, 0, 0, 0, 0, 0, 0, 0), (2, 4, 5), None, None),  # nothing padded: an Identity
    ],
)
def test_pad_with_zeros(pads, shape, value, axes, rng):
    model = _pad(pads, ("N", *shape), value, opset=18 if axes else 17, axes=axes)
    loaded = assert_matches_ort(model, rand(rng, 3, *shape))
    assert _ops(loaded) in (["Pad"], ["Identity"])


def test_pad_of_opset_2_and_a_pad_before_max_pooling_and_add(rng):
    node = helper.make_node
    model = make_model(
        [
            node("Pad", ["x"], ["p"], pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="constant"),
            node("MaxPool", ["p"], ["m"], kernel_shape=[3, 3]),
            node("Add", ["m", "x"], ["y"]),
        ],
        [("x", ["N", 2, 4, 4])],
        [("y", None)],
        opset=10,
    )
    X = rand(rng, 3, 2, 4, 4) - 2.0  # negative values: the zeros of the padding win maxima
    loaded = assert_matches_ort(model, X)
    assert _ops(loaded) == ["Pad", "MaxPool", "Add"]


@pytest.mark.parametrize(
    "model,start",
    [
        (_pad((0, 0, 1, 1, 0, 0, 1, 1), mode="reflect"), "mode 'reflect' is not supported"),
        (_pad((0, 0, 1, 1, 0, 0, 1, 1), mode="edge"), "mode 'edge' is not supported"),
        (_pad((0, 0, 1, 1, 0, 0, 1, 1), value=1.5), "padding with the value 1.5"),
        (_pad((0, 1, 1, 1, 0, 0, 1, 1)), "pads [0, 1, 1, 1, 0, 0, 1, 1] pad the batch or channel"),
        (_pad((1, 0, 0, 0, 0, 0, 0, 0)), "pads [1, 0, 0, 0, 0, 0, 0, 0] pad the batch or channel"),
        (_pad((0, 0, -1, 0, 0, 0, 0, 0)), "negative pads [0, 0, -1, 0, 0, 0, 0, 0] (cropping)"),
        (_pad((0, 0, 1, 1, 1, 0, 0, 1, 1, 1), ("N", 1, 2, 2, 2)), "padding of a tensor of shape"),
        (_pad((0, 1, 0, 1), ("N", 6)), "pads [0, 1, 0, 1] pad the batch or channel axis"),
    ],
)
def test_pad_refusals_are_one_sentence(model, start):
    with pytest.raises(UnsupportedOpError) as info:
        nnfx.load(model)
    _one_sentence(info, f"node 'p' (Pad): {start}")


def test_compiled_upsample_and_pad_save_load_and_cost_no_dsps(tmp_path, rng):
    node = helper.make_node
    model = make_model(
        [
            node("Resize", ["x", "", "scales"], ["u"], mode="nearest"),
            node("Pad", ["u", "pads"], ["y"]),
        ],
        [("x", ["N", 2, 3, 3])],
        [("y", None)],
        {"scales": f32(1, 1, 2, 2), "pads": i64(0, 0, 1, 0, 0, 0, 0, 2)},
    )
    compiled = nnfx.compile(model, "fixed<10,3,RND,SAT>")
    assert [n.op for n in compiled.graph.nodes] == [Op.UPSAMPLE, Op.PAD]
    types = {compiled.graph.tensors[t].dtype for t in compiled.graph.tensors}
    assert len(types) == 1  # the type unchanged through both
    compiled.save(tmp_path / "out")
    again = nnfx.load_compiled(tmp_path / "out")
    X = rand(rng, 5, 2, 3, 3)
    np.testing.assert_array_equal(again.predict(X), compiled.predict(X))
    assert [n.attrs for n in again.graph.nodes] == [n.attrs for n in compiled.graph.nodes]
    for layer in estimate(compiled.graph).layers:
        assert layer.dsp == 0 and layer.multipliers == 0 and layer.latency_cycles == 0
