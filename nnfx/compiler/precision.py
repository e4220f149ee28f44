"""Precision assignment: which fixed-point type every tensor, constant, accumulator and table
of a float IR graph gets.

Three ways to choose, combinable:

- one type for everything (``fixed<16,6>``, hls4ml's default);
- ``auto``: calibration data runs through the float reference; every tensor gets the integer
  bits its observed range needs (plus ``margin_bits``), weights and biases the bits their own
  values need, all at a total ``width``; outputs of ReLU, sigmoid and softmax are unsigned;
  rounding to nearest and saturation, so a value beyond the calibration range clips instead of
  wrapping;
- overrides per layer (node name) or per tensor, from a config file or dict (docs/precision.md).

Accumulators are exact by default: the compiler proves a bound from the quantized weights and
the input range, and records the accumulator type that holds it (it never overflows). A
narrower accumulator may be chosen per layer; docs/semantics.md says what it computes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from nnfx.compiler import ir, layer_norm, model_types, precision_recurrent, tables, threshold
from nnfx.compiler.fixed import MAX_WIDTH, FixedType, quantize
from nnfx.compiler.ir import INTEGER, Graph, LayerPrecision, Node, freeze, validate
from nnfx.compiler.ops import ACTIVATION_KINDS, Activation, Op, activation_rule
from nnfx.compiler.passes._rewrite import add_constant
from nnfx.compiler.precision_activations import ACTIVATION_RULES
from nnfx.compiler.precision_config import PrecisionConfig
from nnfx.compiler.type_rules import (  # noqa: F401  (integer_bits, fit_type: public)
    SOFTMAX_EXP_RANGE,
    UNIT_INTEGER_BITS,
    fit_type,
    integer_bits,
)
from nnfx.compiler.windows import kernel_axes, windows
from nnfx.errors import PrecisionError, UnsupportedOpError


class _Assigner:
    def __init__(self, graph: Graph, config: PrecisionConfig, ranges: dict | None):
        self.graph, self.config, self.ranges = graph, config, ranges or {}
        self.types: dict[str, ir.DType] = {}
        self.constants = dict(graph.constants)
        self.nodes: list[Node] = []
        self.model_fixed = model_types.fixes_types(graph)  # a QONNX model's own types
        names = {n.name for n in graph.nodes}
        missing = [n for n in config.layers if n not in names]
        if missing:
            raise PrecisionError(
                f"precision config names layer(s) {', '.join(missing)} that the model does not "
                f"have; its layers are {', '.join(n.name for n in graph.nodes)}"
            )
        missing = [t for t in config.tensors if t not in graph.tensors]
        if missing:
            raise PrecisionError(
                f"precision config names tensor(s) {', '.join(missing)} that "
                "the model does not have"
            )

    # -- helpers -------------------------------------------------------------------------
    def layer(self, node: Node, key: str, default: Any = None) -> Any:
        """The layer's setting ``key`` as the config gives it (a number, a pair)."""
        return self.config.layers.get(node.name, {}).get(key, default)

    def layer_type(self, node: Node, key: str) -> FixedType | None:
        """The layer's type ``key`` (result, weight, bias, accum), None when not set."""
        value = self.layer(node, key)
        return None if value is None else FixedType.parse(value)

    def result_type(self, tensor: str, signed: bool, node: Node | None = None) -> FixedType:
        fixed = model_types.tensor_type(self.graph, tensor)  # the model's own (QONNX) first
        if fixed is not None or tensor in self.config.tensors:
            return fixed or FixedType.parse(self.config.tensors[tensor])
        given = None if node is None else self.layer_type(node, "result")
        if given is not None:
            return given
        if not self.config.auto:
            return FixedType.parse(self.config.default)
        if tensor not in self.ranges:
            raise PrecisionError(
                f"auto precision needs calibration data (tensor '{tensor}' has no observed range)"
            )
        low, high = self.ranges[tensor]
        width = self.config.width if node is None else self.layer(node, "width", self.config.width)
        return fit_type(max(abs(low), abs(high)), int(width), signed, self.config.margin_bits)

    def constant_type(self, node: Node, key: str, values: np.ndarray) -> FixedType:
        given = model_types.constant_type(node, key, values) or self.layer_type(node, key)
        if given is not None:
            return given
        if not self.config.auto:
            return FixedType.parse(self.config.default)
        width = int(self.layer(node, "width", self.config.width))
        return fit_type(float(np.max(np.abs(values))) if values.size else 0.0, width, True)

    def fixed(self, tensor: str) -> FixedType:
        """The fixed-point type assigned to ``tensor``; a PrecisionError when it has none."""
        t = self.types[tensor]
        if not isinstance(t, FixedType):
            raise PrecisionError(f"tensor '{tensor}' is {t}, not fixed point")
        return t

    def store(self, node: Node, role: str, values: np.ndarray, t: FixedType) -> str:
        return add_constant(self.constants, f"{node.name}.{role}_q", quantize(values, t))

    def internal_type(self, integer: int, signed: bool = False) -> FixedType:
        return FixedType(self.config.table_width, integer, signed, "RND", "SAT")

    # -- the walk ------------------------------------------------------------------------
    def run(self) -> Graph:
        for name in self.graph.inputs:
            self.types[name] = self.result_type(name, signed=True)
        for node in self.graph.nodes:
            self.nodes.append(self.assign(node))
        tensors = {
            name: dataclasses.replace(t, dtype=self.types.get(name, t.dtype))
            for name, t in self.graph.tensors.items()
        }
        graph = self.graph.replace(
            nodes=tuple(self.nodes), tensors=tensors, constants=freeze(self.constants)
        )
        from nnfx.compiler.passes import eliminate_dead_code

        graph = eliminate_dead_code(graph)
        validate(graph)
        return graph

    def assign(self, node: Node) -> Node:
        rule = PRECISION_RULES.get(node.op)
        if rule is None:
            raise UnsupportedOpError(
                f"precision assignment has no rule for op '{node.op.value}' (node "
                f"'{node.name}'); it has {', '.join(op.value for op in PRECISION_RULES)}"
            )
        return model_types.settle(self, rule(self, node, [self.types[i] for i in node.inputs]))

    # -- rules that type the output themselves ---------------------------------------------
    def _argmax(self, node: Node, in_types) -> Node:
        self.types[node.outputs[0]] = INTEGER
        return node

    def _pass_through(self, node: Node, in_types) -> Node:
        self.types[node.outputs[0]] = in_types[0]
        return node

    def _concat(self, node: Node, in_types) -> Node:
        """A type that holds every input exactly (unless overridden)."""
        fixed = [self.fixed(name) for name in node.inputs]
        integer = max(t.integer + (0 if t.signed else 1) for t in fixed)
        frac = max(t.frac for t in fixed)
        exact = FixedType(min(integer + frac, MAX_WIDTH), integer)
        out = node.outputs[0]
        self.types[out] = FixedType.parse(self.config.tensors.get(out, exact))
        return node

    def _result(self, node: Node) -> FixedType:
        """The output's type: its own range (auto), the default or an override; unsigned
        where the op's output is never negative."""
        signed = True
        if node.op is Op.ACTIVATION:
            a = node.attrs
            non_negative = ACTIVATION_KINDS[a.kind].non_negative
            signed = not (non_negative or (a.kind is Activation.CLIP and a.min >= 0))
        elif node.op is Op.SOFTMAX:
            signed = node.attrs.log
        out_type = self.result_type(node.outputs[0], signed, node)
        self.types[node.outputs[0]] = out_type
        return out_type

    def _element_wise(self, node: Node, in_types) -> Node:
        self._result(node)
        return node

    def _weights(self, node: Node, in_type: FixedType, reduce_axes) -> Node:
        g = self.graph
        w = node.constant(g, "weight")
        w_type = self.constant_type(node, "weight", w)
        params = {"weight": self.store(node, "weight", w, w_type)}
        w_q = quantize(w, w_type)
        b = node.param(g, "bias")
        b_type = None
        bound = np.abs(w_q).sum(axis=reduce_axes) * max(abs(in_type.min), abs(in_type.max))
        if b is not None:
            b_type = self.constant_type(node, "bias", b)
            params["bias"] = self.store(node, "bias", b, b_type)
            bound = bound + np.abs(quantize(b, b_type))
        accum = self.layer_type(node, "accum")
        exact_frac = in_type.frac + w_type.frac
        if b_type is not None:
            exact_frac = max(exact_frac, b_type.frac)
        needed = integer_bits(float(np.max(bound)) if bound.size else 0.0, True)
        if accum is None and needed + exact_frac > MAX_WIDTH:
            raise PrecisionError(
                f"layer '{node.name}': an exact accumulator needs {needed + exact_frac} bits, "
                f"more than {MAX_WIDTH}; narrow the input, weight or bias types"
            )
        if accum is not None and accum.width + max(0, exact_frac - accum.frac) > MAX_WIDTH:
            raise PrecisionError(
                f"layer '{node.name}': accumulator {accum} with products of "
                f"{exact_frac} fractional bits exceeds {MAX_WIDTH} bits"
            )
        fused = node.attrs.activation
        if fused is not Activation.LINEAR and not ACTIVATION_KINDS[fused].fusable:
            raise PrecisionError(
                f"layer '{node.name}': a fused {node.attrs.activation} has no "
                "fixed-point rule; compile without fuse_activations"
            )
        sized = accum is None
        if sized:  # holds every possible sum exactly: sequential == exact accumulation
            # At least one bit: with I > W types every product may sit above the sum's bound
            # (all weights round to 0), and the width must stay >= 1 at the same grid.
            width = max(needed + exact_frac, 1)
            accum = FixedType(width, width - exact_frac)
        precision = LayerPrecision(weight=w_type, bias=b_type, accum=accum, accum_sized=sized)
        return dataclasses.replace(node, params=params, precision=precision)

    def _dense(self, node, in_types, out_type):
        return self._weights(node, in_types[0], reduce_axes=0)

    def _conv(self, node, in_types, out_type):
        rank = len(node.attrs.kernel_shape)
        return self._weights(node, in_types[0], reduce_axes=tuple(range(rank + 1)))

    def _batch_norm(self, node, in_types, out_type):
        g = self.graph
        scale, bias = node.param(g, "scale"), node.param(g, "bias")
        s_type = self.constant_type(node, "weight", scale)
        b_type = self.constant_type(node, "bias", bias)
        params = {
            "scale": self.store(node, "scale", scale, s_type),
            "bias": self.store(node, "bias", bias, b_type),
        }
        return dataclasses.replace(
            node, params=params, precision=LayerPrecision(weight=s_type, bias=b_type)
        )

    def _reciprocal(self, node, counts: np.ndarray) -> Node:
        t = self.internal_type(UNIT_INTEGER_BITS)
        params = {"reciprocal": self.store(node, "reciprocal", 1.0 / counts, t)}
        return dataclasses.replace(node, params=params, precision=LayerPrecision(weight=t))

    def _avg_pool(self, node, in_types, out_type):
        a = node.attrs
        if a.count_include_pad or not any(a.pads):
            counts = np.array([float(np.prod(a.kernel_shape))])
        else:
            shape = self.graph.tensors[node.inputs[0]].shape
            ones = np.ones((1, *shape[:-1], 1), np.int64)
            counts = windows(ones, a, 0).sum(axis=kernel_axes(a))
            counts = counts[0, ..., 0].astype(float)
        return self._reciprocal(node, counts)

    def _global_avg_pool(self, node, in_types, out_type):
        shape = self.graph.tensors[node.inputs[0]].shape
        return self._reciprocal(node, np.array([float(np.prod(shape[:-1]))]))

    def _activation(self, node, in_types, out_type):
        rule = activation_rule(ACTIVATION_RULES, node.attrs.kind, "precision assignment")
        return rule(self, node, out_type)

    def _softmax(self, node, in_types, out_type):
        size = self.layer(node, "table_size", self.config.table_size)
        low, high = self.layer(node, "table_range", SOFTMAX_EXP_RANGE)
        exp_spec = tables.spec_for_range(float(low), float(high), int(size))
        exp_type = self.internal_type(UNIT_INTEGER_BITS)
        n = self.graph.tensors[node.inputs[0]].shape[node.attrs.axis]
        top = 2.0 ** math.ceil(math.log2(n + 1))
        sum_spec = tables.spec_for_range(0.0, top, int(size))
        if node.attrs.log:
            inv_type = self.internal_type(integer_bits(math.log(top), True))
            inv_type = inv_type.with_(signed=True)
        else:
            inv_type = self.internal_type(UNIT_INTEGER_BITS)
        params = {
            "table": add_constant(
                self.constants, f"{node.name}.exp_table", tables.exp_table(exp_spec, exp_type)
            ),
            "inverse_table": add_constant(
                self.constants,
                f"{node.name}.inverse_table",
                tables.inverse_table(sum_spec, inv_type, node.attrs.log),
            ),
        }
        precision = LayerPrecision(
            table=exp_spec, table_type=exp_type, inverse_table=sum_spec, inverse_type=inv_type
        )
        return dataclasses.replace(node, params=params, precision=precision)


def _typed(method: Callable[..., Node]) -> Callable[[_Assigner, Node, list], Node]:
    """A rule that needs its output's type first (:meth:`_Assigner._result`)."""
    return lambda a, node, in_types: method(a, node, in_types, a._result(node))


# Op -> its precision rule; the engine-coverage test walks this table.
PRECISION_RULES: dict[Op, Callable[[_Assigner, Node, list], Node]] = {
    Op.DENSE: _typed(_Assigner._dense),
    Op.CONV: _typed(_Assigner._conv),
    Op.MAX_POOL: _Assigner._pass_through,
    Op.AVG_POOL: _typed(_Assigner._avg_pool),
    Op.GLOBAL_AVG_POOL: _typed(_Assigner._global_avg_pool),
    Op.GLOBAL_MAX_POOL: _Assigner._pass_through,
    Op.BATCH_NORM: _typed(_Assigner._batch_norm),
    Op.ACTIVATION: _typed(_Assigner._activation),
    Op.SOFTMAX: _typed(_Assigner._softmax),
    Op.LAYER_NORM: lambda a, node, in_types: layer_norm.assign(a, node, in_types, a._result(node)),
    Op.ADD: _Assigner._element_wise,
    Op.SUB: _Assigner._element_wise,
    Op.MUL: _Assigner._element_wise,
    Op.CONCAT: _Assigner._concat,
    Op.FLATTEN: _Assigner._pass_through,
    Op.RESHAPE: _Assigner._pass_through,
    Op.TRANSPOSE: _Assigner._pass_through,
    Op.IDENTITY: _Assigner._pass_through,
    Op.ARGMAX: _Assigner._argmax,
    Op.SLICE: _Assigner._pass_through,  # codes copied
    Op.UPSAMPLE: _Assigner._pass_through,  # codes copied
    Op.PAD: _Assigner._pass_through,  # codes copied, the code 0 around them
    Op.RECURRENT: lambda a, node, in_types: precision_recurrent.assign(
        a, node, in_types, a._result(node)
    ),
    Op.THRESHOLD: lambda a, node, in_types: threshold.assign(a, node, in_types, a._result(node)),
}


def check_calibration(graph: Graph, calibration: dict[str, np.ndarray]) -> None:
    """Refuse NaN and infinite calibration values, naming the input and the first bad index
    (in the model's layout): they would make every observed range meaningless."""
    from nnfx.compiler.ir import for_message
    from nnfx.errors import DataError

    for name, x in calibration.items():
        bad = np.flatnonzero(~np.isfinite(np.asarray(x, np.float64)))
        if bad.size:
            index = np.unravel_index(bad[0], np.shape(x))
            perm = graph.tensors[name].onnx_perm or tuple(range(len(index) - 1))
            sample = [0] * len(perm)
            for axis, p in enumerate(perm):
                sample[p] = int(index[axis + 1])
            raise DataError(
                f"calibration data: input '{for_message(name)}' holds "
                f"{np.asarray(x).reshape(-1)[bad[0]]} at index {(int(index[0]), *sample)} "
                f"({bad.size} non-finite values); calibration needs finite values"
            )


def assign_precision(
    graph: Graph, config: PrecisionConfig, ranges: dict[str, tuple] | None = None
) -> Graph:
    """A typed copy of the float graph: quantized constants, tables, a type per tensor.
    ``ranges``: each tensor's (min, max) on calibration data, as the caller observed them
    (:func:`nnfx.runtime.calibration.observed_ranges`); ``auto`` precision needs them."""
    if config.auto and ranges is None:
        raise PrecisionError(
            "auto precision needs calibration data (calibration=X, or --calibration data.npz)"
        )
    return _Assigner(graph, config, ranges).run()
