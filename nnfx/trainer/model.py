"""``Sequential``: a stack of layers trained by mini-batch gradient descent.

One training step is the whole story of backpropagation:

1. forward: each layer maps its input to its output, remembering what it needs;
2. loss: compare the output with the target, get dL/d(output);
3. backward: each layer, last to first, turns dL/d(output) into dL/d(input) and stores
   dL/d(its parameters) — the chain rule;
4. update: the optimizer moves every parameter against its gradient.

``batch_size`` picks the flavour of gradient descent: the whole training set (``None``,
batch gradient descent), a few samples (mini-batch, the default 32), or one (stochastic).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnfx.errors import ConfigError, DataError, ModelError
from nnfx.trainer.activations import Activation, get_activation
from nnfx.trainer.callbacks import Callback, EarlyStopping
from nnfx.trainer.data import check_xy, one_hot
from nnfx.trainer.layers import Layer, Parameter
from nnfx.trainer.losses import Hinge, Loss, get_loss
from nnfx.trainer.metrics import METRICS, check_metric
from nnfx.trainer.optimizers import Optimizer, get_optimizer


@dataclass
class History:
    """What ``fit`` observed: one value per epoch for every key (``loss``, ``accuracy``,
    ``val_loss``, ``val_accuracy``, ..., ``lr``), plus the epoch seconds."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_run: int = 0
    stopped_early: bool = False
    best_epoch: int | None = None

    def append(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        self.epochs_run += 1

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def to_dict(self) -> dict:
        return {
            "epochs_run": self.epochs_run,
            "stopped_early": self.stopped_early,
            "best_epoch": self.best_epoch,
            "history": self.history,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


class Sequential:
    """A linear stack of layers.

    >>> model = Sequential([Dense(64, activation="relu"), Dense(10, activation="softmax")],
    ...                    input_shape=(64,), seed=0)
    >>> model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(X, y, epochs=30, batch_size=32, validation_data=(Xv, yv))

    Layers given an ``activation=`` argument are followed by that activation layer. Parameters
    live in ``dtype`` (float32 by default, as Keras and PyTorch; float64 for gradient checks).
    """

    def __init__(
        self,
        layers: list[Layer] | None = None,
        input_shape: tuple[int, ...] | None = None,
        seed: int = 0,
        dtype: str | np.dtype = "float32",
        name: str = "model",
    ):
        self.layers: list[Layer] = []
        self.rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype}")
        self.name = name
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.built = False
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.metrics: list[str] = []
        self.stop_training = False
        for layer in layers or []:
            self.add(layer)
        if self.input_shape is not None and self.layers:
            self.build(self.input_shape)

    # -- structure -----------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        if self.built:
            raise ModelError("cannot add layers to a model that is already built")
        if not isinstance(layer, Layer):
            raise ModelError(f"Sequential takes Layer objects, got {type(layer).__name__}")
        self.layers.append(layer)
        activation = getattr(layer, "activation", None)
        if activation is not None and not isinstance(layer, Activation):
            self.layers.append(get_activation(activation))

    def build(self, input_shape: tuple[int, ...]) -> None:
        """Create every layer's parameters for inputs of shape ``(batch, *input_shape)``."""
        if not self.layers:
            raise ModelError("the model has no layers")
        shape = tuple(int(d) for d in input_shape)
        counts: dict[str, int] = {}
        taken = {layer.name for layer in self.layers if layer.name}
        for layer in self.layers:
            if not layer.name:
                base = type(layer).__name__.lower()
                while True:
                    counts[base] = counts.get(base, 0) + 1
                    candidate = f"{base}_{counts[base]}"
                    if candidate not in taken:
                        break
                layer.name = candidate
                taken.add(candidate)
            shape = layer.build(shape, self.rng, self.dtype)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.output_shape = shape
        self.built = True

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def count_params(self) -> int:
        return int(sum(p.value.size for p in self.parameters()))

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter and buffer, in a fixed order (for checkpoints)."""
        weights = [p.value.copy() for p in self.parameters()]
        for layer in self.layers:
            weights.extend(b.copy() for b in layer.buffers().values())
        return weights

    def set_weights(self, weights: list[np.ndarray]) -> None:
        params = self.parameters()
        expected = len(params) + sum(len(layer.buffers()) for layer in self.layers)
        if len(weights) != expected:
            raise ModelError(f"set_weights got {len(weights)} arrays; the model has {expected}")
        for p, w in zip(params, weights, strict=False):
            if p.value.shape != np.shape(w):
                raise ModelError(f"weight shape {np.shape(w)} does not match {p.value.shape}")
            p.value[...] = w
        rest = iter(weights[len(params) :])
        for layer in self.layers:
            names = list(layer.buffers())
            if names:
                layer.set_buffers({n: np.asarray(next(rest), self.dtype) for n in names})

    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts (also printed by the CLI)."""
        self._require_built()
        rows = [f"{'layer':<18}{'type':<14}{'output shape':<20}{'params':>10}"]
        rows.append("-" * len(rows[0]))
        for layer in self.layers:
            n = sum(p.value.size for p in layer.parameters())
            shape = str(("batch", *layer.output_shape)).replace("'", "")
            rows.append(f"{layer.name:<18}{type(layer).__name__:<14}{shape:<20}{n:>10}")
        rows.append("-" * len(rows[0]))
        rows.append(f"total parameters: {self.count_params()}")
        return "\n".join(rows)

    # -- training --------------------------------------------------------------------------
    def compile(
        self,
        optimizer: str | Optimizer = "adam",
        loss: str | Loss = "categorical_crossentropy",
        metrics: list[str] | tuple[str, ...] = ("accuracy",),
        learning_rate: float | None = None,
    ) -> None:
        """Choose the optimizer (name or object), the loss and the metrics to report."""
        kwargs = {} if learning_rate is None else {"learning_rate": learning_rate}
        if isinstance(optimizer, Optimizer) and kwargs:
            raise ConfigError("pass learning_rate to the optimizer object, not to compile()")
        self.optimizer = get_optimizer(optimizer, **kwargs)
        self.loss = get_loss(loss)
        self.metrics = [check_metric(m) for m in metrics]

    def _fused(self) -> bool:
        """True when the loss gradient is taken from the logits before the last activation."""
        fused = self.loss.fused_activation
        return fused is not None and type(self.layers[-1]) is fused

    def _prepare(self, X, y=None, what: str = "the data"):
        """Validate and convert inputs (and targets into the output's shape)."""
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.number):
            raise DataError(f"{what}: X has dtype {X.dtype}; expected numbers")
        if not self.built:
            self.build(X.shape[1:])
        if X.shape[1:] != self.input_shape:
            raise DataError(
                f"{what}: X has shape {X.shape}; the model expects (batch, "
                f"{', '.join(map(str, self.input_shape))})"
            )
        check_xy(X, None if y is None else np.asarray(y), source=what)
        X = X.astype(self.dtype, copy=False)
        if y is None:
            return X, None
        return X, self._targets(np.asarray(y), what)

    def _targets(self, y: np.ndarray, what: str) -> np.ndarray:
        n_out = int(np.prod(self.output_shape))
        if y.ndim == 1 and n_out > 1:  # integer labels for a multi-output classifier
            if self.loss is not None and not self.loss.classification:
                raise DataError(f"{what}: y is 1-D but the model has {n_out} outputs")
            return one_hot(y, n_out, dtype=self.dtype)
        y = y.reshape(len(y), -1).astype(self.dtype)
        if y.shape[1] != n_out:
            raise DataError(
                f"{what}: y has {y.shape[1]} column(s) per sample; the model outputs {n_out}"
            )
        return y.reshape(len(y), *self.output_shape)  # e.g. (steps, units) of a sequence

    def _forward(self, X: np.ndarray, training: bool, upto: int | None = None) -> np.ndarray:
        out = X
        for layer in self.layers[:upto]:
            out = layer.forward(out, training=training)
        return out

    def compute_gradients(self, X: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on a batch: fills every ``Parameter.grad`` (penalties
        included) and returns (loss, predictions). Nothing is updated."""
        fused = self._fused()
        hidden = self._forward(X, training=True, upto=-1 if fused else None)
        if fused:
            loss, grad = self.loss.value_and_gradient_from_logits(hidden, Y)
            predictions = self.layers[-1].forward(hidden, training=True)
            layers = self.layers[:-1]
        else:
            predictions = hidden
            loss, grad = self.loss.value(hidden, Y), self.loss.gradient(hidden, Y)
            layers = self.layers
        for layer in reversed(layers):
            grad = layer.backward(grad)
        for p in self.parameters():
            if p.regularizer is not None:
                loss += p.regularizer.penalty(p.value)
                p.grad = p.grad + p.regularizer.gradient(p.value)
        return loss, predictions

    def train_step(self, X: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        """One step of gradient descent on a batch; returns (loss, predictions)."""
        loss, predictions = self.compute_gradients(X, Y)
        self.optimizer.step(self.parameters())
        return loss, predictions

    def fit(
        self,
        X,
        y,
        epochs: int = 10,
        batch_size: int | None = 32,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        callbacks: list[Callback] | tuple[Callback, ...] = (),
        verbose: int = 1,
    ) -> History:
        """Train for ``epochs`` passes over ``(X, y)``; return the :class:`History`.

        ``y`` holds class labels (one-hot encoded for you) or target rows. ``batch_size=None``
        is full-batch gradient descent, ``1`` is stochastic gradient descent.
        """
        if self.optimizer is None:
            raise ModelError("call compile() before fit()")
        if int(epochs) < 1:
            raise ConfigError(f"epochs must be at least 1, got {epochs}")
        X, Y = self._prepare(X, y, "training data")
        labels = np.asarray(y)
        if validation_data is None and validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ConfigError(f"validation_split must be in (0, 1), got {validation_split}")
            cut = len(X) - int(round(len(X) * validation_split))
            validation_data = (X[cut:], labels[cut:])
            X, Y, labels = X[:cut], Y[:cut], labels[:cut]
        if validation_data is not None:
            Xv, yv = validation_data
            Xv, _ = self._prepare(Xv, yv, "validation data")
        n = len(X)
        batch = n if batch_size is None else int(batch_size)
        if batch < 1:
            raise ConfigError(
                f"batch_size must be at least 1 (or None for full batch), got {batch_size}"
            )
        steps = -(-n // batch)
        history = History()
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin(self)
        reporter = _EpochReporter(self, epochs, steps) if verbose else None
        try:
            for epoch in range(int(epochs)):
                self.optimizer.set_epoch(epoch)
                order = self.rng.permutation(n) if shuffle else np.arange(n)
                total_loss, outputs = 0.0, []
                for step in range(steps):
                    index = order[step * batch : (step + 1) * batch]
                    loss, predictions = self.train_step(X[index], Y[index])
                    total_loss += loss * len(index)
                    outputs.append((index, predictions))
                    if reporter:
                        reporter.step(epoch, loss)
                logs = {"loss": total_loss / n}
                trained = np.empty((n, *self.output_shape), dtype=self.dtype)
                for index, predictions in outputs:
                    trained[index] = predictions
                logs.update(self._metric_values(trained, labels, Y))
                if validation_data is not None:
                    logs.update({f"val_{k}": v for k, v in self.evaluate(Xv, yv).items()})
                logs["lr"] = self.optimizer.learning_rate
                history.append(logs)
                for cb in callbacks:
                    cb.on_epoch_end(self, epoch, logs)
                if reporter:
                    reporter.epoch_end(epoch, logs)
                if self.stop_training:
                    history.stopped_early = True
                    break
        finally:
            if reporter:
                reporter.close()
        for cb in callbacks:
            cb.on_train_end(self)
            if isinstance(cb, EarlyStopping) and cb.best_epoch >= 0:
                history.best_epoch = cb.best_epoch
        return history

    # -- inference -------------------------------------------------------------------------
    def predict(self, X, batch_size: int | None = 4096) -> np.ndarray:
        """Outputs of the model in inference mode (dropout off, BatchNorm running statistics)."""
        self._require_built()
        X, _ = self._prepare(X, None, "input data")
        if batch_size is None or len(X) <= batch_size:
            return self._forward(X, training=False)
        return np.concatenate(
            [self._forward(X[i : i + batch_size], False) for i in range(0, len(X), batch_size)]
        )

    def predict_classes(self, X) -> np.ndarray:
        """Class labels: the argmax of a multi-output model, a threshold on a single output
        (0.5 for probabilities, 0 for a hinge-trained score)."""
        return self._classes(self.predict(X))

    def _classes(self, outputs: np.ndarray) -> np.ndarray:
        outputs = outputs.reshape(len(outputs), -1)
        if outputs.shape[1] > 1:
            return outputs.argmax(axis=1)
        threshold = 0.0 if isinstance(self.loss, Hinge) else 0.5
        return (outputs[:, 0] > threshold).astype(np.int64)

    def _metric_values(self, outputs, labels, targets) -> dict[str, float]:
        values = {}
        if any(METRICS[m][1] for m in self.metrics):
            true = labels if labels.ndim == 1 else self._classes(labels.astype(np.float64))
            if outputs.reshape(len(outputs), -1).shape[1] == 1:
                true = (np.asarray(true).reshape(-1) > 0).astype(np.int64)
            predicted = self._classes(outputs)
        for name in self.metrics:
            fn, on_labels = METRICS[name]
            values[name] = fn(true, predicted) if on_labels else fn(targets, outputs)
        return values

    def evaluate(self, X, y) -> dict[str, float]:
        """The loss and the compiled metrics on ``(X, y)`` in inference mode."""
        if self.loss is None:
            raise ModelError("call compile() before evaluate()")
        Xc, Y = self._prepare(X, y, "evaluation data")
        outputs = self._forward(Xc, training=False)
        logs = {"loss": self.loss.value(outputs, Y)}
        logs["loss"] += sum(
            p.regularizer.penalty(p.value) for p in self.parameters() if p.regularizer
        )
        logs.update(self._metric_values(outputs, np.asarray(y), Y))
        return logs

    def export_onnx(self, path: str | Path, opset: int = 17, qonnx: bool = False):
        """Write the model as an ONNX file (see :mod:`nnfx.trainer.onnx_export`); ``qonnx``
        writes the quantization-aware layers' QONNX Quant nodes."""
        from nnfx.trainer.onnx_export import export_onnx

        return export_onnx(self, path, opset=opset, qonnx=qonnx)

    def _require_built(self):
        if not self.built:
            raise ModelError("the model is not built yet: give input_shape or call fit() first")


class _EpochReporter:
    """A progress bar over all training steps, and a table with one row per finished epoch.

    The rows show the loss, the first metric, their validation values and the learning rate
    (every metric is in the returned :class:`History`).
    """

    def __init__(self, model: Sequential, epochs: int, steps: int):
        from nnfx.ui import progress_bar

        self.epochs = epochs
        first = model.metrics[:1]
        self.columns = ["loss", *first, *(f"val_{k}" for k in ["loss", *first]), "lr"]
        self.progress = progress_bar()
        self.task = self.progress.add_task("training", total=epochs * steps, status="")
        self.progress.start()
        self.started = time.perf_counter()

    def step(self, epoch: int, loss: float) -> None:
        self.progress.update(
            self.task,
            advance=1,
            description=f"epoch {epoch + 1}/{self.epochs}",
            status=f"loss {loss:.4f}",
        )

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        columns = [c for c in self.columns if c in logs]
        if epoch == 0:
            header = "".join(f"{c:>{_width(c)}}" for c in columns)
            self.progress.console.print(f"{'epoch':>10}{header}{'time':>8}", style="bold")
        cells = "".join(
            f"{logs[c]:>{_width(c)}.3g}" if c == "lr" else f"{logs[c]:>{_width(c)}.4f}"
            for c in columns
        )
        elapsed = time.perf_counter() - self.started
        self.progress.console.print(
            f"{epoch + 1:>5}/{self.epochs:<4}{cells}{elapsed:>7.1f}s", soft_wrap=True
        )

    def close(self) -> None:
        # Early stopping ends before the planned total: show the bar as finished where it stopped.
        done = self.progress.tasks[0].completed
        self.progress.update(self.task, total=done, description="training done")
        self.progress.stop()


def _width(column: str) -> int:
    return max(len(column), 6) + 2
