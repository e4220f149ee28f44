"""The frontend's one table: ONNX op type -> the small function that converts its node.

The converters live by family — :mod:`~nnfx.frontends.ops_linear` (Gemm, MatMul),
:mod:`~nnfx.frontends.ops_spatial` (Conv, pooling), :mod:`~nnfx.frontends.ops_resample`
(Resize, Upsample, Pad), :mod:`~nnfx.frontends.ops_elementwise`
(activations, arithmetic, BatchNormalization), :mod:`~nnfx.frontends.ops_shape` (shape, layout,
pass-through and constant-only ops) and :mod:`~nnfx.frontends.ops_heads` (Softmax, ArgMax,
scikit-learn's heads); each reads the node through :class:`~nnfx.frontends.context.Converter`.
Adding an op is one entry here. Ops of a domain other than ONNX's own are keyed
``domain.OpType``.
"""

from __future__ import annotations

from nnfx.compiler.ops import Activation, Op
from nnfx.frontends import (
    ops_elementwise,
    ops_heads,
    ops_linear,
    ops_norm,
    ops_quant,
    ops_resample,
    ops_shape,
    ops_slice,
    ops_spatial,
)
from nnfx.frontends.context import ConverterFn

CONVERTERS: dict[str, ConverterFn] = {
    "Gemm": ops_linear.gemm,
    "MatMul": ops_linear.matmul,
    "Conv": ops_spatial.conv,
    "MaxPool": ops_spatial.pool(Op.MAX_POOL),
    "AveragePool": ops_spatial.pool(Op.AVG_POOL),
    "GlobalAveragePool": ops_spatial.global_pool(Op.GLOBAL_AVG_POOL),
    "GlobalMaxPool": ops_spatial.global_pool(Op.GLOBAL_MAX_POOL),
    "Resize": ops_resample.resize,
    "Upsample": ops_resample.upsample,
    "Pad": ops_resample.pad,
    "ReduceMean": ops_spatial.reduce(Op.GLOBAL_AVG_POOL),
    "ReduceMax": ops_spatial.reduce(Op.GLOBAL_MAX_POOL),
    "BatchNormalization": ops_elementwise.batchnorm,
    "LayerNormalization": ops_norm.layer_normalization,
    "Relu": ops_elementwise.activation(Activation.RELU),
    "LeakyRelu": ops_elementwise.activation(Activation.LEAKY_RELU, alpha=0.01),
    "Elu": ops_elementwise.activation(Activation.ELU, alpha=1.0),
    "Sigmoid": ops_elementwise.activation(Activation.SIGMOID),
    "Tanh": ops_elementwise.activation(Activation.TANH),
    "HardSigmoid": ops_elementwise.activation(Activation.HARD_SIGMOID, alpha=0.2, beta=0.5),
    "Clip": ops_elementwise.clip,
    "Selu": ops_elementwise.selu,
    "Softplus": ops_elementwise.activation(Activation.SOFTPLUS),
    "HardSwish": ops_elementwise.activation(Activation.HARD_SWISH),
    "Gelu": ops_elementwise.gelu,
    "Mish": ops_elementwise.activation(Activation.MISH),
    "PRelu": ops_elementwise.prelu,
    "Softmax": ops_heads.softmax(log=False),
    "LogSoftmax": ops_heads.softmax(log=True),
    "Add": ops_elementwise.binary("Add"),
    "Sub": ops_elementwise.binary("Sub"),
    "Mul": ops_elementwise.binary("Mul"),
    "Div": ops_elementwise.binary("Div"),
    "Concat": ops_shape.concat,
    "Flatten": ops_shape.flatten,
    "Reshape": ops_shape.reshape,
    "Squeeze": ops_shape.squeeze_unsqueeze("Squeeze"),
    "Unsqueeze": ops_shape.squeeze_unsqueeze("Unsqueeze"),
    "Transpose": ops_shape.transpose,
    "Identity": ops_shape.alias,
    "Dropout": ops_shape.alias,
    "Cast": ops_shape.cast,
    "Constant": ops_shape.constant,
    "Shape": ops_shape.shape_of,
    "Gather": ops_shape.constant_only,
    "Slice": ops_slice.slice_,
    "ConstantOfShape": ops_shape.constant_only,
    "Expand": ops_shape.expand,
    "Split": ops_slice.split,
    "Range": ops_shape.constant_only,
    "Equal": ops_shape.constant_only,
    "Where": ops_shape.constant_only,
    "ArgMax": ops_heads.argmax,
    "ai.onnx.ml.ArrayFeatureExtractor": ops_heads.array_feature_extractor,
    "ai.onnx.ml.ZipMap": ops_heads.zipmap,
    "qonnx.custom_op.general.Quant": ops_quant.quant,
    "qonnx.custom_op.general.IntQuant": ops_quant.quant,
    "onnx.brevitas.Quant": ops_quant.quant,
}

# What `nnfx ops` prints: every key of CONVERTERS, once, in its group, with its limits ("" for
# none beyond the op's definition). tests/frontends/test_op_table.py holds the two tables
# equal: an op added to CONVERTERS needs its line here.
OP_GROUPS: dict[str, dict[str, str]] = {
    "linear": {
        "Gemm": "(batch, features) input; constant weight; transA=0",
        "MatMul": "(batch, features) @ constant 2-D weight",
    },
    "convolution/pooling": {
        "Conv": "1-D/2-D; constant weight; any group (grouped, depthwise)",
        "MaxPool": "1-D/2-D; no dilations, ceil_mode=0, no Indices output",
        "AveragePool": "1-D/2-D; no dilations, ceil_mode=0",
        "GlobalAveragePool": "",
        "GlobalMaxPool": "",
        "ReduceMean": "over every spatial axis (global pooling)",
        "ReduceMax": "over every spatial axis (global pooling)",
    },
    "resampling": {
        "Resize": "nearest, 1-D/2-D, whole-number scales (or sizes); modes that repeat each value",
        "Upsample": "nearest, 1-D/2-D, whole-number scales (opsets 7-9)",
        "Pad": "constant zeros on the spatial axes of 1-D/2-D feature maps",
    },
    "normalization": {
        "BatchNormalization": "inference (training_mode=0); folded into the layer before",
        "LayerNormalization": "over the last axis (axis=-1); Mean/InvStdDev outputs unread",
    },
    "activations": {
        "Relu": "",
        "LeakyRelu": "",
        "Elu": "",
        "Sigmoid": "",
        "Tanh": "",
        "HardSigmoid": "",
        "Clip": "constant min/max",
        "Selu": "table over the calibrated range, gamma * x above it",
        "Softplus": "table over the calibrated range, x above it",
        "HardSwish": "table over the calibrated range, x above it",
        "Gelu": "approximate none or tanh; also PyTorch's Erf composition",
        "Mish": "also x * Tanh(Softplus(x))",
        "PRelu": "one slope, or one per channel (or feature); a leaky_relu",
    },
    "element-wise": {
        "Add": "two tensors of one shape, or a constant",
        "Sub": "two tensors of one shape, or a constant",
        "Mul": "two tensors of one shape, or a constant",
        "Div": "by a constant",
    },
    "shape/plumbing": {
        "Concat": "not along the batch axis",
        "Flatten": "axis=1 (axis=0 with a batch fixed to 1)",
        "Reshape": "constant target that keeps the batch axis first",
        "Squeeze": "not the batch axis",
        "Unsqueeze": "not before the batch axis",
        "Transpose": "keeps the batch axis first; a layout change, free",
        "Identity": "",
        "Dropout": "the identity at inference",
        "Cast": "float-to-float, int-to-int on computed data",
        "Constant": "",
        "Shape": "",
        "Gather": "constants and shapes only (folded)",
        "Slice": "constant starts/ends/axes, step 1, not the batch axis",
        "Split": "not along the batch axis; one Slice per output",
        "ConstantOfShape": "constants and shapes only; a batch-sized shape gives broadcast zeros",
        "Expand": "constants; computed data only where no sample's shape changes",
        "Range": "constants only (folded)",
        "Equal": "constants only (folded)",
        "Where": "constants only (folded)",
    },
    "heads/ml": {
        "Softmax": "not over the batch axis",
        "LogSoftmax": "not over the batch axis",
        "ArgMax": "not over the batch axis; select_last_index=0",
        "ai.onnx.ml.ArrayFeatureExtractor": "class labels after an ArgMax (scikit-learn)",
        "ai.onnx.ml.ZipMap": "keeps the probability tensor (scikit-learn)",
    },
    "quantization (QONNX)": {
        "qonnx.custom_op.general.Quant": "power-of-two scale, zero point 0; the model's own types",
        "qonnx.custom_op.general.IntQuant": "as Quant (its newer name)",
        "onnx.brevitas.Quant": "as Quant (Brevitas's domain)",
    },
}


def supported_ops() -> list[str]:
    return sorted(CONVERTERS)
