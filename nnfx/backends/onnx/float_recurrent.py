"""The float ONNX writer of the recurrent layers: the standard ``RNN``, ``LSTM`` or ``GRU``
operator (time-major, as onnxruntime runs it) between the Transposes that keep the batch
first, the IR's constants unfolded back into ONNX's ``W``, ``R`` and ``B``."""

from __future__ import annotations

import numpy as np
from onnx import helper

from nnfx.compiler.recurrent import GRU_GATES

OPERATORS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def write_recurrent(b, g, node, xs) -> str:
    a = node.attrs
    hidden = a.hidden
    w, r = node.constant(g, "weight"), node.constant(g, "recurrent")
    bias = np.asarray(node.constant(g, "bias"), np.float64)
    recurrent_bias = np.zeros_like(bias)
    attrs: dict = {"hidden_size": hidden}
    if a.cell == "gru":
        n = GRU_GATES["n"]
        recurrent_bias[n * hidden : (n + 1) * hidden] = node.constant(g, "recurrent_bias")
        attrs["linear_before_reset"] = 1
    inputs = [
        b.op("Transpose", [xs[0]], "time_major", perm=[1, 0, 2]),
        b.const(w.T[None], "W"),
        b.const(r.T[None], "R"),
        b.const(np.concatenate([bias, recurrent_bias])[None], "B"),
    ]
    y = b.fresh("y" if a.return_sequences else "y_h")
    outputs = [y] if a.return_sequences else ["", y]
    b.nodes.append(helper.make_node(OPERATORS[a.cell], inputs, outputs, name=y, **attrs))
    if not a.return_sequences:
        return b.op("Squeeze", [y, b.ints([0])], "last_state")
    every = b.op("Squeeze", [y, b.ints([1])], "squeeze")
    return b.op("Transpose", [every], "batch_first", perm=[1, 0, 2])
