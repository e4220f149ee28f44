"""The HLS project's options and their validation: each refused with one sentence before
anything is written (docs/hls.md)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from nnfx.backends.hls.names import top_problem
from nnfx.compiler.estimate import DEFAULT_CLOCK_PERIOD_NS, DEFAULT_PART
from nnfx.compiler.ir import Graph, Node
from nnfx.compiler.ops import Op
from nnfx.errors import ConfigError

STRATEGIES = ("latency", "resource")
PART = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass
class HlsOptions:
    """Project options. ``reuse_factor`` and ``strategy`` apply to every layer unless a layer
    (by IR node name) has its own in ``layer_reuse_factor`` / ``layer_strategy``."""

    top: str = "nnfx_top"
    part: str = DEFAULT_PART
    clock_period_ns: float = DEFAULT_CLOCK_PERIOD_NS
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

    def initiation_interval(self, graph: Graph) -> int:
        """Cycles between inputs of the latency strategy's pipelined top: the largest reuse
        factor of a layer that shares multipliers (Dense and Conv)."""
        shared = [self.reuse(n) for n in graph.nodes if n.op in (Op.DENSE, Op.CONV)]
        return max(shared, default=self.reuse_factor)

    def estimate(self, graph: Graph):
        """The resource and latency estimate of the design these options write, with every
        layer's own reuse factor and strategy (:func:`nnfx.compiler.estimate.estimate`)."""
        from nnfx.compiler.estimate import estimate

        self.check(graph)
        return estimate(
            graph,
            self.reuse_factor,
            self.strategy,
            self.clock_period_ns,
            self.part,
            layer_reuse_factor=self.layer_reuse_factor,
            layer_strategy=self.layer_strategy,
        )
