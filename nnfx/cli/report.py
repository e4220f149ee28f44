"""`nnfx report`: the accuracy, precision, latency and resource report of a model."""

from __future__ import annotations

import click

from nnfx.cli.options import (
    clock_period_option,
    engines_option,
    force_option,
    int_list,
    load_npz,
    part_option,
    quiet_option,
    quieted,
    reuse_factor_option,
    strategy_option,
)


@click.command(name="report")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False),
    help=".npz with arrays X (model layout) and y (labels).",
)
@click.option(
    "-o",
    "--output",
    default="report",
    show_default=True,
    type=click.Path(),
    help="Directory for report.html, report.md, report.json and the plots.",
)
@force_option
@click.option(
    "--precisions",
    default="6,8,10,12,16",
    show_default=True,
    help="Total widths for the accuracy sweep.",
)
@click.option(
    "--width",
    default=16,
    show_default=True,
    type=click.IntRange(2, 32),
    help="Width of the compiled design the engines, timing and estimates use.",
)
@reuse_factor_option
@strategy_option()
@part_option()
@clock_period_option()
@engines_option(default="reference,ort,csim", help="Comma-separated engines to compare and time.")
@quiet_option
def report_command(
    model,
    data_path,
    output,
    force,
    precisions,
    width,
    reuse_factor,
    strategy,
    part,
    clock_period,
    engines,
    quiet,
) -> None:
    """Accuracy, precision, latency and resource report of MODEL on labelled data.

    Writes OUTPUT/report.html (self-contained), report.md and report.json: engine accuracy and
    bit-exact agreement, accuracy against bit width (uniform and auto), per-layer ranges,
    overflows and error, latency/throughput, and the resource/latency estimate.
    """
    import nnfx
    from nnfx.errors import ConfigError
    from nnfx.ui import console, plain

    widths = int_list(None, None, precisions) if precisions else ()
    if any(w < 2 or w > 32 for w in widths):
        raise ConfigError(f"--precisions must list widths from 2 to 32, got '{precisions}'")
    X, y = load_npz(data_path, "data", need_y=True)
    with quieted(quiet):
        result = nnfx.report(
            model,
            X,
            y,
            output,
            precisions=widths,
            width=width,
            reuse_factor=reuse_factor,
            strategy=strategy,
            part=part,
            clock_period_ns=clock_period,
            engines=engines,
            progress=not quiet,
            force=force,
            inputs=[data_path],
        )
    accuracies = ", ".join(
        f"{r['engine']} {100 * r['accuracy']:.2f}%" for r in result.data["engines"]
    )
    console.print(f"accuracy: {accuracies}")
    if quiet:
        return
    for what, path in result.files.items():
        console.print(f"  {what:<9} {plain(path)}")
