"""What every converter works with: the :class:`Converter` holding the IR under construction,
the :class:`Value` an ONNX name holds, the attribute and constant accessors, the error helpers
that name the current node, and the checked reading of a TensorProto.

A converter (one per ONNX op, see :mod:`nnfx.frontends.converters`) reads the current ONNX
node through the :class:`Converter` — its inputs as IR values or constants, its attributes —
emits IR nodes, and binds the node's outputs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from nnfx import limits
from nnfx.compiler.ir import (
    FLOAT,
    INTEGER,
    DType,
    Node,
    Tensor,
    for_message,
    short,
    unique_name,
)
from nnfx.compiler.layout import compose, inverse
from nnfx.compiler.ops import Op, TransposeAttrs, infer_shape
from nnfx.errors import ModelError, UnsupportedOpError

# The most axes (batch included) of a tensor nnfx reads: FPGA models stay far below.
MAX_RANK = 16
# Stand-in for the batch size inside folded shape computations (Shape -> Gather -> Concat...).
BATCH = -(2**40)
# The element types a constant may have (others, such as strings or complex numbers, are
# refused before any array is built from the file's bytes).
CONSTANT_TYPES = {
    TensorProto.FLOAT: np.float32,
    TensorProto.DOUBLE: np.float64,
    TensorProto.FLOAT16: np.float16,
    TensorProto.INT8: np.int8,
    TensorProto.INT16: np.int16,
    TensorProto.INT32: np.int32,
    TensorProto.INT64: np.int64,
    TensorProto.UINT8: np.uint8,
    TensorProto.UINT16: np.uint16,
    TensorProto.UINT32: np.uint32,
    TensorProto.UINT64: np.uint64,
    TensorProto.BOOL: np.bool_,
}
# The attribute kinds a converter may ask for, with the words for an error message.
ATTRIBUTE_KINDS = {
    "int": (AttributeProto.INT, "an integer"),
    "ints": (AttributeProto.INTS, "a list of integers"),
    "float": (AttributeProto.FLOAT, "a float"),
    "floats": (AttributeProto.FLOATS, "a list of floats"),
    "string": (AttributeProto.STRING, "a string"),
    "tensor": (AttributeProto.TENSOR, "a tensor"),
}


def tensor_array(t: onnx.TensorProto, what: str) -> np.ndarray:
    """The array of a TensorProto from the file, after checking, before any array is built,
    that its dims are sane and within the limits and that its data fits them."""
    dims = list(t.dims)
    if any(d < 0 for d in dims):
        raise ModelError(f"{what} has negative dimensions {short(dims)}")
    count = math.prod(dims)
    limits.TENSOR_ELEMENTS.check(count, what)
    dtype = CONSTANT_TYPES.get(t.data_type)
    if dtype is None:
        name = TensorProto.DataType.Name(t.data_type) if t.data_type in _DATA_TYPE_NAMES else None
        raise ModelError(
            f"{what} has data type {name or t.data_type}, which nnfx does not read; "
            "expected float, double, float16, bool or an integer type"
        )
    if t.data_location == TensorProto.EXTERNAL:
        raise ModelError(f"{what} keeps its data in an external file that was not loaded")
    if t.HasField("raw_data"):
        needed = count * np.dtype(dtype).itemsize
        if len(t.raw_data) != needed:
            raise ModelError(
                f"{what} holds {len(t.raw_data):,} bytes of data; its shape {short(dims)} "
                f"of {np.dtype(dtype).name} needs {needed:,}"
            )
    else:
        field = onnx.helper.tensor_dtype_to_field(t.data_type)
        held = len(getattr(t, field))
        if held != count:
            raise ModelError(
                f"{what} holds {held:,} values; its shape {short(dims)} needs {count:,}"
            )
    try:
        return numpy_helper.to_array(t)
    except Exception as e:  # noqa: BLE001  (the checks above leave only ONNX's own surprises)
        raise ModelError(f"{what} cannot be read ({for_message(first_line(e), 200)})") from None


_DATA_TYPE_NAMES = set(TensorProto.DataType.values())


def first_line(e: Exception) -> str:
    """An exception's message, reduced to its first line (for a message of nnfx's own)."""
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


@dataclass(frozen=True)
class Value:
    """What an ONNX name holds: an IR tensor in some layout, or a constant."""

    tensor: str | None = None
    perm: tuple[int, ...] = ()
    onnx_shape: tuple[int, ...] = ()  # of one sample, in ONNX order
    const: np.ndarray | None = None
    dtype: DType = FLOAT
    # A constant that stands for a tensor shaped like the batch (ConstantOfShape/Expand of a
    # shape holding the batch size): its size there is 1 and it broadcasts; this is that axis.
    batch_axis: int | None = None

    @property
    def is_const(self) -> bool:
        return self.const is not None


class Converter:
    """Holds the IR under construction while the ONNX nodes are converted one by one."""

    def __init__(self, model: onnx.ModelProto, source: str):
        self.model, self.source = model, source
        self.values: dict[str, Value] = {}
        self.nodes: list[Node] = []
        self.tensors: dict[str, Tensor] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.onnx_node: onnx.NodeProto | None = None
        self.node_name = ""
        self.weight_count = 0
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        # Every graph input has a batch axis fixed to 1 in the file: axis 0 and 1 then mean
        # the same to a Flatten (Keras/tf2onnx exports), and nnfx runs it on any batch.
        self.batch_one = False
        self._readers: dict[str, int] | None = None
        # ONNX names that hold a graph input, after the input steps folded so far
        self.input_values: dict[str, str] = {}

    # -- values -----------------------------------------------------------------------
    def culprit(self, what: str) -> str:
        """``what`` of the current node, as a message names it."""
        node = self.onnx_node
        return f"node '{for_message(self.node_name)}' ({for_message(node.op_type, 40)}): {what}"

    def error(self, message: str, cls=ModelError) -> ModelError:
        return cls(self.culprit(message))

    def inputs(self, least: int, most: int | None = None) -> list[str]:
        """The node's input names, checked to number from ``least`` to ``most``."""
        names = list(self.onnx_node.input)
        most = least if most is None else most
        if not least <= len(names) <= most:
            expected = str(least) if least == most else f"{least} to {most}"
            raise self.error(f"has {len(names)} inputs; expected {expected}")
        return names

    def value(self, name: str) -> Value:
        if name not in self.values:
            raise self.error(
                f"input '{for_message(name)}' is neither a graph input, an initializer nor "
                "the output of an earlier node"
            )
        return self.values[name]

    def tensor(self, name: str) -> Value:
        """A computed float input (class indices from an ArgMax are refused here)."""
        v = self.value(name)
        if v.is_const:
            raise self.error(
                f"input '{for_message(name)}' is a constant where nnfx expects computed data",
                UnsupportedOpError,
            )
        if v.dtype == INTEGER:
            raise self.error(
                f"input '{for_message(name)}' holds integer class indices (an ArgMax output); "
                "this op takes float data",
                UnsupportedOpError,
            )
        return v

    def const(self, name: str, what: str) -> np.ndarray:
        v = self.value(name)
        if not v.is_const:
            raise self.error(
                f"{what} '{for_message(name)}' must be a constant (an initializer), not computed "
                "data",
                UnsupportedOpError,
            )
        if v.batch_axis not in (None, 0):
            raise self.error(
                f"{what} '{for_message(name)}' is shaped like the batch on axis {v.batch_axis}; "
                "nnfx supports such a tensor only with the batch axis first",
                UnsupportedOpError,
            )
        return v.const

    def readers(self, name: str) -> int:
        """How many ONNX nodes (and graph outputs) read the ONNX value ``name``."""
        if self._readers is None:
            self._readers = {}
            names = [i for n in self.model.graph.node for i in n.input]
            names += [o.name for o in self.model.graph.output]
            for i in names:
                self._readers[i] = self._readers.get(i, 0) + 1
        return self._readers.get(name, 0)

    def numbers(self, name: str, what: str) -> np.ndarray:
        """A numeric constant as float64, refused if it holds NaN."""
        array = self.const(name, what)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise self.error(
                f"{what} '{for_message(name)}' has type {array.dtype}; expected numbers"
            )
        array = np.asarray(array, np.float64)
        if np.isnan(array).any():
            raise self.error(f"{what} '{for_message(name)}' holds NaN")
        return array

    def integers(self, array: np.ndarray, what: str) -> list[int]:
        """A constant that must hold integers (axes, shapes), as a list."""
        if not np.issubdtype(array.dtype, np.integer):
            raise self.error(f"{what} has type {array.dtype}; expected integers")
        return [int(v) for v in np.asarray(array).reshape(-1)]

    def optional_const(self, index: int, what: str) -> np.ndarray | None:
        node = self.onnx_node
        if len(node.input) <= index or not node.input[index]:
            return None
        return self.const(node.input[index], what)

    def attr(self, name: str, default=None, kind: str | None = None):
        """The attribute's value, or ``default`` when the node has none; ``kind`` (a key of
        :data:`ATTRIBUTE_KINDS`) checks its type. Strings come back decoded."""
        for a in self.onnx_node.attribute:
            if a.name != name:
                continue
            if kind is not None and a.type != ATTRIBUTE_KINDS[kind][0]:
                got = (
                    AttributeProto.AttributeType.Name(a.type).lower()
                    if a.type in AttributeProto.AttributeType.values()
                    else f"type {a.type}"
                )
                raise self.error(
                    f"attribute '{for_message(name)}' must be {ATTRIBUTE_KINDS[kind][1]}, got {got}"
                )
            value = onnx.helper.get_attribute_value(a)
            if kind == "string":
                try:
                    return value.decode()
                except UnicodeDecodeError:
                    raise self.error(f"attribute '{for_message(name)}' is not UTF-8 text") from None
            if kind in ("ints", "floats"):
                return list(value)
            if kind == "float" and math.isnan(value):
                raise self.error(f"attribute '{for_message(name)}' is NaN")
            return value
        return default

    def set_output(self, value: Value, index: int = 0) -> None:
        self.values[self.onnx_node.output[index]] = value

    # -- IR construction -------------------------------------------------------------
    def _new_tensor_name(self, base: str) -> str:
        return unique_name(base or "t", self.tensors)

    def emit(
        self,
        op: Op,
        inputs: list[str],
        attrs,
        params: dict[str, np.ndarray] | None = None,
        suffix: str = "",
        dtype: DType = FLOAT,
    ) -> str:
        """Append an IR node; return its output tensor's name."""
        shapes = [self.tensors[i].shape for i in inputs]
        target = getattr(attrs, "shape", ())  # a Reshape's target, before any rule reads it
        if len(target) > MAX_RANK:
            raise self.error(
                f"an output of {len(target)} axes is not supported; nnfx supports up to {MAX_RANK}",
                UnsupportedOpError,
            )
        try:
            shape = infer_shape(op, shapes, attrs)
        except ModelError as e:
            raise self.error(str(e)) from None
        if any(d < 1 for d in shape):
            raise self.error(f"gives an output of shape {short(shape)}; every axis needs a size")
        limits.TENSOR_ELEMENTS.check(math.prod(shape), self.culprit("its output"))
        for role, array in (params or {}).items():
            array = np.asarray(array, dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(array))
            if bad.size:
                index = np.unravel_index(bad[0], array.shape)
                raise self.error(
                    f"its {role} holds {array.reshape(-1)[bad[0]]} at index "
                    f"{tuple(int(i) for i in index)}; nnfx needs finite constants"
                )
            self.weight_count += array.size
            limits.WEIGHTS.check(self.weight_count, "the model")
        name = unique_name(self.node_name + suffix, {n.name for n in self.nodes})
        onnx_outputs = [o for o in self.onnx_node.output if o]
        out = self._new_tensor_name(onnx_outputs[0] if onnx_outputs and not suffix else name)
        self.tensors[out] = Tensor(out, shape, dtype)
        param_names = {}
        for role, array in (params or {}).items():
            key = unique_name(f"{name}.{role}", self.constants)
            self.constants[key] = np.ascontiguousarray(array, dtype=np.float64)
            param_names[role] = key
        self.nodes.append(Node(name, op, tuple(inputs), (out,), attrs, param_names))
        return out

    def in_layout(self, value: Value, perm: tuple[int, ...]) -> str:
        """The IR tensor of ``value`` laid out as ``onnx_sample.transpose(perm)``."""
        if value.perm == perm:
            return value.tensor
        # ir_now = onnx.transpose(value.perm); wanted = onnx.transpose(perm)
        #        = ir_now.transpose(compose(inverse(value.perm), perm))
        step = compose(inverse(value.perm), perm)
        return self.emit(Op.TRANSPOSE, [value.tensor], TransposeAttrs(step), suffix="_layout")

    def rename(self, old: str, new: str) -> None:
        """Give IR tensor ``old`` the name ``new`` everywhere."""
        rename_tensor(self.nodes, old, new)
        t = self.tensors.pop(old)
        self.tensors[new] = dataclasses.replace(t, name=new)
        for key, v in self.values.items():
            if v.tensor == old:
                self.values[key] = dataclasses.replace(v, tensor=new)

    def new_value(self, tensor: str, perm: tuple[int, ...], dtype: DType = FLOAT) -> Value:
        shape = self.tensors[tensor].shape
        return Value(tensor, perm, tuple(shape[i] for i in inverse(perm)), dtype=dtype)

    def ir_constant(self, const: np.ndarray, value: Value) -> np.ndarray:
        """An ONNX constant that broadcasts against ``value`` (batch included), as an array in
        the IR layout: per channel ``(C,)`` when it only varies along the IR's last axis,
        else the full sample shape."""
        sample = value.onnx_shape
        c = np.asarray(const, dtype=np.float64)
        if c.ndim > len(sample):  # leading dims belong to the batch axis: must be 1
            if c.ndim > len(sample) + 1 or c.shape[0] != 1:
                raise self.error(
                    f"constant of shape {c.shape} does not broadcast against "
                    f"(batch, {', '.join(map(str, sample))})",
                    UnsupportedOpError,
                )
            c = c[0]
        try:
            full = np.broadcast_to(c, sample)
        except ValueError:
            raise self.error(
                f"constant of shape {c.shape} does not broadcast against "
                f"(batch, {', '.join(map(str, sample))})",
                UnsupportedOpError,
            ) from None
        full = full.transpose(value.perm)
        if full.ndim == 0:
            return full.reshape(1)
        flat = full.reshape(-1, full.shape[-1])
        if np.all(flat == flat[:1]):
            return flat[0].copy()
        return np.ascontiguousarray(full)


ConverterFn = Callable[[Converter], None]


def rename_tensor(nodes: list[Node], old: str, new: str) -> None:
    """Rename a tensor in place in every node of the list (frontend construction only)."""
    for i, n in enumerate(nodes):
        if old in n.inputs or old in n.outputs:
            nodes[i] = dataclasses.replace(
                n,
                inputs=tuple(new if x == old else x for x in n.inputs),
                outputs=tuple(new if x == old else x for x in n.outputs),
            )
