"""ONNX -> IR (float).

Reading a model is three steps: load it (external data included) and check it, sort its nodes
topologically, then convert node by node with the small functions of the one table
:data:`nnfx.frontends.converters.CONVERTERS` (one per ONNX op), each working through a
:class:`~nnfx.frontends.context.Converter`.

Layout is decided once, per value (:mod:`nnfx.frontends.layout`): every value remembers how its
IR array relates to the ONNX array of one sample. At the end, the graph's inputs and outputs
take whichever layout spares a Transpose, recorded in ``onnx_perm``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import onnx

from nnfx import limits
from nnfx.compiler.ir import (
    FLOAT,
    Graph,
    Tensor,
    for_message,
    freeze,
    printable_name,
    short,
    unique_name,
    validate,
)
from nnfx.compiler.layout import channels_last, compose, inverse
from nnfx.compiler.ops import NoAttrs, Op
from nnfx.errors import ModelError, UnsupportedOpError
from nnfx.frontends.context import (
    MAX_RANK,
    Converter,
    Value,
    first_line,
    rename_tensor,
    tensor_array,
)
from nnfx.frontends.converters import CONVERTERS
from nnfx.frontends.ops_quant import annotate
from nnfx.frontends.ops_recurrent import batch_first_recurrent, time_major_inputs
from nnfx.frontends.patterns import fuse_activation_patterns
from nnfx.frontends.unrolled_rnn import fold_unrolled_rnn

MIN_OPSET, MAX_OPSET = 13, 21
FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16}


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
                f"'{source}' is not a readable ONNX model ({for_message(first_line(e), 300)})"
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


def _with_domain_imports(model: onnx.ModelProto) -> onnx.ModelProto:
    """QONNX files use custom domains (``qonnx.custom_op.general``, ``onnx.brevitas``) often
    without an opset import for them, which ONNX's checker refuses though the file is valid:
    the checker sees a copy that imports each such domain at version 1 (every other check
    stays, and the model itself is unchanged)."""
    declared = {o.domain for o in model.opset_import}
    missing = sorted({n.domain for n in model.graph.node} - declared - {"", "ai.onnx"})
    if not missing:
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.opset_import.extend(onnx.helper.make_opsetid(domain, 1) for domain in missing)
    return copy


def _check(model: onnx.ModelProto, source: str) -> None:
    """ONNX's checker. Nodes out of topological order fail it, yet nnfx sorts them: then the
    checker runs again on a sorted copy, so that it still sees every other defect."""
    model = _with_domain_imports(model)
    try:
        onnx.checker.check_model(model)
        return
    except Exception as e:  # noqa: BLE001  (ValidationError, and protobuf's own errors)
        message = first_line(e)
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
            f"'{source}' is not a valid ONNX model ({for_message(first_line(e), 300)})"
        ) from None


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


def _input_value(conv: Converter, vi: onnx.ValueInfoProto, batch_axis: int = 0) -> Value:
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
    for axis, d in enumerate(dims):
        if axis == batch_axis:
            continue
        if d.HasField("dim_value") and d.dim_value <= 0:
            raise ModelError(
                f"graph input '{name}' has size {d.dim_value} on axis {axis}; every axis but "
                f"the batch axis ({batch_axis}) needs a positive size"
            )
        if not d.HasField("dim_value"):
            label = for_message(d.dim_param or "?")
            raise ModelError(
                f"graph input '{name}' has a dynamic dimension '{label}' on axis {axis}; "
                f"only the batch axis ({batch_axis}) may be dynamic"
            )
        sample.append(int(d.dim_value))
    limits.INPUT_WIDTH.check(math.prod(sample), f"graph input '{name}'")
    limits.TENSOR_ELEMENTS.check(math.prod(sample), f"graph input '{name}'")
    perm = channels_last(len(sample))
    name = conv._new_tensor_name(vi.name)
    shape = tuple(sample[i] for i in perm)
    conv.tensors[name] = Tensor(name, shape, FLOAT, onnx_perm=perm, batch_axis=batch_axis)
    return Value(name, perm, tuple(sample))


def convert(path_or_model: str | Path | onnx.ModelProto) -> Graph:
    """Read an ONNX model into a float IR graph (before the passes)."""
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
    order = fold_unrolled_rnn(graph, topological_order(graph, set(conv.values)))
    time_major = time_major_inputs(graph, order)  # (steps, batch, features) into recurrent layers
    for vi in graph.input:
        if vi.name in conv.values:  # an initializer also listed as input (old exporters)
            continue
        conv.values[vi.name] = _input_value(conv, vi, 1 if vi.name in time_major else 0)
        inputs.append(conv.values[vi.name].tensor)
        conv.input_values[vi.name] = conv.values[vi.name].tensor
    if not inputs:
        raise ModelError(f"'{source}' has no graph input that is not an initializer")
    conv.batch_one = all(
        (d := vi.type.tensor_type.shape.dim)
        and (b := d[1 if vi.name in time_major else 0]).HasField("dim_value")
        and b.dim_value == 1
        for vi in graph.input
        if vi.name in conv.values and conv.values[vi.name].tensor is not None
    )
    order = fuse_activation_patterns(graph, order)
    outputs_tm: set[str] = set()  # whole time-major sequences given as outputs
    order = batch_first_recurrent(graph, order, time_major, outputs_tm)
    _check_supported(order)
    taken_names: set[str] = set()
    for index, node in enumerate(order):
        conv.onnx_node = node
        conv.node_name = unique_name(_node_name(node, index), taken_names)
        taken_names.add(conv.node_name)
        first = len(conv.nodes)
        CONVERTERS[_op_key(node)](conv)
        annotate(conv, node, first)  # a layer reading QONNX-quantized constants keeps their types
    outputs = _outputs(conv, graph)
    for vi, name in zip(graph.output, outputs, strict=True):
        if vi.name in outputs_tm:
            conv.tensors[name] = dataclasses.replace(conv.tensors[name], batch_axis=1)
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


def _op_key(node: onnx.NodeProto) -> str:
    """The CONVERTERS key of a node: its op type, ``domain.OpType`` outside ONNX's own."""
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"


def _node_name(node: onnx.NodeProto, index: int) -> str:
    # IR node names reach messages, reports and configs: printable, at most 200 characters.
    return printable_name(node.name or f"{node.op_type.lower()}_{index}", 200)


def _check_supported(order: list[onnx.NodeProto]) -> None:
    """Before converting: the first node (in topological order) whose op nnfx has no converter
    for is the error. The plumbing before it (the shape arithmetic and zero states exporters
    write for an nn.GRU, say) would otherwise fail first and hide the op the user wrote."""
    for index, node in enumerate(order):
        key = _op_key(node)
        if key not in CONVERTERS:
            raise UnsupportedOpError(
                f"op type '{for_message(key, 60)}' (node '{for_message(_node_name(node, index))}') "
                "is not supported; `nnfx ops` lists the supported ops"
            )


def _outputs(conv: Converter, graph: onnx.GraphProto) -> list[str]:
    """Bind the ONNX graph outputs to IR tensors that carry the ONNX output names."""
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
        conv.tensors[tensor] = dataclasses.replace(t, dtype=v.dtype, onnx_perm=v.perm)
        outputs.append(tensor)
    return outputs


def _absorb_boundary_transposes(ir: Graph) -> Graph:
    """Choose the I/O layouts that need no Transpose: an input read only by one layout
    Transpose (through a chain of per-element activations, each read only by the next, as a
    Keras input quantizer before tf2onnx's Transpose) is fed already transposed, and an output
    made by a layout Transpose of a tensor nothing else reads is returned untransposed;
    ``onnx_perm`` records the choice, and the inputs and outputs keep their names."""
    consumers = ir.consumers()
    producers = ir.producers()
    tensors, nodes = dict(ir.tensors), list(ir.nodes)
    for name in ir.inputs:
        chain = [name]  # the input, then each activation's output
        users = consumers.get(name, [])
        while len(users) == 1 and users[0].op is Op.ACTIVATION and not users[0].params:
            if chain[-1] in ir.outputs:
                break
            chain.append(users[0].outputs[0])
            users = consumers.get(chain[-1], [])
        if len(users) != 1 or users[0].op is not Op.TRANSPOSE or chain[-1] in ir.outputs:
            continue
        t = users[0]
        nodes.remove(t)
        del tensors[t.outputs[0]]
        for k in chain:
            tensors[k] = dataclasses.replace(tensors[k], shape=ir.tensors[t.outputs[0]].shape)
        old = tensors[name]
        tensors[name] = dataclasses.replace(old, onnx_perm=compose(old.onnx_perm, t.attrs.perm))
        rename_tensor(nodes, t.outputs[0], chain[-1])
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
        tensors[name] = dataclasses.replace(
            t,
            shape=tensors.pop(source).shape,
            onnx_perm=compose(inverse(node.attrs.perm), t.onnx_perm),
        )
        rename_tensor(nodes, source, name)
    return ir.replace(tensors=tensors, nodes=tuple(nodes))


def _upgrade(model: onnx.ModelProto, source: str, opset: int) -> onnx.ModelProto:
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, MIN_OPSET)
    except Exception as e:
        raise ModelError(
            f"'{source}' uses opset {opset}, and converting it to opset "
            f"{MIN_OPSET} failed ({for_message(first_line(e), 300)})"
        ) from None
