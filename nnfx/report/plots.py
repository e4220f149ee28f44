"""The report's figures (matplotlib, drawn off-screen), each as PNG bytes."""

from __future__ import annotations

import io
import math

import numpy as np

from nnfx.text import plot_label


def figures(data: dict) -> dict[str, bytes]:
    """The report's figures by file name, drawn from its data."""
    return {
        "accuracy_vs_width.png": plot_sweep(data),
        "layer_ranges.png": plot_ranges(data["layers"]),
        "layer_error.png": plot_error(data["layers"]),
    }


def sweep_series(data: dict) -> list[dict]:
    """What the sweep figure draws: per series a ``label`` (its legend entry), ``kind``
    (``line``: points joined, ``hline``: a horizontal line at ``y``, ``point``: one marker),
    ``x`` and ``y`` (percent accuracy, or MSE for regression); the reported design is the
    series whose label starts with "this design"."""
    regression = data.get("task") == "regression"
    key = "mse" if regression else "accuracy"

    def value(v):
        return v if regression else 100 * v

    series: list[dict] = []
    for policy, marker in (("uniform", "s"), ("auto", "o")):
        points = [
            (s["width"], value(s[key])) for s in data["accuracy_vs_width"] if s["policy"] == policy
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            series.append(
                {"label": policy, "kind": "line", "x": list(xs), "y": list(ys), "marker": marker}
            )
    float_value = data["float_errors"]["mse"] if regression else data["float_accuracy"]
    series.append({"label": "float", "kind": "hline", "x": [], "y": [value(float_value)]})
    design = data["design"]
    y = value(design[key])
    what = design["description"]
    if design["uniform"]:
        label = (
            f"this design ({what})"
            if "bits" in what
            else f"this design ({what}, {design['width']} bits)"
        )
    else:
        widths = design["widths"]
        label = (
            f"this design ({what};\ntypes of {widths[0]} to {widths[-1]} bits): star at\n"
            f"its widest type, dotted line at its {'MSE' if regression else 'accuracy'}"
        )
        series.append({"label": "", "kind": "hline", "x": [], "y": [y], "design": True})
    series.append({"label": label, "kind": "point", "x": [design["width"]], "y": [y]})
    return series


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


def plot_sweep(data: dict) -> bytes:
    regression = data.get("task") == "regression"
    fig, ax = _figure()
    tiny = 1e-300
    for series in sweep_series(data):
        ys = [max(y, tiny) for y in series["y"]] if regression else series["y"]
        if series["kind"] == "line":
            ax.plot(series["x"], ys, marker=series["marker"], label=series["label"])
        elif series["kind"] == "hline" and series.get("design"):
            ax.axhline(ys[0], color="tab:red", linestyle=":", linewidth=1)
        elif series["kind"] == "hline":
            ax.axhline(ys[0], color="black", linestyle="--", label=series["label"])
        else:
            ax.plot(series["x"], ys, "*", color="tab:red", markersize=16, label=series["label"])
    ax.set_xlabel("total bits")
    widths = sorted({x for series in sweep_series(data) for x in series["x"]})
    if widths:
        ax.set_xticks(widths)
    if regression:
        ax.set_yscale("log")
        ax.set_ylabel("mean squared error (log)")
        ax.set_title("MSE against bit width")
    else:
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title("Accuracy against bit width")
    if note := data.get("sweep_note"):
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", fontsize=8, wrap=True)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
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
