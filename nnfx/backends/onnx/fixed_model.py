"""The fixed-point ONNX model around the writers of fixed_graph.py: inputs quantized in
float64; each node's codes in float32 where every check of its export proves it exact (else
float64), with exact Casts where neighbours differ; the outputs back in float64; the choice
recorded in the model's metadata."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from nnfx.backends.onnx.builder import OPSET, _model_shape, _safe, _transpose
from nnfx.backends.onnx.fixed_graph import FIXED_WRITERS, FLOAT32_BITS, FixedExport
from nnfx.backends.onnx.input_steps import input_steps
from nnfx.backends.onnx.quantize import _bits, _quantize_input
from nnfx.compiler.ir import INTEGER, Graph, Node
from nnfx.compiler.layout import inverse, model_to_ir
from nnfx.compiler.ops import Op
from nnfx.errors import ConfigError, PrecisionError

PRECISIONS = ("auto", "float32", "float64")
PRECISION_KEY = "nnfx.codes_dtype"  # metadata: float32, float64 or mixed
FLOAT32_KEY = "nnfx.float32_nodes"  # metadata: the IR nodes computed in float32, comma-separated
NEEDED_KEY = "nnfx.codes_bits"  # metadata: the most bits any exactness check needs
DOUBLE: int = TensorProto.DOUBLE
FLOAT: int = TensorProto.FLOAT


def to_fixed_onnx(
    graph: Graph, name: str = "nnfx_fixed", precision: str = "auto", short_forms: bool = True
) -> onnx.ModelProto:
    """The fixed-point model: float64 inputs in the model's layout, quantized to the input
    types; outputs are the float64 values of the fixed-point results (labels as int64).

    ``precision`` is the element type of the codes between input and output. ``auto``: per
    node, float32 where every exactness check of its export fits ``FLOAT32_BITS`` (every
    integer below ``2**24`` in magnitude, the sum of the magnitudes a MatMul adds up included)
    as do its input types, and every constant it writes is a normal float32 unchanged (for
    the ops in ``FLOAT32_OPS`` only), else float64; ``float64``: the float64 graph;
    ``float32``: every node in float32, refused (PrecisionError naming the first node) where
    that is not proved exact. ``short_forms=False`` writes the longer exact forms that
    preceded nnfx issue #16 (``Mod`` input reduction, the five-op WRAP after a Dense or Conv),
    the same codes, for comparison (benchmarks/emulation_throughput.py)."""
    if precision not in PRECISIONS:
        raise ConfigError(
            f"unknown ONNX precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    model, e = _export(graph, name, {}, short_forms)
    if precision == "float64":
        return model
    dtypes: dict[str, int] = {}
    for node in graph.nodes:
        inputs = [graph.tensors[i].dtype for i in node.inputs]
        bits = max([e.needed_by.get(node.name, 0), *(_bits(t) for t in inputs if t != INTEGER)])
        exact = bits <= FLOAT32_BITS and node.op in FLOAT32_OPS
        dtypes[node.name] = FLOAT if exact else DOUBLE
    if precision == "auto":
        _no_islands(graph, dtypes)
    while any(d == FLOAT for d in dtypes.values()):
        model32, e32 = _export(graph, name, dtypes, short_forms)
        if not e32.inexact_nodes:
            break
        dtypes.update(dict.fromkeys(e32.inexact_nodes, DOUBLE))
    else:
        model32 = model
    if precision == "float32" and DOUBLE in dtypes.values():
        node = next(n for n in graph.nodes if dtypes[n.name] == DOUBLE)
        raise PrecisionError(
            f"node '{node.name}' ({node.op.value}): not exact in float32 (a step needs more "
            f"than {FLOAT32_BITS} bits, or a constant is no normal float32); export it in "
            "float64 or auto"
        )
    return model32


HEAVY = (Op.DENSE, Op.CONV)  # where float32 pays for the Casts into it
# The ops whose writers' checks are known to cover every integer they compute (each writer
# was read for it): only these may take float32 codes; a new writer stays float64 until its
# checks are shown to bound every intermediate, and it is added here.
FLOAT32_OPS = frozenset(
    {
        Op.DENSE,
        Op.CONV,
        Op.MAX_POOL,
        Op.AVG_POOL,
        Op.GLOBAL_AVG_POOL,
        Op.GLOBAL_MAX_POOL,
        Op.BATCH_NORM,
        Op.ACTIVATION,
        Op.SOFTMAX,
        Op.LAYER_NORM,
        Op.ADD,
        Op.SUB,
        Op.MUL,
        Op.CONCAT,
        Op.FLATTEN,
        Op.RESHAPE,
        Op.TRANSPOSE,
        Op.IDENTITY,
        Op.ARGMAX,
        Op.SLICE,
        Op.UPSAMPLE,
        Op.PAD,
    }
)


def _no_islands(graph: Graph, dtypes: dict[str, int]) -> None:
    """A float32 run starts at a Dense or Conv (whose MatMul float32 speeds up): a lighter
    node whose inputs all arrive in float64 stays in float64, since the Casts around it would
    cost more than float32 saves."""
    producer = {n.outputs[0]: n.name for n in graph.nodes}
    for node in graph.nodes:
        arrives32 = any(dtypes.get(producer.get(i, ""), DOUBLE) == FLOAT for i in node.inputs)
        if node.op not in HEAVY and not arrives32:
            dtypes[node.name] = DOUBLE


def codes_dtype(model: onnx.ModelProto) -> str:
    """``float32``, ``float64`` or ``mixed``: the element type of a fixed-point model's codes
    (``mixed``: some nodes in each, named by the ``nnfx.float32_nodes`` metadata)."""
    return {p.key: p.value for p in model.metadata_props}.get(PRECISION_KEY, "float64")


def _export(
    graph: Graph, name: str, dtypes: dict[str, int], short_forms: bool = True
) -> tuple[onnx.ModelProto, FixedExport]:
    """The model with node ``n``'s codes in ``dtypes.get(n, DOUBLE)``; ``inexact_nodes`` on
    the export lists the float32 nodes with a constant that float32 would change."""
    e = FixedExport(graph, DOUBLE)
    b = e.b
    b.short_forms = short_forms
    kind: dict[str, int] = {}  # ONNX name of codes -> their element type
    casts: dict[tuple[str, int], str] = {}

    def as_dtype(raw: str, dtype: int) -> str:
        if kind.get(raw, dtype) == dtype:
            return raw
        if (raw, dtype) not in casts:  # codes of a type both hold: exact
            casts[raw, dtype] = b.op("Cast", [raw], "codes", to=dtype)
            kind[casts[raw, dtype]] = dtype
        return casts[raw, dtype]

    inputs, outputs = [], []
    for tensor_name in graph.inputs:
        t = graph.tensors[tensor_name]
        e.check(Node(tensor_name, Op.IDENTITY, (), (), None), _bits(t.dtype), "the input type")
        inputs.append(helper.make_tensor_value_info(_safe(tensor_name), DOUBLE, _model_shape(t)))
        b.scope = _safe(tensor_name) + "/quantize_input"
        x = input_steps(b, _safe(tensor_name), t.steps, "float64")  # docs/semantics.md
        x = _transpose(b, x, model_to_ir(t.onnx_perm, t.batch_axis), "to_ir_layout")
        e.raw[tensor_name] = _quantize_input(b, x, t.dtype)  # any float64, reduced exactly
        kind[e.raw[tensor_name]] = DOUBLE
    inexact: dict[str, None] = {}  # ordered, without repeats
    for node in graph.nodes:
        writer = FIXED_WRITERS[node.op]
        b.scope = _safe(node.name)
        dtype = dtypes.get(node.name, DOUBLE)
        b.set_dtype(dtype)
        out_type = graph.tensors[node.outputs[0]].dtype
        if out_type != INTEGER:
            e.check(node, _bits(out_type), "the output type")
        xs = [
            e.raw[i] if graph.tensors[i].dtype == INTEGER else as_dtype(e.raw[i], dtype)
            for i in node.inputs
        ]
        before = len(b.inexact)
        e.raw[node.outputs[0]] = out = writer(e, node, xs)
        if out_type != INTEGER:
            kind.setdefault(out, dtype)
        if len(b.inexact) > before:
            inexact[node.name] = None
    e.inexact_nodes = list(inexact)
    b.set_dtype(DOUBLE)
    for tensor_name in graph.outputs:
        t = graph.tensors[tensor_name]
        b.scope = _safe(tensor_name) + "/output"
        raw = e.raw[tensor_name]
        if t.dtype == INTEGER:
            value, elem = raw, TensorProto.INT64
        else:
            lsb = b.const(2.0**-t.dtype.frac, "lsb")
            value, elem = b.op("Mul", [as_dtype(raw, DOUBLE), lsb], "value"), DOUBLE
        final = _transpose(
            b, value, inverse(model_to_ir(t.onnx_perm, t.batch_axis)), "to_model_layout"
        )
        b.nodes.append(
            helper.make_node(
                "Identity", [final], [_safe(tensor_name)], name=f"{_safe(tensor_name)}/result"
            )
        )
        outputs.append(helper.make_tensor_value_info(_safe(tensor_name), elem, _model_shape(t)))
    onnx_graph = helper.make_graph(b.nodes, name, inputs, outputs, b.inits)
    model = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnfx"
    )
    model.ir_version = 8
    single = [n.name for n in graph.nodes if dtypes.get(n.name, DOUBLE) == FLOAT]
    summary = "float64" if not single else "float32" if len(single) == len(graph.nodes) else "mixed"
    helper.set_model_props(
        model,
        {PRECISION_KEY: summary, FLOAT32_KEY: ",".join(single), NEEDED_KEY: str(e.needed)},
    )
    onnx.checker.check_model(model, full_check=True)
    return model, e
