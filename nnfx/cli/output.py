"""Printing shared by the commands: the trained model and its metrics, the files written,
the overflow table."""

from __future__ import annotations


def print_model_and_metrics(result, summary: bool = True) -> None:
    """The model's summary (with ``summary``) and its test metrics."""
    from nnfx.ui import console, table

    if summary:
        console.print(result.model.summary())
    if result.test_metrics:
        rows = [(name, value) for name, value in result.test_metrics.items()]
        console.print(table(f"test set ({len(result.test[0])} samples)", ["metric", "value"], rows))


def print_overflows(compiled, X, data: str) -> None:
    """Per layer, how many values overflowed their type on ``X`` (only the layers where any
    did), and one line on what to try; nothing when none did."""
    from nnfx.ui import console, table

    counts = [(layer, n) for layer, n in compiled.overflow_counts(X).items() if n]
    if not counts:
        return
    samples = compiled.float_model.samples(compiled.float_model.model_inputs(X))
    console.print(f"values that overflowed their type (wrapped or saturated) on {data}:")
    console.print(table(None, ["layer", f"values overflowed ({samples} samples)"], counts))
    from nnfx.compiler.model_types import fixes_types

    if fixes_types(compiled.float_model.graph):
        hint = (
            "this model fixes its quantized types itself (QONNX Quant, QuantizeLinear): at "
            "those types an overflow is the model's own saturation, which no --precision "
            "changes; the layers it leaves in float take --precision's types: "
            "docs/quantized.md"
        )
    elif compiled.options.get("precision") == "auto":
        hint = (
            "these values lie beyond the calibrated ranges: calibrate on data that covers "
            "them, or add integer bits (margin_bits, per-layer types): docs/precision.md"
        )
    else:
        hint = (
            "try --precision auto (calibrated ranges), a SAT overflow mode "
            "(fixed<16,6,RND,SAT>) or more integer bits for these layers: docs/precision.md"
        )
    console.print(hint)


def print_files(result, files) -> None:
    from nnfx.ui import console, plain

    if result.onnx_agreement is not None:
        console.print(
            f"onnxruntime agrees with predict() on {result.onnx_agreement:.1%} of the test "
            f"predictions (max |difference| {result.onnx_max_abs_diff:.2e})"
        )
    for what, path in files.items():
        console.print(f"  {what:<10} {plain(path)}")
