"""Compiled IR -> a Vitis HLS project: firmware, weights, testbench, Tcl script, README.

Python fills in only what changes per model — typedefs, one config struct per layer, the
constants and one kernel call per node — into small templates with named slots; the kernels
themselves are the C++ headers in ``templates/``. Output is deterministic.

The pieces live in their own modules: the options (``options.py``), the C++ spelling of types
and values (``render.py``) and one emitter per op (``emitters.py``); this module is the writer
that puts them together, and re-exports their names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from string import Template

import numpy as np

from nnfx import limits
from nnfx.backends.hls.emitters import EMITTERS, emitter
from nnfx.backends.hls.names import Names
from nnfx.backends.hls.options import PART, STRATEGIES, HlsOptions
from nnfx.backends.hls.render import (
    INDEX_TYPE,
    TABLE_START_BITS,
    BitsType,
    Types,
    WideType,
    cpp_type,
    exact_affine_type,
    exact_sum_type,
    literal,
    safe_comment,
    struct,
)
from nnfx.compiler.fixed import to_float
from nnfx.compiler.ir import INTEGER, Graph, Node
from nnfx.errors import PrecisionError

__all__ = [
    "BOUNDARY_BITS",
    "EMITTERS",
    "INDEX_TYPE",
    "PART",
    "STRATEGIES",
    "TABLE_START_BITS",
    "TEMPLATES",
    "HlsOptions",
    "HlsWriter",
    "WideType",
    "cpp_type",
    "estimate_source_bytes",
    "exact_affine_type",
    "exact_sum_type",
    "safe_comment",
    "testbench_files",
    "write_project",
]

TEMPLATES = Path(__file__).parent / "templates"
BOUNDARY_BITS = 53  # inputs and outputs cross the C-simulation boundary as exact doubles
AP_INT_DEFAULT_MAX_W = 1024  # ap_uint's widest unless AP_INT_MAX_W says more (up to 4096)


class HlsWriter:
    def __init__(self, graph: Graph, options: HlsOptions | None = None):
        self.graph = graph
        self.options = options or HlsOptions()
        self.options.check(graph)
        limits.SOURCE_BYTES.check(
            estimate_source_bytes(graph),
            f"the HLS project of model '{safe_comment(graph.name)}'",
        )
        self.top = self.options.top
        self.names = Names(graph.tensors, [n.name for n in graph.nodes])
        self.var = {name: self.names.tensor(name) for name in graph.tensors}
        self.types = Types()
        self.configs: list[str] = []
        self.weights: dict[str, str] = {}  # file name -> header text
        self.body: list[str] = []
        self.pragmas: list[str] = []
        self.aliases: dict[str, str] = {}  # tensor -> the tensor whose array it shares
        self._check_boundary()

    def _check_boundary(self) -> None:
        for name in (*self.graph.inputs, *self.graph.outputs):
            t = self.graph.tensors[name].dtype
            if t != INTEGER and t.width > BOUNDARY_BITS:
                raise PrecisionError(
                    f"tensor '{safe_comment(name)}' ({t}) is wider than {BOUNDARY_BITS} bits; "
                    "the C-simulation exchanges inputs and outputs as exact doubles"
                )

    # -- pieces ------------------------------------------------------------------------------
    def tensor_type(self, name: str) -> str:
        return self.types.add(self.names.tensor_type(name), self.graph.tensors[name].dtype)

    def node_name(self, role: str, node: Node) -> str:
        """The identifier of ``role`` (see names.ROLES) for ``node``."""
        return self.names.node(role, node.name)

    def size(self, name: str) -> int:
        return int(np.prod(self.graph.tensors[name].shape, dtype=np.int64))

    def constant(self, node: Node, role: str, ctype: str, values) -> str:
        """A typed constant array in weights/<name>.h, ``role`` one of names.ROLES; returns
        its C name (the file is named after it: ours, unique even ignoring case)."""
        name = self.node_name(role, node)
        flat = np.asarray(values, dtype=np.float64).reshape(-1)
        items = (
            ", ".join(literal(v) for v in flat)
            if ctype != "int"
            else ", ".join(str(int(v)) for v in flat)
        )
        self.weights[f"{name}.h"] = (
            f"// {name}: {flat.size} values of {ctype}\n"
            f"NNFX_CONSTANT({ctype}, {name}, {max(flat.size, 1)}, {{\n"
            + "\n".join(f"    {r}" for r in self._wrap(items))
            + "\n})\n"
        )
        return name

    @staticmethod
    def _wrap(items: str) -> list[str]:
        out, line = [], ""
        for part in items.split(", "):
            candidate = f"{line}, {part}" if line else part
            if len(candidate) > 96 and line:
                out.append(line + ",")
                line = part
            else:
                line = candidate
        if line:
            out.append(line)
        return out

    def config(self, node: Node, fields: dict[str, object], types: dict[str, str], extra=()) -> str:
        """The layer's configuration struct; ``extra``: more member lines (nested structs)."""
        name = self.node_name("config", node)
        self.configs.append(struct(name, fields, types, extra))
        return name

    def table_members(self, node: Node, role: str, spec) -> list[str]:
        """The table index rule as struct members: index_t, scale() = 2^shift, start and
        size; ``role`` names the scale's type (lutscale, expscale or invscale). The kernel
        compares x * 2^shift (exact) with start and start + size as long long constants."""
        ends = (spec.start, spec.start + spec.size)
        if max(abs(e) for e in ends) >= 2**TABLE_START_BITS:
            raise PrecisionError(
                f"layer '{safe_comment(node.name)}': its table's range starts at {spec.low!r}, "
                f"{abs(spec.start)} steps from 0, beyond the HLS kernels' "
                f"{TABLE_START_BITS}-bit limit; use a table range nearer 0 or wider"
            )
        index_t = self.types.add("nnfx_index_t", INDEX_TYPE)
        scale_t = self.types.add(self.node_name(role, node), WideType(1, spec.shift + 1, False))
        return [
            f"static const int table_size = {spec.size};",
            f"static const long long table_start = {spec.start}LL;",
            f"typedef {index_t} index_t;",
            f"static {scale_t} scale() {{ return {scale_t}({literal(2.0**spec.shift)}); }}",
        ]

    # -- ops -----------------------------------------------------------------------------------
    def emit(self, node: Node) -> None:
        """The node's kernel call, by its op's entry in :data:`EMITTERS`."""
        write = emitter(node.op)
        ins = [self.var[self.aliases.get(i, i)] for i in node.inputs]
        out = self.var[node.outputs[0]]
        in_t = [self.tensor_type(i) for i in node.inputs]
        out_t = self.tensor_type(node.outputs[0])
        self.body.append(f"    // {node.op.value} {self.names.node_stems[node.name]}")
        write(self, node, ins, out, in_t, out_t)

    # -- files --------------------------------------------------------------------------------
    def files(self) -> dict[str, str]:
        for name in self.graph.inputs:
            self.tensor_type(name)
        for node in self.graph.nodes:
            self.emit(node)
        return self._render()

    def _render(self) -> dict[str, str]:
        g, top = self.graph, self.top
        args = [f"const {self.tensor_type(n)} {self.var[n]}[{self.size(n)}]" for n in g.inputs]
        args += [f"{self.tensor_type(n)} {self.var[n]}[{self.size(n)}]" for n in g.outputs]
        locals_ = []
        boundary = [*g.inputs, *g.outputs]
        for node in g.nodes:
            for name in node.outputs:
                if name not in boundary and name not in self.aliases:
                    locals_.append(
                        f"    {self.tensor_type(name)} {self.var[name]}[{self.size(name)}];"
                    )
                    locals_.append(
                        f"#pragma HLS ARRAY_PARTITION variable={self.var[name]} complete"
                    )
        interface = [
            f"#pragma HLS ARRAY_PARTITION variable={self.var[n]} complete" for n in boundary
        ]
        signature = f"void {top}({', '.join(args)})"
        pipeline = (
            f"#pragma HLS PIPELINE II={self.options.initiation_interval(g)}"
            if self.options.strategy == "latency"
            else "#pragma HLS DATAFLOW"
        )
        bits = max(
            (t.width for t in self.types.defs.values() if isinstance(t, BitsType)), default=0
        )
        substitutions = {
            "ap_int_max_w": f"#define AP_INT_MAX_W {bits}  // a binary layer's signs\n"
            if bits > AP_INT_DEFAULT_MAX_W
            else "",
            "top": top,
            "signature": signature,
            "typedefs_ap": self.types.render("ap"),
            "typedefs_ac": self.types.render("ac"),
            "configs": "\n\n".join(self.configs),
            "weight_includes": "\n".join(f'#include "weights/{f}"' for f in sorted(self.weights)),
            "body": "\n".join([*interface, pipeline, *locals_, *self.pragmas, "", *self.body]),
            "inputs": "\n".join(
                f"//   {self.var[n]}: {self.size(n)} values, {g.tensors[n].dtype}" for n in g.inputs
            ),
            "outputs": "\n".join(
                f"//   {self.var[n]}: {self.size(n)} values, {g.tensors[n].dtype}"
                for n in g.outputs
            ),
            "part": self.options.part,
            "clock": literal(self.options.clock_period_ns),
            "name": safe_comment(g.name),
        }
        out = {}
        for source, target in (
            ("defines.h", "firmware/defines.h"),
            ("parameters.h", "firmware/parameters.h"),
            ("top.h", f"firmware/{top}.h"),
            ("top.cpp", f"firmware/{top}.cpp"),
            ("build_prj.tcl", "build_prj.tcl"),
            ("README.md", "README.md"),
        ):
            out[target] = Template((TEMPLATES / f"{source}.in").read_text()).substitute(
                substitutions
            )
        for kernels in ("nnfx_directed.h", "nnfx_kernels.h", "nnfx_recurrent.h", "nnfx_binary.h"):
            out[f"firmware/{kernels}"] = (TEMPLATES / kernels).read_text()
        for name, text in self.weights.items():
            out[f"firmware/weights/{name}"] = text
        out[f"tb/{top}_tb.cpp"] = self._testbench()
        return out

    def harness(self, declare: str, read: str, write: str) -> dict[str, str]:
        """What a program driving the top function substitutes into its template (the
        testbench here, the C-simulation bridge in :mod:`nnfx.runtime.csim`): ``declare``
        and ``read`` are line formats for each input, ``declare`` and ``write`` for each
        output, with the fields ``var``, ``type``, ``size``, ``k`` (the index among the inputs
        or the outputs) and ``value`` (element ``i`` of the array as a double); ``call`` is
        the argument list in the top function's order."""
        lines: dict[str, list[str]] = {"declare": [], "read": [], "write": []}
        call = []
        g = self.graph
        for role, names in (("read", g.inputs), ("write", g.outputs)):
            for k, name in enumerate(names):
                v = self.var[name]
                value = (
                    f"(double){v}[i]" if g.tensors[name].dtype == INTEGER else f"{v}[i].to_double()"
                )
                fields = {
                    "var": v,
                    "type": self.names.tensor_type(name),
                    "size": self.size(name),
                    "k": k,
                    "value": value,
                }
                lines["declare"].append(declare.format(**fields))
                lines[role].append((read if role == "read" else write).format(**fields))
                call.append(v)
        return {**{key: "\n".join(text) for key, text in lines.items()}, "call": ", ".join(call)}

    def _testbench(self) -> str:
        parts = self.harness(
            declare="    static {type} {var}[{size}];",
            read="        if (!nnfx_read_values(in, {var}, {size})) {{ status = 1; break; }}",
            write="        nnfx_write_values(out, expected, predictions.is_open(), {var}, "
            '{size}, "{var}", count, mismatches);',
        )
        return Template((TEMPLATES / "tb.cpp.in").read_text()).substitute(top=self.top, **parts)


# Bytes of generated C++ per constant value (a round-tripping double literal and ", ") and
# per node or tensor (typedefs, config, call, pragmas): an upper bound, checked before rendering.
BYTES_PER_VALUE = 28
BYTES_PER_ITEM = 2048
BYTES_FIXED = 64 * 1024


def estimate_source_bytes(graph: Graph) -> int:
    values = sum(int(np.asarray(c).size) for c in graph.constants.values())
    for node in graph.nodes:  # a transpose's index array and argmax labels are made here
        if node.op.name in ("TRANSPOSE", "ARGMAX"):
            values += int(np.prod(graph.tensors[node.inputs[0]].shape, dtype=np.int64))
    items = len(graph.nodes) + len(graph.tensors)
    return BYTES_FIXED + BYTES_PER_VALUE * values + BYTES_PER_ITEM * items


TESTBENCH_INPUTS = "tb/tb_data/tb_input_features.dat"
TESTBENCH_OUTPUTS = "tb/tb_data/tb_output_predictions.dat"


def testbench_files(
    graph: Graph, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]
) -> dict[str, str]:
    """The testbench's vectors (:data:`TESTBENCH_INPUTS`, :data:`TESTBENCH_OUTPUTS`) from raw
    codes in the IR layout, by tensor name, batch first: the inputs' codes and the outputs'
    expected codes. One sample per line, each tensor flat (channels-last) in the graph's order,
    which is how tb.cpp.in reads them; each value ``code * 2^-frac`` (a class label as is),
    exact in a double (boundary types are at most :data:`BOUNDARY_BITS` wide) and printed by
    ``repr``, which parses back to the same double. Inputs are codes of their types, so the
    testbench's conversion to the input type is exact."""

    def lines(raw: dict[str, np.ndarray], names: Sequence[str]) -> str:
        samples = {len(raw[n]) for n in names}
        if len(samples) != 1:
            raise PrecisionError("the testbench's tensors hold different numbers of samples")
        flat = []
        for name in names:
            tensor = graph.tensors[name]
            codes = np.asarray(raw[name]).reshape(len(raw[name]), -1)
            integer = tensor.dtype == INTEGER
            flat.append(codes.astype(np.float64) if integer else to_float(codes, tensor.fixed.frac))
        rows = np.concatenate(flat, axis=1)
        return "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in rows)

    return {
        TESTBENCH_INPUTS: lines(inputs, graph.inputs),
        TESTBENCH_OUTPUTS: lines(outputs, graph.outputs),
    }


def write_project(
    graph: Graph,
    folder: str | Path,
    options: HlsOptions | None = None,
    *,
    force: bool = False,
    inputs: Iterable = (),
    testbench: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None,
) -> Path:
    """Write the project into ``folder`` (through a temporary directory: never half-written;
    replacing only a folder nnfx wrote, see nnfx.files). ``testbench``: the raw input codes
    and the reference's raw output codes (IR layout, by name) that :func:`testbench_files`
    writes into ``tb/tb_data/``."""
    from nnfx.files import staged_directory

    folder = Path(folder)
    files = HlsWriter(graph, options).files()
    if testbench is not None:
        files.update(testbench_files(graph, *testbench))
    with staged_directory(folder, "HLS project", force=force, inputs=inputs) as staging:
        for rel, text in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (staging / "tb" / "tb_data").mkdir(parents=True, exist_ok=True)
    return folder
