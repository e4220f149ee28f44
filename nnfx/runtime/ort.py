"""ONNX Runtime sessions (CPU, or CUDA when onnxruntime-gpu and a GPU are present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from nnfx.errors import DataError, ModelError


def available_providers() -> list[str]:
    """Execution providers in order of preference: CUDA first when it is usable."""
    import onnxruntime as ort

    present = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in present]


def session(
    model: str | Path | onnx.ModelProto, providers: list[str] | None = None, threads: int = 0
):
    """An ``InferenceSession`` with graph optimizations on; ``threads`` 0 lets onnxruntime
    choose (one per core). CUDA is used first when onnxruntime-gpu and a GPU are present."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    chosen = providers or available_providers()
    # TF32 would round float32 products to 10-bit mantissas on recent NVIDIA GPUs: the fixed
    # model's float32 codes are exact only in true float32 (docs/semantics.md), so it is off.
    exact = [(p, {"use_tf32": "0"}) if p == "CUDAExecutionProvider" else p for p in chosen]
    try:
        return ort.InferenceSession(source, options, providers=exact)
    except Exception as e:  # onnxruntime raises its own exception types
        raise ModelError(f"onnxruntime cannot load the model: {e}") from e


def run(model: str | Path | onnx.ModelProto, X: np.ndarray) -> np.ndarray:
    """The first output of ``model`` on ``X`` (cast to the input's element type)."""
    sess = session(model)
    first = sess.get_inputs()[0]
    dtype = np.float64 if first.type == "tensor(double)" else np.float32
    try:
        return sess.run(None, {first.name: np.asarray(X, dtype=dtype)})[0]
    except Exception as e:
        raise DataError(f"onnxruntime could not run input of shape {np.shape(X)}: {e}") from e


def run_batched(
    sess, feeds: dict[str, np.ndarray], batch_size: int = 65536, progress: bool = False
) -> list[np.ndarray]:
    """Run a session over large arrays in batches (with a progress bar when asked)."""
    n = len(next(iter(feeds.values())))
    if n <= batch_size:
        return sess.run(None, feeds)
    chunks: list[list[np.ndarray]] = []
    starts = range(0, n, batch_size)
    if progress:
        from nnfx.ui import progress_bar

        with progress_bar() as bar:
            task = bar.add_task("onnxruntime", total=n, status="")
            for start in starts:
                chunks.append(
                    sess.run(None, {k: v[start : start + batch_size] for k, v in feeds.items()})
                )
                bar.update(task, advance=min(batch_size, n - start))
    else:
        for start in starts:
            chunks.append(
                sess.run(None, {k: v[start : start + batch_size] for k, v in feeds.items()})
            )
    return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
