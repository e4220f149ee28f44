"""Compiled IR -> a Vitis HLS project: firmware, weights, testbench, Tcl script, README.

Python fills in only what changes per model — typedefs, one config struct per layer, the
constants and one kernel call per node — into small templates with named slots; the kernels
themselves are the C++ headers in ``templates/``. Output is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import numpy as np

from nnfx.backends.hls.names import c_identifier
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ir import INTEGER, Graph, Node
from nnfx.errors import ConfigError, PrecisionError

TEMPLATES = Path(__file__).parent / "templates"
STRATEGIES = ("latency", "resource")
BOUNDARY_BITS = 53  # inputs and outputs cross the C-simulation boundary as exact doubles


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
        names = {n.name for n in graph.nodes}
        for what, table in (
            ("reuse factor", self.layer_reuse_factor),
            ("strategy", self.layer_strategy),
        ):
            unknown = [k for k in table if k not in names]
            if unknown:
                raise ConfigError(
                    f"per-layer {what} names layer(s) {', '.join(unknown)} that the "
                    "model does not have"
                )
        for s in [self.strategy, *self.layer_strategy.values()]:
            if s not in STRATEGIES:
                raise ConfigError(
                    f"unknown strategy '{s}'; expected one of {', '.join(STRATEGIES)}"
                )
        for r in [self.reuse_factor, *self.layer_reuse_factor.values()]:
            if not isinstance(r, int) or r < 1:
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
    kept = "".join(c if c.isalnum() else "_" for c in str(text))
    return "_".join(part for part in kept.split("_") if part)[:80] or "model"


def _literal(value: float) -> str:
    """A double literal that parses back to exactly ``value`` (repr round-trips)."""
    text = repr(float(value))
    return text if ("." in text or "e" in text or "inf" in text) else text + ".0"


def _bits_for(count: int) -> int:
    return max(1, math.ceil(math.log2(max(count, 1) + 1)))


INDEX_TYPE = FixedType(32, 32, True, "TRN", "SAT")  # floor, then clamp: the table index


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
        taken: set[str] = set()
        self.top = c_identifier(self.options.top, taken)
        self.var = {name: c_identifier(name, taken) for name in graph.tensors}
        self.node_id = {n.name: c_identifier(n.name, taken) for n in graph.nodes}
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
                    f"tensor '{name}' ({t}) is wider than {BOUNDARY_BITS} bits; the C-simulation "
                    "exchanges inputs and outputs as exact doubles"
                )

    # -- pieces ------------------------------------------------------------------------------
    def tensor_type(self, name: str) -> str:
        return self.types.add(f"{self.var[name]}_t", self.graph.tensors[name].dtype)

    def size(self, name: str) -> int:
        return int(np.prod(self.graph.tensors[name].shape, dtype=np.int64))

    def constant(self, node: Node, role: str, ctype: str, values) -> str:
        """A typed constant array in weights/<layer>_<role>.h; returns its C name."""
        nid = self.node_id[node.name]
        name = f"{role}_{nid}"
        flat = np.asarray(values, dtype=np.float64).reshape(-1)
        items = (
            ", ".join(_literal(v) for v in flat)
            if ctype != "int"
            else ", ".join(str(int(v)) for v in flat)
        )
        self.weights[f"{nid}_{role}.h"] = (
            f"// {role} of layer '{nid}': {flat.size} values of {ctype}\n"
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

    def config(self, node: Node, fields: dict[str, object], types: dict[str, str]) -> str:
        name = f"config_{self.node_id[node.name]}"
        lines = [f"struct {name} {{"]
        for key, value in fields.items():
            if isinstance(value, bool):
                lines.append(f"    static const bool {key} = {'true' if value else 'false'};")
            else:
                lines.append(f"    static const int {key} = {int(value)};")
        for key, value in types.items():
            lines.append(f"    typedef {value} {key};")
        lines.append("};")
        self.configs.append("\n".join(lines))
        return name

    def table_config(self, node: Node, suffix: str, spec, extra: list[str] | None = None) -> str:
        """A config with the table index rule: index_t, scale() = 2^shift, start and size."""
        nid = self.node_id[node.name]
        index_t = self.types.add("nnfx_index_t", INDEX_TYPE)
        scale_t = self.types.add(f"scale_{nid}{suffix}_t", FixedType(1, spec.shift + 1, False))
        name = f"config_{nid}{suffix}"
        lines = [
            f"struct {name} {{",
            f"    static const int table_size = {spec.size};",
            f"    static const int table_start = {spec.start};",
            f"    typedef {index_t} index_t;",
            f"    static {scale_t} scale() {{ return {scale_t}({_literal(2.0**spec.shift)}); }}",
        ]
        lines.extend(f"    {line}" for line in extra or [])
        lines.append("};")
        self.configs.append("\n".join(lines))
        return name

    # -- ops -----------------------------------------------------------------------------------
    def emit(self, node: Node) -> None:
        writer = getattr(self, f"_op_{node.op.name.lower()}")
        ins = [self.var[self.aliases.get(i, i)] for i in node.inputs]
        out = self.var[node.outputs[0]]
        in_t = [self.tensor_type(i) for i in node.inputs]
        out_t = self.tensor_type(node.outputs[0])
        self.body.append(f"    // {node.op.value} {self.node_id[node.name]}")
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

    def _linear_types(self, node: Node) -> dict[str, str]:
        nid, p = self.node_id[node.name], node.precision
        types = {
            "weight_t": self.types.add(f"weight_{nid}_t", p.weight),
            "accum_t": self.types.add(f"accum_{nid}_t", p.accum),
        }
        types["bias_t"] = self.types.add(f"bias_{nid}_t", p.bias or p.weight)
        return types

    def _bias(self, node: Node, types) -> str:
        if "bias" in node.params:
            return self.constant(node, "bias", types["bias_t"], node.param(self.graph, "bias"))
        return self.constant(node, "bias", types["bias_t"], [0.0])

    def _op_dense(self, node, ins, out, in_t, out_t):
        a = node.attrs
        types = self._linear_types(node)
        cfg = self.config(
            node,
            {
                "n_in": a.n_in,
                "n_out": a.n_out,
                "has_bias": "bias" in node.params,
                "relu": a.activation == "relu",
                "reuse_factor": self.options.reuse(node),
            },
            types,
        )
        w = self.constant(node, "weight", types["weight_t"], node.param(self.graph, "weight"))
        b = self._bias(node, types)
        self._layer_pragmas(node, [w])
        self.body.append(f"    nnfx::dense<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {w}, {b});")

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
            "has_bias": "bias" in node.params,
            "relu": a.activation == "relu",
            "reuse_factor": self.options.reuse(node),
        }
        types = self._linear_types(node)
        cfg = self.config(node, fields, types)
        w = self.constant(node, "weight", types["weight_t"], node.param(self.graph, "weight"))
        b = self._bias(node, types)
        self._layer_pragmas(node, [w])
        self.body.append(f"    nnfx::conv2d<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {w}, {b});")

    def _pool(self, node, ins, out, in_t, out_t, is_max):
        a = node.attrs
        in_shape = self.graph.tensors[node.inputs[0]].shape
        out_shape = self.graph.tensors[node.outputs[0]].shape
        two_d = len(a.kernel_shape) == 2
        rank = len(a.kernel_shape)
        nid = self.node_id[node.name]
        count = int(np.prod(a.kernel_shape))
        x = self.graph.tensors[node.inputs[0]].dtype
        sum_t = self.types.add(
            f"sum_{nid}_t",
            FixedType(min(x.width + _bits_for(count) + 1, 62), x.integer + _bits_for(count) + 1),
        )
        recip_type = node.precision.weight if not is_max else FixedType(18, 1, False)
        recip_t = self.types.add(f"recip_{nid}_t", recip_type)
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
        r = self.constant(node, "reciprocal", recip_t, recip)
        self.body.append(f"    nnfx::pool2d<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {r});")

    def _op_max_pool(self, *args):
        self._pool(*args, is_max=True)

    def _op_avg_pool(self, *args):
        self._pool(*args, is_max=False)

    def _global(self, node, ins, out, in_t, out_t, is_max):
        shape = self.graph.tensors[node.inputs[0]].shape
        positions = int(np.prod(shape[:-1]))
        nid = self.node_id[node.name]
        x = self.graph.tensors[node.inputs[0]].dtype
        sum_t = self.types.add(
            f"sum_{nid}_t",
            FixedType(
                min(x.width + _bits_for(positions) + 1, 62), x.integer + _bits_for(positions) + 1
            ),
        )
        recip_type = FixedType(18, 1, False) if is_max else node.precision.weight
        recip_t = self.types.add(f"recip_{nid}_t", recip_type)
        recip = np.array([0.0]) if is_max else node.param(self.graph, "reciprocal")
        cfg = self.config(
            node,
            {"n_positions": positions, "n_chan": shape[-1], "is_max": is_max},
            {"sum_t": sum_t, "recip_t": recip_t},
        )
        r = self.constant(node, "reciprocal", recip_t, recip)
        self.body.append(f"    nnfx::global_pool<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {r});")

    def _op_global_avg_pool(self, *args):
        self._global(*args, is_max=False)

    def _op_global_max_pool(self, *args):
        self._global(*args, is_max=True)

    def _op_batch_norm(self, node, ins, out, in_t, out_t):
        p, nid = node.precision, self.node_id[node.name]
        scale_t = self.types.add(f"scale_{nid}_t", p.weight)
        bias_t = self.types.add(f"bias_{nid}_t", p.bias)
        scale = node.param(self.graph, "scale")
        cfg = self.config(
            node,
            {"n_in": self.size(node.inputs[0]), "n_scale": scale.size},
            {"scale_t": scale_t, "bias_t": bias_t},
        )
        s = self.constant(node, "scale", scale_t, scale)
        b = self.constant(node, "bias", bias_t, node.param(self.graph, "bias"))
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
        shape = self.graph.tensors[node.outputs[0]].shape
        axis = node.attrs.axis % len(shape)
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        inner_out = int(np.prod(shape[axis:], dtype=np.int64))
        offset = 0
        for k, (name, var, t) in enumerate(zip(node.inputs, ins, in_t, strict=True)):
            inner = int(np.prod(self.graph.tensors[name].shape[axis:], dtype=np.int64))
            part = f"config_{self.node_id[node.name]}_{k}"
            fields = {"outer": outer, "inner": inner, "inner_out": inner_out, "offset": offset}
            body = "".join(f"    static const int {k} = {v};\n" for k, v in fields.items())
            self.configs.append(f"struct {part} {{\n{body}}};")
            self.body.append(f"    nnfx::concat_part<{t}, {out_t}, {part}>({var}, {out});")
            offset += inner

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
        idx = self.constant(node, "index", "int", index)
        self.body.append(f"    nnfx::permute<{in_t[0]}, {out_t}, {cfg}>({ins[0]}, {out}, {idx});")

    def _op_activation(self, node, ins, out, in_t, out_t):
        a, p, nid = node.attrs, node.precision, self.node_id[node.name]
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
        param_t = self.types.add(f"param_{nid}_t", param_type)
        params, table = np.zeros(2), np.zeros(2)
        x = self.graph.tensors[node.inputs[0]].dtype
        wide = FixedType(
            min(x.width + param_type.width + 4, 62), x.integer + param_type.integer + 3
        )
        extra = {"n_in": self.size(node.inputs[0])}
        if a.kind == "leaky_relu":
            params[0] = node.param(self.graph, "alpha")[0]
        if a.kind == "hard_sigmoid":
            params[:] = [node.param(self.graph, "alpha")[0], node.param(self.graph, "beta")[0]]
        if a.kind == "clip":
            extra["has_low"], extra["has_high"] = "low" in node.params, "high" in node.params
            if "low" in node.params:
                table[0] = node.param(self.graph, "low")[0]
            if "high" in node.params:
                table[1] = node.param(self.graph, "high")[0]
        if a.kind in ("sigmoid", "tanh", "elu"):
            table = node.param(self.graph, "table")
            spec = p.table
        else:
            from nnfx.compiler.ir import TableSpec

            spec = TableSpec(size=2, shift=0, start=0)
        wide_t = self.types.add(f"wide_{nid}_t", wide)
        cfg = self.table_config(
            node,
            "",
            spec,
            [
                f"static const int n_in = {extra['n_in']};",
                f"static const nnfx::activation_kind kind = nnfx::{kinds[a.kind]};",
                f"static const bool has_low = {str(extra.get('has_low', False)).lower()};",
                f"static const bool has_high = {str(extra.get('has_high', False)).lower()};",
                f"typedef {param_t} param_t;",
                f"typedef {wide_t} wide_t;",
            ],
        )
        prm = self.constant(node, "param", param_t, params)
        tbl = self.constant(node, "table", out_t, table)
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
        p, nid = node.precision, self.node_id[node.name]
        outer, n, inner = self._axis_geometry(node.inputs[0], node.attrs.axis)
        exp_cfg = self.table_config(node, "_exp", p.table)
        inv_cfg = self.table_config(node, "_inv", p.inverse_table)
        x = self.graph.tensors[node.inputs[0]].dtype
        exp_t = self.types.add(f"exp_{nid}_t", p.table_type)
        inv_t = self.types.add(f"inv_{nid}_t", p.inverse_type)
        sum_t = self.types.add(
            f"sum_{nid}_t",
            FixedType(
                p.table_type.width + _bits_for(n) + 1, p.table_type.integer + _bits_for(n) + 1
            ),
        )
        diff_t = self.types.add(f"diff_{nid}_t", FixedType(min(x.width + 2, 62), x.integer + 2))
        cfg = self.config(
            node,
            {"outer": outer, "n": n, "inner": inner, "log": node.attrs.log},
            {
                "exp_t": exp_t,
                "inv_t": inv_t,
                "sum_t": sum_t,
                "diff_t": diff_t,
                "exp_config": exp_cfg,
                "inv_config": inv_cfg,
            },
        )
        e = self.constant(node, "exp_table", exp_t, node.param(self.graph, "table"))
        r = self.constant(node, "inv_table", inv_t, node.param(self.graph, "inverse_table"))
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
            node, "classes", "int", list(a.classes) if a.classes is not None else list(range(n))
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
            "TOP": top.upper(),
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
            v, size = self.var[n], self.size(n)
            declare.append(f"    static {v}_t {v}[{size}];")
            read.append(f"        if (!read_values(in, {v}, {size})) break;")
            call.append(v)
        for n in g.outputs:
            v, size = self.var[n], self.size(n)
            declare.append(f"    static {v}_t {v}[{size}];")
            write.append(f"        mismatches += write_values(out, expected, {v}, {size});")
            call.append(v)
        return Template((TEMPLATES / "tb.cpp.in").read_text()).substitute(
            top=self.top,
            declare="\n".join(declare),
            read="\n".join(read),
            call=", ".join(call),
            write="\n".join(write),
        )


def write_project(graph: Graph, folder: str | Path, options: HlsOptions | None = None) -> Path:
    """Write the project into ``folder`` (through a temporary directory: never half-written)."""
    from nnfx.files import staged_directory

    folder = Path(folder)
    files = HlsWriter(graph, options).files()
    with staged_directory(folder) as staging:
        for rel, text in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (staging / "tb" / "tb_data").mkdir(parents=True, exist_ok=True)
    return folder
