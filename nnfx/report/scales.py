"""The per-layer difference report of folded scales (docs/semantics.md, "Non-power-of-two
scales"): for each quantizer whose scale is not a power of two (or whose zero point is not 0),
how nnfx's integer codes differ from the model's own execution (onnxruntime on a QDQ model,
qonnx's ``execute_onnx`` on a QONNX model) on the same inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from nnfx.frontends.scaled import is_power_of_two

QONNX_QUANTS = ("Quant", "IntQuant")


@dataclass(frozen=True)
class Folded:
    layer: str  # the IR node that computes the codes
    codes: str  # its output tensor (integer codes)
    onnx_node: str  # the quantizer in the ONNX model
    onnx_tensor: str  # what the model's execution gives there: codes (QDQ) or s (q - z) (QONNX)
    scale: float
    zero: float
    codes_given: bool  # True: onnx_tensor holds the codes themselves (QuantizeLinear)


def folded_quantizers(graph, model: onnx.ModelProto) -> list[Folded]:
    """The quantizers of ``model`` that nnfx folded, as compiled in ``graph``."""
    producers = graph.producers()
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    found = []
    for node in model.graph.node:
        out = node.output[0] if node.output else ""
        p = producers.get(out)
        if p is None or p.op.value != "BatchNorm" or len(node.input) < 2:
            continue
        zero = inits.get(node.input[2]) if len(node.input) > 2 and node.input[2] else 0
        scales = np.asarray(inits.get(node.input[1], np.nan), np.float64)
        if scales.size and is_power_of_two(scales) and not np.any(np.asarray(zero) != 0):
            continue  # exact types (per channel: two exact shifts, frontends/per_channel.py)
        scale = float(scales.reshape(-1)[0])
        z = float(np.asarray(zero).reshape(-1)[0])
        if node.op_type == "QuantizeLinear":
            found.append(Folded(p.name, out, node.name, out, scale, z, True))
        elif node.op_type in QONNX_QUANTS:
            first = producers.get(p.inputs[0])
            if first is not None and first.op.value == "BatchNorm":
                found.append(Folded(first.name, p.inputs[0], node.name, out, scale, z, False))
    return found


def scale_differences(compiled, model: onnx.ModelProto, X, source_values=None) -> list[dict]:
    """Per folded quantizer: how many of nnfx's codes (the fixed reference, which every engine
    equals) differ from the model's own execution, and by how many codes at most.
    ``source_values``: the model's execution by tensor name (else run here: onnxruntime, or
    qonnx for a model with QONNX nodes)."""
    from nnfx.runtime.reference_fixed import run_fixed

    folded = folded_quantizers(compiled.graph, model)
    if not folded:
        return []
    if source_values is None:
        source_values = run_source(model, X, [f.onnx_tensor for f in folded])
    raw = run_fixed(compiled.graph, compiled.quantize_inputs(X), intermediate=True)
    rows = []
    for f in folded:
        theirs = np.asarray(source_values[f.onnx_tensor], np.float64)
        if not f.codes_given:
            theirs = np.round(theirs / np.float32(f.scale)) + f.zero
        diff = np.abs(_model_layout(raw[f.codes], theirs.shape) - theirs)
        rows.append(
            {
                "layer": f.layer,
                "onnx_node": f.onnx_node,
                "scale": f.scale,
                "zero_point": f.zero,
                "outputs": int(diff.size),
                "different_fraction": float(np.mean(diff != 0)) if diff.size else 0.0,
                "max_abs_lsb": int(diff.max()) if diff.size else 0,
            }
        )
    return rows


def _model_layout(codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """nnfx's codes (IR layout: a feature map channels-last) in the model's layout."""
    codes = np.asarray(codes, np.int64)
    if codes.shape != shape and codes.ndim > 2:
        codes = np.moveaxis(codes, -1, 1)  # channels-last to the model's channels-first
    return codes.reshape(shape)


def run_source(model: onnx.ModelProto, X, names: list[str]) -> dict[str, np.ndarray]:
    """The tensors ``names`` of ``model``'s own execution on ``X`` (a dict by input name, or
    one array): onnxruntime (graph optimizations off), or qonnx's execute_onnx when the model
    has QONNX nodes."""
    inputs = [
        i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}
    ]
    feeds = X if isinstance(X, dict) else {inputs[0]: X}
    feeds = {k: np.asarray(v, np.float32) for k, v in feeds.items()}
    if any(n.op_type in QONNX_QUANTS for n in model.graph.node):
        return _run_qonnx(model, feeds)
    import onnxruntime as ort

    extended = onnx.ModelProto()
    extended.CopyFrom(model)
    types = {n.output[0]: _code_type(n, model) for n in model.graph.node if n.output}
    have = {o.name for o in extended.graph.output}
    for name in names:
        if name not in have:
            extended.graph.output.append(
                onnx.helper.make_tensor_value_info(name, types[name], None)
            )
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(extended.SerializeToString(), options)
    return dict(zip(names, session.run(names, feeds), strict=True))


def _code_type(node, model) -> int:
    """The element type of a QuantizeLinear's output (its zero point's, else output_dtype,
    else uint8); float for any other node."""
    if node.op_type != "QuantizeLinear":
        return onnx.TensorProto.FLOAT
    inits = {i.name: i for i in model.graph.initializer}
    if len(node.input) > 2 and node.input[2] in inits:
        return inits[node.input[2]].data_type
    given = [a.i for a in node.attribute if a.name == "output_dtype"]
    return given[0] if given and given[0] else onnx.TensorProto.UINT8


def _run_qonnx(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    batched = onnx.ModelProto()
    batched.CopyFrom(model)
    n = len(next(iter(feeds.values())))
    del batched.graph.value_info[:]  # an exporter's batch-1 shapes: inferred again for n
    for vi in [*batched.graph.input, *batched.graph.output]:
        if vi.name in feeds or vi in batched.graph.output:
            vi.type.tensor_type.shape.dim[0].dim_value = n
    wrapper = ModelWrapper(batched).transform(InferShapes())
    return execute_onnx(wrapper, feeds, return_full_exec_context=True)
