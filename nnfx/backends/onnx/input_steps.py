"""The input steps (nnfx/compiler/input_steps.py) as ONNX ops on a model-layout input, before
its layout change: one Add/Sub/Mul/Div per step, in the input's element type (float64 in the
fixed-point model, where they equal the reference's NumPy operations bit for bit)."""

from __future__ import annotations

import numpy as np

from nnfx.backends.onnx.builder import Builder
from nnfx.compiler.input_steps import InputStep


def input_steps(b: Builder, x: str, steps: tuple[InputStep, ...], dtype=None) -> str:
    for step in steps:
        k = b.const(np.asarray(step.constant(), dtype=dtype), "step", dtype=dtype)
        x = b.op(step.op.capitalize(), [x, k], f"step_{step.op}")
    return x
