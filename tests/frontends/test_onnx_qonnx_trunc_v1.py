"""qonnx's version-1 ``Trunc`` (5 inputs, the QONNX domain imported at version 1, as older
Brevitas exports write it): ``y = R(round(x / s) / 2^(b_in - b_out)) s``, no clamp, the
output on the input's grid; every engine's output codes equal qonnx's own execution in every
rounding mode (docs/semantics.md, "QONNX Trunc")."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ops import Op
from nnfx.errors import ModelError, UnsupportedOpError
from tests.qonnx_helpers import DOMAIN, MODES, NNFX_MODE, Builder, check_every_engine, ties

pytest.importorskip("qonnx")


def trunc_v1(b: Builder, x, f_in, b_in, b_out, mode="FLOOR", zero=0.0):
    b.count += 1
    out = f"tr{b.count}"
    inputs = [x, b.const(2.0**-f_in), b.const(zero), b.const(float(b_in)), b.const(float(b_out))]
    mode = mode.lower() if b.count % 2 else mode
    b.nodes.append(
        helper.make_node(
            "Trunc", inputs, [out], name=f"trunc{b.count}", domain=DOMAIN, rounding_mode=mode
        )
    )
    return out


@pytest.mark.xdist_group("qonnx-trunc-v1")
def test_version_1_truncs_in_every_rounding_mode_equal_qonnx_in_every_engine():
    """One branch per rounding mode: Quant -> AveragePool 2x2 (or GlobalAveragePool over 4x4)
    -> Trunc v1 dropping 1 to 4 bits (or, once, adding one: a shift left); the data reach the
    input bit width's range, exact ties included."""
    rng = np.random.default_rng(21)
    b = Builder(rng)
    inputs, outputs, X, expect = [], [], {}, {}
    for k, mode in enumerate(MODES):
        x = f"x{k}"
        bx, fx = int(rng.integers(3, 9)), int(rng.integers(0, 4))
        xq = b.quant(x, fx, bx, signed=bool(k % 2), mode="ROUND")
        if k % 3 == 2:
            pooled, grow, shape = b.node("GlobalAveragePool", [xq]), 4, ["N", 2, 1, 1]
        else:
            pooled = b.node("AveragePool", [xq], kernel_shape=[2, 2], strides=[2, 2])
            grow, shape = 2, ["N", 2, 2, 2]
        b_in = bx + grow
        b_out = b_in + 1 if k == 3 else b_in - int(rng.integers(1, 5))
        y = trunc_v1(b, pooled, fx + grow, b_in, b_out, mode)
        inputs.append((x, ["N", 2, 4, 4]))
        outputs.append((y, shape))
        X[x] = ties(rng, (96, 2, 4, 4), fx, 2.0 ** (bx - fx))
        expect[y] = (fx + grow, b_out, mode)
    model = b.model(inputs, outputs)
    # csim-ap: the same BatchNorm in every rounding mode in test_onnx_qonnx_per_channel.py
    compiled = check_every_engine(model, X, engines=["reference", "ort", "csim"])
    graph = compiled.graph
    producers = {n.outputs[0]: n for n in graph.nodes}
    for y, (f_in, b_out, mode) in expect.items():
        assert graph.tensors[y].dtype == FixedType(
            b_out + 2, b_out + 2 - f_in, True, NNFX_MODE[mode], "SAT"
        )
        assert producers[y].op is Op.BATCH_NORM


def test_version_1_refusals_are_one_sentence():
    b = Builder(np.random.default_rng(0))
    xq = b.quant("x", 2, 6)
    pooled = b.node("AveragePool", [xq], kernel_shape=[2, 2], strides=[2, 2])
    y = trunc_v1(b, pooled, 4, 8, 5, zero=1.0)
    model = b.model([("x", ["N", 2, 4, 4])], [(y, ["N", 2, 2, 2])])
    with pytest.raises(UnsupportedOpError, match="node 'trunc.*non-zero zero point"):
        nnfx.load(model)
    b.inits[b.nodes[-1].input[2]] = np.float32(0.0)
    b.inits[b.nodes[-1].input[1]] = np.float32(0.3)
    with pytest.raises(UnsupportedOpError, match="node 'trunc.*scale 0.3.* is not a power of two"):
        nnfx.load(b.model([("x", ["N", 2, 4, 4])], [(y, ["N", 2, 2, 2])]))
    b.inits[b.nodes[-1].input[1]] = np.float32(0.25)
    model = b.model([("x", ["N", 2, 4, 4])], [(y, ["N", 2, 2, 2])])
    for opset in model.opset_import:
        if opset.domain == DOMAIN:
            opset.version = 2  # qonnx would run version 2, which reads 6 inputs
    with pytest.raises(ModelError, match="node 'trunc.*5 inputs.*at version 2"):
        nnfx.load(model)
