"""ONNX export of the recurrent layers as the standard ``RNN``, ``LSTM`` and ``GRU`` operators.

The operators take their input time-major, ``(steps, batch, features)`` (``layout=0``: the only
layout onnxruntime's CPU kernels accept), so a ``Transpose`` comes first. Their weights are
``W (1, gates*units, features)``, ``R (1, gates*units, units)`` and ``B (1, 2*gates*units)``
(the input biases, then the recurrent ones), the gates stacked in ONNX's order, which differs
from ours (PyTorch's): LSTM ``i, o, f, c`` (ours ``i, f, g, o``), GRU ``z, r, h`` (ours
``r, z, n``). The GRU is written with ``linear_before_reset=1``, our (PyTorch's) form.

Outputs: ``Y (steps, 1, batch, units)`` holds every state, ``Y_h (1, batch, units)`` the last.
The last state is ``Squeeze(Y_h, 0)``; the whole sequence is ``Y`` squeezed on its
num_directions axis and transposed back to ``(batch, steps, units)``.

onnxruntime (1.x, CPU) runs these operators in float32 only: a float64 model exports as valid
ONNX that it refuses to run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from onnx import helper, numpy_helper

from nnfx.trainer.recurrent import Recurrent

if TYPE_CHECKING:
    from nnfx.trainer.onnx_export import _GraphBuilder

# For each operator, our gate indices in ONNX's order.
ONNX_GATE_ORDER = {"RNN": (0,), "LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2)}
ACTIVATIONS = {"RNN": ["Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


def onnx_weights(layer: Recurrent) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``W``, ``R`` and ``B`` as the ONNX operator takes them (one direction)."""
    order = ONNX_GATE_ORDER[layer.onnx_op]

    def reorder(m: np.ndarray) -> np.ndarray:
        return np.concatenate([layer.gate(m, k) for k in order], axis=-1)

    w = reorder(layer.W.value).T[None]
    r = reorder(layer.R.value).T[None]
    b = np.concatenate([reorder(layer.b.value), reorder(layer.rb.value)])[None]
    return w, r, b


def export_recurrent(layer: Recurrent, g: _GraphBuilder, x: str) -> str:
    name = layer.name
    time_major = g.node("Transpose", [x], f"{name}_time_major", perm=[1, 0, 2])
    w, r, b = onnx_weights(layer)
    weights = [g.constant(f"{name}.W", w), g.constant(f"{name}.R", r), g.constant(f"{name}.B", b)]
    inputs = [time_major, *weights]
    attrs: dict = {"hidden_size": layer.units, "activations": ACTIVATIONS[layer.onnx_op]}
    if layer.onnx_op == "GRU":
        attrs["linear_before_reset"] = 1
    every, last = f"{name}_Y", f"{name}_Y_h"
    outputs = [every] if layer.return_sequences else ["", last]
    g.nodes.append(helper.make_node(layer.onnx_op, inputs, outputs, name=name, **attrs))
    axis = f"{name}.squeeze_axis"
    g.initializers.append(
        numpy_helper.from_array(np.array([1 if layer.return_sequences else 0], np.int64), axis)
    )
    if not layer.return_sequences:
        return g.node("Squeeze", [last, axis], f"{name}_last")
    states = g.node("Squeeze", [every, axis], f"{name}_states")
    return g.node("Transpose", [states], f"{name}_batch_major", perm=[1, 0, 2])
