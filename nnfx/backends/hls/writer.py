"""Compiled IR -> a Vitis HLS project: firmware, weights, testbench, Tcl script, README.

Python fills in only what changes per model — typedefs, one config struct per layer, the
constants and one kernel call per node — into small templates with named slots; the kernels
themselves are the C++ headers in ``templates/``. Output is deterministic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import numpy as np

from nnfx import limits
from nnfx.backends.hls.names import Names, top_problem
from nnfx.compiler.fixed import ALPHA_TYPE, FixedType, fused_alpha_code
from nnfx.compiler.ir import INTEGER, Graph, Node
from nnfx.errors import ConfigError, PrecisionError

TEMPLATES = Path(__file__).parent / "templates"
STRATEGIES = ("latency", "resource")
BOUNDARY_BITS = 53  # inputs and outputs cross the C-simulation boundary as exact doubles
PART = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass
class HlsOptions:
    """Project options. ``reuse_factor`` and ``strategy`` apply to every layer unless a layer
    (by IR node name) has its own in ``layer_reuse_factor`` / ``layer_strategy``."""

    top: str = "nnfx_top"
    part: str = "xcvu13p-flga2577-2-e"
    clock_period_ns: float = 5.0
    reuse_factor: int = 1
    strategy: str = "latency"
    layer_reuse_factor: dict[str, int] = field(default_factory=dict)
    layer_strategy: dict[str, str] = field(default_factory=dict)

    def check(self, graph: Graph) -> None:
        problem = top_problem(self.top)
        if problem is not None:
            raise ConfigError(f"top function name {self.top!r} {problem}")
        if not isinstance(self.part, str) or not PART.fullmatch(self.part):
            raise ConfigError(
                f"FPGA part {self.part!r} must be 1 to 64 letters, digits, '-' or '_'"
            )
        clock = self.clock_period_ns
        if (
            isinstance(clock, bool)
            or not isinstance(clock, int | float)
            or not math.isfinite(clock)
            or clock <= 0
        ):
            raise ConfigError(f"clock period must be a finite number of ns above 0, got {clock!r}")
        names = {n.name for n in graph.nodes}
        for what, table in (
            ("reuse factor", self.layer_reuse_factor),
            ("strategy", self.layer_strategy),
        ):
            unknown = [k for k in table if k not in names]
            if unknown:
                raise ConfigError(
                    f"per-layer {what} names layer(s) {', '.join(map(repr, unknown))} that the "
                    "model does not have"
                )
        for s in [self.strategy, *self.layer_strategy.values()]:
            if s not in STRATEGIES:
                raise ConfigError(
                    f"unknown strategy {s!r}; expected one of {', '.join(STRATEGIES)}"
                )
        for r in [self.reuse_factor, *self.layer_reuse_factor.values()]:
            if isinstance(r, bool) or not isinstance(r, int) or r < 1:
                raise ConfigError(f"reuse factor must be a positive integer, got {r!r}")

    def reuse(self, node: Node) -> int:
        return int(self.layer_reuse_factor.get(node.name, self.reuse_factor))

    def strategy_of(self, node: Node) -> str:
        return self.layer_strategy.get(node.name, self.strategy)


def cpp_type(t, number: str) -> str:
    """The C++ spelling of a tensor type for ``number`` = ``ap`` (ap_fixed) or ``ac``."""
    if t == INTEGER:
        return "int"
    if number == "ap":
        name = "ap_fixed" if t.signed else "ap_ufixed"
        return f"{name}<{t.width}, {t.integer}, AP_{t.rounding}, AP_{t.overflow}>"
    signed = "true" if t.signed else "false"
    return f"ac_fixed<{t.width}, {t.integer}, {signed}, AC_{t.rounding}, AC_{t.overflow}>"


def safe_comment(text: str) -> str:
    """Model text for a C++ comment or a README: printable, one line, no comment delimiters."""
    kept = "".join(c if c.isascii() and c.isalnum() else "_" for c in str(text))
    return "_".join(part for part in kept.split("_") if part)[:80] or "model"


def _literal(value: float) -> str:
    """A double literal that parses back to exactly ``value`` (repr round-trips)."""
    text = repr(float(value))
    return text if ("." in text or "e" in text or "inf" in text) else text + ".0"


def _bits_for(count: int) -> int:
    return max(1, math.ceil(math.log2(max(count, 1) + 1)))


INDEX_TYPE = FixedType(32, 32, True, "TRN", "SAT")  # floor, then clamp: the table index
TABLE_START_BITS = 62  # a table's start and end are long long constants in the C++


@dataclass(frozen=True)
class WideType:
    """An internal C++ type the writer sizes so that it holds its values exactly: truncating
    and wrapping (neither ever acts), and as wide as needed — ap_fixed and ac_fixed allow
    more than :class:`FixedType`'s 62 bits (a softmax's max - x of a 62-bit input needs 63,
    a hard_sigmoid's x * alpha + beta up to 80 and more). Rendered by :func:`cpp_type`."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"

    @property
    def frac(self) -> int:
        return self.width - self.integer


def exact_sum_type(t, count: int) -> WideType:
    """A signed type that holds the sum of ``count`` codes of ``t`` exactly (same LSB)."""
    bits = _bits_for(count) + 1
    return WideType(t.width + bits, t.integer + bits)


def exact_affine_type(x, a, b) -> WideType:
    """A signed type that holds ``x * a + b`` exactly for values of the types ``x``, ``a``,
    ``b``: ``|x * a| < 2**(I_x + I_a)`` and ``|b| < 2**I_b``, so the sum is below
    ``2**(max + 1)`` and a signed type with ``max + 2`` integer bits holds it; its LSB is fine
    enough for both terms and for 1 (hard_sigmoid compares with it)."""
    frac = max(x.frac + a.frac, b.frac, 0)
    integer = max(x.integer + a.integer, b.integer, 1) + 2
    return WideType(integer + frac, integer)


class _Types:
    """Named C++ types (typedefs), each defined once per number type."""

    def __init__(self):
        self.defs: dict[str, object] = {}

    def add(self, name: str, t) -> str:
        self.defs[name] = t
        return name

    def render(self, number: str) -> str:
        return "\n".join(f"typedef {cpp_type(t, number)} {n};" for n, t in self.defs.items())


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
        self.types = _Types()
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
            ", ".join(_literal(v) for v in flat)
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

    @staticmethod
    def _struct(name: str, fields: dict[str, object], types: dict[str, str], extra=()) -> str:
        lines = [f"struct {name} {{"]
        for key, value in fields.items():
            if isinstance(value, bool):
                lines.append(f"    static const bool {key} = {'true' if value else 'false'};")
            else:
                lines.append(f"    static const int {key} = {int(value)};")
        for key, value in types.items():
            lines.append(f"    typedef {value} {key};")
        lines.extend(f"    {line}" for line in extra)
        lines.append("};")
        return "\n".join(lines)

    def config(self, node: Node, fields: dict[str, object], types: dict[str, str], extra=()) -> str:
        """The layer's configuration struct; ``extra``: more member lines (nested structs)."""
        name = self.node_name("config", node)
        self.configs.append(self._struct(name, fields, types, extra))
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
            f"static {scale_t} scale() {{ return {scale_t}({_literal(2.0**spec.shift)}); }}",
        ]

    # -- ops -----------------------------------------------------------------------------------
    def emit(self, node: Node) -> None:
        writer = getattr(self, f"_op_{node.op.name.lower()}")
        ins = [self.var[self.aliases.get(i, i)] for i in node.inputs]
        out = self.var[node.outputs[0]]
        in_t = [self.tensor_type(i) for i in node.inputs]
        out_t = self.tensor_type(node.outputs[0])
        self.body.append(f"    // {node.op.value} {self.names.node_stems[node.name]}")
        writer(node, ins, out, in_t, out_t)

    def _layer_pragmas(self, node: Node, arrays: list[str]) -> None:
        reuse, strategy = self.options.reuse(node), self.options.strategy_of(node)
        for array in arrays:
            if strategy == "latency" and reuse == 1:
                self.pragmas.append(f"#pragma HLS ARRAY_PARTITION variable={array} complete")
            else:
                self.pragmas.append(
                    f"#pragma HLS ARRAY_RESHAPE variable={array} cyclic factor={reuse}"
                )

    def _linear(self, node: Node, kernel: str, fields: dict, ins, out, in_t, out_t) -> None:
        """Dense and Conv: types, the fused activation, constants, pragmas and the call."""
        p, a = node.precision, node.attrs
        if a.activation not in ("linear", "relu", "leaky_relu"):
            raise PrecisionError(
                f"layer '{safe_comment(node.name)}': the HLS writer has no fused "
                f"{safe_comment(a.activation)}"
            )
        types = {
            "weight_t": self.types.add(self.node_name("wtype", node), p.weight),
            "accum_t": self.types.add(self.node_name("acctype", node), p.accum),
            "bias_t": self.types.add(self.node_name("btype", node), p.bias or p.weight),
        }
        fields = {
            **fields,
            "has_bias": "bias" in node.params,
            "relu": a.activation == "relu",
            "leaky": a.activation == "leaky_relu",
            "reuse_factor": self.options.reuse(node),
        }
        slope = "static int alpha() { return 0; }  // no leaky_relu"
        if a.activation == "leaky_relu":
            alpha_t = self.types.add(self.node_name("alphatype", node), ALPHA_TYPE)
            alpha = _literal(fused_alpha_code(self.graph, node) * 2.0**-ALPHA_TYPE.frac)
            slope = f"static {alpha_t} alpha() {{ return {alpha_t}({alpha}); }}"
        cfg = self.config(node, fields, types, [slope])
        w = self.constant(node, "weights", types["weight_t"], node.param(self.graph, "weight"))
        bias = node.param(self.graph, "bias") if "bias" in node.params else [0.0]
        b = self.constant(node, "biases", types["bias_t"], bias)
        self._layer_pragmas(node, [w])
        call = f"nnfx::{kernel}<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {w}, {b});"
        self.body.append(f"    {call}")

    def _op_dense(self, node, ins, out, in_t, out_t):
        a = node.attrs
        self._linear(node, "dense", {"n_in": a.n_in, "n_out": a.n_out}, ins, out, in_t, out_t)

    def _op_conv(self, node, ins, out, in_t, out_t):
        a = node.attrs
        in_shape = self.graph.tensors[node.inputs[0]].shape
        out_shape = self.graph.tensors[node.outputs[0]].shape
        two_d = len(a.kernel_shape) == 2

        def pick(values, index_2d, default):  # 1-D convolutions run as height-1 2-D ones
            return values[index_2d] if two_d else (default if index_2d == 0 else values[0])

        rank = len(a.kernel_shape)
        fields = {
            "in_height": in_shape[0] if two_d else 1,
            "in_width": in_shape[-2],
            "n_chan": a.in_channels,
            "out_height": out_shape[0] if two_d else 1,
            "out_width": out_shape[-2],
            "n_filt": a.out_channels,
            "filt_height": pick(a.kernel_shape, 0, 1),
            "filt_width": a.kernel_shape[-1],
            "stride_height": pick(a.strides, 0, 1),
            "stride_width": a.strides[-1],
            "dilation_height": pick(a.dilations, 0, 1),
            "dilation_width": a.dilations[-1],
            "pad_top": a.pads[0] if two_d else 0,
            "pad_left": a.pads[rank - 1],
        }
        self._linear(node, "conv2d", fields, ins, out, in_t, out_t)

    def _sum_type(self, node: Node, x: FixedType, count: int) -> str:
        return self.types.add(self.node_name("total", node), exact_sum_type(x, count))

    def _pool(self, node, ins, out, in_t, out_t, is_max):
        a = node.attrs
        in_shape = self.graph.tensors[node.inputs[0]].shape
        out_shape = self.graph.tensors[node.outputs[0]].shape
        two_d = len(a.kernel_shape) == 2
        rank = len(a.kernel_shape)
        count = int(np.prod(a.kernel_shape))
        sum_t = self._sum_type(node, self.graph.tensors[node.inputs[0]].dtype, count)
        recip_type = node.precision.weight if not is_max else FixedType(18, 1, False)
        recip_t = self.types.add(self.node_name("rtype", node), recip_type)
        recip = node.param(self.graph, "reciprocal") if not is_max else np.array([0.0])
        fields = {
            "in_height": in_shape[0] if two_d else 1,
            "in_width": in_shape[-2],
            "n_chan": in_shape[-1],
            "out_height": out_shape[0] if two_d else 1,
            "out_width": out_shape[-2],
            "pool_height": a.kernel_shape[0] if two_d else 1,
            "pool_width": a.kernel_shape[-1],
            "stride_height": a.strides[0] if two_d else 1,
            "stride_width": a.strides[-1],
            "pad_top": a.pads[0] if two_d else 0,
            "pad_left": a.pads[rank - 1],
            "is_max": is_max,
            "n_reciprocal": recip.size,
        }
        cfg = self.config(node, fields, {"sum_t": sum_t, "recip_t": recip_t})
        r = self.constant(node, "reciprocals", recip_t, recip)
        self.body.append(f"    nnfx::pool2d<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {r});")

    def _op_max_pool(self, *args):
        self._pool(*args, is_max=True)

    def _op_avg_pool(self, *args):
        self._pool(*args, is_max=False)

    def _global(self, node, ins, out, in_t, out_t, is_max):
        shape = self.graph.tensors[node.inputs[0]].shape
        positions = int(np.prod(shape[:-1]))
        sum_t = self._sum_type(node, self.graph.tensors[node.inputs[0]].dtype, positions)
        recip_type = FixedType(18, 1, False) if is_max else node.precision.weight
        recip_t = self.types.add(self.node_name("rtype", node), recip_type)
        recip = np.array([0.0]) if is_max else node.param(self.graph, "reciprocal")
        cfg = self.config(
            node,
            {"n_positions": positions, "n_chan": shape[-1], "is_max": is_max},
            {"sum_t": sum_t, "recip_t": recip_t},
        )
        r = self.constant(node, "reciprocals", recip_t, recip)
        self.body.append(f"    nnfx::global_pool<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {r});")

    def _op_global_avg_pool(self, *args):
        self._global(*args, is_max=False)

    def _op_global_max_pool(self, *args):
        self._global(*args, is_max=True)

    def _op_batch_norm(self, node, ins, out, in_t, out_t):
        p = node.precision
        scale_t = self.types.add(self.node_name("stype", node), p.weight)
        bias_t = self.types.add(self.node_name("btype", node), p.bias)
        scale = node.param(self.graph, "scale")
        cfg = self.config(
            node,
            {"n_in": self.size(node.inputs[0]), "n_scale": scale.size},
            {"scale_t": scale_t, "bias_t": bias_t},
        )
        s = self.constant(node, "scales", scale_t, scale)
        b = self.constant(node, "biases", bias_t, node.param(self.graph, "bias"))
        self.body.append(
            f"    nnfx::batchnorm<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {s}, {b});"
        )

    def _elementwise(self, kernel, node, ins, out, in_t, out_t):
        cfg = self.config(node, {"n_in": self.size(node.inputs[0])}, {})
        self.body.append(
            f"    nnfx::{kernel}<{in_t[0]}, {in_t[1]}, {out_t}, {cfg}>({ins[0]}, {ins[1]}, {out});"
        )

    def _op_add(self, *args):
        self._elementwise("add", *args)

    def _op_sub(self, *args):
        self._elementwise("subtract", *args)

    def _op_mul(self, *args):
        self._elementwise("multiply", *args)

    def _op_concat(self, node, ins, out, in_t, out_t):
        """One nested struct ``part<k>`` per input in the node's config."""
        shape = self.graph.tensors[node.outputs[0]].shape
        axis = node.attrs.axis % len(shape)
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        inner_out = int(np.prod(shape[axis:], dtype=np.int64))
        offset, parts, calls = 0, [], []
        cfg = self.node_name("config", node)
        for k, (name, var, t) in enumerate(zip(node.inputs, ins, in_t, strict=True)):
            inner = int(np.prod(self.graph.tensors[name].shape[axis:], dtype=np.int64))
            fields = {"outer": outer, "inner": inner, "inner_out": inner_out, "offset": offset}
            parts.extend(self._struct(f"part{k}", fields, {}).splitlines())
            calls.append(f"    nnfx::concat_part<{t}, {out_t}, {cfg}::part{k}>({var}, {out});")
            offset += inner
        self.config(node, {}, {}, parts)
        self.body.extend(calls)

    def _alias_or_copy(self, node, ins, out, in_t, out_t):
        """Flatten, Reshape, Identity: the same codes; a copy only where the result is an
        output of the design (or the types differ, which the compiler never produces)."""
        if node.outputs[0] in self.graph.outputs or in_t[0] != out_t:
            cfg = self.config(node, {"n_in": self.size(node.inputs[0])}, {})
            self.body.append(f"    nnfx::copy<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out});")
        else:
            self.aliases[node.outputs[0]] = self.aliases.get(node.inputs[0], node.inputs[0])
            self.body.append(f"    // {out} is {ins[0]} (same codes, another shape)")

    _op_flatten = _op_reshape = _op_identity = _alias_or_copy

    def _op_transpose(self, node, ins, out, in_t, out_t):
        shape = self.graph.tensors[node.inputs[0]].shape
        index = np.arange(int(np.prod(shape))).reshape(shape).transpose(node.attrs.perm).reshape(-1)
        cfg = self.config(node, {"n_in": index.size}, {})
        idx = self.constant(node, "perm", "int", index)
        self.body.append(f"    nnfx::permute<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {idx});")

    def _op_activation(self, node, ins, out, in_t, out_t):
        a, p = node.attrs, node.precision
        kinds = {
            "linear": "LINEAR",
            "relu": "RELU",
            "leaky_relu": "LEAKY_RELU",
            "clip": "CLIP",
            "hard_sigmoid": "HARD_SIGMOID",
            "sigmoid": "TABLE",
            "tanh": "TABLE",
            "elu": "ELU",
        }
        param_type = p.weight if p is not None and p.weight is not None else FixedType(18, 3)
        x = self.graph.tensors[node.inputs[0]].dtype
        wide = WideType(2, 2)  # unused but by hard_sigmoid
        if a.kind == "hard_sigmoid":
            alpha_type, beta_type = p.weight, p.bias or p.weight
            if beta_type != alpha_type:  # one array holds both: a type that holds each exactly
                frac = max(alpha_type.frac, beta_type.frac)
                integer = max(alpha_type.integer, beta_type.integer) + 1
                param_type = WideType(integer + frac, integer)
            wide = exact_affine_type(x, alpha_type, beta_type)
        param_t = self.types.add(self.node_name("ptype", node), param_type)
        params, table = np.zeros(2), np.zeros(2)
        has_low, has_high = "low" in node.params, "high" in node.params
        if a.kind == "leaky_relu":
            params[0] = node.param(self.graph, "alpha")[0]
        if a.kind == "hard_sigmoid":
            params[:] = [node.param(self.graph, "alpha")[0], node.param(self.graph, "beta")[0]]
        if a.kind == "clip":
            if has_low:
                table[0] = node.param(self.graph, "low")[0]
            if has_high:
                table[1] = node.param(self.graph, "high")[0]
        if a.kind in ("sigmoid", "tanh", "elu"):
            table = node.param(self.graph, "table")
            spec = p.table
        else:
            from nnfx.compiler.ir import TableSpec

            spec = TableSpec(size=2, shift=0, start=0)
        wide_t = self.types.add(self.node_name("widetype", node), wide)
        cfg = self.config(
            node,
            {"n_in": self.size(node.inputs[0])},
            {"param_t": param_t, "wide_t": wide_t},
            [
                *self.table_members(node, "lutscale", spec),
                f"static const nnfx::activation_kind kind = nnfx::{kinds[a.kind]};",
                f"static const bool has_low = {str(has_low).lower()};",
                f"static const bool has_high = {str(has_high).lower()};",
            ],
        )
        prm = self.constant(node, "params", param_t, params)
        tbl = self.constant(node, "lut", out_t, table)
        self.body.append(
            f"    nnfx::activation<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {prm}, {tbl});"
        )

    def _axis_geometry(self, name: str, axis: int) -> tuple[int, int, int]:
        shape = self.graph.tensors[name].shape
        axis = axis % len(shape)
        return (
            int(np.prod(shape[:axis], dtype=np.int64)),
            shape[axis],
            int(np.prod(shape[axis + 1 :], dtype=np.int64)),
        )

    def _op_softmax(self, node, ins, out, in_t, out_t):
        """The exp and inverse table rules are the nested structs exp_config, inv_config."""
        p = node.precision
        outer, n, inner = self._axis_geometry(node.inputs[0], node.attrs.axis)
        x = self.graph.tensors[node.inputs[0]].dtype
        exp_t = self.types.add(self.node_name("etype", node), p.table_type)
        inv_t = self.types.add(self.node_name("itype", node), p.inverse_type)
        sum_t = self.types.add(self.node_name("total", node), exact_sum_type(p.table_type, n))
        # max - x lies in [0, 2^I_x) (signed or not), LSB of x: signed, one bit wider than x
        diff_t = self.types.add(
            self.node_name("difftype", node), WideType(x.width + 1, x.integer + 1)
        )
        nested = [
            *self._struct(
                "exp_config", {}, {}, self.table_members(node, "expscale", p.table)
            ).splitlines(),
            *self._struct(
                "inv_config", {}, {}, self.table_members(node, "invscale", p.inverse_table)
            ).splitlines(),
        ]
        cfg = self.config(
            node,
            {"outer": outer, "n": n, "inner": inner, "log": node.attrs.log},
            {"exp_t": exp_t, "inv_t": inv_t, "sum_t": sum_t, "diff_t": diff_t},
            nested,
        )
        e = self.constant(node, "explut", exp_t, node.param(self.graph, "table"))
        r = self.constant(node, "invlut", inv_t, node.param(self.graph, "inverse_table"))
        self.body.append(
            f"    nnfx::softmax<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {e}, {r});"
        )

    def _op_argmax(self, node, ins, out, in_t, out_t):
        a = node.attrs
        outer, n, inner = self._axis_geometry(node.inputs[0], a.axis)
        cfg = self.config(
            node, {"outer": outer, "n": n, "inner": inner, "has_classes": a.classes is not None}, {}
        )
        classes = self.constant(
            node, "labels", "int", list(a.classes) if a.classes is not None else list(range(n))
        )
        self.body.append(f"    nnfx::argmax<{in_t[0]}, {cfg}>({ins[0]}, {out}, {classes});")

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
            f"#pragma HLS PIPELINE II={self.options.reuse_factor}"
            if self.options.strategy == "latency"
            else "#pragma HLS DATAFLOW"
        )
        substitutions = {
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
            "clock": _literal(self.options.clock_period_ns),
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
        out["firmware/nnfx_kernels.h"] = (TEMPLATES / "nnfx_kernels.h").read_text()
        for name, text in self.weights.items():
            out[f"firmware/weights/{name}"] = text
        out[f"tb/{top}_tb.cpp"] = self._testbench()
        return out

    def _testbench(self) -> str:
        g = self.graph
        declare, read, call, write = [], [], [], []
        for n in g.inputs:
            v, t, size = self.var[n], self.names.tensor_type(n), self.size(n)
            declare.append(f"    static {t} {v}[{size}];")
            read.append(f"        if (!nnfx_read_values(in, {v}, {size})) break;")
            call.append(v)
        for n in g.outputs:
            v, t, size = self.var[n], self.names.tensor_type(n), self.size(n)
            declare.append(f"    static {t} {v}[{size}];")
            write.append(f"        mismatches += nnfx_write_values(out, expected, {v}, {size});")
            call.append(v)
        return Template((TEMPLATES / "tb.cpp.in").read_text()).substitute(
            top=self.top,
            declare="\n".join(declare),
            read="\n".join(read),
            call=", ".join(call),
            write="\n".join(write),
        )


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


def write_project(
    graph: Graph,
    folder: str | Path,
    options: HlsOptions | None = None,
    *,
    force: bool = False,
    inputs: Iterable = (),
) -> Path:
    """Write the project into ``folder`` (through a temporary directory: never half-written;
    replacing only a folder nnfx wrote, see nnfx.files)."""
    from nnfx.files import staged_directory

    folder = Path(folder)
    files = HlsWriter(graph, options).files()
    with staged_directory(folder, "HLS project", force=force, inputs=inputs) as staging:
        for rel, text in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (staging / "tb" / "tb_data").mkdir(parents=True, exist_ok=True)
    return folder
