"""What the comparison benchmarks share: timing a call, the best rate over repeats, a
temporary C-simulation cache (cold builds), and silencing the peers' printing."""

from __future__ import annotations

import contextlib
import io
import os
import time
import warnings

import numpy as np


def timed(fn, *args):
    """``(fn(*args), seconds)``."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def best_rate(fn, X: np.ndarray, repeats: int) -> tuple[float, object]:
    """Samples/s, best of ``repeats`` runs on the whole batch after a warm-up on 4 samples,
    and the last run's output."""
    fn(X[:4])
    best, out = float("inf"), None
    for _ in range(repeats):
        out, seconds = timed(fn, X)
        best = min(best, seconds)
    return len(X) / best, out


@contextlib.contextmanager
def quiet():
    """hls4ml and qonnx print every layer (and warn): keep the benchmark's output readable."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def cache_dir(folder: str):
    """``NNFX_CACHE_DIR`` set to ``folder`` inside the block (a cold C-simulation build)."""
    old = os.environ.get("NNFX_CACHE_DIR")
    os.environ["NNFX_CACHE_DIR"] = folder
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("NNFX_CACHE_DIR", None)
        else:
            os.environ["NNFX_CACHE_DIR"] = old
