"""The report's figures (matplotlib, drawn off-screen), each as PNG bytes."""

from __future__ import annotations

import io
import math

import numpy as np

from nnfx.text import plot_label


def figures(data: dict) -> dict[str, bytes]:
    """The report's figures by file name, drawn from its data."""
    return {
        "accuracy_vs_width.png": plot_sweep(data["accuracy_vs_width"], data["float_accuracy"]),
        "layer_ranges.png": plot_ranges(data["layers"]),
        "layer_error.png": plot_error(data["layers"]),
    }


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def _figure(width=6.4, height=3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def plot_sweep(sweep, float_acc) -> bytes:
    fig, ax = _figure()
    for policy, marker in (("uniform", "s"), ("auto", "o")):
        points = [(s["width"], 100 * s["accuracy"]) for s in sweep if s["policy"] == policy]
        ax.plot(*zip(*points, strict=True), marker=marker, label=policy)
    ax.axhline(100 * float_acc, color="black", linestyle="--", label="float")
    ax.set_xlabel("total bits")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title("Accuracy against bit width")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def plot_ranges(layers) -> bytes:
    rows = []  # (label, lsb, type max, p99, max)
    for layer in layers:
        top = max(abs(layer["type_min"]), abs(layer["type_max"]))
        peak = max(abs(layer["float_min"]), abs(layer["float_max"]))
        label = plot_label(layer["layer"])
        overflowed = f" ({layer['overflows']:,} overflowed)" if layer["overflows"] else ""
        rows.append((label + overflowed, layer["lsb"], top, layer["float_abs_p99"], peak))
        if "weight_type" in layer:
            rows.append(
                (
                    f"{label} weights",
                    layer["weight_lsb"],
                    layer["weight_type_max"],
                    layer["weight_abs_p99"],
                    layer["weight_abs_max"],
                )
            )
    fig, ax = _figure(7.0, 0.4 * len(rows) + 1.5)
    for i, (_, lsb, top, p99, peak) in enumerate(rows):
        first = i == 0
        ax.plot(
            [math.log2(lsb), math.log2(top)],
            [i, i],
            color="tab:blue",
            lw=8,
            alpha=0.3,
            solid_capstyle="butt",
            label="type: LSB to largest value" if first else None,
        )
        ax.plot(
            [math.log2(p99 or lsb)],
            [i],
            "o",
            color="tab:green",
            label="99% of |x|" if first else None,
        )
        ax.plot(
            [math.log2(peak or lsb)], [i], "x", color="tab:red", label="max |x|" if first else None
        )
    ax.set_yticks(np.arange(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("log2 |value|: right of the bar overflows, left of it underflows to 0")
    ax.set_title("Float activations and weights against their fixed-point types")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return _png(fig)


def plot_error(layers) -> bytes:
    fig, ax = _figure()
    ax.bar(range(len(layers)), [max(layer["relative_rms_error"], 1e-12) for layer in layers])
    ax.set_yscale("log")
    labels = [plot_label(layer["layer"]) for layer in layers]
    ax.set_xticks(range(len(layers)), labels, rotation=45, ha="right")
    ax.set_ylabel("relative RMS error vs float")
    ax.set_title("Error after each layer")
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)
