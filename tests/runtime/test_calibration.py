"""Calibration (nnfx/runtime/calibration.py) on a trained digits MLP (tests/conftest.py's
``digits_mlp``)."""

import nnfx


def test_calibration_in_blocks_gives_the_same_ranges(digits_mlp):
    from nnfx.runtime.calibration import observed_ranges

    path, X, *_ = digits_mlp
    model = nnfx.load(path)
    inputs = model.to_ir_inputs(X)
    assert observed_ranges(model.graph, inputs, block=100) == observed_ranges(
        model.graph, inputs, block=10_000
    )
