"""The line under the overflow table says what to try, and it fits the model: a float model
compiled at a fixed type, at auto, or a quantized model that fixes its own types."""

from __future__ import annotations

import numpy as np
from onnx import helper

import nnfx
from nnfx.cli.output import print_overflows
from tests.helpers import make_model
from tests.qonnx_helpers import Builder


def _float_model(rng):
    w = rng.standard_normal((4, 3)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    return make_model(nodes, [("x", ["N", 4])], [("y", ["N", 3])], {"w": w})


def test_a_float_model_at_a_fixed_type_is_told_to_try_auto(rng, capsys):
    compiled = nnfx.compile(_float_model(rng), "fixed<6,2>")
    print_overflows(compiled, 50 * rng.standard_normal((20, 4)), "the data")
    out = capsys.readouterr().out
    assert "overflowed" in out and "try --precision auto" in out


def test_auto_is_told_to_calibrate_on_wider_data(rng, capsys):
    model = _float_model(rng)
    compiled = nnfx.compile(model, "auto", calibration=rng.standard_normal((20, 4)), width=8)
    print_overflows(compiled, 1000 * rng.standard_normal((20, 4)), "the data")
    assert "beyond the calibrated ranges" in capsys.readouterr().out


def test_a_quantized_model_is_not_told_to_change_its_own_types(rng, capsys):
    b = Builder(rng)
    xq = b.quant("x", 4, 6)  # fixed<6,2>: saturates beyond +-2
    w = b.quant(b.const(rng.standard_normal((4, 3))), 3, 6)
    y = b.quant(b.node("MatMul", [xq, w]), 3, 6)
    compiled = nnfx.compile(b.model([("x", ["N", 4])], [(y, ["N", 3])]))
    print_overflows(compiled, 50 * rng.standard_normal((20, 4)), "the data")
    out = capsys.readouterr().out
    assert "overflowed" in out and "fixes its quantized types itself" in out
    assert "try --precision auto" not in out
