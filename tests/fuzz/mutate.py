"""A deterministic mutator of ONNX model files: one seeded ``random.Random`` drives everything.

Each case applies one to three mutations to a seed model: on protobuf fields (initializer dims,
data types and data, attributes, graph input and output shapes, names, wiring, outputs,
opsets) and, sometimes, on the serialized bytes (bit flips, truncation, insertion).
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable

import onnx
from onnx import AttributeProto, TensorProto, helper

# Replaced by INVALID_UTF8 in the serialized bytes (same length, so protobuf lengths hold).
UTF8_MARKER = "qzxq\u00e9"
INVALID_UTF8 = b"\xff\xfeqz\xc3("
assert len(UTF8_MARKER.encode()) == len(INVALID_UTF8)

BIG_INTS = (0, -1, 1, 2, 3, -7, 2**31, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 10**8, 65536)
ODD_FLOATS = (math.nan, math.inf, -math.inf, 0.0, -1.0, 1e308, -1e-310, 1e38, 2.5)
ODD_STRINGS = (b"", b"SAME_UPPER", b"SAME_LOWER", b"VALID", b"NOTSET", b"\xff\xfe\x00", b"x" * 300)
NAMES = (
    "",
    "\u00fcnic\u00f8de \u6f22\u5b57",
    "line\nbreak",
    "esc\x1b[31mred\x1b[0m",
    "tab\there\r",
    "[/]",
    "[bold red]markup[/bold red]",
    "$\\frac{a}{b}$",
    "<script>alert(1)</script>",
    "x} ; exec touch pwned ; #",
    "weight_fc2",
    "accum_fc2",
    "in",
    "out",
    "NULL",
    "size",
    "../../etc/passwd",
    "a" * 5000,
    "\u202eevil",
    "\x00nul",
    "zero\u200bwidth",
    UTF8_MARKER,
)
ATTRIBUTE_NAMES = (
    "strides",
    "pads",
    "kernel_shape",
    "dilations",
    "group",
    "auto_pad",
    "axis",
    "axes",
    "perm",
    "keepdims",
    "transA",
    "transB",
    "alpha",
    "beta",
    "epsilon",
    "ceil_mode",
    "count_include_pad",
    "select_last_index",
    "to",
    "allowzero",
    "training_mode",
    "value",
    "value_ints",
)
DATA_TYPES = (0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 16, 17, 21, 23, 99, 1000)
OP_TYPES = (
    "Relu",
    "Softmax",
    "ArgMax",
    "Gemm",
    "MatMul",
    "Conv",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Flatten",
    "Reshape",
    "Transpose",
    "Concat",
    "Add",
    "Mul",
    "Div",
    "Sigmoid",
    "Tanh",
    "Elu",
    "LeakyRelu",
    "BatchNormalization",
    "Identity",
    "Dropout",
    "Cast",
    "Constant",
    "Shape",
    "Gather",
    "ConstantOfShape",
    "Range",
    "Squeeze",
    "Unsqueeze",
    "ReduceMean",
    "Clip",
    "HardSigmoid",
    "LogSoftmax",
    "Cos",
    "",
)


class Mutator:
    """``mutate(seed_bytes)`` -> (mutated bytes, what was done). Deterministic in ``rng``."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.log: list[str] = []
        self.proto_mutations: list[Callable[[onnx.ModelProto], None]] = [
            self.initializer_dims,
            self.initializer_data_type,
            self.initializer_raw_length,
            self.initializer_values,
            self.initializer_typed_data,
            self.initializer_external,
            self.huge_claim,
            self.attribute_value,
            self.attribute_value,
            self.attribute_value,
            self.attribute_plausible,
            self.attribute_plausible,
            self.input_plausible,
            self.attribute_remove,
            self.attribute_add,
            self.attribute_retype,
            self.io_shape,
            self.io_shape,
            self.io_type,
            self.rename,
            self.rename,
            self.rewire,
            self.remove_outputs,
            self.expose_output,
            self.change_op,
            self.remove_node,
            self.duplicate_node,
            self.reorder_nodes,
            self.node_arity,
            self.opset,
            self.domain,
            self.initializer_as_input,
            self.constant_node,
        ]

    # -- entry ------------------------------------------------------------------------------
    def mutate(self, seed: bytes) -> tuple[bytes, list[str]]:
        self.log = []
        rng = self.rng
        model = onnx.ModelProto()
        model.ParseFromString(seed)
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            mutation = rng.choice(self.proto_mutations)
            try:
                mutation(model)
            except Exception as e:  # noqa: BLE001  (nothing to mutate there)
                self.log.append(f"{mutation.__name__} skipped ({type(e).__name__})")
        data = model.SerializeToString()
        data = data.replace(UTF8_MARKER.encode(), INVALID_UTF8)
        if rng.random() < 0.15:
            data = self.bytes_mutation(data)
        return data, self.log

    def note(self, text: str) -> None:
        self.log.append(text)

    # -- helpers ----------------------------------------------------------------------------
    def pick(self, items):
        if not len(items):
            raise IndexError("empty")
        return items[self.rng.randrange(len(items))]

    def tensor_names(self, model: onnx.ModelProto) -> list[str]:
        g = model.graph
        names = [v.name for v in g.input] + [i.name for i in g.initializer]
        names += [o for n in g.node for o in n.output]
        return names

    def odd_ints(self, length: int | None = None) -> list[int]:
        rng = self.rng
        n = length if length is not None else rng.choice((0, 1, 2, 3, 4, 5, 6, 8, 1000))
        if rng.random() < 0.5:
            value = rng.choice(BIG_INTS)
            return [value] * n
        return [rng.choice(BIG_INTS) for _ in range(n)]

    # -- initializers -------------------------------------------------------------------------
    def initializer_dims(self, model):
        init = self.pick(model.graph.initializer)
        dims = list(init.dims)
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0 and dims:
            dims[rng.randrange(len(dims))] = rng.choice((0, -1, 1, 2**31, 2**40, 7, 20000))
        elif choice == 1:
            dims.append(rng.choice((1, 2, 0, 2**20)))
        elif choice == 2 and dims:
            dims.pop(rng.randrange(len(dims)))
        else:
            dims = self.odd_ints()[:8]
        del init.dims[:]
        init.dims.extend(dims)
        self.note(f"initializer {init.name!r} dims -> {dims[:8]}")

    def initializer_data_type(self, model):
        init = self.pick(model.graph.initializer)
        init.data_type = self.rng.choice(DATA_TYPES)
        self.note(f"initializer {init.name!r} data_type -> {init.data_type}")

    def _as_raw(self, init: TensorProto) -> None:
        if not init.HasField("raw_data"):
            array = onnx.numpy_helper.to_array(init)
            init.raw_data = array.tobytes()
            for f in ("float_data", "int32_data", "int64_data", "double_data", "string_data"):
                init.ClearField(f)

    def initializer_raw_length(self, model):
        init = self.pick(model.graph.initializer)
        self._as_raw(init)
        raw = init.raw_data
        rng = self.rng
        if rng.random() < 0.5 and raw:
            raw = raw[: rng.randrange(len(raw))]
        else:
            raw = raw + bytes(rng.randrange(256) for _ in range(rng.choice((1, 3, 4, 8, 100))))
        init.raw_data = raw
        self.note(f"initializer {init.name!r} raw_data length -> {len(raw)}")

    def initializer_values(self, model):
        init = self.pick(model.graph.initializer)
        if init.data_type != TensorProto.FLOAT:
            raise ValueError("not float")
        array = onnx.numpy_helper.to_array(init).copy()
        if not array.size:
            raise ValueError("empty")
        value = self.rng.choice((math.nan, math.inf, -math.inf, 3e38, -3e38, 0.0, 1e-45, 1e30))
        flat = array.reshape(-1)
        if self.rng.random() < 0.5:
            flat[self.rng.randrange(flat.size)] = value
        else:
            flat[:] = value
        init.CopyFrom(onnx.numpy_helper.from_array(array, init.name))
        self.note(f"initializer {init.name!r} values -> {value}")

    def initializer_typed_data(self, model):
        """Data in the typed repeated fields, of the wrong length or type."""
        init = self.pick(model.graph.initializer)
        count = self.rng.choice((0, 1, 2, 5, 1000))
        init.ClearField("raw_data")
        for f in ("float_data", "int32_data", "int64_data", "double_data"):
            init.ClearField(f)
        field = self.rng.choice(("float_data", "int32_data", "int64_data", "double_data"))
        values = [1.0] * count if field in ("float_data", "double_data") else [1] * count
        getattr(init, field).extend(values)
        self.note(f"initializer {init.name!r} {field} x{count}")

    def initializer_external(self, model):
        init = self.pick(model.graph.initializer)
        init.ClearField("raw_data")
        init.data_location = TensorProto.EXTERNAL
        location = self.rng.choice(("missing.bin", "/etc/passwd", "../outside.bin", "", "."))
        del init.external_data[:]
        entry = init.external_data.add()
        entry.key, entry.value = "location", location
        if self.rng.random() < 0.5:
            entry = init.external_data.add()
            entry.key = "length"
            entry.value = self.rng.choice(("-1", "99999999999", "x", "4"))
        self.note(f"initializer {init.name!r} external data at {location!r}")

    def huge_claim(self, model):
        """Sizes far beyond any FPGA: a 20000 x 20000 weight, a 10**8-wide input."""
        g = model.graph
        if self.rng.random() < 0.5 and g.initializer:
            init = self.pick(g.initializer)
            del init.dims[:]
            init.dims.extend([20000, 20000])
            self.note(f"initializer {init.name!r} claims 20000 x 20000")
        else:
            vi = self.pick(g.input)
            dims = vi.type.tensor_type.shape.dim
            if len(dims) < 2:
                raise IndexError("no sample axis")
            dims[1].dim_value = self.rng.choice((10**8, 2**31, 2**62))
            self.note(f"input {vi.name!r} axis 1 -> {dims[1].dim_value}")

    # -- attributes ---------------------------------------------------------------------------
    def _node(self, model) -> onnx.NodeProto:
        return self.pick(model.graph.node)

    def _random_attribute(self, name: str) -> AttributeProto:
        rng = self.rng
        kind = rng.randrange(5)
        if kind == 0:
            return helper.make_attribute(name, rng.choice(BIG_INTS))
        if kind == 1:
            return helper.make_attribute(name, self.odd_ints(), attr_type=AttributeProto.INTS)
        if kind == 2:
            return helper.make_attribute(name, rng.choice(ODD_FLOATS))
        if kind == 3:
            return helper.make_attribute(name, rng.choice(ODD_STRINGS))
        floats = [rng.choice(ODD_FLOATS) for _ in range(rng.choice((0, 1, 2, 4)))]
        return helper.make_attribute(name, floats, attr_type=AttributeProto.FLOATS)

    def attribute_value(self, model):
        node = self._node(model)
        if not node.attribute:
            return self.attribute_add(model)
        a = self.pick(node.attribute)
        rng = self.rng
        if a.type == AttributeProto.INT:
            a.i = rng.choice(BIG_INTS)
        elif a.type == AttributeProto.INTS:
            n = rng.choice((len(a.ints), len(a.ints) + 1, max(len(a.ints) - 1, 0), 1000))
            values = self.odd_ints(n)
            if rng.random() < 0.5 and a.ints:  # one element changed
                values = list(a.ints)
                values[rng.randrange(len(values))] = rng.choice(BIG_INTS)
            del a.ints[:]
            a.ints.extend(values)
        elif a.type == AttributeProto.FLOAT:
            a.f = rng.choice(ODD_FLOATS)
        elif a.type == AttributeProto.STRING:
            a.s = rng.choice(ODD_STRINGS)
        elif a.type == AttributeProto.TENSOR:
            a.t.dims.append(rng.choice((0, 2, 2**31)))
        else:
            raise ValueError("other type")
        self.note(f"node {node.name!r} attribute {a.name!r} changed")

    def attribute_plausible(self, model):
        """Small, valid-looking values: the model still passes ONNX's checker and reaches
        conversion, precision assignment and the engines."""
        node = self._node(model)
        rng = self.rng
        ints = [a for a in node.attribute if a.type in (AttributeProto.INT, AttributeProto.INTS)]
        if not ints:
            name = rng.choice(("strides", "pads", "dilations", "axis", "keepdims"))
            node.attribute.append(helper.make_attribute(name, rng.choice((0, 1, 2))))
            self.note(f"node {node.name!r} attribute {name!r} added")
            return
        a = self.pick(ints)
        if a.type == AttributeProto.INT:
            a.i = rng.choice((-2, -1, 0, 1, 2, 3))
        else:
            values = [rng.choice((0, 1, 2, 3, 5)) for _ in a.ints]
            del a.ints[:]
            a.ints.extend(values)
        self.note(f"node {node.name!r} attribute {a.name!r} plausible")

    def input_plausible(self, model):
        vi = self.pick(model.graph.input)
        dims = vi.type.tensor_type.shape.dim
        if len(dims) < 2:
            raise IndexError("no sample axis")
        d = dims[self.rng.randrange(1, len(dims))]
        d.dim_value = self.rng.choice((1, 2, 3, 7, 12, 64))
        self.note(f"input {vi.name!r} dims plausible")

    def attribute_remove(self, model):
        node = self._node(model)
        index = self.rng.randrange(len(node.attribute))
        self.note(f"node {node.name!r} attribute {node.attribute[index].name!r} removed")
        del node.attribute[index]

    def attribute_add(self, model):
        node = self._node(model)
        name = self.rng.choice(ATTRIBUTE_NAMES)
        for i, a in enumerate(node.attribute):
            if a.name == name:
                del node.attribute[i]
                break
        node.attribute.append(self._random_attribute(name))
        self.note(f"node {node.name!r} attribute {name!r} set")

    def attribute_retype(self, model):
        node = self._node(model)
        index = self.rng.randrange(len(node.attribute))
        name = node.attribute[index].name
        del node.attribute[index]
        node.attribute.append(self._random_attribute(name))
        self.note(f"node {node.name!r} attribute {name!r} retyped")

    # -- graph inputs and outputs -----------------------------------------------------------
    def io_shape(self, model):
        g = model.graph
        vi = self.pick(list(g.input) + list(g.output))
        shape = vi.type.tensor_type.shape
        rng = self.rng
        choice = rng.randrange(5)
        if choice == 0 and shape.dim:
            d = self.pick(shape.dim)
            d.dim_value = rng.choice((0, 1, 2, 5, 64, 10**4, 10**8, 2**31, 2**62))
        elif choice == 1 and shape.dim:
            d = self.pick(shape.dim)
            d.dim_param = rng.choice(("N", "", "batch", UTF8_MARKER))
        elif choice == 2:
            shape.dim.add().dim_value = rng.choice((1, 2, 3))
        elif choice == 3 and shape.dim:
            del shape.dim[rng.randrange(len(shape.dim))]
        else:
            vi.type.tensor_type.ClearField("shape")
        self.note(f"value {vi.name!r} shape changed ({choice})")

    def io_type(self, model):
        g = model.graph
        vi = self.pick(list(g.input) + list(g.output))
        vi.type.tensor_type.elem_type = self.rng.choice(DATA_TYPES)
        self.note(f"value {vi.name!r} elem_type -> {vi.type.tensor_type.elem_type}")

    def remove_outputs(self, model):
        g = model.graph
        if self.rng.random() < 0.5:
            del g.output[:]
            self.note("every graph output removed")
        else:
            del g.output[self.rng.randrange(len(g.output))]
            self.note("one graph output removed")

    def expose_output(self, model):
        g = model.graph
        name = self.pick([o for n in g.node for o in n.output] + [v.name for v in g.input])
        shape = self.rng.choice((None, ["N", 3], ["N"], []))
        g.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        self.note(f"{name!r} exposed as an output")

    def initializer_as_input(self, model):
        g = model.graph
        init = self.pick(g.initializer)
        shape = self.rng.choice((list(init.dims), ["N", 3], None))
        g.input.append(helper.make_tensor_value_info(init.name, TensorProto.FLOAT, shape))
        if self.rng.random() < 0.5:
            g.initializer.remove(init)
            self.note(f"initializer {init.name!r} turned into a graph input")
        else:
            self.note(f"initializer {init.name!r} also listed as an input")

    # -- names and wiring ---------------------------------------------------------------------
    def rename(self, model):
        """A node or tensor name replaced by a hostile one, everywhere or in one place."""
        rng = self.rng
        g = model.graph
        new = rng.choice(NAMES)
        if rng.random() < 0.3:
            new = self.pick(self.tensor_names(model) + [n.name for n in g.node])  # a duplicate
        if rng.random() < 0.3:
            node = self._node(model)
            node.name = new
            self.note(f"node renamed to {new[:40]!r}")
            return
        old = self.pick(self.tensor_names(model))
        everywhere = rng.random() < 0.7
        places = [*g.input, *g.output, *g.initializer, *g.value_info]
        for item in places:
            if item.name == old:
                item.name = new
                if not everywhere:
                    break
        for n in g.node:
            for field in (n.input, n.output):
                for i, x in enumerate(field):
                    if x == old:
                        field[i] = new
        self.note(
            f"tensor {old!r} renamed to {new[:40]!r} ({'everywhere' if everywhere else 'once'})"
        )

    def rewire(self, model):
        node = self._node(model)
        rng = self.rng
        names = self.tensor_names(model) + ["", "nowhere"]
        if node.input and rng.random() < 0.7:
            i = rng.randrange(len(node.input))
            node.input[i] = self.pick(names)
            self.note(f"node {node.name!r} input {i} -> {node.input[i]!r}")
        elif node.output:
            i = rng.randrange(len(node.output))
            node.output[i] = self.pick(names)
            self.note(f"node {node.name!r} output {i} -> {node.output[i]!r}")

    def node_arity(self, model):
        node = self._node(model)
        if node.input and self.rng.random() < 0.5:
            del node.input[-1]
            self.note(f"node {node.name!r} lost its last input")
        else:
            node.input.append(self.pick(self.tensor_names(model)))
            self.note(f"node {node.name!r} got an extra input")

    def change_op(self, model):
        node = self._node(model)
        node.op_type = self.rng.choice(OP_TYPES)
        self.note(f"node {node.name!r} op_type -> {node.op_type!r}")

    def remove_node(self, model):
        g = model.graph
        index = self.rng.randrange(len(g.node))
        self.note(f"node {g.node[index].name!r} removed")
        del g.node[index]

    def duplicate_node(self, model):
        g = model.graph
        node = self._node(model)
        copy = g.node.add()
        copy.CopyFrom(node)
        self.note(f"node {node.name!r} duplicated")

    def reorder_nodes(self, model):
        g = model.graph
        nodes = list(g.node)
        self.rng.shuffle(nodes)
        copies = [onnx.NodeProto() for _ in nodes]
        for c, n in zip(copies, nodes, strict=True):
            c.CopyFrom(n)
        del g.node[:]
        g.node.extend(copies)
        self.note("nodes shuffled")

    def opset(self, model):
        version = self.rng.choice((1, 6, 9, 11, 12, 13, 17, 18, 21, 22, 99, -1))
        for o in model.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = version
        if self.rng.random() < 0.3:
            model.ir_version = self.rng.choice((0, 3, 7, 10, 99))
        self.note(f"opset -> {version}")

    def domain(self, model):
        node = self._node(model)
        node.domain = self.rng.choice(("ai.onnx.ml", "com.microsoft", "", "x"))
        self.note(f"node {node.name!r} domain -> {node.domain!r}")

    def constant_node(self, model):
        """A folded shape computation of hostile size feeding a node."""
        g = model.graph
        rng = self.rng
        name = f"k{rng.randrange(1000)}"
        kind = rng.randrange(3)
        if kind == 0:
            shape = helper.make_tensor("s", TensorProto.INT64, [2], [rng.choice(BIG_INTS)] * 2)
            g.initializer.append(shape)
            g.initializer[-1].name = f"{name}_shape"
            new = helper.make_node("ConstantOfShape", [f"{name}_shape"], [name])
        elif kind == 1:
            for suffix, value in (("start", 0), ("limit", rng.choice(BIG_INTS)), ("delta", 1)):
                g.initializer.append(
                    helper.make_tensor(f"{name}_{suffix}", TensorProto.INT64, [], [value])
                )
            new = helper.make_node(
                "Range", [f"{name}_start", f"{name}_limit", f"{name}_delta"], [name]
            )
        else:
            value = helper.make_tensor("v", TensorProto.FLOAT, [rng.choice((0, 3, 2**31))], [])
            new = helper.make_node("Constant", [], [name], value=value)
        g.node.insert(0, new)
        target = self._node(model)
        if target.input:
            target.input[rng.randrange(len(target.input))] = name
        self.note(f"constant {new.op_type} {name!r} wired into {target.name!r}")

    # -- bytes --------------------------------------------------------------------------------
    def bytes_mutation(self, data: bytes) -> bytes:
        rng = self.rng
        data = bytearray(data)
        kind = rng.randrange(5)
        if kind == 0:
            for _ in range(rng.choice((1, 2, 4, 8))):
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
            self.note("bits flipped")
        elif kind == 1:
            del data[rng.randrange(len(data)) :]
            self.note("truncated")
        elif kind == 2:
            i = rng.randrange(len(data) + 1)
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 4, 16))))
            self.note("bytes inserted")
        elif kind == 3:
            i = rng.randrange(len(data))
            del data[i : i + rng.choice((1, 4, 16))]
            self.note("bytes deleted")
        else:
            i = rng.randrange(len(data))
            data[i : i + 4] = struct.pack("<I", rng.choice((0, 2**31, 2**32 - 1, 7)))
            self.note("a varint-sized word overwritten")
        return bytes(data)
