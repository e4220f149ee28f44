"""`nnfx demo`: the whole journey on the embedded default, from training to the report."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from nnfx.cli.options import check_writable_dir, force_option, quiet_option, quieted
from nnfx.cli.output import print_files, print_model_and_metrics


@click.command()
@click.option(
    "-o",
    "--output",
    default="nnfx-demo",
    show_default=True,
    type=click.Path(),
    help="Directory for every artifact of the demo.",
)
@force_option
@quiet_option
def demo(output: str, force: bool, quiet: bool) -> None:
    """The whole journey on the embedded default: digits, a 64-32 MLP, fixed point.

    Trains with Adam for 30 epochs and evaluates on the held-out test split; exports ONNX and
    checks it with onnxruntime; compiles to fixed point at `auto` precision (10 bits,
    calibrated on the training split); writes the Vitis HLS project; runs the fixed-point
    model in the NumPy reference, as ONNX on onnxruntime and as the g++ C-simulation of the
    HLS kernels, and checks that all three agree bit for bit; writes the report. With
    --quiet, prints only the final accuracy table.
    """
    import nnfx
    from nnfx.files import check_output_folder, staged_directory
    from nnfx.runtime.ort import run as run_onnx
    from nnfx.trainer import recipe
    from nnfx.ui import console, table

    final = Path(output)
    check_output_folder(final, "demo", force=force)  # before the long work
    check_writable_dir(final.parent)
    config = recipe.TrainConfig()
    with quieted(quiet):
        console.print(
            f"[bold]nnfx demo[/] — training a {'-'.join(map(str, config.hidden))} MLP "
            f"on {config.dataset} with {config.optimizer}"
        )
        result = recipe.train(config, verbose=0 if quiet else 1)
        print_model_and_metrics(result)
        # Written into a temporary sibling directory, then moved into place: never half-written.
        with staged_directory(final, "demo", force=force) as staging:
            recipe.save(result, staging / "model.onnx", config, run_onnx=run_onnx)
            X_test, y_test = result.test
            calibration = result.train[0].astype(np.float32)
            with console.status("compiling to fixed point (auto, 10 bits)..."):
                compiled = nnfx.compile(
                    staging / "model.onnx", "auto", width=10, calibration=calibration
                )
                compiled.save(staging / "build", hls={})
            engines = ("reference", "ort", "csim")
            with console.status("running the fixed-point engines (g++ builds the C-simulation)..."):
                # accuracy and agreement only: the report below times the engines
                sim = nnfx.simulate(compiled, X_test, y_test, engines=engines, timing=None)
            nnfx.report(
                staging / "model.onnx",
                X_test,
                y_test,
                staging / "report",
                precisions=(6, 8, 10, 12, 16),
                width=10,
                engines=engines,
                progress=not quiet,
                calibration=calibration,
            )
    files = {k: final / v.name for k, v in result.files.items()}
    files["compiled"] = final / "build"
    files["hls"] = final / "build" / "hls"
    files["report"] = final / "report" / "report.html"
    labels = {
        "reference": "NumPy reference",
        "ort": "ONNX on onnxruntime",
        "csim": "HLS C-simulation, g++",
    }
    rows = [
        ["float (NumPy trainer)", f"{100 * result.test_metrics['accuracy']:.2f}", "-"],
        ["float (ONNX, nnfx IR)", f"{100 * sim.float_accuracy:.2f}", "-"],
    ]
    rows += [
        [
            f"fixed, auto 10 bits ({labels[run.engine]})",
            f"{100 * run.accuracy:.2f}",
            "-" if run.engine == "reference" else ("yes" if run.bit_exact else "NO"),
        ]
        for run in sim.runs
    ]
    console.print(
        table(
            f"test accuracy ({len(X_test)} samples)",
            ["model", "accuracy %", "bit-exact with the reference"],
            rows,
        )
    )
    if not quiet:
        print_files(result, files)
    if not sim.agree:
        raise SystemExit(1)
