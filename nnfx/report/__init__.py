"""The accuracy/latency comparison report: what a user decides bit widths and reuse factors from.

``nnfx.report(model, X, y, "report/")`` (the module is callable: it calls :func:`report`)
writes ``report.html`` (one self-contained file, plots embedded), ``report.md`` (plots beside
it as PNG) and ``report.json``. The design reported is a compiled model as it is (a
CompiledModel, or a folder ``nnfx compile`` wrote), or a float model compiled here (``auto``
at ``width`` bits by default, or a type, or a precision config). Classification (``y``:
integer labels or one-hot rows) is measured by top-1 accuracy, regression (any other targets)
by MSE, MAE and max |error| against ``y`` and against the float model (nnfx.metrics):

- accuracy (or errors) of every engine (float on onnxruntime, fixed reference, C-simulation,
  fixed ONNX) with their bit-exact agreement;
- accuracy (or MSE) against bit width for two policies — one type for every tensor
  (``uniform``, its integer bits from the widest calibrated range) and per-tensor calibration
  (``auto``) — with float as a line and the reported design marked;
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
    reuse_factor: int | None = None,
    strategy: str | None = None,
    part: str | None = None,
    clock_period_ns: float | None = None,
    engines: tuple[str, ...] = ("reference", "ort", "csim"),
    progress: bool = True,
    calibration=None,
    *,
    force: bool = False,
    inputs: Iterable = (),
    precision="auto",
    config=None,
    task: str | None = None,
) -> Report:
    """Build the report of a design on data with targets ``y`` (class labels, one-hot rows or
    regression targets; ``task`` forces which).

    ``model_or_path``: a float model (path, ModelProto or loaded Model), compiled here with
    ``precision`` (a type, ``"auto"`` at ``width`` bits, or a precision config file) or
    ``config`` (a precision config file), calibrated on ``calibration`` (default: ``X``); or a
    compiled design — a :class:`~nnfx.compiled.CompiledModel` or the folder
    ``CompiledModel.save`` / ``nnfx compile`` wrote — reported as it is, without recompiling.
    ``reuse_factor``, ``strategy``, ``part`` and ``clock_period_ns`` price the estimate
    (default: those the design was compiled with where recorded, else 1, latency, the default
    part and 5 ns). ``precisions``: the widths of the accuracy sweep (empty: no sweep).
    ``output`` is replaced only when nnfx wrote it or it is empty (``force``: also a folder of
    other files), and never when it holds the model or one of ``inputs`` (see nnfx.files)."""
    import nnfx
    from nnfx.compiled import CompiledModel
    from nnfx.files import staged_directory
    from nnfx.model import Model
    from nnfx.report import collect, plots, render
    from nnfx.report.options import design_settings

    design = model_or_path if isinstance(model_or_path, CompiledModel) else None
    if design is None and isinstance(model_or_path, str | Path) and Path(model_or_path).is_dir():
        design = nnfx.load_compiled(model_or_path)
    settings = design_settings(
        design, reuse_factor, strategy, part, clock_period_ns, precision, config
    )
    options = ReportOptions(
        precisions=tuple(precisions),
        width=width,
        engines=engines,
        progress=progress,
        calibration=calibration,
        task=task,
        **settings,
    )
    if design is not None:
        model = design.float_model
    elif isinstance(model_or_path, Model):
        model = model_or_path
    else:
        model = nnfx.load(model_or_path)
    task = options.check(model, X, y)
    folder = Path(output)
    named = [p for p in (model_or_path, options.config) if isinstance(p, str | Path)]
    inputs = (*named, *inputs)
    with staged_directory(folder, "report", force=force, inputs=inputs) as staging:
        data = collect.collect(model, design, X, y, options, task)
        files = render.write(staging, data, plots.figures(data))
    return Report(folder, data, {k: folder / v.name for k, v in files.items()})


class _CallableModule(types.ModuleType):
    """This module, callable: ``nnfx.report(...)`` is ``nnfx.report.report(...)``, while
    ``import nnfx.report`` still gives the module."""

    def __call__(self, *args, **kwargs) -> Report:
        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
