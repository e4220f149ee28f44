"""Converters of a classifier's head: Softmax and LogSoftmax, ArgMax, and scikit-learn's
ArrayFeatureExtractor (the label, folded into the ArgMax) and ZipMap."""

from __future__ import annotations

import dataclasses

import numpy as np

from nnfx.compiler.ir import INTEGER
from nnfx.compiler.ops import ArgMaxAttrs, Op, SoftmaxAttrs
from nnfx.errors import UnsupportedOpError
from nnfx.frontends.context import Converter, ConverterFn


def softmax(log: bool) -> ConverterFn:
    def convert(c: Converter) -> None:
        x = c.tensor(c.inputs(1)[0])
        rank = len(x.onnx_shape) + 1
        axis = c.attr("axis", -1, "int") % rank
        if axis == 0:
            raise c.error("softmax over the batch axis is not supported", UnsupportedOpError)
        ir_axis = x.perm.index(axis - 1)
        out = c.emit(Op.SOFTMAX, [x.tensor], SoftmaxAttrs(ir_axis, log))
        c.set_output(c.new_value(out, x.perm))

    return convert


def argmax(c: Converter) -> None:
    x = c.tensor(c.inputs(1)[0])
    rank = len(x.onnx_shape) + 1
    axis = c.attr("axis", 0, "int") % rank
    if axis == 0 or c.attr("select_last_index", 0, "int"):
        raise c.error(
            "ArgMax over the batch axis or with select_last_index=1 is not supported",
            UnsupportedOpError,
        )
    keepdims = bool(c.attr("keepdims", 1, "int"))
    tensor = c.in_layout(x, tuple(range(len(x.onnx_shape))))
    out = c.emit(Op.ARGMAX, [tensor], ArgMaxAttrs(axis - 1, keepdims), dtype=INTEGER)
    c.set_output(c.new_value(out, tuple(range(len(c.tensors[out].shape))), dtype=INTEGER))


def array_feature_extractor(c: Converter) -> None:
    """``classes[argmax]``: scikit-learn's label output, folded into the ArgMax."""
    classes_name, index_name = c.inputs(2)
    classes = c.const(classes_name, "classes")
    index = c.value(index_name)
    producer = next((n for n in c.nodes if index.tensor in n.outputs), None)
    if producer is None or producer.op is not Op.ARGMAX or producer.attrs.classes is not None:
        raise c.error(
            "ArrayFeatureExtractor is supported only on the output of an ArgMax "
            "(a classifier's label)",
            UnsupportedOpError,
        )
    if not np.issubdtype(classes.dtype, np.integer):
        raise c.error(
            f"class labels of type {classes.dtype} are not supported; expected integer labels",
            UnsupportedOpError,
        )
    attrs = dataclasses.replace(producer.attrs, classes=tuple(int(k) for k in classes.reshape(-1)))
    c.nodes[c.nodes.index(producer)] = dataclasses.replace(producer, attrs=attrs)
    c.set_output(index)


def zipmap(c: Converter) -> None:
    """Probabilities as a list of {label: p} maps; nnfx keeps the probability tensor."""
    c.set_output(c.tensor(c.inputs(1)[0]))
