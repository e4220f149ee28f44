"""hls4ml as the comparison benchmarks run it: a converter of its front ends with the same
project settings (Vitis, io_parallel), its C++ compiled and its C simulation timed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _timing import best_rate, timed


class StageError(Exception):
    """hls4ml failed at ``stage`` (conversion, compile, predict) with ``error``."""

    def __init__(self, stage: str, error: Exception):
        super().__init__(f"{stage}: {type(error).__name__}: {error}")
        self.stage, self.error = stage, error


def build_and_run(
    convert,
    model,
    config: dict,
    folder: Path,
    X: np.ndarray,
    repeats: int,
    row: dict,
    prepare=np.ascontiguousarray,
):
    """``convert`` (one of hls4ml's ``convert_from_*_model``) applied to ``model`` with
    ``config``, compiled (``row['cold_build_s']``), and its C simulation run on ``prepare(X)``
    (``row['samples_per_s']``, the best of ``repeats``); returns the outputs. Raises
    :class:`StageError` naming the step that failed."""
    stage = "conversion"
    try:
        hls_model = convert(
            model,
            output_dir=str(folder),
            project_name="myproject",
            backend="Vitis",
            io_type="io_parallel",
            hls_config=config,
        )
        stage = "compile"
        _, row["cold_build_s"] = timed(hls_model.compile)
        stage = "predict"
        row["samples_per_s"], out = best_rate(lambda x: hls_model.predict(prepare(x)), X, repeats)
    except Exception as error:  # noqa: BLE001 (hls4ml raises many types; the stage is kept)
        raise StageError(stage, error) from error
    return out
