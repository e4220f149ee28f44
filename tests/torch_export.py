"""PyTorch's two ONNX exporters, driven the one way the PyTorch comparison tests use them."""

from __future__ import annotations

import warnings


def export(module, example, path, dynamo, batch_axis=0, output_batch_axis=0):
    """Export ``module`` on ``example`` to ``path`` with the TorchScript exporter
    (``dynamo=False``: input ``x``, output ``y``, a dynamic batch) or the dynamo exporter;
    the batch is on ``batch_axis`` of the input and ``output_batch_axis`` of the output (1 for
    time-major recurrent models)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=True,
                external_data=True,
                dynamic_shapes={"x": {batch_axis: torch.export.Dim("batch")}},
                verbose=False,
            )
        else:
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=False,
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {batch_axis: "N"}, "y": {output_batch_axis: "N"}},
            )
    return path
