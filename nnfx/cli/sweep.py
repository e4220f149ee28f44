"""`nnfx sweep`: every point of a grid of precision policies, widths, reuse factors and
strategies, compiled, emulated bit-exactly over an evaluation set and estimated, on Ray or in
this process, with the Pareto fronts (docs/sweep.md)."""

from __future__ import annotations

import click

from nnfx.cli.options import (
    STRATEGIES,
    clock_period_option,
    force_option,
    load_npz,
    part_option,
    quiet_option,
    quieted,
    task_option,
)

FULL_TABLE = 40  # up to this many points the table shows them all (without -q)


@click.command(name="sweep")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False),
    help=".npz with arrays X (model layout) and y (labels, one-hot rows or regression "
    "targets): the evaluation set every point is emulated over.",
)
@click.option(
    "--calibration",
    type=click.Path(dir_okay=False),
    default=None,
    help=".npz with array X that auto calibrates on and uniform takes its integer bits from "
    "(default: the first 65,536 samples of --data).",
)
@click.option(
    "--widths",
    default="4:16",
    show_default=True,
    help="Total widths: a range 4:16, every second 4:16:2, a list 6,8,12, or a mix.",
)
@click.option(
    "--policies",
    default="uniform,auto",
    show_default=True,
    help="Comma-separated: uniform (one type for every tensor), auto (calibrated per "
    "tensor), search (the precision search, starting at each width).",
)
@click.option(
    "--reuse-factor",
    "reuse_factors",
    default="1",
    show_default=True,
    help="Comma-separated reuse factors the estimate prices, e.g. 1,2,4,8.",
)
@click.option(
    "--strategy",
    "strategies",
    default="latency",
    show_default=True,
    help=f"Comma-separated HLS strategies ({', '.join(STRATEGIES)}).",
)
@part_option(help="FPGA part the estimate prices.")
@clock_period_option(help="Clock period in ns.")
@click.option(
    "--max-accuracy-drop",
    default=1.0,
    show_default=True,
    type=float,
    help="The search policy's budget in percentage points of top-1 accuracy.",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="1: in this process; N: on Ray, N designs at a time (a local instance of N CPUs, "
    "or the cluster's). Default: Ray on every CPU when Ray is installed, else in-process.",
)
@click.option(
    "--address",
    default=None,
    help="A running Ray cluster to run on (auto, ray://HOST:10001...); default: RAY_ADDRESS "
    "when set, else a local instance.",
)
@task_option
@click.option(
    "-o",
    "--output",
    default="sweep",
    show_default=True,
    type=click.Path(),
    help="Folder for sweep.json, report.html and pareto.png; a sweep already there with the "
    "same inputs is resumed (its points are skipped).",
)
@force_option
@quiet_option
def sweep_command(
    model,
    data_path,
    calibration,
    widths,
    policies,
    reuse_factors,
    strategies,
    part,
    clock_period,
    max_accuracy_drop,
    workers,
    address,
    task,
    output,
    force,
    quiet,
) -> None:
    """Sweep MODEL (ONNX) over widths, precision policies, reuse factors and strategies.

    Every point is compiled, emulated bit-exactly over the whole of --data (in chunks, on
    the fixed-point ONNX model on onnxruntime) and estimated. Writes OUTPUT/sweep.json (after
    every design: a killed sweep resumes where it stopped), OUTPUT/report.html (the Pareto
    fronts of accuracy against LUTs, DSPs, latency and flip-flops, and the table of points)
    and OUTPUT/pareto.png. A point that fails shows its error in the table; the others go on.
    Prints the table of points (over 40, or with -q: the LUT front and the failed points).
    """
    from pathlib import Path

    import nnfx
    from nnfx.errors import ConfigError
    from nnfx.sweep.grid import grid as check_grid
    from nnfx.sweep.grid import parse_list, parse_widths
    from nnfx.ui import console, plain, table

    if not Path(model).is_file():
        raise ConfigError(f"model '{model}' does not exist")
    grid = {
        "widths": parse_widths(widths),
        "policies": parse_list(policies, "--policies"),
        "reuse_factors": parse_list(reuse_factors, "--reuse-factor", int),
        "strategies": parse_list(strategies, "--strategy"),
    }
    check_grid(**grid)  # before the data is read
    X, y = load_npz(data_path, "data", need_y=True)
    with quieted(quiet):
        result = nnfx.sweep(
            model,
            X,
            y,
            output,
            **grid,
            calibration=calibration,
            workers=workers,
            address=address,
            part=part,
            clock_period_ns=clock_period,
            max_accuracy_drop=max_accuracy_drop,
            task=task,
            progress=not quiet,
            force=force,
            inputs=[data_path],
        )
    record = result.record
    regression = record["task"] == "regression"
    on_front = set(record["pareto"]["lut"])
    every = not quiet and len(record["points"]) <= FULL_TABLE  # else the front and the failures
    rows = [
        [
            r["key"],
            r.get("design") or "",
            "-"
            if r["status"] != "ok"
            else f"{r['mse']:.4g}"
            if regression
            else f"{100 * r['accuracy']:.2f}",
            r.get("lut", "-"),
            r.get("dsp", "-"),
            r.get("latency_cycles", "-"),
            "yes" if r["key"] in on_front else "",
            r["error"] or "",
        ]
        for r in record["points"]
        if every or r["key"] in on_front or r["status"] != "ok"
    ]
    failed = sum(r["status"] != "ok" for r in record["points"])
    quality = "MSE" if regression else "accuracy %"
    title = "Points" if every else "Pareto front (LUTs) and failed points (all: report.html)"
    console.print(
        table(title, ["point", "design", quality, "LUTs", "DSPs", "cycles", "front", "error"], rows)
    )
    console.print(
        f"{len(record['points'])} points, {result.ran} run now, {failed} failed; "
        f"{plain(result.files['html'])}"
    )
