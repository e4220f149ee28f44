"""Resource and latency estimates of the emitted HLS design, per layer and in total.

Every figure here is an **estimate** from a simple, documented model (docs/estimate.md), not a
synthesis result: it is meant to compare bit widths and reuse factors before running Vitis.

The model, for a layer with reuse factor R:

- a Dense or Conv performs ``n_mult`` constant-weight multiplications per output pixel (zero
  weights cost nothing); ``ceil(n_mult / R)`` multipliers are built. A multiplier maps to DSP
  slices (27x18 DSP48E2: ``ceil(a/27) * ceil(b/18)`` with ``a >= b``) when both operands are wider
  than 4 bits and the weight is not a power of two; otherwise to LUTs (about ``a*b/2``).
- the adder tree of each output has ``n_in - 1`` adders of the accumulator width, one LUT per bit.
  A binary layer (compiler/binary.py) is priced as its XNOR-popcount form instead.
- flip-flops hold each product and each output for one pipeline stage.
- weights stay in LUTs/registers under the latency strategy; under the resource strategy they
  go to block RAM: ``ceil(bits / 18432)`` BRAM18 per ``R``-way bank.
- a lookup table of ``size x width`` bits is one ROM per parallel lookup pair (dual port).
- latency in cycles: ``R`` + 3 (multiplier pipeline) + ``ceil(log2(n_in)) / 2`` (two adder
  levels per cycle at 200 MHz) for Dense; Conv repeats that per output pixel of its image
  (io_parallel processes one window at a time); element-wise ops 1, tables 2, softmax
  ``5 + ceil(log2(n))``, LayerNorm ``8 + 2 ceil(log2(n))``. The initiation interval of the
  design is the largest layer II.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from nnfx.compiler.binary import binary_form, binary_price
from nnfx.compiler.ir import INTEGER, Graph, Node
from nnfx.compiler.ops import Activation, Op, activation_rule
from nnfx.errors import ConfigError, UnsupportedOpError

# The part and clock every command, the HLS project and the report default to.
DEFAULT_PART = "xcvu13p-flga2577-2-e"
DEFAULT_CLOCK_PERIOD_NS = 5.0

# Capacities of common parts (DSP slices, LUTs, flip-flops, BRAM18 blocks).
PARTS = {
    "xcvu13p-flga2577-2-e": {"dsp": 12288, "lut": 1728000, "ff": 3456000, "bram18": 5376},
    "xcvu9p-flga2104-2l-e": {"dsp": 6840, "lut": 1182240, "ff": 2364480, "bram18": 4320},
    "xcku115-flvb2104-2-i": {"dsp": 5520, "lut": 663360, "ff": 1326720, "bram18": 4320},
    "xczu9eg-ffvb1156-2-e": {"dsp": 2520, "lut": 274080, "ff": 548160, "bram18": 1824},
    "xc7z020clg400-1": {"dsp": 220, "lut": 53200, "ff": 106400, "bram18": 280},
}

# The resources checked against a part's capacity, and how a count of each is named.
RESOURCES = {"dsp": "DSPs", "lut": "LUTs", "ff": "FFs", "bram18": "BRAM18s"}


@dataclass
class LayerEstimate:
    name: str
    op: str
    multiplications: int = 0
    multipliers: int = 0
    lut_multipliers: int = 0  # of the multipliers, how many map to LUTs (the rest: DSP slices)
    adders: int = 0
    dsp: int = 0
    lut: int = 0
    ff: int = 0
    bram18: int = 0
    latency_cycles: int = 1
    ii_cycles: int = 1
    reuse_factor: int = 1  # the layer's own (HlsOptions.layer_reuse_factor, else the design's)
    strategy: str = "latency"


@dataclass
class Estimate:
    layers: list[LayerEstimate]
    reuse_factor: int
    strategy: str
    clock_period_ns: float
    part: str

    def total(self) -> dict[str, float]:
        keys = (
            "multiplications",
            "multipliers",
            "lut_multipliers",
            "adders",
            "dsp",
            "lut",
            "ff",
            "bram18",
        )
        out = {k: sum(getattr(layer, k) for layer in self.layers) for k in keys}
        out["latency_cycles"] = sum(layer.latency_cycles for layer in self.layers)
        out["ii_cycles"] = max((layer.ii_cycles for layer in self.layers), default=1)
        out["latency_ns"] = out["latency_cycles"] * self.clock_period_ns
        out["ii_ns"] = out["ii_cycles"] * self.clock_period_ns
        return out

    def capacity(self) -> dict[str, int] | None:
        return PARTS.get(self.part)

    def overuse(self) -> dict[str, tuple[int, int]]:
        """The resources (keys of :data:`RESOURCES`) the design needs beyond the part's
        capacity, each as (needed, available); empty when it fits or the part is not in
        :data:`PARTS` (see :meth:`capacity`)."""
        capacity, total = self.capacity(), self.total()
        if capacity is None:
            return {}
        return {k: (int(total[k]), capacity[k]) for k in RESOURCES if int(total[k]) > capacity[k]}

    def fit_warning(self) -> str | None:
        """One line when the estimate exceeds the part (naming each resource over it, the
        ratio and what to try) or when the part's capacity is unknown; None when it fits."""
        if self.capacity() is None:
            return (
                f"the capacity of part {self.part!r} is unknown, so the estimate is not checked "
                f"against it (known parts: {', '.join(PARTS)})"
            )
        over = self.overuse()
        if not over:
            return None
        needs = [  # the percentage rounded up: over capacity never reads "100%"
            f"{needed:,} {RESOURCES[k]}, {math.ceil(100 * needed / available):,}% of "
            + (f"{self.part}'s {available:,}" if i == 0 else f"its {available:,}")
            for i, (k, (needed, available)) in enumerate(over.items())
        ]
        tries = ["a larger reuse factor"]
        if "lut" in over and self.strategy == "latency":
            tries.append("the resource strategy (weights in block RAM)")
        tries.append("narrower types")
        total = self.total()
        fitting = [
            part
            for part, capacity in sorted(PARTS.items(), key=lambda item: item[1]["dsp"])
            if all(total[k] <= capacity[k] for k in RESOURCES)
        ]
        tries.append(f"a larger part ({fitting[0]} fits)" if fitting else "a larger part")
        return (
            f"the estimated design does not fit the part: it needs {'; '.join(needs)}; try "
            f"{', '.join(tries[:-1])} or {tries[-1]}"
        )

    def to_dict(self) -> dict:
        return {
            "note": "estimates from nnfx's model (docs/estimate.md), not synthesis results",
            "reuse_factor": self.reuse_factor,
            "strategy": self.strategy,
            "clock_period_ns": self.clock_period_ns,
            "part": self.part,
            "capacity": self.capacity(),
            "total": self.total(),
            "layers": [asdict(layer) for layer in self.layers],
        }


def _bits(t) -> int:
    return 32 if t == INTEGER or t is None else t.width


def _multiplier_cost(a: int, b: int, weight: float) -> tuple[int, int]:
    """(DSP slices, LUTs) of one constant multiplication of an ``a``-bit by a ``b``-bit operand."""
    a, b = max(a, b), min(a, b)
    if weight == 0:
        return 0, 0
    power_of_two = abs(weight) == 2.0 ** round(math.log2(abs(weight)))
    if b <= 4 or power_of_two:
        return 0, 0 if power_of_two else max(1, a * b // 2)
    return math.ceil(a / 27) * math.ceil(b / 18), 0


def _linear(graph: Graph, node: Node, reuse: int, strategy: str) -> LayerEstimate:
    form = binary_form(graph, node)
    if form is not None:  # the XNOR-popcount form: no multiplier (compiler/binary.py)
        price = binary_price(graph, node, form, reuse, strategy == "resource")
        return LayerEstimate(
            node.name, node.op.value, reuse_factor=reuse, strategy=strategy, **price
        )
    return _linear_over(graph, node, node.constant(graph, "weight"), reuse, strategy)


def _linear_over(
    graph: Graph, node: Node, weights: np.ndarray, reuse: int, strategy: str
) -> LayerEstimate:
    p = node.precision
    x_bits = _bits(graph.tensors[node.inputs[0]].dtype)
    w_bits = p.weight.width if p and p.weight else 16
    n_out = weights.shape[-1]
    nonzero = weights[weights != 0]
    est = LayerEstimate(
        node.name,
        node.op.value,
        multiplications=int(nonzero.size),
        reuse_factor=reuse,
        strategy=strategy,
    )
    est.multipliers = math.ceil(nonzero.size / reuse)
    # cost of the multipliers actually built: the average weight's mapping, scaled
    dsp = lut = in_luts = 0
    for w in nonzero.reshape(-1):
        d, l_ = _multiplier_cost(x_bits, w_bits, float(w))
        dsp += d
        lut += l_
        in_luts += d == 0
    scale = est.multipliers / max(nonzero.size, 1)
    est.dsp, est.lut = math.ceil(dsp * scale), math.ceil(lut * scale)
    est.lut_multipliers = math.ceil(in_luts * scale)
    n_in = weights.size // n_out
    est.adders = math.ceil(max(n_in - 1, 0) * n_out / reuse)
    accum_bits = p.accum.width if p and p.accum else x_bits + w_bits
    est.lut += math.ceil((max(n_in - 1, 0) * n_out / reuse) * accum_bits)
    est.ff = est.multipliers * (x_bits + w_bits) + n_out * _bits(
        graph.tensors[node.outputs[0]].dtype
    )
    if strategy == "resource":
        est.bram18 = reuse * math.ceil(weights.size * w_bits / reuse / 18432)
    tree = math.ceil(math.ceil(math.log2(max(n_in, 2))) / 2)
    per_pixel = reuse + 3 + tree
    pixels = 1
    if node.op is Op.CONV:
        pixels = int(np.prod(graph.tensors[node.outputs[0]].shape[:-1]))
    est.latency_cycles = per_pixel + (pixels - 1) * reuse
    est.ii_cycles = reuse * pixels
    return est


def _recurrent(graph: Graph, node: Node, reuse: int, strategy: str) -> LayerEstimate:
    """One step's datapath, reused over the sequence (the static form): the gate sums priced
    as a Dense over ``[x_t, h_{t-1}]`` at the reuse factor, plus the state's element-wise
    products and the gate tables; latency and II are the steps times one step's."""
    a, p = node.attrs, node.layer_precision
    est = _linear_priced(graph, node, reuse, strategy)
    products = {"rnn": 0, "lstm": 3, "gru": 3}[a.cell] * a.hidden
    lookups = {"rnn": 1, "lstm": 5, "gru": 3}[a.cell] * a.hidden
    state_bits = _bits(graph.tensors[node.outputs[0]].dtype)
    est.multiplications = est.multiplications * a.steps + products * a.steps
    est.multipliers += products
    est.dsp += products * _multiplier_cost(p.type_of("table_type").width, state_bits, 3.0)[0]
    est.bram18 += math.ceil(lookups / 2) * _rom_blocks(p.spec("table"), 18)
    est.ff += a.hidden * 2 * state_bits
    per_step = est.latency_cycles + 2 + 3  # the sums, a table lookup, the state's products
    est.latency_cycles = a.steps * per_step
    est.ii_cycles = a.steps * max(reuse, per_step)
    return est


def _linear_priced(graph: Graph, node: Node, reuse: int, strategy: str) -> LayerEstimate:
    """A recurrent layer's gate sums priced as the Dense over ``[x_t, h_{t-1}]``."""
    w, r = node.constant(graph, "weight"), node.constant(graph, "recurrent")
    stacked = np.concatenate([w, r], axis=0)
    return _linear_over(graph, node, stacked, reuse, strategy)


def _wiring(graph: Graph, node: Node, est: LayerEstimate, n: int, bits: int) -> None:
    est.latency_cycles = 0  # wiring only


def _softmax(graph: Graph, node: Node, est: LayerEstimate, n: int, bits: int) -> None:
    p = node.layer_precision
    table_bits, inverse_bits = p.type_of("table_type").width, p.type_of("inverse_type").width
    axis = graph.tensors[node.inputs[0]].shape[node.attrs.axis]
    est.multipliers = n
    est.dsp = n * _multiplier_cost(table_bits, inverse_bits, 3.0)[0]
    est.lut = n * (bits + table_bits) * 2
    est.bram18 = math.ceil(n / 2) * _rom_blocks(p.spec("table")) + _rom_blocks(
        p.spec("inverse_table")
    )
    est.latency_cycles = 5 + math.ceil(math.log2(max(axis, 2)))


def _layer_norm(graph: Graph, node: Node, est: LayerEstimate, n: int, bits: int) -> None:
    """Three multipliers per value (d * d, d * T[u], z * scale), one table per row, two sums
    and the chain of threshold comparisons in the latency."""
    p = node.layer_precision
    x_bits = _bits(graph.tensors[node.inputs[0]].dtype) + math.ceil(math.log2(node.attrs.size + 1))
    table_bits = p.type_of("table_type").width
    est.multipliers = 3 * n
    est.dsp = n * (
        _multiplier_cost(x_bits, x_bits, 3.0)[0]
        + _multiplier_cost(x_bits, table_bits, 3.0)[0]
        + _multiplier_cost(table_bits, _bits(p.weight), 3.0)[0]
    )
    est.lut = n * (bits + 2 * x_bits)
    rows = max(n // node.attrs.size, 1)
    est.bram18 = rows * _rom_blocks(p.spec("table"), table_bits)
    est.latency_cycles = 8 + 2 * math.ceil(math.log2(max(node.attrs.size, 2)))


def _multiply(graph: Graph, node: Node, est: LayerEstimate, n: int, bits: int) -> None:
    """Element-wise products: Mul of two tensors, BatchNorm's scale, an activation's slope."""
    in_bits = _bits(graph.tensors[node.inputs[0]].dtype)
    est.multipliers = n
    est.dsp = n * _multiplier_cost(in_bits, 18 if node.op is not Op.MUL else in_bits, 3.0)[0]
    est.lut = n * bits
    est.latency_cycles = 3


def _activation(graph: Graph, node: Node, est: LayerEstimate, n: int, bits: int) -> None:
    price = activation_rule(ACTIVATION_ESTIMATORS, node.attrs.kind, "estimator")
    price(graph, node, est, n, bits)


def _lookup(graph: Graph, node: Node, est: LayerEstimate, n: int, bits: int) -> None:
    """A table activation: a ROM per two values (logic while it has no table yet)."""
    if not (node.precision and node.precision.table):
        _logic(graph, node, est, n, bits)
        return
    est.bram18 = math.ceil(n / 2) * _rom_blocks(node.precision.table, bits)
    est.lut = n * 8
    est.latency_cycles = 2


def _lookup_linear(graph: Graph, node: Node, est: LayerEstimate, n: int, bits: int) -> None:
    """A table with its linear asymptote above: the ROM, and selu's slope (gamma, not 1)
    a multiplier per value."""
    if node.attrs.kind is Activation.SELU:
        _multiply(graph, node, est, n, bits)
    multipliers, dsp = est.multipliers, est.dsp
    _lookup(graph, node, est, n, bits)
    est.multipliers, est.dsp = multipliers, dsp


def _logic(graph: Graph, node: Node, est: LayerEstimate, n: int, bits: int) -> None:
    """Comparisons, additions, pooling, argmax: LUT logic."""
    est.lut = n * bits * (2 if node.op in (Op.MAX_POOL, Op.AVG_POOL) else 1)
    est.latency_cycles = 1 + (2 if node.op in (Op.AVG_POOL, Op.GLOBAL_AVG_POOL) else 0)


def _thresholds(graph: Graph, node: Node, est: LayerEstimate, n: int, bits: int) -> None:
    """MultiThreshold: ``B`` comparators of the threshold width per value, then a select."""
    steps = node.constant(graph, "thresholds").shape[-1]
    width = _bits(node.precision.weight if node.precision else None)
    est.lut = n * (steps * width + bits)
    est.latency_cycles = 1 + math.ceil(math.log2(steps + 1)) // 2


# Activation kind -> how it is priced: a table, a constant slope (multipliers) or logic.
ACTIVATION_ESTIMATORS: dict[Activation, Callable[..., None]] = {
    Activation.LINEAR: _logic,
    Activation.RELU: _logic,
    Activation.LEAKY_RELU: _multiply,
    Activation.ELU: _lookup,
    Activation.SIGMOID: _lookup,
    Activation.TANH: _lookup,
    Activation.CLIP: _logic,
    Activation.HARD_SIGMOID: _multiply,
    Activation.SELU: _lookup_linear,
    Activation.SOFTPLUS: _lookup_linear,
    Activation.HARD_SWISH: _lookup_linear,
    Activation.GELU: _lookup_linear,
    Activation.GELU_TANH: _lookup_linear,
    Activation.MISH: _lookup_linear,
    Activation.BIPOLAR: _logic,  # a sign comparison choosing one of two codes
}

# Op -> how a layer of it is priced (Dense and Conv by _linear). No op is priced by default:
# an op without an entry is an error, and the engine-coverage test walks this table.
ESTIMATORS: dict[Op, Callable[..., object]] = {
    Op.DENSE: _linear,
    Op.CONV: _linear,
    Op.MAX_POOL: _logic,
    Op.AVG_POOL: _logic,
    Op.GLOBAL_AVG_POOL: _logic,
    Op.GLOBAL_MAX_POOL: _logic,
    Op.BATCH_NORM: _multiply,
    Op.ACTIVATION: _activation,
    Op.SOFTMAX: _softmax,
    Op.LAYER_NORM: _layer_norm,
    Op.ADD: _logic,
    Op.SUB: _logic,
    Op.MUL: _multiply,
    Op.CONCAT: _logic,
    Op.FLATTEN: _wiring,
    Op.RESHAPE: _wiring,
    Op.TRANSPOSE: _wiring,
    Op.IDENTITY: _wiring,
    Op.ARGMAX: _logic,
    Op.SLICE: _wiring,  # codes copied: wires
    Op.UPSAMPLE: _wiring,  # a fixed index mapping, like Transpose: no logic, no DSPs
    Op.PAD: _wiring,  # the input's wires and constant zeros
    Op.RECURRENT: _recurrent,  # one step's datapath, reused over time
    Op.THRESHOLD: _thresholds,  # B comparators per value, a B + 1 entry result table
}


def estimate(
    graph: Graph,
    reuse_factor: int = 1,
    strategy: str = "latency",
    clock_period_ns: float = 5.0,
    part: str = "xcvu13p-flga2577-2-e",
    *,
    layer_reuse_factor: dict[str, int] | None = None,
    layer_strategy: dict[str, str] | None = None,
) -> Estimate:
    """Per-layer estimates for a compiled graph (see the module docstring for the model).
    ``layer_reuse_factor`` and ``layer_strategy`` (by IR node name) override the design's
    reuse factor and strategy for those layers, as the HLS writer's options of the same
    names do."""
    layer_reuse_factor = layer_reuse_factor or {}
    layer_strategy = layer_strategy or {}
    for name in (*layer_reuse_factor, *layer_strategy):
        if name not in {node.name for node in graph.nodes}:
            raise ConfigError(f"the estimate's per-layer options name no layer '{name}'")
    layers = []
    for node in graph.nodes:
        rule = ESTIMATORS.get(node.op)
        if rule is None:
            supported = ", ".join(op.value for op in ESTIMATORS)
            raise UnsupportedOpError(
                f"the estimator has no rule for op '{node.op.value}' (node '{node.name}'); it "
                f"prices {supported}"
            )
        if rule is _linear or rule is _recurrent:
            reuse = int(layer_reuse_factor.get(node.name, reuse_factor))
            layer = rule(graph, node, reuse, layer_strategy.get(node.name, strategy))
            layers.append(layer)
            continue
        out = graph.tensors[node.outputs[0]]
        n = int(np.prod(out.shape)) if out.shape else 1
        bits = _bits(out.dtype)
        est = LayerEstimate(node.name, node.op.value, strategy=strategy)
        rule(graph, node, est, n, bits)
        est.ff = n * bits
        est.ii_cycles = 1
        layers.append(est)
    return Estimate(layers, reuse_factor, strategy, clock_period_ns, part)


def _rom_blocks(spec, width: int = 18) -> int:
    """BRAM18 blocks for one copy of a table (small tables fit in LUTs: 0 blocks)."""
    bits = spec.size * width
    return 0 if bits <= 2048 else math.ceil(bits / 18432)


__all__ = [
    "DEFAULT_CLOCK_PERIOD_NS",
    "DEFAULT_PART",
    "Estimate",
    "LayerEstimate",
    "PARTS",
    "RESOURCES",
    "estimate",
]
