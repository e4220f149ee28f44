"""ONNX -> IR (float).

Reading a model is three steps: load it (external data included) and check it, sort its nodes
topologically, then convert node by node with the small functions of
:mod:`nnfx.frontends.onnx_ops` (one per ONNX op, in one table).

Layout is decided here once. Every value remembers ``perm``, how its IR array relates to the
ONNX array of one sample: ``ir = onnx.transpose(perm)``. Convolutions and pooling produce
channels-last values; element-wise ops keep whatever they get; ops that care about order
(Flatten, Reshape) ask for the ONNX order, and a Transpose node appears only where a value's
layout must actually change — which the passes then fold into the next Dense layer's weights.
An ONNX Transpose only relabels ``perm`` and costs nothing.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from nnfx import limits
from nnfx.compiler.ir import (
    FLOAT,
    INTEGER,
    DType,
    Graph,
    Node,
    Tensor,
    for_message,
    freeze,
    printable_name,
    short,
    unique_name,
    validate,
)
from nnfx.compiler.ops import Op, TransposeAttrs, infer_shape
from nnfx.errors import ModelError, UnsupportedOpError

MIN_OPSET, MAX_OPSET = 13, 21
# The most axes (batch included) of a tensor nnfx reads: FPGA models stay far below.
MAX_RANK = 16
# Stand-in for the batch size inside folded shape computations (Shape -> Gather -> Concat...).
BATCH = -(2**40)
FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16}
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


def channels_last(rank: int) -> tuple[int, ...]:
    """The perm that moves ONNX's channel axis (first of the sample) to the end."""
    return tuple(range(1, rank)) + (0,) if rank >= 2 else tuple(range(rank))


def compose(first: tuple[int, ...], then: tuple[int, ...]) -> tuple[int, ...]:
    """``x.transpose(first).transpose(then) == x.transpose(compose(first, then))``."""
    return tuple(first[i] for i in then)


def inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


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
        raise ModelError(f"{what} cannot be read ({for_message(_first_line(e), 200)})") from None


_DATA_TYPE_NAMES = set(TensorProto.DataType.values())


@dataclass(frozen=True)
class Value:
    """What an ONNX name holds: an IR tensor in some layout, or a constant."""

    tensor: str | None = None
    perm: tuple[int, ...] = ()
    onnx_shape: tuple[int, ...] = ()  # of one sample, in ONNX order
    const: np.ndarray | None = None
    dtype: DType = FLOAT

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
        return v.const

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
        _rename(self.nodes, old, new)
        t = self.tensors.pop(old)
        self.tensors[new] = Tensor(new, t.shape, t.dtype, t.onnx_perm)
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


def load_model(path_or_model: str | Path | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Read and check an ONNX model; external data files are read from beside the file."""
    if isinstance(path_or_model, onnx.ModelProto):
        model, source = path_or_model, "<ModelProto>"
    else:
        path = Path(path_or_model)
        source = str(path)
        source = for_message(str(path), 200)
        if not path.is_file():
            raise ModelError(f"ONNX file '{source}' does not exist")
        try:
            model = onnx.load(str(path), load_external_data=True)
        except Exception as e:  # protobuf DecodeError, missing external data file...
            raise ModelError(
                f"'{source}' is not a readable ONNX model ({for_message(_first_line(e), 300)})"
            ) from None
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"'{source}' is not an ONNX model (it has no graph)")
    limits.NODES.check(len(model.graph.node), f"'{source}'")
    for init in model.graph.initializer:  # before ONNX's checker, which trusts the dims
        what = f"initializer '{for_message(init.name)}'"
        if any(d < 0 for d in init.dims):
            raise ModelError(f"{what} has negative dimensions {short(init.dims)}")
        limits.TENSOR_ELEMENTS.check(math.prod(init.dims), what)
    _check_text(model, source)
    _check(model, source)
    return model, source


def _check_text(model: onnx.ModelProto, source: str) -> None:
    """Every string field (names, op types, dims) must be UTF-8: protobuf hands invalid
    UTF-8 over as bytes, which nothing downstream expects."""
    stack = [model]
    while stack:
        message = stack.pop()
        for field, value in message.ListFields():
            repeated = getattr(field, "is_repeated", None)  # protobuf >= 5; older: label
            if repeated is None:
                repeated = field.label == field.LABEL_REPEATED
            items = value if repeated else [value]
            if field.type == field.TYPE_MESSAGE:
                stack.extend(items)
            elif field.type == field.TYPE_STRING:
                for item in items:
                    if isinstance(item, bytes):
                        raise ModelError(
                            f"'{source}' holds text that is not UTF-8 in a field "
                            f"'{field.name}' ({for_message(repr(item), 60)})"
                        )


def _check(model: onnx.ModelProto, source: str) -> None:
    """ONNX's checker. Nodes out of topological order fail it, yet nnfx sorts them: then the
    checker runs again on a sorted copy, so that it still sees every other defect."""
    try:
        onnx.checker.check_model(model)
        return
    except Exception as e:  # noqa: BLE001  (ValidationError, and protobuf's own errors)
        message = _first_line(e)
        if "topologically sorted" not in message and "not output of any previous" not in message:
            raise ModelError(
                f"'{source}' is not a valid ONNX model ({for_message(message, 300)})"
            ) from None
    available = {i.name for i in model.graph.initializer} | {i.name for i in model.graph.input}
    ordered = topological_order(model.graph, available)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    del copy.graph.node[:]
    copy.graph.node.extend(ordered)
    try:
        onnx.checker.check_model(copy)
    except Exception as e:  # noqa: BLE001
        raise ModelError(
            f"'{source}' is not a valid ONNX model ({for_message(_first_line(e), 300)})"
        ) from None


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def topological_order(graph: onnx.GraphProto, available: set[str]) -> list[onnx.NodeProto]:
    """Nodes in an order where each one's inputs are computed first; a cycle is an error."""
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output if out}
    waiting = {
        i: {x for x in node.input if x and x in producer and x not in available}
        for i, node in enumerate(graph.node)
    }
    users: dict[int, list[int]] = {}
    for i, needs in waiting.items():
        for x in needs:
            users.setdefault(producer[x], []).append(i)
    ready = [i for i, needs in waiting.items() if not needs]
    order: list[int] = []
    pending_count = {i: len(needs) for i, needs in waiting.items()}
    while ready:
        i = ready.pop(0)
        order.append(i)
        for j in users.get(i, []):
            pending_count[j] -= 1
            if pending_count[j] == 0:
                ready.append(j)
        ready.sort()
    if len(order) != len(graph.node):
        done = set(order)
        stuck = [
            for_message(graph.node[i].name or graph.node[i].op_type, 40)
            for i in range(len(graph.node))
            if i not in done
        ]
        raise ModelError(f"the graph has a cycle through node(s) {', '.join(stuck[:5])}")
    return [graph.node[i] for i in order]


def _input_value(conv: Converter, vi: onnx.ValueInfoProto) -> Value:
    t = vi.type.tensor_type
    name = for_message(vi.name)
    if not vi.type.HasField("tensor_type") or t.elem_type not in FLOAT_TYPES:
        raise ModelError(f"graph input '{name}' must be a float tensor")
    dims = list(t.shape.dim)
    if not dims:
        raise ModelError(f"graph input '{name}' needs a batch axis; it has no shape")
    if len(dims) > MAX_RANK:
        raise UnsupportedOpError(
            f"graph input '{name}' has {len(dims)} axes; nnfx supports up to {MAX_RANK}"
        )
    sample = []
    for axis, d in enumerate(dims[1:], start=1):
        if d.HasField("dim_value") and d.dim_value <= 0:
            raise ModelError(
                f"graph input '{name}' has size {d.dim_value} on axis {axis}; every axis but "
                "the batch axis (0) needs a positive size"
            )
        if not d.HasField("dim_value"):
            label = for_message(d.dim_param or "?")
            raise ModelError(
                f"graph input '{name}' has a dynamic dimension '{label}' on axis {axis}; "
                "only the batch axis (0) may be dynamic"
            )
        sample.append(int(d.dim_value))
    limits.INPUT_WIDTH.check(math.prod(sample), f"graph input '{name}'")
    limits.TENSOR_ELEMENTS.check(math.prod(sample), f"graph input '{name}'")
    perm = channels_last(len(sample))
    name = conv._new_tensor_name(vi.name)
    shape = tuple(sample[i] for i in perm)
    conv.tensors[name] = Tensor(name, shape, FLOAT, onnx_perm=perm)
    return Value(name, perm, tuple(sample))


def convert(path_or_model: str | Path | onnx.ModelProto) -> Graph:
    """Read an ONNX model into a float IR graph (before the passes)."""
    from nnfx.frontends.onnx_ops import CONVERTERS, supported_ops

    model, source = load_model(path_or_model)
    conv = Converter(model, source)
    if conv.opset < MIN_OPSET:
        model = _upgrade(model, source, conv.opset)
        conv = Converter(model, source)
    if conv.opset > MAX_OPSET:
        raise ModelError(
            f"'{source}' uses opset {conv.opset}; nnfx reads opsets {MIN_OPSET} to {MAX_OPSET}"
        )
    graph = model.graph
    total = 0
    for init in graph.initializer:
        what = f"initializer '{for_message(init.name)}'"
        total += math.prod(init.dims)
        limits.WEIGHTS.check(total, f"the model (its initializers through {what})")
        conv.values[init.name] = Value(const=tensor_array(init, what))
    if not graph.output:
        raise ModelError(f"'{source}' has no graph outputs; nnfx needs at least one")
    inputs = []
    for vi in graph.input:
        if vi.name in conv.values:  # an initializer also listed as input (old exporters)
            continue
        conv.values[vi.name] = _input_value(conv, vi)
        inputs.append(conv.values[vi.name].tensor)
    if not inputs:
        raise ModelError(f"'{source}' has no graph input that is not an initializer")
    taken_names: set[str] = set()
    for index, node in enumerate(topological_order(graph, set(conv.values))):
        conv.onnx_node = node
        # IR node names reach messages, reports and configs: printable, at most 200 characters.
        name = printable_name(node.name or f"{node.op_type.lower()}_{index}", 200)
        conv.node_name = unique_name(name, taken_names)
        taken_names.add(conv.node_name)
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        converter = CONVERTERS.get(key)
        if converter is None:
            raise UnsupportedOpError(
                f"node '{for_message(conv.node_name)}' has op type '{for_message(key, 60)}', which "
                f"nnfx does not support; supported: {', '.join(supported_ops())}"
            )
        converter(conv)
    outputs = _outputs(conv, graph)
    ir = Graph(
        name=graph.name or Path(source).stem,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        tensors=conv.tensors,
        nodes=tuple(conv.nodes),
        constants=freeze(conv.constants),
    )
    ir = _absorb_boundary_transposes(ir)
    validate(ir)
    return ir


def _outputs(conv: Converter, graph: onnx.GraphProto) -> list[str]:
    """Bind the ONNX graph outputs to IR tensors that carry the ONNX output names."""
    from nnfx.compiler.ops import NoAttrs

    outputs: list[str] = []
    for vi in graph.output:
        conv.onnx_node = onnx.helper.make_node("Identity", [], [vi.name], name="graph output")
        conv.node_name = vi.name
        v = conv.value(vi.name)
        if v.is_const:
            raise ModelError(
                f"graph output '{for_message(vi.name)}' is a constant; nnfx needs computed outputs"
            )
        tensor = v.tensor
        at_boundary = tensor in outputs or conv.tensors[tensor].onnx_perm is not None
        if at_boundary or (tensor != vi.name and vi.name in conv.tensors):
            # An input passed through, or one tensor read twice: give the output its own copy.
            tensor = conv.emit(Op.IDENTITY, [tensor], NoAttrs(), dtype=v.dtype)
        elif tensor != vi.name:
            conv.rename(tensor, vi.name)
            tensor = vi.name
        t = conv.tensors[tensor]
        conv.tensors[tensor] = Tensor(t.name, t.shape, v.dtype, onnx_perm=v.perm)
        outputs.append(tensor)
    return outputs


def _absorb_boundary_transposes(ir: Graph) -> Graph:
    """Choose the I/O layouts that need no Transpose: an input read only by one layout
    Transpose is fed already transposed, and an output made by a layout Transpose of a tensor
    nothing else reads is returned untransposed; ``onnx_perm`` records the choice, and the
    inputs and outputs keep their names."""
    consumers = ir.consumers()
    producers = ir.producers()
    tensors, nodes = dict(ir.tensors), list(ir.nodes)
    for name in ir.inputs:
        users = consumers.get(name, [])
        if len(users) != 1 or users[0].op is not Op.TRANSPOSE or name in ir.outputs:
            continue
        t = users[0]
        old = tensors[name]
        nodes.remove(t)
        del tensors[t.outputs[0]]
        tensors[name] = Tensor(
            name, ir.tensors[t.outputs[0]].shape, old.dtype, compose(old.onnx_perm, t.attrs.perm)
        )
        _rename(nodes, t.outputs[0], name)
    for name in ir.outputs:
        node = producers.get(name)
        if node is None or node.op is not Op.TRANSPOSE:
            continue
        source = node.inputs[0]
        if len(consumers.get(source, [])) != 1 or source in ir.inputs or source in ir.outputs:
            continue
        # onnx = out.transpose(inverse(onnx_perm)), out = source.transpose(perm)
        t = tensors[name]
        nodes.remove(node)
        tensors[name] = Tensor(
            name, tensors.pop(source).shape, t.dtype, compose(inverse(node.attrs.perm), t.onnx_perm)
        )
        _rename(nodes, source, name)
    return ir.replace(tensors=tensors, nodes=tuple(nodes))


def _rename(nodes: list[Node], old: str, new: str) -> None:
    """Rename a tensor in place in every node of the list (frontend construction only)."""
    for i, n in enumerate(nodes):
        if old in n.inputs or old in n.outputs:
            nodes[i] = dataclasses.replace(
                n,
                inputs=tuple(new if x == old else x for x in n.inputs),
                outputs=tuple(new if x == old else x for x in n.outputs),
            )


def _upgrade(model: onnx.ModelProto, source: str, opset: int) -> onnx.ModelProto:
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, MIN_OPSET)
    except Exception as e:
        raise ModelError(
            f"'{source}' uses opset {opset}, and converting it to opset "
            f"{MIN_OPSET} failed ({for_message(_first_line(e), 300)})"
        ) from None
