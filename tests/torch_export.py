"""PyTorch's two ONNX exporters, driven the one way the PyTorch comparison tests use them."""

from __future__ import annotations

import warnings


def export(module, example, path, dynamo):
    """Export ``module`` on ``example`` to ``path`` with the TorchScript exporter
    (``dynamo=False``: input ``x``, output ``y``, a dynamic batch) or the dynamo exporter."""
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
                dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
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
                dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
            )
    return path
