"""The folded-scale report on feature maps: nnfx keeps a Conv's output channels-last, the
model's own execution channels-first, and the per-layer comparison must line the two up."""

from __future__ import annotations

import numpy as np
import pytest

import nnfx
from nnfx.report.scales import scale_differences
from tests.qonnx_helpers import Builder


def conv_model(rng):
    """Quant(x, 0.043, z=2, 8 bits) -> Conv 3x3 (power-of-two weights, 3 -> 5 channels) ->
    Relu -> Quant(0.059, z=-3, 7 bits, HALF_UP), on 6x7 maps (not square: a transposed
    comparison cannot line up by chance)."""
    b = Builder(rng)
    xq = b.scaled_quant("x", 0.043, 2.0, 8, signed=1, narrow=0, rounding_mode="ROUND")
    w = b.quant(b.const(rng.standard_normal((5, 3, 3, 3))), 4, 6)
    conv = b.node("Conv", [xq, w], pads=[1, 1, 1, 1])
    r = b.node("Relu", [conv])
    out = b.scaled_quant(r, 0.059, -3.0, 7, signed=1, narrow=0, rounding_mode="HALF_UP")
    return b.model([("x", ["N", 3, 6, 7])], [(out, ["N", 5, 6, 7])])


def test_a_conv_feature_map_is_compared_in_the_models_layout(rng):
    pytest.importorskip("qonnx")
    model = conv_model(rng)
    X = (2 * rng.standard_normal((40, 3, 6, 7))).astype(np.float32)
    compiled = nnfx.compile(model)
    rows = {r["onnx_node"]: r for r in scale_differences(compiled, model, X)}
    assert len(rows) == 2  # the input's and the Conv output's quantizers
    conv = rows[model.graph.output[0].name]
    assert conv["outputs"] == 40 * 5 * 6 * 7
    # 12 guard bits: a code differs only within ~2^-12 of a rounding boundary
    assert conv["different_fraction"] <= 0.01 and conv["max_abs_lsb"] <= 1
    assert rows["q1"]["different_fraction"] <= 0.01
