"""Bit-width search: the narrowest precision whose accuracy stays within a budget of float.

First one width for the whole model (``auto`` at W bits, W from small to large); then, from
that width, each layer in turn is narrowed one bit at a time while the accuracy holds. Every
candidate is compiled and run by the fixed reference on the given data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from nnfx.compiler.ir import INTEGER
from nnfx.compiler.ops import Op
from nnfx.compiler.precision import check_calibration
from nnfx.compiler.precision_config import PrecisionConfig
from nnfx.errors import DataError, PrecisionError
from nnfx.metrics import is_one_hot

# Nodes whose precision the search tunes (the others inherit their input's type).
TUNABLE = (
    Op.DENSE,
    Op.CONV,
    Op.BATCH_NORM,
    Op.ACTIVATION,
    Op.SOFTMAX,
    Op.ADD,
    Op.SUB,
    Op.MUL,
    Op.AVG_POOL,
    Op.GLOBAL_AVG_POOL,
)


def accuracy(outputs, y: np.ndarray) -> float:
    """Top-1 accuracy of a model's outputs (the label output of a classifier that has one)
    against labels ``y`` (integers, or one-hot rows)."""
    if isinstance(outputs, dict):
        labels = [v for v in outputs.values() if np.issubdtype(v.dtype, np.integer)]
        outputs = labels[0] if labels else next(iter(outputs.values()))
    out = np.asarray(outputs)
    if out.ndim == 1 and np.issubdtype(out.dtype, np.integer):
        predicted = out
    elif out.ndim == 2 and out.shape[1] > 1:
        predicted = out.argmax(axis=1)
    elif out.ndim >= 1 and out.size == len(out):
        predicted = (out.reshape(len(out)) > 0.5).astype(np.int64)
    else:
        raise DataError(
            f"accuracy needs class scores (batch, classes), one probability per sample or "
            f"labels; the model's output has shape {out.shape}"
        )
    y = np.asarray(y)
    if is_one_hot(y):  # one-hot rows: their labels
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if len(y) != len(predicted):
        raise DataError(f"y has {len(y)} labels but the data has {len(predicted)} samples")
    return float(np.mean(predicted == y))


@dataclass
class SearchResult:
    config: PrecisionConfig
    float_accuracy: float
    accuracy: float
    trials: list[dict] = field(default_factory=list)  # every candidate tried, in order


def search_precision(
    model,
    X,
    y,
    max_accuracy_drop: float = 1.0,
    widths: range = range(4, 25),
    per_layer: bool = True,
    progress=None,
    executor=None,
) -> SearchResult:
    """The narrowest configuration within ``max_accuracy_drop`` percentage points of float.

    ``executor`` (nnfx.sweep.executors: in-process or Ray) evaluates the candidates, as many
    at a time as it has workers: the next widths are tried ahead and the results taken in the
    order the one-by-one search would take them, so the result and ``trials`` are the same."""
    if y is None:
        raise DataError("precision search needs labels y to measure accuracy")
    check_calibration(model.graph, model.to_ir_inputs(X))  # before anything runs on X
    float_acc = accuracy(model.predict(X), y)
    trials: list[dict] = []
    shared = None if executor is None else executor.put((model, X, y))

    def accuracies(configs: list[PrecisionConfig]) -> Iterator[float]:
        """Each candidate's accuracy, in order, computed as they are asked for (a batch of
        the executor's width at a time)."""
        if executor is None:
            for config in configs:
                yield candidate_accuracy((model, X, y), config)
            return
        batch = max(1, int(getattr(executor, "slots", 1)))
        for start in range(0, len(configs), batch):
            yield from executor.map(candidate_accuracy, shared, configs[start : start + batch])

    def record(what: str, acc: float) -> None:
        trials.append({"candidate": what, "accuracy": acc, "within_budget": ok(acc)})
        if progress is not None:
            progress(what, acc)

    def ok(acc: float) -> bool:
        return 100 * (float_acc - acc) <= max_accuracy_drop

    best = None
    configs = [PrecisionConfig(default="auto", width=width) for width in widths]
    for config, acc in zip(configs, accuracies(configs), strict=True):
        record(f"uniform {config.width} bits", acc)
        if ok(acc):
            best, best_acc = config, acc
            break
    if best is None:
        raise PrecisionError(
            f"no uniform width up to {widths[-1]} bits keeps the accuracy within "
            f"{max_accuracy_drop} points of float ({100 * float_acc:.2f}%)"
        )
    if per_layer:
        names = [
            n.name
            for n in model.graph.nodes
            if n.op in TUNABLE and model.graph.tensors[n.outputs[0]].dtype != INTEGER
        ]
        layers: dict[str, dict] = {}
        for name in names:
            narrower = range(best.width - 1, 1, -1)  # one bit at a time while accuracy holds
            tried = [{**layers, name: {"width": w}} for w in narrower]
            configs = [PrecisionConfig(default="auto", width=best.width, layers=t) for t in tried]
            for w, trial_layers, acc in zip(narrower, tried, accuracies(configs), strict=True):
                record(f"{name} {w} bits", acc)
                if not ok(acc):
                    break
                layers, best_acc = trial_layers, acc
        best = PrecisionConfig(default="auto", width=best.width, layers=layers)
    return SearchResult(best, float_acc, best_acc, trials)


def candidate_accuracy(shared: tuple, config: PrecisionConfig) -> float:
    """The accuracy of ``config`` compiled from ``model`` (calibrated on ``X``) and run by the
    fixed reference on ``X``; ``shared`` is ``(model, X, y)``."""
    from nnfx.compiled import compile as compile_model

    model, X, y = shared
    compiled = compile_model(model, precision=config, calibration=X)
    return accuracy(compiled.predict(X), y)
