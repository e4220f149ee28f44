"""`nnfx simulate`: run a compiled model on data with several engines and compare them."""

from __future__ import annotations

import click

from nnfx.cli.options import HiddenAliases, engines_option, load_npz, quiet_option, quieted
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
    help=".npz with array X (and optional labels y), in the model's input layout.",
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
@quiet_option
def simulate(build, data_path, engines, output, quiet) -> None:
    """Run a compiled model (from `nnfx compile`) on data and compare the engines.

    Prints, per engine: accuracy (when y is given), agreement with the first engine
    (bit-exact or not, mismatching elements), throughput on a large batch (the data
    repeated) and batch-1 latency; and the float model's, for comparison (accuracy from the
    NumPy float reference, timing on onnxruntime). Exits with status 1 when engines disagree.
    """
    import nnfx
    from nnfx.simulation import LATENCY_CALLS, TIMING_BUDGET_S
    from nnfx.ui import console, table

    compiled = nnfx.load_compiled(build)
    X, y = load_npz(data_path, "input")
    with quieted(quiet):
        result = nnfx.simulate(compiled, X, y, engines=engines)

    def accuracy(value):
        return "-" if value is None else f"{100 * value:.2f}"

    def timing(t):
        if t is None:
            return ["-", "-", "-"]
        return [f"{t.samples_per_second:,.0f}", f"{t.batch:,}", f"{t.latency_us:.3g}"]

    rows = [["float", accuracy(result.float_accuracy), "-", "-", *timing(result.float_timing)]]
    rows += [
        [
            run.engine,
            accuracy(run.accuracy),
            "yes" if run.bit_exact else "no",
            str(run.mismatches),
            *timing(run.timing),
        ]
        for run in result.runs
    ]
    console.print(
        table(
            f"{result.samples} samples",
            [
                "engine",
                "accuracy %",
                "bit-exact",
                "mismatches",
                "samples/s",
                "batch",
                "batch-1 latency (us)",
            ],
            rows,
        )
    )
    if not quiet:
        console.print(
            f"samples/s: the data repeated to the batch shown, for {TIMING_BUDGET_S:g} s or "
            f"more; latency: median of up to {LATENCY_CALLS} one-sample calls; float timed on "
            "onnxruntime"
        )
    print_overflows(compiled, X, "the input data")
    if output:
        result.save(output)
    if not result.agree:
        raise SystemExit(1)
