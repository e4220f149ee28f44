"""Throughput of the bit-exact fixed-point emulation: the NumPy reference and the fixed-point
ONNX model on onnxruntime (CPU, or CUDA where onnxruntime-gpu and a GPU are present), with
the float model on onnxruntime as the yardstick.

Models: the 16-64-32-32-5 MLP (hls4ml's jet-tagging shape, ReLU, softmax) and a digits CNN
(conv 8 -> pool -> conv 16 -> pool -> dense 10), both at fixed<16,6>. Batch sizes 1, 256 and
65536; samples/s is the best of a few repeats (batch 1: the mean over many single calls).

Usage: ``python benchmarks/emulation_throughput.py [--repeats 3]``.
Writes ``benchmarks/results/emulation_throughput.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, write  # noqa: E402
from _models import build_models  # noqa: E402

import nnfx  # noqa: E402
from nnfx.runtime.ort import available_providers, session  # noqa: E402
from nnfx.ui import console, table  # noqa: E402

BATCHES = (1, 256, 65536)


def rate(fn, X: np.ndarray, repeats: int) -> float:
    fn(X[:1])  # warm up (sessions, caches)
    if len(X) == 1:
        calls = 300
        start = time.perf_counter()
        for _ in range(calls):
            fn(X)
        return calls / (time.perf_counter() - start)
    best = min(_timed(fn, X) for _ in range(repeats))
    return len(X) / best


def _timed(fn, X) -> float:
    start = time.perf_counter()
    fn(X)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    provider = available_providers()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (path, _, shape) in build_models(Path(tmp)).items():
            compiled = nnfx.compile(path, "fixed<16,6>")
            float_session = session(path)
            float_input = float_session.get_inputs()[0].name
            engines = {
                "float (ORT)": lambda X, s=float_session, k=float_input: s.run(
                    None, {k: X.astype(np.float32)}
                ),
                "fixed reference": lambda X, c=compiled: c.predict_raw(X, "reference"),
                "fixed ONNX (ORT)": lambda X, c=compiled: c.predict_raw(X, "ort"),
            }
            X_all = np.random.default_rng(1).standard_normal((max(BATCHES), *shape))
            for batch in BATCHES:
                X = X_all[:batch]
                row = {"model": name, "batch": batch}
                for engine, fn in engines.items():
                    row[engine] = rate(fn, X, args.repeats)
                results.append(row)
                console.print(
                    f"{name} batch {batch}: " + ", ".join(f"{e} {row[e]:,.0f}/s" for e in engines)
                )
    columns = ["model", "batch", "float (ORT)", "fixed reference", "fixed ONNX (ORT)"]
    console.print(
        table(
            f"samples/s on {provider} ({machine()['cores']} cores)",
            columns,
            [[r["model"], r["batch"], *(f"{r[c]:,.0f}" for c in columns[2:])] for r in results],
        )
    )
    big = next(r for r in results if r["model"].startswith("mlp") and r["batch"] == max(BATCHES))
    best_engine = max(("fixed reference", "fixed ONNX (ORT)"), key=lambda e: big[e])
    verdict = {
        "mlp_large_batch_best_engine": best_engine,
        "mlp_large_batch_samples_per_s": big[best_engine],
        "target_300k_met": big[best_engine] >= 300_000,
        "slowdown_vs_float_ort": big["float (ORT)"] / big[best_engine],
        "within_5x_of_float": big["float (ORT)"] / big[best_engine] <= 5.0,
    }
    console.print(
        f"MLP at batch {max(BATCHES)}: {best_engine} "
        f"{verdict['mlp_large_batch_samples_per_s']:,.0f} samples/s, "
        f"{verdict['slowdown_vs_float_ort']:.1f}x the float model's time"
    )
    path = write(
        "emulation_throughput",
        {
            "benchmark": "emulation_throughput",
            "precision": "fixed<16,6>",
            "provider": provider,
            "machine": machine(("numpy", "onnx", "onnxruntime", "nnfx")),
            "results": results,
            "verdict": verdict,
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
