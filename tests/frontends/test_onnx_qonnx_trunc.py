"""QONNX ``Trunc`` (Brevitas's average pooling: AveragePool, then Trunc drops low bits of the
sum): every engine's output codes equal qonnx's own execution, for hand-built models in every
rounding mode and for a real Brevitas ``TruncAvgPool2d`` export (docs/semantics.md, "QONNX
Trunc")."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

import nnfx
from nnfx.errors import UnsupportedOpError
from tests.qonnx_helpers import (
    DOMAIN,
    MODES,
    NNFX_MODE,
    Builder,
    brevitas_trunc_net,
    check_every_engine,
    ties,
)

pytest.importorskip("qonnx")


def trunc(b: Builder, x, f_in, b_in, f_out, b_out, signed=True, narrow=False, mode="FLOOR"):
    b.count += 1
    out = f"tr{b.count}"
    inputs = [
        x,
        b.const(2.0**-f_in),
        b.const(0.0),
        b.const(float(b_in)),
        b.const(2.0**-f_out),
        b.const(float(b_out)),
    ]
    attrs = {"signed": int(signed), "narrow": int(narrow)}
    attrs["rounding_mode"] = mode.lower() if b.count % 2 else mode
    b.nodes.append(
        helper.make_node("Trunc", inputs, [out], name=f"trunc{b.count}", domain=DOMAIN, **attrs)
    )
    return out


def version_2(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with the QONNX domain at version 2, where qonnx's Trunc has 6 inputs."""
    for opset in model.opset_import:
        if opset.domain == DOMAIN:
            opset.version = 2
    return model


def test_trunc_after_average_pools_in_every_rounding_mode_equals_qonnx_in_every_engine():
    """One branch per rounding mode (lower case as Brevitas writes it, or upper): Quant ->
    AveragePool 2x2 (or a GlobalAveragePool over 4x4) -> Trunc to random bits, signed,
    unsigned and narrow; one C-simulation build for every branch."""
    rng = np.random.default_rng(7)
    b = Builder(rng)
    inputs, outputs, X = [], [], {}
    for k, mode in enumerate(MODES):
        x = f"x{k}"
        bx, fx = int(rng.integers(2, 10)), int(rng.integers(0, 5))
        signed = bool(k % 2)
        xq = b.quant(x, fx, bx, signed=signed, mode="ROUND")
        if k % 3 == 2:
            pooled, grow, shape = b.node("GlobalAveragePool", [xq]), 4, ["N", 2, 1, 1]
        else:
            pooled = b.node("AveragePool", [xq], kernel_shape=[2, 2], strides=[2, 2])
            grow, shape = 2, ["N", 2, 2, 2]
        b_out = int(rng.integers(2, bx + 1))
        f_out = fx + grow - (bx + grow - b_out) + int(rng.integers(-1, 2))
        narrow = signed and bool(rng.integers(0, 2))
        y = trunc(b, pooled, fx + grow, bx + grow, f_out, b_out, signed, narrow, mode)
        inputs.append((x, ["N", 2, 4, 4]))
        outputs.append((y, shape))
        X[x] = ties(rng, (96, 2, 4, 4), fx, 2.0 ** (bx - fx))
    # and a Quant after an average pool (count a power of two): the pool's own output type
    pooled_quants = []
    for k, mode in enumerate(["CEIL", "UP", "DOWN", "HALF_DOWN"]):
        x = f"xq{k}"
        xq = b.quant(x, 3, 7)
        if k % 2:
            p, shape = b.node("GlobalAveragePool", [xq]), ["N", 2, 1, 1]
        else:
            p = b.node("AveragePool", [xq], kernel_shape=[2, 2], strides=[2, 2])
            shape = ["N", 2, 2, 2]
        pooled_quants.append(b.quant(p, 2, 6, mode=mode))
        inputs.append((x, ["N", 2, 4, 4]))
        outputs.append((pooled_quants[-1], shape))
        X[x] = ties(rng, (96, 2, 4, 4), 3, 8.0)
    compiled = check_every_engine(version_2(b.model(inputs, outputs)), X)
    modes = {compiled.graph.tensors[y].dtype.rounding for y, _ in outputs[: len(MODES)]}
    assert modes == {NNFX_MODE[m] for m in MODES}
    producers = {n.outputs[0]: n for n in compiled.graph.nodes}
    for y, rounding in zip(pooled_quants, ["CEIL", "UP", "TRN_ZERO", "RND_ZERO"], strict=True):
        assert producers[y].op.value in ("AvgPool", "Reshape")  # no requantize inserted
        assert compiled.graph.tensors[y].dtype.rounding == rounding


def test_a_brevitas_trunc_avg_pool_export_equals_qonnx_in_every_engine(tmp_path):
    """QuantIdentity -> QuantConv2d -> QuantReLU -> TruncAvgPool2d -> QuantConv2d, exported
    by Brevitas's export_qonnx (AveragePool, then a version-2 Trunc with rounding_mode
    'round') and cleaned by qonnx."""
    pytest.importorskip("brevitas")
    import torch
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    net = brevitas_trunc_net()
    path = str(tmp_path / "trunc.onnx")
    export_qonnx(net, torch.randn(1, 2, 4, 4), export_path=path)
    model = cleanup_model(ModelWrapper(path)).model
    assert [n.op_type for n in model.graph.node].count("Trunc") == 1
    rng = np.random.default_rng(1)
    X = {model.graph.input[0].name: ties(rng, (64, 2, 4, 4), 3, 4.0)}
    compiled = check_every_engine(model, X)
    pool = next(n for n in compiled.graph.nodes if n.op.value == "AvgPool")
    assert compiled.graph.tensors[pool.outputs[0]].dtype.rounding == "RND_CONV"


def refused(b: Builder, y: str, reason: str):
    model = b.model([("x", ["N", 2, 4, 4])], [(y, ["N", 2, 2, 2])])
    with pytest.raises(UnsupportedOpError, match=reason) as info:
        nnfx.load(model)
    assert "node 'trunc" in str(info.value)


def pooled(b: Builder) -> str:
    xq = b.quant("x", 2, 6)
    return b.node("AveragePool", [xq], kernel_shape=[2, 2], strides=[2, 2])


def test_unsupported_truncs_are_one_sentence():
    b = Builder(np.random.default_rng(0))
    y = trunc(b, pooled(b), 4, 8, 2, 5)
    b.inits[b.nodes[-1].input[4]] = np.float32(0.3)
    refused(b, y, "scale 0.3.* is not a power of two")
    b.inits[b.nodes[-1].input[4]] = np.float32(0.25)
    b.inits[b.nodes[-1].input[2]] = np.float32(1.0)
    refused(b, y, "non-zero zero point")
    b = Builder(np.random.default_rng(0))
    y = trunc(b, pooled(b), 4, 8, 2, 4, signed=False, narrow=True)
    refused(b, y, "unsigned narrow")


def test_a_trunc_in_the_brevitas_domain_is_the_same_op():
    rng = np.random.default_rng(3)
    b = Builder(rng)
    y = trunc(b, pooled(b), 4, 8, 3, 5, mode="HALF_UP")
    b.nodes[-1].domain = "onnx.brevitas"
    model = version_2(b.model([("x", ["N", 2, 4, 4])], [(y, ["N", 2, 2, 2])]))
    model.opset_import.append(helper.make_opsetid("onnx.brevitas", 2))
    X = {"x": ties(rng, (64, 2, 4, 4), 2, 8.0)}
    check_every_engine(model, X, engines=["reference", "ort"])
