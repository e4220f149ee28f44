"""IR -> ONNX: the float graph, and a fixed-point graph bit-exact with the reference.

The fixed-point graph carries every tensor as its raw integer codes in float64 tensors (exact
while below 2**53, which the export proves per layer from the operand types, for every
product, shift and sum, and refuses otherwise with a PrecisionError naming the layer) — in
float32 tensors where every such proof fits 24 bits (fixed_model.py) — and builds
quantization (rounding, wrap, saturation) from standard ops: Mul, Floor, Ceil, Round, Mod,
Clip, Where. Tables are Gather on constants; convolution and pooling windows are strided
Slices (onnxruntime has no float64 Conv). Standard domain only, checker-clean, one named
node group per IR node.

builder.py names and saves, fixed_model.py chooses the codes' element type, quantize.py rounds
and overflows, fixed_graph.py and fixed_activation.py write the fixed-point graph,
float_graph.py the float one.
"""

from __future__ import annotations

from nnfx.backends.onnx.builder import OPSET, Builder, _safe, save
from nnfx.backends.onnx.fixed_graph import EXACT_BITS, FIXED_WRITERS, FLOAT32_BITS, FixedExport
from nnfx.backends.onnx.fixed_model import PRECISIONS, codes_dtype, to_fixed_onnx
from nnfx.backends.onnx.float_graph import FLOAT_WRITERS, to_float_onnx
from nnfx.backends.onnx.quantize import quantize, table_index

__all__ = [
    "EXACT_BITS",
    "FIXED_WRITERS",
    "FLOAT32_BITS",
    "FLOAT_WRITERS",
    "OPSET",
    "PRECISIONS",
    "Builder",
    "FixedExport",
    "_safe",
    "codes_dtype",
    "quantize",
    "save",
    "table_index",
    "to_fixed_onnx",
    "to_float_onnx",
]
