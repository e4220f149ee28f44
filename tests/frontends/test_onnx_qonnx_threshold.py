"""QONNX/FINN ``MultiThreshold``: every engine's output codes equal qonnx's own execution,
for hand-built models — per-channel thresholds after a Conv (NCHW), one row of thresholds on a
graph input, a channels-last input (data_layout NHWC) with thresholds off every short grid
(docs/semantics.md, "MultiThreshold")."""

from __future__ import annotations

import numpy as np
import pytest

import nnfx
from nnfx.compiler.fixed import FixedType
from nnfx.errors import ModelError, UnsupportedOpError
from tests.qonnx_helpers import Builder, check_every_engine, ties

pytest.importorskip("qonnx")


def test_multi_thresholds_equal_qonnx_in_every_engine():
    rng = np.random.default_rng(21)
    b = Builder(rng)
    # Quant -> Conv -> per-channel thresholds (on the quarter grid, sorted, some repeated)
    xq = b.quant("x", 2, 6)
    w = b.quant(b.const(rng.standard_normal((3, 2, 3, 3))), 2, 4)
    conv = b.node("Conv", [xq, w], pads=[1, 1, 1, 1])
    per_channel = np.sort(rng.integers(-40, 41, size=(3, 7)) / 4.0, axis=1)
    per_channel[0, 3] = per_channel[0, 2]
    y1 = b.multi_threshold(conv, per_channel, out_scale=0.5, out_bias=-1.5)
    # a graph input, one row of integer thresholds for every channel
    y2 = b.multi_threshold("z", [[-2.0, 0.0, 1.0, 3.0]], data_layout="NC")
    # channels last, thresholds of float32's own (0.1 and the like), unsigned results
    odd = np.sort(rng.standard_normal((3, 3)).astype(np.float32), axis=1)
    y3 = b.multi_threshold("h", odd, data_layout="NHWC", out_scale=2.0)
    model = b.model(
        [("x", ["N", 2, 4, 4]), ("z", ["N", 5]), ("h", ["N", 2, 2, 3])],
        [(y1, ["N", 3, 4, 4]), (y2, ["N", 5]), (y3, ["N", 2, 2, 3])],
    )
    h = rng.standard_normal((128, 2, 2, 3)).astype(np.float32)
    h.reshape(-1)[: odd.size] = odd.reshape(-1)  # exactly on a threshold
    X = {
        "x": ties(rng, (128, 2, 4, 4), 2, 8.0),
        "z": np.round(rng.standard_normal((128, 5)) * 4) / 2,
        "h": h,
    }
    compiled = check_every_engine(model, X)
    tensors = compiled.graph.tensors
    assert tensors[y1].dtype == FixedType(4, 3, True, "TRN", "SAT")  # -1.5 .. 2: halves
    assert tensors[y3].dtype == FixedType(2, 3, False, "TRN", "SAT")  # 0, 2, 4, 6: LSB 2
    assert tensors["z"].dtype == FixedType(4, 4, True, "TRN", "SAT")  # floor, beyond +-3
    conv_node = next(n for n in compiled.graph.nodes if n.op.value == "Conv")
    assert tensors[conv_node.outputs[0]].dtype.rounding == "TRN"


def test_the_finn_domain_and_a_config_typed_input_compare_the_values_nnfx_holds():
    """A MultiThreshold after a Sigmoid (whose config type nnfx keeps, fixed<8,1>): the
    thresholds, off that type's grid, are rounded up onto it, so the count is exactly that of
    the thresholds the Sigmoid's own output reaches (the reference and the ONNX model)."""
    rng = np.random.default_rng(4)
    b = Builder(rng)
    s = b.node("Sigmoid", ["x"])
    thresholds = np.float32([0.1, 0.3, 0.5, 0.5078125, 0.7, 0.9, 2.0])
    y = b.multi_threshold(s, [thresholds], domain="finn.custom_op.general")
    model = b.model([("x", ["N", 6])], [(y, ["N", 6]), (s, ["N", 6])], imports=False)
    compiled = nnfx.compile(model, "fixed<8,1>")
    X = {"x": rng.standard_normal((256, 6)) * 3}
    reference = compiled.predict(X)
    want = np.count_nonzero(reference[s][..., None] >= thresholds.astype(np.float64), axis=-1)
    assert np.array_equal(reference[y], want)
    assert len(np.unique(want)) >= 5
    assert np.array_equal(compiled.predict(X, engine="ort")[y], want)


def test_unsupported_multi_thresholds_are_one_sentence():
    b = Builder(np.random.default_rng(0))
    y = b.multi_threshold("x", [[0.0, 1.0]] * 3)
    with pytest.raises(ModelError, match="3 rows of thresholds for 4 channels") as info:
        nnfx.load(b.model([("x", ["N", 4])], [(y, ["N", 4])]))
    assert "node 'multithreshold" in str(info.value)
    b = Builder(np.random.default_rng(0))
    y = b.multi_threshold("x", [[0.0, np.inf]])
    with pytest.raises(UnsupportedOpError, match="infinite threshold"):
        nnfx.load(b.model([("x", ["N", 4])], [(y, ["N", 4])]))
    b = Builder(np.random.default_rng(0))
    y = b.multi_threshold("x", np.zeros((1, 0)))
    with pytest.raises(ModelError, match="at least one step"):
        nnfx.load(b.model([("x", ["N", 4])], [(y, ["N", 4])]))
