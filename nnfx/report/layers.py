"""The report's per-layer rows: each layer's float values against its fixed-point type,
overflows and error against float (the quantization of each input first)."""

from __future__ import annotations

import numpy as np


def layer_rows(model, compiled, X, float_values) -> list[dict]:
    """Per layer, the inputs' quantization first (it can overflow like any layer): ranges,
    overflows and error against float."""
    from nnfx.runtime.reference_fixed import input_layer, run_fixed

    graph = compiled.graph
    overflows = compiled.overflow_counts(X)
    fixed_raw = run_fixed(graph, compiled.quantize_inputs(X), intermediate=True)
    layers = [
        _layer_row(
            input_layer(name),
            "Input",
            graph.tensors[name].dtype,
            float_values[name],
            fixed_raw[name],
            overflows,
        )
        for name in graph.inputs
    ]
    for node in graph.nodes:
        name = node.outputs[0]
        t = graph.tensors[name].dtype
        if not hasattr(t, "frac"):
            continue
        row = _layer_row(
            node.name, node.op.value, t, float_values[name], fixed_raw[name], overflows
        )
        if node.op.value == "Recurrent":  # its types per time step, beside the state's
            row["type"] = _recurrent_types(node, t)
        layers.append({**row, **_weight_profile(model.graph, node)})
    return layers


def _recurrent_types(node, t) -> str:
    """A recurrent layer's types, which every time step uses: the state ``h`` (its output), an
    LSTM's cell state, the gate tables and the exact gate sum (its overflows count both the
    state's and the cell state's quantizations, over every step)."""
    p = node.precision
    parts = [f"h {t}"]
    if p.cell is not None:
        parts.append(f"c {p.cell}")
    parts.append(f"gates {p.table_type} / {p.inverse_type}")
    parts.append(f"sum {p.accum}")
    return f"{'; '.join(parts)} (per step, {node.attrs.steps} steps)"


def _layer_row(layer: str, op: str, t, f: np.ndarray, raw: np.ndarray, overflows) -> dict:
    """One layer's float values ``f`` against its type ``t`` and its fixed codes ``raw``."""
    from nnfx.compiler.fixed import to_float

    fixed = to_float(raw, t.frac)
    rms = float(np.sqrt(np.mean(f**2))) or 1.0
    return {
        "layer": layer,
        "op": op,
        "type": str(t),
        "type_min": t.min,
        "type_max": t.max,
        "lsb": t.step,
        "float_min": float(f.min()),
        "float_max": float(f.max()),
        "float_abs_p99": float(np.percentile(np.abs(f), 99)),
        "overflows": int(overflows.get(layer, 0)),
        "underflow_fraction": float(np.mean((np.abs(f) < t.step / 2) & (f != 0))),
        "relative_rms_error": float(np.sqrt(np.mean((fixed - f) ** 2)) / rms),
    }


def _weight_profile(float_graph, node) -> dict:
    """The float weights of a layer against its weight type (empty for layers without)."""
    p = node.precision
    if "weight" not in node.params or p is None or p.weight is None:
        return {}
    w = np.abs(float_graph.node(node.name).param(float_graph, "weight"))
    t = p.weight
    return {
        "weight_type": str(t),
        "weight_type_max": max(abs(t.min), abs(t.max)),
        "weight_lsb": t.step,
        "weight_abs_p99": float(np.percentile(w, 99)),
        "weight_abs_max": float(w.max()),
        "weight_underflow_fraction": float(np.mean((w < t.step / 2) & (w != 0))),
    }
