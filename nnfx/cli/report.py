"""`nnfx report`: the accuracy, precision, latency and resource report of a design: a float
model compiled here, or a compiled build reported as it is."""

from __future__ import annotations

from pathlib import Path

import click

from nnfx.cli.options import (
    DEFAULT_CLOCK_PERIOD_NS,
    DEFAULT_PART,
    STRATEGIES,
    engines_option,
    force_option,
    int_list,
    load_npz,
    precision_config_option,
    quiet_option,
    quieted,
    task_option,
)

FROM_BUILD = "default: the build's where recorded, else"


@click.command(name="report")
@click.argument("model", type=click.Path())
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False),
    help=".npz with arrays X (model layout) and y (labels, one-hot rows or regression targets).",
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
    help="Total widths for the accuracy sweep ('' for none).",
)
@click.option(
    "--precision",
    default="auto",
    show_default=True,
    help="How an ONNX MODEL is compiled: a type for everything (fixed<8,3>...), 'auto' "
    "(calibrated on the data, --width bits) or a precision config file (.yaml/.json).",
)
@precision_config_option(
    help="Precision config, YAML or JSON (docs/precision.md), for an ONNX MODEL."
)
@click.option(
    "--width",
    default=16,
    show_default=True,
    type=click.IntRange(2, 32),
    help="Width of --precision auto.",
)
@click.option(
    "--reuse-factor",
    default=None,
    type=click.IntRange(min=1),
    help=f"Reuse factor the estimate prices ({FROM_BUILD} 1).",
)
@click.option(
    "--strategy",
    default=None,
    type=click.Choice(list(STRATEGIES)),
    help=f"HLS strategy the estimate prices ({FROM_BUILD} latency).",
)
@click.option("--part", default=None, help=f"FPGA part ({FROM_BUILD} {DEFAULT_PART}).")
@click.option(
    "--clock-period",
    default=None,
    type=click.FloatRange(min=0.1),
    help=f"Clock period in ns ({FROM_BUILD} {DEFAULT_CLOCK_PERIOD_NS:g}).",
)
@engines_option(default="reference,ort,csim", help="Comma-separated engines to compare and time.")
@task_option
@quiet_option
def report_command(
    model,
    data_path,
    output,
    force,
    precisions,
    precision,
    config,
    width,
    reuse_factor,
    strategy,
    part,
    clock_period,
    engines,
    task,
    quiet,
) -> None:
    """Accuracy, precision, latency and resource report of MODEL on data with targets.

    MODEL is an ONNX file, compiled here (--precision, --config), or a folder written by
    `nnfx compile`, reported exactly as it was compiled. Writes OUTPUT/report.html
    (self-contained), report.md and report.json: per engine the accuracy (classification) or
    MSE, MAE and max |error| (regression) and the bit-exact agreement, accuracy against bit
    width (uniform and auto, the design marked), per-layer ranges, overflows and error,
    latency/throughput, and the resource/latency estimate.
    """
    import nnfx
    from nnfx.errors import ConfigError
    from nnfx.ui import console, plain

    widths = int_list(None, None, precisions) if precisions.strip() else ()
    if any(w < 2 or w > 32 for w in widths):
        raise ConfigError(f"--precisions must list widths from 2 to 32, got '{precisions}'")
    if not Path(model).exists():
        raise ConfigError(f"model '{model}' does not exist")
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
            precision=precision,
            config=config,
            task=task,
        )
    rows = result.data["engines"]
    if result.data["task"] == "regression":
        shown = ", ".join(f"{r['engine']} {r['errors']['mse']:.4g}" for r in rows)
        console.print(f"MSE: {shown}")
    else:
        shown = ", ".join(f"{r['engine']} {100 * r['accuracy']:.2f}%" for r in rows)
        console.print(f"accuracy: {shown}")
    if quiet:
        return
    console.print(f"design: {plain(result.data['design']['description'])}")
    for what, path in result.files.items():
        console.print(f"  {what:<9} {plain(path)}")
