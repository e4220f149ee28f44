"""ONNX Runtime sessions (CPU, or CUDA when onnxruntime-gpu and a GPU are present)."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx

from nnfx.errors import DataError, ModelError

# Rows per onnxruntime call on the CPU: the widest intermediate tensor of one call is kept near
# CACHE_BYTES, so the element-wise passes of the fixed-point model read and write the cache
# instead of memory (the chunk sweep of benchmarks/emulation_throughput.py: on the jet MLP at
# fixed<16,6> one 65536-row call is about twice as slow as 4096-row calls). CUDA takes the
# largest batch instead.
CACHE_BYTES = 2 << 20
MIN_ROWS, MAX_ROWS = 256, 65536


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


def cache_rows(model: onnx.ModelProto) -> int:
    """Rows per call for ``model`` on the CPU: a power of two between MIN_ROWS and MAX_ROWS
    with the widest per-sample intermediate (by onnx shape inference, the batch on axis 0)
    times the rows near CACHE_BYTES. MAX_ROWS where a shape is not known."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # onnx raises several types; the chunking is only a speed choice
        return MAX_ROWS
    graph = inferred.graph
    widest = 0
    for info in (*graph.input, *graph.value_info, *graph.output):
        kind = info.type.tensor_type
        dims = kind.shape.dim
        if not kind.HasField("shape") or not dims or dims[0].HasField("dim_value"):
            continue  # a constant or a tensor without a batch axis first
        if not all(d.HasField("dim_value") for d in dims[1:]):
            return MAX_ROWS
        try:
            itemsize = onnx.helper.tensor_dtype_to_np_dtype(kind.elem_type).itemsize
        except (KeyError, TypeError, ValueError):
            continue
        widest = max(widest, int(np.prod([d.dim_value for d in dims[1:]])) * itemsize)
    if widest == 0:
        return MAX_ROWS
    rows = 1 << max(0, (CACHE_BYTES // widest).bit_length() - 1)
    return min(MAX_ROWS, max(MIN_ROWS, rows))


def cpu_workers() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def engine_session(model: onnx.ModelProto, threads: int = 0):
    """A session for running ``model`` over many rows, with the rows per call and the number
    of concurrent calls to give :func:`run_batched`. On the CPU (``threads`` 0: every core)
    the session is single-threaded and that many calls of cache-sized chunks run at once,
    which was faster than onnxruntime's own threads splitting each small kernel; on CUDA one
    large call at a time."""
    workers = cpu_workers() if threads == 0 else threads
    sess = session(model, threads=1)
    if sess.get_providers()[0] != "CPUExecutionProvider":
        return sess, MAX_ROWS, 1
    return sess, cache_rows(model), workers


def run_batched(
    sess,
    feeds: dict[str, np.ndarray],
    batch_size: int = MAX_ROWS,
    progress: bool = False,
    workers: int = 1,
) -> list[np.ndarray]:
    """Run a session over large arrays in batches of ``batch_size`` rows, ``workers`` calls
    at a time (a session's ``run`` is thread-safe and releases the GIL), in order, with a
    progress bar when asked. With several workers the batches are made small enough that
    each worker gets one."""
    n = len(next(iter(feeds.values())))
    if workers > 1:
        batch_size = max(MIN_ROWS, min(batch_size, -(-n // workers)))
    if n <= batch_size:
        return sess.run(None, feeds)
    starts = range(0, n, batch_size)

    def call(start: int) -> list[np.ndarray]:
        return sess.run(None, {k: v[start : start + batch_size] for k, v in feeds.items()})

    with contextlib.ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(ThreadPoolExecutor(workers))
            results = pool.map(call, starts)
        else:
            results = map(call, starts)
        if progress:
            from nnfx.ui import progress_bar

            bar = stack.enter_context(progress_bar())
            task = bar.add_task("onnxruntime", total=n, status="")
            chunks = []
            for start, chunk in zip(starts, results, strict=True):
                chunks.append(chunk)
                bar.update(task, advance=min(batch_size, n - start))
        else:
            chunks = list(results)
    return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
