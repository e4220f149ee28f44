"""The accuracy/latency comparison report: what a user decides bit widths and reuse factors from.

``nnfx.report(model, X, y, "report/")`` (the module is callable: it calls :func:`report`)
writes ``report.html`` (one self-contained file, plots embedded), ``report.md`` (plots beside
it as PNG) and ``report.json``:

- accuracy of every engine (float on onnxruntime, fixed reference, C-simulation, fixed ONNX)
  with their bit-exact agreement;
- accuracy against bit width for two policies — one type for every tensor (``uniform``, its
  integer bits from the widest calibrated range) and per-tensor calibration (``auto``) — with
  float as a line;
- per layer (the quantization of each input first, as ``input '<name>'``): the float values'
  range against the layer's type range, overflow counts, and the relative RMS error against
  float;
- latency and throughput (from ``nnfx.simulate``: batch-1 latency, and throughput on the data
  repeated to a large batch): onnxruntime float, every engine, and the estimated FPGA latency
  and II at the clock;
- the resource estimate per layer and in total, against the part's capacity.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnfx.report.options import ReportOptions

__all__ = ["Report", "ReportOptions", "report"]


@dataclass
class Report:
    folder: Path
    data: dict
    files: dict[str, Path] = field(default_factory=dict)


def report(
    model_or_path,
    X,
    y,
    output: str | Path = "report",
    precisions: tuple[int, ...] = (6, 8, 10, 12, 16),
    width: int = 16,
    reuse_factor: int = 1,
    strategy: str = "latency",
    part: str = "xcvu13p-flga2577-2-e",
    clock_period_ns: float = 5.0,
    engines: tuple[str, ...] = ("reference", "ort", "csim"),
    progress: bool = True,
    calibration=None,
    *,
    force: bool = False,
    inputs: Iterable = (),
) -> Report:
    """Build the report for a model (path, ModelProto or loaded Model) on labelled data.
    ``calibration`` (default: ``X``) is what ``auto`` precision is calibrated on. ``output``
    is replaced only when nnfx wrote it or it is empty (``force``: also a folder of other
    files), and never when it holds the model file or one of ``inputs`` (see nnfx.files)."""
    import nnfx
    from nnfx.files import staged_directory
    from nnfx.model import Model
    from nnfx.report import collect, plots, render

    options = ReportOptions(
        precisions=precisions,
        width=width,
        reuse_factor=reuse_factor,
        strategy=strategy,
        part=part,
        clock_period_ns=clock_period_ns,
        engines=engines,
        progress=progress,
        calibration=calibration,
    )
    model = model_or_path if isinstance(model_or_path, Model) else nnfx.load(model_or_path)
    y = None if y is None else np.asarray(y).reshape(-1)
    options.check(model, X, y)
    folder = Path(output)
    if isinstance(model_or_path, str | Path):
        inputs = (model_or_path, *inputs)
    with staged_directory(folder, "report", force=force, inputs=inputs) as staging:
        data = collect.collect(model, X, y, options)
        files = render.write(staging, data, plots.figures(data))
    return Report(folder, data, {k: folder / v.name for k, v in files.items()})


class _CallableModule(types.ModuleType):
    """This module, callable: ``nnfx.report(...)`` is ``nnfx.report.report(...)``, while
    ``import nnfx.report`` still gives the module."""

    def __call__(self, *args, **kwargs) -> Report:
        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
