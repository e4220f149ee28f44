"""The frontend's one table: ONNX op type -> the small function that converts its node.

The converters live by family — :mod:`~nnfx.frontends.ops_linear` (Gemm, MatMul),
:mod:`~nnfx.frontends.ops_spatial` (Conv, pooling), :mod:`~nnfx.frontends.ops_elementwise`
(activations, arithmetic, BatchNormalization), :mod:`~nnfx.frontends.ops_shape` (shape, layout,
pass-through and constant-only ops) and :mod:`~nnfx.frontends.ops_heads` (Softmax, ArgMax,
scikit-learn's heads); each reads the node through :class:`~nnfx.frontends.context.Converter`.
Adding an op is one entry here. Ops of a domain other than ONNX's own are keyed
``domain.OpType``.
"""

from __future__ import annotations

from nnfx.compiler.ops import Activation, Op
from nnfx.frontends import ops_elementwise, ops_heads, ops_linear, ops_shape, ops_spatial
from nnfx.frontends.context import ConverterFn

CONVERTERS: dict[str, ConverterFn] = {
    "Gemm": ops_linear.gemm,
    "MatMul": ops_linear.matmul,
    "Conv": ops_spatial.conv,
    "MaxPool": ops_spatial.pool(Op.MAX_POOL),
    "AveragePool": ops_spatial.pool(Op.AVG_POOL),
    "GlobalAveragePool": ops_spatial.global_pool(Op.GLOBAL_AVG_POOL),
    "GlobalMaxPool": ops_spatial.global_pool(Op.GLOBAL_MAX_POOL),
    "ReduceMean": ops_spatial.reduce(Op.GLOBAL_AVG_POOL),
    "ReduceMax": ops_spatial.reduce(Op.GLOBAL_MAX_POOL),
    "BatchNormalization": ops_elementwise.batchnorm,
    "Relu": ops_elementwise.activation(Activation.RELU),
    "LeakyRelu": ops_elementwise.activation(Activation.LEAKY_RELU, alpha=0.01),
    "Elu": ops_elementwise.activation(Activation.ELU, alpha=1.0),
    "Sigmoid": ops_elementwise.activation(Activation.SIGMOID),
    "Tanh": ops_elementwise.activation(Activation.TANH),
    "HardSigmoid": ops_elementwise.activation(Activation.HARD_SIGMOID, alpha=0.2, beta=0.5),
    "Clip": ops_elementwise.clip,
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
    "Slice": ops_shape.constant_only,
    "ConstantOfShape": ops_shape.constant_only,
    "Range": ops_shape.constant_only,
    "Equal": ops_shape.constant_only,
    "Where": ops_shape.constant_only,
    "ArgMax": ops_heads.argmax,
    "ai.onnx.ml.ArrayFeatureExtractor": ops_heads.array_feature_extractor,
    "ai.onnx.ml.ZipMap": ops_heads.zipmap,
}


def supported_ops() -> list[str]:
    return sorted(CONVERTERS)
