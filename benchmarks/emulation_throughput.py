"""Throughput of the bit-exact fixed-point emulation: the NumPy reference and the fixed-point
ONNX model on onnxruntime (CPU, or CUDA where onnxruntime-gpu and a GPU are present), with
the float model on onnxruntime as the yardstick.

Models: the 16-64-32-32-5 MLP (hls4ml's jet-tagging shape, ReLU, softmax) and a digits CNN
(conv 8 -> pool -> conv 16 -> pool -> dense 10), both at fixed<16,6>. Batch sizes 1, 256 and
65536; samples/s is the best of a few repeats (batch 1: the mean over many single calls).

Then the width sweep (nnfx issue #16): the MLP at widths 6..16, ``auto`` (calibrated on the
inputs, ``width=W``) and uniform ``fixed<W, I>`` (``I = min(6, W // 2 + 1)``), batch 65536,
each against the float model (one call of 65536 rows) in the same run, as a ratio (time /
float time: the median over rounds of back-to-back calls, which the load of a shared machine
moves less than either rate):
- ``ratio engine``: nnfx's ``ort`` engine, the fixed ONNX model as exported (float32 codes
  where the export proves them exact, see docs/semantics.md) run in cache-sized calls
  (``rows_per_call``, one per core at a time: nnfx.runtime.ort.engine_session);
  ``vs chunked float`` divides by the float model run the same way, to show what the
  chunking alone is worth;
- the befores of the same run, each one call of 65536 rows: ``ratio chosen`` (the same model),
  ``ratio float64`` (forced to float64 codes) and ``ratio long forms`` (``short_forms=False``,
  the exact forms that preceded the shorter ones: Mod input reduction, five-op WRAP).

Usage: ``python benchmarks/emulation_throughput.py [--repeats 3] [--sweep-only]``.
Writes ``benchmarks/results/emulation_throughput.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, write  # noqa: E402
from _models import build_models  # noqa: E402

import nnfx  # noqa: E402
from nnfx.backends.onnx import codes_dtype, to_fixed_onnx  # noqa: E402
from nnfx.runtime.ort import (  # noqa: E402
    available_providers,
    engine_session,
    run_batched,
    session,
)
from nnfx.ui import console, table  # noqa: E402

BATCHES = (1, 256, 65536)
WIDTHS = range(6, 17)


def sweep(path: Path, repeats: int) -> list[dict]:
    """The MLP at every width of WIDTHS, auto and uniform: samples/s of the float model and of
    the fixed ONNX model with its chosen codes and with float64 codes, all in one run."""
    X = np.random.default_rng(1).standard_normal((65536, 16))
    float_session = session(path)
    name = float_session.get_inputs()[0].name
    X32 = X.astype(np.float32)
    float_engine, float_rows, float_workers = engine_session(onnx.load(path))
    rows = []
    for width in WIDTHS:
        designs = {
            f"auto{width}": lambda w=width: nnfx.compile(
                path, "auto", calibration=X[:4096], width=w
            ),
            f"fixed<{width},{min(6, width // 2 + 1)}>": lambda w=width: nnfx.compile(
                path, f"fixed<{w},{min(6, w // 2 + 1)}>"
            ),
        }
        for design, build in designs.items():
            graph = build().graph
            row: dict = {"design": design, "width": width}
            sessions = {
                "chosen": to_fixed_onnx(graph, precision="auto"),
                "float64": to_fixed_onnx(graph, precision="float64"),
                "long forms": to_fixed_onnx(graph, precision="auto", short_forms=False),
            }
            row["codes"] = codes_dtype(sessions["chosen"])
            row["float32_nodes"] = next(
                p.value for p in sessions["chosen"].metadata_props if p.key == "nnfx.float32_nodes"
            )
            fns = {
                "float (ORT)": lambda A: float_session.run(None, {name: X32[: len(A)]}),
                "float (ORT) chunked": lambda A: run_batched(
                    float_engine, {name: X32[: len(A)]}, float_rows, workers=float_workers
                ),
            }
            for label, model in sessions.items():
                s = session(model)
                k = s.get_inputs()[0].name
                fns[f"fixed ONNX {label}"] = lambda A, s=s, k=k: s.run(None, {k: A})
            # nnfx's ort engine: the chosen model in cache-sized calls (runtime/ort.py)
            s, per_call, workers = engine_session(sessions["chosen"])
            k = s.get_inputs()[0].name
            row["rows_per_call"], row["concurrent_calls"] = per_call, workers
            fns["fixed ONNX engine"] = lambda A, s=s, k=k, r=per_call, w=workers: run_batched(
                s, {k: A}, r, workers=w
            )
            # rounds of back-to-back calls: the machine's load drifts, so each ratio is the
            # median over rounds of the times within one round; samples/s the best call
            times: dict[str, list[float]] = {label: [] for label in fns}
            for fn in fns.values():
                fn(X[:1])
            order = np.random.default_rng(width)  # a shuffled order per round: the call
            for _ in range(repeats):  # after another model's runs faster (warm pages)
                for label in order.permutation(list(fns)):
                    times[label].append(_timed(fns[label], X))
            for label in fns:
                row[label] = len(X) / min(times[label])
            for label in (*sessions, "engine"):
                ratios = np.divide(times[f"fixed ONNX {label}"], times["float (ORT)"])
                row[f"ratio {label}"] = float(np.median(ratios))
            chunked = np.divide(times["fixed ONNX engine"], times["float (ORT) chunked"])
            row["ratio engine vs chunked float"] = float(np.median(chunked))
            rows.append(row)
            console.print(
                f"{design}: float {row['float (ORT)']:,.0f}/s, engine ({row['codes']}, "
                f"{per_call} rows a call) {row['fixed ONNX engine']:,.0f}/s = "
                f"{row['ratio engine']:.2f}x, one call {row['ratio chosen']:.2f}x, float64 "
                f"{row['fixed ONNX float64']:,.0f}/s = {row['ratio float64']:.2f}x, long forms "
                f"{row['ratio long forms']:.2f}x"
            )
    return rows


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
    parser.add_argument("--sweep-only", action="store_true", help="only the width sweep")
    args = parser.parse_args()
    provider = available_providers()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        built = build_models(Path(tmp))
        widths = sweep(built["mlp_16_64_32_32_5"][0], max(3 * args.repeats, 9))
        for name, (path, _, shape) in ({} if args.sweep_only else built).items():
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
    sweep_columns = ["design", "codes", "rows_per_call", "float (ORT)", "fixed ONNX engine"]
    sweep_columns += ["ratio engine", "ratio engine vs chunked float", "ratio chosen"]
    sweep_columns += ["ratio float64", "ratio long forms"]
    console.print(
        table(
            f"MLP batch 65536, samples/s on {provider} ({machine()['cores']} cores)",
            sweep_columns,
            [
                [
                    r["design"],
                    r["codes"],
                    *(
                        f"{r[c]:,.2f}" if "ratio" in c else f"{r[c]:,.0f}"
                        for c in sweep_columns[2:]
                    ),
                ]
                for r in widths
            ],
        )
    )
    if args.sweep_only:
        print_path(
            write(
                "emulation_throughput",
                {
                    "benchmark": "emulation_throughput",
                    "provider": provider,
                    "machine": machine(("numpy", "onnx", "onnxruntime", "nnfx")),
                    "width_sweep": widths,
                },
            )
        )
        return
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
            "width_sweep": widths,
        },
    )
    print_path(path)


def print_path(path) -> None:
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
