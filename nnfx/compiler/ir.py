"""The IR: a Graph of Nodes over named Tensors, with constants as NumPy arrays.

Everyone shares this one data structure: the frontend writes it, passes rewrite it (always
into a new Graph), the precision assignment types it and every engine reads it. It is plain
typed dataclasses; op attributes are the frozen dataclasses of :mod:`nnfx.compiler.ops`.

Shapes exclude the batch axis (an FPGA design processes one sample at a time; every engine
vectorizes over the batch). A graph input or output remembers, in ``onnx_perm``, how its
IR layout relates to the original model's layout: ``ir = onnx.transpose(onnx_perm)`` per
sample, so that users feed and receive data in their model's own layout; and in
``batch_axis``, which axis of the model's array holds the batch (0 but for time-major
recurrent models, whose (steps, batch, features) arrays have it at 1; the IR is batch-first).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nnfx.compiler.fixed import FixedType
from nnfx.compiler.input_steps import InputStep
from nnfx.compiler.ops import ATTRS, PARAMS, Activation, Op, Shape, infer_shape
from nnfx.errors import ModelError, PrecisionError
from nnfx.text import printable

# A rich markup tag ("[bold]", "[/]") that no backslash escapes yet.
_MARKUP = re.compile(r"(?<!\\)(\[[a-z#/@][^\[]*?])")


def for_message(text: object, limit: int = 80) -> str:
    """Text from a model file (a name, a message quoting one) made fit for a one-line error
    message: cut to ``limit`` characters, made printable (:func:`nnfx.text.printable`), rich
    markup escaped with a backslash. Every message that quotes a model's name goes through
    here."""
    return _MARKUP.sub(r"\\\1", printable_name(text, limit))


def printable_name(text: object, limit: int = 200) -> str:
    """A name from a model file as nnfx keeps it: printable (:func:`nnfx.text.printable`) and
    cut to ``limit`` characters; markup is escaped where it is shown, not here."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + f"...({len(text)} characters)"
    return printable(text)


def short(values, limit: int = 8) -> str:
    """A list of numbers from a model file, cut to ``limit`` items for a message."""
    values = list(values)
    shown = ", ".join(for_message(repr(v), 24) for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


@dataclass(frozen=True)
class Float:
    """Floating point (float32 at the model's boundary; the float reference computes in float64)."""

    def __str__(self) -> str:
        return "float"


@dataclass(frozen=True)
class Integer:
    """Integer values (indices, class labels): the output of ArgMax."""

    def __str__(self) -> str:
        return "int"


FLOAT, INTEGER = Float(), Integer()
DType = Float | Integer | FixedType


def parse_dtype(text: str) -> DType:
    if text == "float":
        return FLOAT
    if text == "int":
        return INTEGER
    return FixedType.parse(text)


@dataclass(frozen=True)
class TableSpec:
    """A lookup table indexed by ``clip(floor(x * 2**shift) - start, 0, size - 1)``: entry
    ``i`` covers inputs ``[(start + i) * 2**-shift, (start + i + 1) * 2**-shift)``."""

    size: int
    shift: int
    start: int

    @property
    def low(self) -> float:
        return self.start * 2.0**-self.shift

    @property
    def high(self) -> float:
        return (self.start + self.size) * 2.0**-self.shift


# The fields of LayerPrecision that hold a FixedType (LayerPrecision.type_of).
TypeRole = Literal["weight", "bias", "accum", "table_type", "inverse_type", "cell"]


@dataclass(frozen=True)
class LayerPrecision:
    """The fixed-point choices of one node beyond its output type: the types of its
    constants, its accumulator, and its lookup tables (see docs/semantics.md)."""

    weight: FixedType | None = None  # weights, scales, slopes (alpha)
    bias: FixedType | None = None  # biases, offsets
    accum: FixedType | None = None  # the accumulator type
    accum_sized: bool = False  # True: the compiler sized accum so that it never overflows
    table: TableSpec | None = None  # sigmoid, tanh, elu; softmax's exp; LayerNorm's 1/sqrt
    table_type: FixedType | None = None
    inverse_table: TableSpec | None = None  # softmax's 1 / sum (or log of the sum)
    inverse_type: FixedType | None = None  # its type; LayerNorm: the normalized value's
    cell: FixedType | None = None  # an LSTM's cell state (compiler/recurrent.py)

    def type_of(self, role: TypeRole) -> FixedType:
        """The type of ``role`` (a field above); a PrecisionError when it is not set."""
        t = getattr(self, role)
        if not isinstance(t, FixedType):
            raise PrecisionError(f"the layer's precision has no {role} type")
        return t

    def spec(self, role: Literal["table", "inverse_table"]) -> TableSpec:
        """The lookup table ``role``; a PrecisionError when it is not set."""
        spec = getattr(self, role)
        if not isinstance(spec, TableSpec):
            raise PrecisionError(f"the layer's precision has no {role}")
        return spec

    def to_json(self) -> dict:
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, FixedType):
                out[f.name] = str(v)
            elif isinstance(v, bool) and v:
                out[f.name] = v
            elif isinstance(v, TableSpec):
                out[f.name] = dataclasses.asdict(v)
        return out

    @staticmethod
    def from_json(data: dict) -> LayerPrecision:
        values: dict[str, Any] = {}  # keyword arguments of LayerPrecision
        for f in dataclasses.fields(LayerPrecision):
            if f.name not in data:
                continue
            v = data[f.name]
            if isinstance(v, bool):
                values[f.name] = v
            else:
                values[f.name] = TableSpec(**v) if isinstance(v, dict) else FixedType.parse(v)
        return LayerPrecision(**values)


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: Shape
    dtype: DType = FLOAT
    onnx_perm: tuple[int, ...] | None = None  # graph inputs/outputs only
    steps: tuple[InputStep, ...] = ()  # graph inputs only: float preprocessing (input_steps.py)
    batch_axis: int = 0  # graph inputs/outputs only: the batch's axis in the model's array

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def fixed(self) -> FixedType:
        """The dtype as a FixedType; a PrecisionError when the tensor is float or integer."""
        if not isinstance(self.dtype, FixedType):
            raise PrecisionError(
                f"tensor '{for_message(self.name)}' is {self.dtype}, not fixed point"
            )
        return self.dtype


@dataclass(frozen=True)
class Node:
    name: str
    op: Op
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    # Any: the op decides the attrs class (ops.ATTRS) and validate() checks it, so code that
    # reads node.attrs.kernel_shape knows the class from node.op, which mypy cannot follow.
    attrs: Any
    params: dict[str, str] = field(default_factory=dict)  # role -> constant name
    precision: LayerPrecision | None = None  # set by the precision assignment

    def param(self, graph: Graph, role: str) -> np.ndarray | None:
        name = self.params.get(role)
        return None if name is None else graph.constants[name]

    def constant(self, graph: Graph, role: str) -> np.ndarray:
        """:meth:`param` for a constant the op requires; a ModelError when it is missing."""
        value = self.param(graph, role)
        if value is None:
            raise ModelError(f"node '{for_message(self.name)}' has no {role} constant")
        return value

    @property
    def layer_precision(self) -> LayerPrecision:
        """The precision the assignment set; a PrecisionError before it ran."""
        if self.precision is None:
            raise PrecisionError(f"node '{for_message(self.name)}' has no fixed-point precision")
        return self.precision


@dataclass(frozen=True)
class Graph:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    tensors: dict[str, Tensor]
    nodes: tuple[Node, ...]
    constants: dict[str, np.ndarray]

    def replace(self, **changes) -> Graph:
        return dataclasses.replace(self, **changes)

    def producers(self) -> dict[str, Node]:
        return {out: node for node in self.nodes for out in node.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {name: [] for name in self.tensors}
        for node in self.nodes:
            for name in node.inputs:
                users.setdefault(name, []).append(node)
        return users

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def parameter_count(self, node: Node) -> int:
        return int(sum(self.constants[c].size for c in node.params.values()))

    def summary(self) -> str:
        """One line per node: name, op, input and output shapes, type, parameter count."""
        # a quantized model's own weight and bias types (QONNX, QDQ, nnfx's QAT) get a column
        fixed = any(n.precision is not None for n in self.nodes)
        rows = [("name", "op", "inputs", "output", "type", "params", *(("weights",) * fixed))]
        for name in self.inputs:
            t = self.tensors[name]
            rows.append((name, "Input", "", str(t.shape), str(t.dtype), "0", *("",) * fixed))
        for node in self.nodes:
            shapes = ", ".join(str(self.tensors[i].shape) for i in node.inputs)
            out = self.tensors[node.outputs[0]]
            p = node.precision
            own = [f"{k} {v}" for k, v in (("w", p and p.weight), ("b", p and p.bias)) if v]
            rows.append(
                (
                    node.name,
                    _op_label(node),
                    shapes,
                    str(out.shape),
                    str(out.dtype),
                    str(self.parameter_count(node)),
                    *(("; ".join(own),) * fixed),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        lines.insert(1, "-" * len(lines[0]))
        total = sum(int(c.size) for c in self.constants.values())
        lines.append(f"{len(self.nodes)} nodes, {total} parameters")
        return "\n".join(lines)

    # -- serialization (nnfx.compiler.serialize) ------------------------------------------
    def save(self, folder: str | Path, *, force: bool = False, inputs: Iterable = ()) -> None:
        """Write ``model.json`` and ``weights.npz`` into ``folder``, atomically (see
        :func:`nnfx.compiler.serialize.save`)."""
        from nnfx.compiler import serialize

        serialize.save(self, folder, force=force, inputs=inputs)

    @staticmethod
    def load(folder: str | Path) -> Graph:
        """The graph saved in ``folder`` (see :func:`nnfx.compiler.serialize.load`)."""
        from nnfx.compiler import serialize

        return serialize.load(folder)


def _op_label(node: Node) -> str:
    attrs = node.attrs
    if node.op is Op.ACTIVATION:
        return f"Activation({attrs.kind})"
    if node.op is Op.CONV:
        label = f"Conv{len(attrs.kernel_shape)}D"
    elif node.op in (Op.MAX_POOL, Op.AVG_POOL):
        label = f"{node.op.value[:-4]}Pool{len(attrs.kernel_shape)}D"
    else:
        label = node.op.value
    activation = getattr(attrs, "activation", Activation.LINEAR)
    return label if activation is Activation.LINEAR else f"{label}+{activation}"


def freeze(constants: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Make constant arrays read-only: passes build new arrays instead of editing shared ones."""
    for array in constants.values():
        array.flags.writeable = False
    return constants


def validate(graph: Graph) -> None:
    """Check the graph's invariants; raise ModelError naming the first broken one.

    Topological order, every input defined before use, constants present, attributes of the
    op's class, and every output shape equal to what the op's shape rule gives.
    """
    from nnfx import limits

    for t in graph.tensors.values():
        if not all(isinstance(d, int) and d >= 1 for d in t.shape):
            raise ModelError(f"tensor '{for_message(t.name)}' has shape {short(t.shape)}")
        limits.TENSOR_ELEMENTS.check(math.prod(t.shape), f"tensor '{for_message(t.name)}'")
        if not 0 <= t.batch_axis <= len(t.shape) or (t.batch_axis and t.onnx_perm is None):
            raise ModelError(
                f"tensor '{for_message(t.name)}' has batch axis {t.batch_axis}, outside its "
                f"{len(t.shape) + 1} axes or not on a graph input or output"
            )
    defined = set(graph.inputs)
    for name in graph.inputs:
        if name not in graph.tensors:
            raise ModelError(f"graph input '{for_message(name)}' has no tensor")
    if not graph.outputs:
        raise ModelError("the graph has no outputs")
    names = set()
    for node in graph.nodes:
        label = f"node '{for_message(node.name)}' ({node.op.value})"
        if node.name in names:
            raise ModelError(f"two nodes are named '{for_message(node.name)}'")
        names.add(node.name)
        if not isinstance(node.attrs, ATTRS[node.op]):
            raise ModelError(
                f"{label} has attributes of type "
                f"{type(node.attrs).__name__}; expected {ATTRS[node.op].__name__}"
            )
        for name in node.inputs:
            if name not in defined:
                raise ModelError(f"{label} reads '{for_message(name)}' before it is computed")
        for role, constant in node.params.items():
            if role not in PARAMS.get(node.op, ()):
                raise ModelError(f"{label} has no parameter '{for_message(role)}'")
            if constant not in graph.constants:
                raise ModelError(f"{label} refers to missing constant '{for_message(constant)}'")
        shapes = [graph.tensors[i].shape for i in node.inputs]
        try:
            expected = infer_shape(node.op, shapes, node.attrs)
        except ModelError as e:
            raise ModelError(f"{label}: {e}") from None
        for out in node.outputs:
            if out in defined:
                raise ModelError(f"tensor '{for_message(out)}' is computed twice")
            if out not in graph.tensors:
                raise ModelError(f"{label} writes '{for_message(out)}', which has no tensor")
            if graph.tensors[out].shape != expected:
                raise ModelError(
                    f"{label}: tensor '{for_message(out)}' has shape "
                    f"{graph.tensors[out].shape}, the op gives {expected}"
                )
            defined.add(out)
    for name in graph.outputs:
        if name not in defined:
            raise ModelError(f"graph output '{for_message(name)}' is never computed")


def unique_name(base: str, taken: Iterable[str]) -> str:
    """``base``, or ``base_2``, ``base_3``... whichever is not yet taken."""
    taken = set(taken)
    if base not in taken:
        return base
    k = 2
    while f"{base}_{k}" in taken:
        k += 1
    return f"{base}_{k}"
