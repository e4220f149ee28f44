"""Export a trained :class:`Sequential` to a standard ONNX model.

One small function per layer type, in one table (:data:`EXPORTERS`). The graph has one input
``input`` of shape ``(N, *input_shape)`` with a symbolic batch dimension and one output
``output``. Weights become initializers named after their layer. Dropout is the identity at
inference and emits nothing; ``Linear`` likewise. The recurrent layers become the standard
``RNN``/``LSTM``/``GRU`` operators between Transposes (:mod:`nnfx.trainer.onnx_recurrent`).
A ``Standardize`` layer is ``Sub`` then ``Div``; with ``qonnx=True`` the quantization-aware
layers write QONNX ``Quant`` nodes (:mod:`nnfx.trainer.onnx_qonnx`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnfx.errors import ModelError, UnsupportedOpError
from nnfx.trainer.activations import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from nnfx.trainer.conv import AvgPool2D, Conv2D, MaxPool2D
from nnfx.trainer.layers import Dense, Dropout, Flatten, Layer
from nnfx.trainer.normalization import BatchNorm
from nnfx.trainer.onnx_qonnx import (
    DOMAIN,
    QAT_EXPORTERS,
    QUANTIZED_LAYERS,
    check_exact,
    layer_constants,
)
from nnfx.trainer.onnx_recurrent import export_recurrent
from nnfx.trainer.recurrent import GRU, LSTM, SimpleRNN

MIN_OPSET, MAX_OPSET = 13, 21
_IR_VERSION_FOR_OPSET = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


class _GraphBuilder:
    def __init__(self, dtype: np.dtype, qonnx: bool = False):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.dtype = dtype
        self.qonnx = qonnx  # Quant nodes for the quantization-aware layers (onnx_qonnx.py)
        self.quant_nodes = 0

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value, self.dtype), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        output = f"{name}_out"
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output


Exporter = Callable[[Layer, _GraphBuilder, str], str]


def _constants(layer: Dense | Conv2D, g: _GraphBuilder) -> list[str]:
    if isinstance(layer, QUANTIZED_LAYERS):
        return layer_constants(layer, g)
    names = [g.constant(f"{layer.name}.W", layer.W.value)]
    if layer.use_bias:
        names.append(g.constant(f"{layer.name}.b", layer.b.value))
    return names


def _dense(layer: Dense, g: _GraphBuilder, x: str) -> str:
    return g.node("Gemm", [x, *_constants(layer, g)], layer.name)


def _conv(layer: Conv2D, g: _GraphBuilder, x: str) -> str:
    return g.node(
        "Conv",
        [x, *_constants(layer, g)],
        layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        pads=_onnx_pads(layer.pads),
        dilations=[1, 1],  # the defaults, written out: some readers (qonnx) require them
        group=1,
    )


def _onnx_pads(pads: tuple[int, int, int, int]) -> list[int]:
    top, left, bottom, right = pads
    return [top, left, bottom, right]  # ONNX: [x1_begin, x2_begin, x1_end, x2_end]


def _maxpool(layer: MaxPool2D, g: _GraphBuilder, x: str) -> str:
    return g.node(
        "MaxPool",
        [x],
        layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        pads=_onnx_pads(layer.pads),
    )


def _avgpool(layer: AvgPool2D, g: _GraphBuilder, x: str) -> str:
    return g.node(
        "AveragePool",
        [x],
        layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        pads=_onnx_pads(layer.pads),
        count_include_pad=1,
    )


def _flatten(layer: Flatten, g: _GraphBuilder, x: str) -> str:
    return g.node("Flatten", [x], layer.name, axis=1)


def _batchnorm(layer: BatchNorm, g: _GraphBuilder, x: str) -> str:
    names = [
        g.constant(f"{layer.name}.{key}", value)
        for key, value in (
            ("gamma", layer.gamma.value),
            ("beta", layer.beta.value),
            ("running_mean", layer.running_mean),
            ("running_var", layer.running_var),
        )
    ]
    return g.node("BatchNormalization", [x, *names], layer.name, epsilon=layer.epsilon)


def _identity(layer: Layer, g: _GraphBuilder, x: str) -> str:
    return x


def _simple(layer: Layer, g: _GraphBuilder, x: str) -> str:
    return g.node(layer.onnx_op, [x], layer.name)


def _alpha(layer: LeakyReLU | ELU, g: _GraphBuilder, x: str) -> str:
    return g.node(layer.onnx_op, [x], layer.name, alpha=layer.alpha)


def _softmax(layer: Softmax, g: _GraphBuilder, x: str) -> str:
    return g.node("Softmax", [x], layer.name, axis=-1)


EXPORTERS: dict[type[Layer], Exporter] = {
    Dense: _dense,
    Conv2D: _conv,
    MaxPool2D: _maxpool,
    AvgPool2D: _avgpool,
    Flatten: _flatten,
    BatchNorm: _batchnorm,
    Dropout: _identity,
    Linear: _identity,
    ReLU: _simple,
    Sigmoid: _simple,
    Tanh: _simple,
    LeakyReLU: _alpha,
    ELU: _alpha,
    Softmax: _softmax,
    SimpleRNN: export_recurrent,  # RNN, LSTM and GRU: see onnx_recurrent.py
    LSTM: export_recurrent,
    GRU: export_recurrent,
    **QAT_EXPORTERS,  # Standardize, Quantize (onnx_qonnx.py)
}


def _exporter_for(layer: Layer) -> Exporter:
    for cls in type(layer).__mro__:
        if cls in EXPORTERS:
            return EXPORTERS[cls]
    supported = ", ".join(sorted(c.__name__ for c in EXPORTERS))
    raise UnsupportedOpError(
        f"layer '{layer.name}' ({type(layer).__name__}) has no ONNX export; supported: {supported}"
    )


def to_onnx(model, opset: int = 17, qonnx: bool = False) -> onnx.ModelProto:
    """The ONNX ``ModelProto`` of a built model; with ``qonnx``, the quantization-aware
    layers write QONNX ``Quant`` nodes and the graph is float32 (onnx_qonnx.py)."""
    model._require_built()
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ModelError(f"opset {opset} is not supported; choose {MIN_OPSET}..{MAX_OPSET}")
    if qonnx:
        check_exact(model)
    g = _GraphBuilder(np.dtype(np.float32) if qonnx else model.dtype, qonnx)
    tensor = "input"
    for layer in model.layers:
        tensor = _exporter_for(layer)(layer, g, tensor)
    elem = TensorProto.FLOAT if g.dtype == np.float32 else TensorProto.DOUBLE
    graph_input = helper.make_tensor_value_info("input", elem, ["N", *model.input_shape])
    graph_output = helper.make_tensor_value_info("output", elem, ["N", *model.output_shape])
    if tensor == "input":  # a model of identities only
        g.nodes.append(helper.make_node("Identity", ["input"], ["output"], name="identity"))
    else:
        # Rename the last node's output to the graph output.
        last = g.nodes[-1]
        last.output[0] = "output"
    graph = helper.make_graph(g.nodes, model.name, [graph_input], [graph_output], g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    if g.quant_nodes:
        opsets.append(helper.make_opsetid(DOMAIN, 1))
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="nnfx",
        producer_version=_version(),
    )
    # The oldest IR version that carries this opset, so that older runtimes can read the file.
    proto.ir_version = min(proto.ir_version, _IR_VERSION_FOR_OPSET[opset])
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path: str | Path, opset: int = 17, qonnx: bool = False) -> onnx.ModelProto:
    """Write the model to ``path`` atomically (temporary file, then rename)."""
    proto = to_onnx(model, opset, qonnx)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        onnx.save(proto, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return proto


def _version() -> str:
    from nnfx import __version__

    return __version__
