"""Input steps: the element-wise affine preprocessing a model applies to a graph input before
anything else (a standardization ``(x - mean) / std``, a scaling ``x / 255``), kept out of the
fixed-point datapath and applied in float64 before the input quantizer by every engine
(docs/semantics.md, "Input steps").

A step holds its constant in the model's layout (ONNX broadcasting against one batch of
the input, as the file wrote it), so that it applies to model-layout data before the layout
change; its values are a tuple of floats, so that a tensor stays hashable and comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEP_OPS = ("add", "sub", "mul", "div")


@dataclass(frozen=True)
class InputStep:
    op: str  # one of STEP_OPS: x + k, x - k, x * k, x / k
    shape: tuple[int, ...]  # of the constant k, broadcast against (batch, *input shape)
    values: tuple[float, ...]

    def constant(self) -> np.ndarray:
        return np.array(self.values, np.float64).reshape(self.shape)

    def to_json(self) -> dict:
        return {"op": self.op, "shape": list(self.shape), "values": list(self.values)}

    @staticmethod
    def from_json(data: dict) -> InputStep:
        op, shape = data["op"], tuple(int(d) for d in data["shape"])
        values = tuple(float(v) for v in data["values"])
        if op not in STEP_OPS or int(np.prod(shape)) != len(values):
            raise ValueError(f"input step {op} {shape} with {len(values)} values")
        return InputStep(op, shape, values)


def apply_steps(x: np.ndarray, steps: tuple[InputStep, ...]) -> np.ndarray:
    """``x`` (model layout, float64) after the steps, in order: one IEEE float64 operation
    per step and element, as the ONNX writers' Add/Sub/Mul/Div on double tensors compute."""
    with np.errstate(over="ignore", invalid="ignore"):  # the special-value rule judges them
        for step in steps:
            k = step.constant()
            if step.op == "add":
                x = x + k
            elif step.op == "sub":
                x = x - k
            elif step.op == "mul":
                x = x * k
            else:
                x = x / k
    return x
