"""The Pareto fronts of a sweep: per resource, the points that no other point beats on both
the quality (accuracy up, or MSE down for regression) and the resource (down)."""

from __future__ import annotations

import math

# The resources the fronts are drawn against, with their labels.
RESOURCES = {
    "lut": "LUTs",
    "dsp": "DSP slices",
    "latency_cycles": "latency (cycles)",
    "ff": "flip-flops",
}


def quality_key(task: str) -> str:
    return "mse" if task == "regression" else "accuracy"


def front(rows: list[dict], resource: str, task: str) -> list[str]:
    """Keys of the finished rows on the front of ``resource``: a row is on it when no other
    row is at least as good on both axes and better on one. Rows equal on both axes are all
    kept. In the rows' order."""
    quality = quality_key(task)
    sign = -1.0 if quality == "mse" else 1.0  # larger is better after the sign
    points = [
        (r["key"], sign * float(r[quality]), float(r[resource]))
        for r in rows
        if r.get("status") == "ok" and _number(r.get(quality)) and _number(r.get(resource))
    ]
    return [
        key
        for key, q, cost in points
        if not any((q2 >= q and c2 <= cost) and (q2 > q or c2 < cost) for _, q2, c2 in points)
    ]


def fronts(rows: list[dict], task: str) -> dict[str, list[str]]:
    """:func:`front` for every resource of :data:`RESOURCES`."""
    return {resource: front(rows, resource, task) for resource in RESOURCES}


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
