"""``nnfx.load``: an ONNX model as an IR graph, optimized, runnable by the float reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from nnfx.compiler.input_steps import apply_steps
from nnfx.compiler.ir import INTEGER, Graph, for_message
from nnfx.compiler.layout import model_shape, to_ir, to_onnx
from nnfx.compiler.passes import PIPELINE, Pass, run_passes
from nnfx.errors import DataError, ModelError
from nnfx.frontends.onnx import convert
from nnfx.runtime import reference


class Model:
    """A float model in the IR. Data goes in and comes out in the original model's layout
    (NCHW for ONNX images); inside, the IR is channels-last."""

    def __init__(self, graph: Graph, source: str = ""):
        self.graph = graph
        self.source = source

    @property
    def input_names(self) -> tuple[str, ...]:
        return self.graph.inputs

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.graph.outputs

    def to_ir_inputs(self, X) -> dict[str, np.ndarray]:
        """Model-layout arrays (one array, or a dict by input name) to IR-layout arrays, after
        each input's steps (its float preprocessing, docs/semantics.md "Input steps")."""
        return {
            name: to_ir(self.stepped(name, x), t.onnx_perm, t.batch_axis)
            for name, x in self.model_inputs(X).items()
            for t in (self.graph.tensors[name],)
        }

    def samples(self, inputs: dict[str, np.ndarray]) -> int:
        """The batch size of model-layout ``inputs`` (from :meth:`model_inputs`): the size of
        the first input's batch axis (``Tensor.batch_axis``; 1 for time-major inputs)."""
        name, x = next(iter(inputs.items()))
        return int(np.shape(x)[self.graph.tensors[name].batch_axis])

    def stepped(self, name: str, x: np.ndarray) -> np.ndarray:
        """Model-layout input ``name`` after its input steps (float64), or as it is if none."""
        steps = self.graph.tensors[name].steps
        return apply_steps(np.asarray(x, np.float64), steps) if steps else x

    def model_inputs(self, X) -> dict[str, np.ndarray]:
        """Check model-layout inputs (one array, or a dict by input name) against the model."""
        if not isinstance(X, dict):
            if len(self.graph.inputs) != 1:
                names = ", ".join(map(for_message, self.graph.inputs))
                raise DataError(
                    f"the model has {len(self.graph.inputs)} inputs ({names}); pass a dict of "
                    "arrays"
                )
            X = {self.graph.inputs[0]: X}
        arrays = {}
        for name in self.graph.inputs:
            shown = for_message(name)
            if name not in X:
                raise DataError(
                    f"input '{shown}' is missing; the model takes "
                    f"{', '.join(map(for_message, self.graph.inputs))}"
                )
            tensor = self.graph.tensors[name]
            x = np.asarray(X[name])
            if not np.issubdtype(x.dtype, np.number):
                raise DataError(f"input '{shown}' has dtype {x.dtype}; expected numbers")
            axis = tensor.batch_axis
            expected = model_shape(tensor.shape, tensor.onnx_perm, axis, "batch")
            if x.ndim != len(expected) or x.shape[:axis] + x.shape[axis + 1 :] != tuple(
                d for i, d in enumerate(expected) if i != axis
            ):
                raise DataError(
                    f"input '{shown}' has shape {x.shape}; the model expects "
                    f"({', '.join(map(str, expected))})"
                )
            arrays[name] = x
        return arrays

    def from_ir_output(self, name: str, y: np.ndarray) -> np.ndarray:
        y = to_onnx(y, self.graph.tensors[name].onnx_perm, self.graph.tensors[name].batch_axis)
        return y.astype(np.int64) if self.graph.tensors[name].dtype == INTEGER else y

    def predict(self, X) -> np.ndarray | dict[str, np.ndarray]:
        """Run the float reference (float64). One output: an array; several: a dict by name."""
        results = reference.run(self.graph, self.to_ir_inputs(X))
        outputs = {name: self.from_ir_output(name, results[name]) for name in self.graph.outputs}
        return next(iter(outputs.values())) if len(outputs) == 1 else outputs

    def summary(self) -> str:
        return self.graph.summary()

    def __repr__(self) -> str:
        return f"Model({self.graph.name!r}, {len(self.graph.nodes)} nodes)"


def load(path_or_model: str | Path | onnx.ModelProto, passes: tuple[Pass, ...] = PIPELINE) -> Model:
    """Read an ONNX file (or ``onnx.ModelProto``) into the IR and run the passes."""
    if not isinstance(path_or_model, str | Path | onnx.ModelProto):
        raise ModelError(
            f"load() takes a path or an onnx.ModelProto, not {type(path_or_model).__name__}"
        )
    graph = run_passes(convert(path_or_model), passes)
    source = str(path_or_model) if not isinstance(path_or_model, onnx.ModelProto) else ""
    return Model(graph, source)
