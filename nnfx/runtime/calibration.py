"""Calibration: the range of every tensor of a float graph over sample data, by the float
reference (and of the internal values a precision rule reads: an LSTM's cell state).
``nnfx.compile`` passes these ranges to the precision assignment (the compiler
never runs a graph itself)."""

from __future__ import annotations

import numpy as np

from nnfx.compiler.ir import INTEGER, Graph
from nnfx.runtime import reference
from nnfx.runtime.recurrent import internal_ranges


def observed_ranges(
    graph: Graph, calibration: dict[str, np.ndarray], block: int = 2048
) -> dict[str, tuple]:
    """(min, max) of every tensor over the calibration data, by the float reference, run in
    blocks of ``block`` samples so that large data sets never hold every intermediate."""
    n = len(next(iter(calibration.values())))
    ranges: dict[str, tuple[float, float]] = {}
    for start in range(0, max(n, 1), block):
        part = {k: v[start : start + block] for k, v in calibration.items()}
        values = reference.run(graph, part, intermediate=True)
        observed = {
            name: (float(v.min()), float(v.max()))
            for name, v in values.items()
            if v.size and graph.tensors[name].dtype != INTEGER
        }
        observed.update(internal_ranges(graph, values))  # a recurrent layer's internal values
        for name, (low, high) in observed.items():
            if name in ranges:
                low, high = min(low, ranges[name][0]), max(high, ranges[name][1])
            ranges[name] = (low, high)
    return ranges
