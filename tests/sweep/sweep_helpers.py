"""What the sweep tests share beside their fixtures: the small grid and the row comparison."""

# 8 points: 2 policies x 2 widths x 2 reuse factors; the 40-bit points fail (too wide)
GRID = {"widths": (6, 40), "policies": ("uniform", "auto"), "reuse_factors": (1, 4)}


def strip(rows: list[dict]) -> list[dict]:
    """Rows without what differs from run to run (timings, worker, time of day)."""
    return [
        {k: v for k, v in r.items() if k not in ("seconds", "worker", "finished")} for r in rows
    ]
