"""`nnfx simulate`: run a compiled model on data with several engines and compare them."""

from __future__ import annotations

import click

from nnfx.cli.options import (
    HiddenAliases,
    engines_option,
    load_npz,
    quiet_option,
    quieted,
    task_option,
)
from nnfx.cli.output import print_overflows


@click.command()
@click.argument("build", type=click.Path(file_okay=False))
@click.option(
    "--data",
    "--input",
    "data_path",
    cls=HiddenAliases,
    required=True,
    type=click.Path(dir_okay=False),
    help=".npz with array X in the model's input layout, and optional targets y: class "
    "labels (integers or one-hot rows) or regression targets.",
)
@engines_option(default="reference")
@click.option(
    "-o",
    "--output",
    "--save",
    "output",
    cls=HiddenAliases,
    default=None,
    type=click.Path(dir_okay=False),
    help="Write each engine's outputs to this .npz.",
)
@task_option
@quiet_option
def simulate(build, data_path, engines, output, task, quiet) -> None:
    """Run a compiled model (from `nnfx compile`) on data and compare the engines.

    Prints, per engine: the accuracy (when y holds class labels: integers or one-hot rows) or,
    for regression targets (an autoencoder's y = X included), the MSE, MAE and max |error|
    against y and the max |error| against float; agreement with the first engine (bit-exact
    or not, mismatching elements), throughput on a large batch (the data repeated) and
    batch-1 latency; and the float model's, for comparison (metrics from the NumPy float
    reference, timing on onnxruntime). Exits with status 1 when engines disagree.
    """
    import nnfx
    from nnfx.simulation import LATENCY_CALLS, TIMING_BUDGET_S
    from nnfx.ui import console, table

    compiled = nnfx.load_compiled(build)
    X, y = load_npz(data_path, "input")
    with quieted(quiet):
        result = nnfx.simulate(compiled, X, y, engines=engines, task=task)

    def accuracy(value):
        return "-" if value is None else f"{100 * value:.2f}"

    def timing(t):
        if t is None:
            return ["-", "-", "-"]
        return [f"{t.samples_per_second:,.0f}", f"{t.batch:,}", f"{t.latency_us:.3g}"]

    header = ["engine", "accuracy %"]
    if result.task == "regression":
        header = ["engine", "MSE", "MAE", "max |error|", "max |error| vs float"]
    header += ["bit-exact", "mismatches", "samples/s", "batch", "batch-1 latency (us)"]

    def metrics(run) -> list[str]:
        if result.task != "regression":
            return [accuracy(result.float_accuracy if run is None else run.accuracy)]
        errors = result.float_errors if run is None else run.errors
        vs_float = "-" if run is None else f"{run.float_errors['max_abs_error']:.4g}"
        return [f"{errors[k]:.4g}" for k in ("mse", "mae", "max_abs_error")] + [vs_float]

    rows = [["float", *metrics(None), "-", "-", *timing(result.float_timing)]]
    rows += [
        [
            run.engine,
            *metrics(run),
            "yes" if run.bit_exact else "no",
            str(run.mismatches),
            *timing(run.timing),
        ]
        for run in result.runs
    ]
    title = f"{result.samples} samples" + (", regression" if result.task == "regression" else "")
    console.print(table(title, header, rows))
    if not quiet:
        console.print(
            f"samples/s: the data repeated to the batch shown, for {TIMING_BUDGET_S:g} s or "
            f"more; latency: median of up to {LATENCY_CALLS} one-sample calls; float timed on "
            "onnxruntime"
        )
    if "ort" in engines and not quiet:
        console.print(
            f"ort: the fixed-point ONNX model computes its codes in {compiled.ort_precision} "
            "(float32 where the export proves every step exact)"
        )
    print_overflows(compiled, X, "the input data")
    if output:
        result.save(output)
    if not result.agree:
        raise SystemExit(1)
