"""The report's design row (what was reported, where it sits on the width curve) and the sweep
of accuracy (MSE for regression) against bit width."""

from __future__ import annotations

SWEEP_BUDGET_S = 120.0  # a compiled design's sweep is skipped when it would take longer


def describe(compiled) -> str:
    """How a design was compiled, in a few words (``auto precision, 16 bits``,
    ``fixed<8,3>``, ``... with per-layer types``)."""
    options = compiled.options
    precision = options.get("precision", "")
    text = f"auto precision, {options.get('width')} bits" if precision == "auto" else precision
    config = options.get("config") or {}
    if config.get("layers") or config.get("tensors"):
        text += " with per-layer types"
    return text or "unrecorded precision"


def type_widths(compiled) -> list[int]:
    """The widths of the design's fixed-point tensor types, smallest first."""
    from nnfx.compiler.fixed import FixedType

    return sorted(
        {t.dtype.width for t in compiled.graph.tensors.values() if isinstance(t.dtype, FixedType)}
    )


def design_row(compiled, sim, X, score, given: bool) -> dict:
    """The reported design: how it was compiled, its type widths (``width``: the widest;
    ``uniform``: one width for every tensor) and its accuracy (or MSE) as
    ``compiled.predict`` gives it (the fixed reference)."""
    widths = type_widths(compiled)
    runs = sim.engines
    values = runs["reference"].values if "reference" in runs else compiled.predict(X)
    row = {
        "description": describe(compiled),
        "given": given,
        "widths": widths,
        "width": max(widths, default=0),
        "uniform": len(widths) == 1,
    }
    if score.task == "regression":
        row["mse"] = score.errors(values)["mse"]
    else:
        row["accuracy"] = score.accuracy(values)
    return row


def width_sweep(model, X, score, calibration, options, sim, given: bool, step):
    """Accuracy (MSE for regression) against width for two policies: one type for every
    tensor (``uniform``, its integer bits from the widest calibrated range) and per-tensor
    calibration (``auto``), compiled from the float ``model``; with a note instead when it is
    skipped (no widths, or for a given design, longer than ``SWEEP_BUDGET_S``)."""
    import nnfx
    from nnfx.compiler.type_rules import integer_bits
    from nnfx.runtime.calibration import observed_ranges

    precisions = options.precisions
    if not precisions:
        return [], "no widths were given for the sweep"
    if given:
        seconds = sim.runs[0].seconds + float(sim.float_seconds)
        cost = 2 * len(precisions) * seconds
        if cost > SWEEP_BUDGET_S:
            for _ in range(2 * len(precisions)):
                step("sweep skipped")
            return [], (
                f"the width sweep was skipped: it would take about {cost:.0f} s "
                f"(over {SWEEP_BUDGET_S:g} s) on this data"
            )
    ranges = observed_ranges(model.graph, model.to_ir_inputs(calibration))
    widest = max((integer_bits(max(abs(a), abs(b)), True) for a, b in ranges.values()), default=1)
    key = "mse" if score.task == "regression" else "accuracy"

    def measure(compiled) -> float:
        values = compiled.predict(X)
        return score.errors(values)["mse"] if key == "mse" else score.accuracy(values)

    sweep = []
    for w in precisions:
        uniform = nnfx.compile(model, f"fixed<{w},{min(widest + 1, w)},RND,SAT>")
        sweep.append({"width": w, "policy": "uniform", key: measure(uniform)})
        step(f"uniform {w} bits")
        auto = nnfx.compile(model, "auto", calibration=calibration, width=w)
        sweep.append({"width": w, "policy": "auto", key: measure(auto)})
        step(f"auto {w} bits")
    return sweep, ""
