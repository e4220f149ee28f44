"""The points of a sweep: one design per (policy, width, reuse factor, strategy).

Points that share a policy and a width share their fixed-point design: the reuse factor and the
strategy change how the HLS design schedules its arithmetic, never the arithmetic, so such
points are one *design* (compiled and emulated once) with one estimate per point.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass

from nnfx.errors import ConfigError

POLICIES = ("uniform", "auto", "search")
STRATEGIES = ("latency", "resource")
MAX_WIDTH = 62  # the widest fixed-point type nnfx has (a point beyond what a policy allows fails)


@dataclass(frozen=True)
class Point:
    policy: str
    width: int
    reuse_factor: int = 1
    strategy: str = "latency"

    @property
    def key(self) -> str:
        """A stable name: ``auto-w8-rf4-latency``."""
        return f"{self.policy}-w{self.width}-rf{self.reuse_factor}-{self.strategy}"

    @property
    def design(self) -> tuple[str, int]:
        """What the point's fixed-point design depends on (see the module docstring)."""
        return (self.policy, self.width)

    def order(self) -> tuple:
        """The order of the points in sweep.json and the tables."""
        return (
            POLICIES.index(self.policy),
            self.width,
            self.reuse_factor,
            STRATEGIES.index(self.strategy),
        )

    @classmethod
    def from_row(cls, row: dict) -> Point:
        return cls(row["policy"], int(row["width"]), int(row["reuse_factor"]), row["strategy"])


def grid(
    widths: Iterable[int],
    policies: Iterable[str] = ("uniform", "auto"),
    reuse_factors: Iterable[int] = (1,),
    strategies: Iterable[str] = ("latency",),
) -> list[Point]:
    """Every combination, checked, in sweep order (duplicates given once)."""
    widths, policies = _unique(map(_integer, widths)), _unique(policies)
    reuse_factors, strategies = _unique(map(_integer, reuse_factors)), _unique(strategies)
    for what, values in (
        ("width", widths),
        ("policy", policies),
        ("reuse factor", reuse_factors),
        ("strategy", strategies),
    ):
        if not values:
            raise ConfigError(f"the sweep needs at least one {what}")
    for p in policies:
        if p not in POLICIES:
            raise ConfigError(f"unknown sweep policy {p!r}; expected {', '.join(POLICIES)}")
    for s in strategies:
        if s not in STRATEGIES:
            raise ConfigError(f"unknown strategy {s!r}; expected {', '.join(STRATEGIES)}")
    for w in widths:
        if not isinstance(w, int) or isinstance(w, bool) or not 1 <= w <= MAX_WIDTH:
            raise ConfigError(f"sweep widths must be integers from 1 to {MAX_WIDTH}, got {w!r}")
    for r in reuse_factors:
        if not isinstance(r, int) or isinstance(r, bool) or r < 1:
            raise ConfigError(f"reuse factors must be positive integers, got {r!r}")
    points = [
        Point(p, w, r, s)
        for p in policies
        for w in widths
        for r in reuse_factors
        for s in strategies
    ]
    return sorted(points, key=Point.order)


def parse_widths(text: str) -> list[int]:
    """``4:16`` (4 to 16), ``4:16:2`` (every second), ``6,8,12`` or a mix (``4:8,12``)."""
    widths: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        try:
            bounds = [int(b) for b in part.split(":")]
        except ValueError:
            raise ConfigError(
                f"widths {text!r}: {part!r} is not a width or a range like 4:16"
            ) from None
        if len(bounds) == 1:
            widths.append(bounds[0])
        elif len(bounds) in (2, 3) and (len(bounds) == 2 or bounds[2] > 0):
            step = bounds[2] if len(bounds) == 3 else 1
            if bounds[1] < bounds[0]:
                raise ConfigError(f"widths {text!r}: the range {part!r} runs backwards")
            widths.extend(range(bounds[0], bounds[1] + 1, step))
        else:
            raise ConfigError(f"widths {text!r}: {part!r} is not a range like 4:16 or 4:16:2")
    if not widths:
        raise ConfigError(f"widths {text!r} name no width")
    return _unique(widths)


def parse_list(text: str, what: str, kind=str) -> list:
    """A comma-separated list (``1,2,4``), each item converted by ``kind``."""
    items = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = [kind(p) for p in items]
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not a comma-separated list") from None
    if not values:
        raise ConfigError(f"{what} {text!r} names nothing")
    return values


def designs(points: Iterable[Point]) -> dict[tuple[str, int], list[Point]]:
    """The points grouped by design, in sweep order."""
    groups: dict[tuple[str, int], list[Point]] = {}
    for point in sorted(points, key=Point.order):
        groups.setdefault(point.design, []).append(point)
    return groups


def _integer(value):
    """NumPy's integers as Python's (anything else as it is, for the checks to name)."""
    return (
        int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    )


def _unique(values: Iterable) -> list:
    seen: list = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen
