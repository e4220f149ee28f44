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
    "--save",
    "save_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write each engine's outputs to this .npz.",
)
@quiet_option
def simulate(build, data_path, engines, save_path, quiet) -> None:
    """Run a compiled model (from `nnfx compile`) on data and compare the engines.

    Prints, per engine: accuracy (when y is given), agreement with the first engine
    (bit-exact or not, mismatching elements), time and samples/s; and the float model's
    accuracy for comparison. Exits with status 1 when engines disagree.
    """
    import nnfx
    from nnfx.ui import console, table

    compiled = nnfx.load_compiled(build)
    X, y = load_npz(data_path, "input")
    with quieted(quiet):
        result = nnfx.simulate(compiled, X, y, engines=engines)

    def accuracy(value):
        return "-" if value is None else f"{100 * value:.2f}"

    rows = [
        [
            "float",
            accuracy(result.float_accuracy),
            "-",
            "-",
            f"{result.float_seconds:.3f}",
            f"{result.float_samples_per_second:,.0f}",
        ]
    ]
    rows += [
        [
            run.engine,
            accuracy(run.accuracy),
            "yes" if run.bit_exact else "no",
            str(run.mismatches),
            f"{run.seconds:.3f}",
            f"{run.samples_per_second:,.0f}",
        ]
        for run in result.runs
    ]
    console.print(
        table(
            f"{result.samples} samples",
            ["engine", "accuracy %", "bit-exact", "mismatches", "seconds", "samples/s"],
            rows,
        )
    )
    print_overflows(compiled, X, "the input data")
    if save_path:
        result.save(save_path)
    if not result.agree:
        raise SystemExit(1)
