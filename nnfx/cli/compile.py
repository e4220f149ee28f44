"""`nnfx compile`: an ONNX model to fixed point, optionally with the Vitis HLS project."""

from __future__ import annotations

from pathlib import Path

import click

from nnfx.cli.options import (
    check_writable_dir,
    clock_period_option,
    force_option,
    load_npz,
    part_option,
    precision_config_option,
    quiet_option,
    quieted,
    reuse_factor_option,
    strategy_option,
)
from nnfx.cli.output import print_overflows

TESTBENCH_SAMPLES = 100  # the testbench's samples from --data unless --testbench-samples


@click.command(name="compile")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    default="build",
    show_default=True,
    type=click.Path(),
    help="Directory for the compiled model.",
)
@force_option
@click.option(
    "--precision",
    default="fixed<16,6>",
    show_default=True,
    help="A type for everything (fixed<16,6>, ap_fixed<8,3,AP_RND,AP_SAT>...), "
    "'auto' (calibrated, --width bits) or 'search' (narrowest within "
    "--max-accuracy-drop of float; needs X and y in --calibration).",
)
@click.option(
    "--width",
    default=16,
    show_default=True,
    type=click.IntRange(2, 32),
    help="Total width for --precision auto.",
)
@click.option(
    "--calibration",
    type=click.Path(dir_okay=False),
    default=None,
    help=".npz with array X (and y) in the model's input layout.",
)
@precision_config_option()
@click.option(
    "--max-accuracy-drop",
    default=1.0,
    show_default=True,
    type=float,
    help="Search budget in percentage points of top-1 accuracy.",
)
@reuse_factor_option
@click.option(
    "--backend",
    "backends",
    multiple=True,
    type=click.Choice(["hls"]),
    help="Also emit a backend project: 'hls' writes the Vitis HLS project to OUTPUT/hls/.",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="HLS testbench vectors: .npz with array X in the model's input layout; its first "
    "--testbench-samples samples go to OUTPUT/hls/tb/tb_data/, with the fixed-point "
    "reference's outputs as the expected values (needs --backend hls).",
)
@click.option(
    "--testbench-samples",
    type=click.IntRange(min=1),
    default=None,
    help=f"How many samples of --data the testbench runs [default: {TESTBENCH_SAMPLES}].",
)
@strategy_option(help="HLS strategy.")
@part_option(help="FPGA part (HLS).")
@clock_period_option(help="Clock period in ns (HLS).")
@quiet_option
def compile_command(
    model,
    output,
    force,
    precision,
    width,
    calibration,
    config,
    max_accuracy_drop,
    reuse_factor,
    backends,
    data_path,
    testbench_samples,
    strategy,
    part,
    clock_period,
    quiet,
) -> None:
    """Compile an ONNX MODEL to fixed point and write it to OUTPUT.

    Prints one row per layer: its output type, and the types of its weights, biases,
    accumulator and tables. With labels in the calibration data, also the float and
    fixed-point accuracy. With --backend hls, warns (on stderr) when the design's resource
    estimate exceeds the --part.
    """
    import nnfx
    from nnfx.errors import ConfigError
    from nnfx.files import check_output_folder
    from nnfx.search import accuracy, search_precision
    from nnfx.ui import console, plain, table

    out = Path(output)
    inputs = [model, calibration, config, data_path]
    if data_path is not None and "hls" not in backends:
        raise ConfigError("--data writes the HLS testbench's vectors; it needs --backend hls")
    if testbench_samples is not None and data_path is None:
        raise ConfigError("--testbench-samples needs --data data.npz")
    check_output_folder(out, "compiled model", force=force, inputs=inputs)  # before the work
    check_writable_dir(out.parent)
    X_tb = None
    if data_path is not None:
        X_tb = load_npz(data_path, "data")[0][: testbench_samples or TESTBENCH_SAMPLES]
    X = y = None
    if calibration:
        X, y = load_npz(calibration, "calibration", need_y=precision == "search")
    elif precision in ("auto", "search"):
        raise ConfigError(f"--precision {precision} needs --calibration data.npz")
    loaded = nnfx.load(model)
    if precision == "search":
        with quieted(quiet), console.status("searching bit widths...") as status:
            result = search_precision(
                loaded,
                X,
                y,
                max_accuracy_drop,
                progress=lambda what, acc: status.update(
                    f"search: {plain(what)}: {100 * acc:.2f}%"
                ),
            )
        console.print(
            f"search: {len(result.trials)} candidates; chosen: uniform "
            f"{result.config.width} bits"
            + (f", narrower layers {plain(result.config.layers)}" if result.config.layers else "")
        )
        compiled = nnfx.compile(
            loaded, precision=result.config, calibration=X, reuse_factor=reuse_factor
        )
    else:
        compiled = nnfx.compile(
            loaded,
            precision=precision,
            calibration=X,
            width=width,
            reuse_factor=reuse_factor,
            config=config,
        )
    hls = None
    if "hls" in backends:
        hls = {
            "reuse_factor": reuse_factor,
            "strategy": strategy,
            "part": part,
            "clock_period_ns": clock_period,
        }
        if X_tb is not None:
            hls["testbench_data"] = X_tb
    compiled.save(out, hls=hls, force=force, inputs=inputs)
    rows = [
        [r[k] for k in ("name", "op", "output", "type", "weight", "bias", "accum", "table")]
        for r in compiled.layer_table()
    ]
    console.print(
        table(
            f"{model} in fixed point",
            ["name", "op", "output", "type", "weight", "bias", "accum", "table"],
            rows,
        )
    )
    if X is not None and y is not None:
        float_acc = accuracy(loaded.predict(X), y)
        fixed_acc = accuracy(compiled.predict(X), y)
        console.print(
            f"accuracy on the calibration data: float {100 * float_acc:.2f}%, "
            f"fixed {100 * fixed_acc:.2f}%"
        )
    if X is not None:
        print_overflows(compiled, X, "the calibration data")
    if hls is not None:
        warn_if_over_part(compiled, reuse_factor, strategy, part, clock_period)
    if quiet:
        return
    shown = plain(out)
    vectors = f", testbench vectors of {len(X_tb)} samples" if X_tb is not None else ""
    console.print(
        f"compiled model written to {shown}/"
        + (f" (Vitis HLS project in {shown}/hls/{vectors})" if hls else "")
    )


def warn_if_over_part(compiled, reuse_factor, strategy, part, clock_period) -> None:
    """One line on stderr when the HLS design's estimate exceeds the part, or when the part's
    capacity is unknown (Estimate.fit_warning); like the overflow hints, shown under -q too."""
    from nnfx.backends.hls.options import HlsOptions
    from nnfx.text import printable

    options = HlsOptions(
        part=part, clock_period_ns=clock_period, reuse_factor=reuse_factor, strategy=strategy
    )
    warning = options.estimate(compiled.graph).fit_warning()
    if warning is not None:
        click.echo(f"nnfx: warning: {printable(warning)}", err=True)
