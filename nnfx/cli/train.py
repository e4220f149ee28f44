"""`nnfx train`: train an MLP (a CNN, a recurrent network) with the NumPy trainer and export it
to ONNX."""

from __future__ import annotations

from pathlib import Path

import click

from nnfx.cli.options import (
    check_writable_dir,
    conv_option,
    force_option,
    qat_options,
    quiet_option,
    recurrent_option,
    train_options,
)
from nnfx.cli.output import print_files, print_model_and_metrics


def _config(**kw):
    from nnfx.trainer.recipe import TrainConfig

    batch = kw.pop("batch_size")
    return TrainConfig(batch_size=None if batch == 0 else batch, **kw)


def _run_compiled(path, X):
    """A QONNX model (which onnxruntime cannot run) checked as nnfx compiles it: its own
    types, the fixed-point reference."""
    import numpy as np

    import nnfx

    return nnfx.compile(path).predict(np.asarray(X, np.float32), engine="reference")


@click.command()
@train_options
@conv_option
@recurrent_option
@qat_options
@click.option(
    "-o",
    "--output",
    default="model.onnx",
    show_default=True,
    type=click.Path(),
    help="ONNX file to write; history.json, test_data.npz and train_data.npz go beside it.",
)
@force_option
@quiet_option
def train(output: str, force: bool, quiet: bool, **kw) -> None:
    """Train an MLP classifier (a CNN with --conv, a recurrent network with --recurrent) with the
    NumPy trainer and export it to ONNX.

    The data set is split 70/15/15 (stratified) and standardized with the training statistics,
    as the model's first step (Sub, Div: the ONNX model takes the raw features) unless
    --no-standardize-in-model. --quantize or --precision trains quantization-aware and writes
    a QONNX model (`nnfx compile` keeps its types). Prints one line per epoch and the test
    metrics (only these with --quiet); writes the ONNX model, history.json (the per-epoch
    history, the configuration and the standardization), test_data.npz (the test split, for
    `nnfx simulate` and `nnfx report`) and train_data.npz (the training split, to calibrate
    `nnfx compile`), both as the model takes them (raw unless --no-standardize-in-model) and
    in the model's input layout.
    """
    from nnfx.runtime.ort import run as run_onnx
    from nnfx.trainer import recipe

    output_path = Path(output)
    check_writable_dir(output_path.parent)
    config = _config(**kw)
    recipe.check_outputs(output_path, config, force, train_data=True)  # before the long work
    result = recipe.train(config, verbose=0 if quiet else 1)
    print_model_and_metrics(result, summary=not quiet)
    check = _run_compiled if recipe.quantized(config) else run_onnx
    files = recipe.save(result, output_path, config, force=force, run_onnx=check, train_data=True)
    if not quiet:
        print_files(result, files)
