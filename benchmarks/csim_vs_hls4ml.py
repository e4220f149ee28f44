"""C-simulation against hls4ml: the same ONNX model through hls4ml 1.3 (Vitis backend,
io_parallel, Latency, reuse factor 1) and through nnfx, both at fixed<16,6>.

Per tool it measures (1) the time to emit the HLS project (hls4ml ``write()``, nnfx
``write_hls()``), (2) the time to build the C-simulation from a cold cache (hls4ml
``compile()``, which rewrites the project and runs g++; nnfx ``CSimulation`` with
``$NNFX_CACHE_DIR`` on a fresh empty folder, for ``csim`` = ac_fixed and ``csim-ap`` =
ap_fixed), (3) C-simulation samples/s on a fixed batch of 20,000 through the batched predict
path (best of a few repeats, after a warm-up on a few samples) and (4) top-1 agreement: the
fraction of samples whose argmax equals that of the float ONNX model on onnxruntime. nnfx's
NumPy fixed-point reference is timed too. The front ends (hls4ml: qonnx clean-up + conversion;
nnfx: ``nnfx.compile``) are recorded beside, not counted in the emit time.

Models, built with nnfx's trainer as in ``emulation_throughput.py``: the 16-64-32-32-5 MLP
(ReLU, softmax) on standard-normal inputs, and a digits CNN (conv 8 -> pool -> conv 16 ->
pool -> dense 10) on scikit-learn's digits images (1x8x8, /16; the 1,797 images are tiled to
the batch for throughput, agreement is over the unique images).

For hls4ml every precision is fixed<16,6> (granularity 'model', so accumulators too; hls4ml's
own lookup-table types stay at its defaults). qonnx needs explicit ``dilations``/``group`` on
Conv nodes, so those defaults are written into hls4ml's copy of the CNN before clean-up. nnfx
runs the C-simulation on all cores; hls4ml's predict is one ctypes call per sample. A short
profile of the MLP splits each tool's predict time into Python-side work and the C++ call.

Needs hls4ml and qonnx (``pip install qonnx``) and g++. All builds go to temporary folders.

Usage: ``python benchmarks/csim_vs_hls4ml.py [--batch 20000] [--repeats 3]``.
Writes ``benchmarks/results/csim_vs_hls4ml.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import onnx
import onnxruntime

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, write  # noqa: E402
from _models import build_models  # noqa: E402
from _timing import best_rate, cache_dir, quiet, timed  # noqa: E402

import nnfx  # noqa: E402
from nnfx.compiler.fixed import to_float, to_raw  # noqa: E402
from nnfx.runtime.csim import CSimulation  # noqa: E402
from nnfx.ui import console, table  # noqa: E402

PRECISION = "fixed<16,6>"
CSIM_ENGINES = ("csim", "csim-ap")
TARGETS = {"csim": 10.0, "csim-ap": 2.0}


# -- models and data ---------------------------------------------------------------------------
def batch_inputs(data: np.ndarray | None, batch: int) -> tuple[np.ndarray, int]:
    """The throughput batch (float64, C-contiguous) and the number of unique leading rows."""
    if data is None:
        return np.random.default_rng(1).standard_normal((batch, 16)), batch
    reps = -(-batch // len(data))
    X = np.ascontiguousarray(np.concatenate([data] * reps)[:batch])
    return X, min(len(data), batch)


def float_argmax(path: Path, X: np.ndarray) -> np.ndarray:
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: X.astype(np.float32)})[0]
    return out.reshape(len(X), -1).argmax(1)


def agreement(pred: np.ndarray, ref: np.ndarray) -> float:
    return float((np.asarray(pred).reshape(len(ref), -1).argmax(1) == ref).mean())


# -- timing --------------------------------------------------------------------------------------


# -- hls4ml --------------------------------------------------------------------------------------
def qonnx_model(path: Path):
    """hls4ml 1.3's ONNX front end wants qonnx-cleaned models, MatMul instead of Gemm and
    channels-last convolutions."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    model = onnx.load(path)
    for node in model.graph.node:
        have = {a.name for a in node.attribute}
        if node.op_type == "Conv":  # qonnx's channels-last Conv requires these attributes
            spatial = len(next(a.ints for a in node.attribute if a.name == "kernel_shape"))
            if "dilations" not in have:
                node.attribute.append(onnx.helper.make_attribute("dilations", [1] * spatial))
            if "group" not in have:
                node.attribute.append(onnx.helper.make_attribute("group", 1))
    wrapper = cleanup_model(ModelWrapper(model))
    if any(node.op_type == "Conv" for node in wrapper.graph.node):
        wrapper = wrapper.transform(ConvertToChannelsLastAndClean())
    wrapper = wrapper.transform(GemmToMatMul())
    return cleanup_model(wrapper)


def run_hls4ml(path: Path, X: np.ndarray, unique: int, ref: np.ndarray, folder: Path, repeats):
    import hls4ml

    row: dict = {"tool": "hls4ml", "engine": "csim (ap_fixed)"}
    stage = "qonnx clean-up"
    try:
        with quiet():
            start = time.perf_counter()
            model = qonnx_model(path)
            stage = "hls4ml conversion"
            config = hls4ml.utils.config_from_onnx_model(
                model,
                granularity="model",
                backend="Vitis",
                default_precision=PRECISION,
                default_reuse_factor=1,
            )
            config["Model"]["Strategy"] = "Latency"
            hls_model = hls4ml.converters.convert_from_onnx_model(
                model,
                output_dir=str(folder),
                project_name="myproject",
                backend="Vitis",
                io_type="io_parallel",
                hls_config=config,
            )
            row["frontend_s"] = time.perf_counter() - start
            stage = "hls4ml write"
            _, row["emit_s"] = timed(hls_model.write)
            stage = "hls4ml compile"
            _, row["cold_build_s"] = timed(hls_model.compile)
            stage = "hls4ml predict"
            row["samples_per_s"], out = best_rate(hls_model.predict, X, repeats)
        row["agreement"] = agreement(out[:unique], ref)
        row["hls_model"] = hls_model
    except Exception as error:  # noqa: BLE001 (the benchmark records any failure and goes on)
        row["error"] = f"{stage}: {type(error).__name__}: {error}"
        row["traceback"] = traceback.format_exc(limit=-3)
        console.print(f"[red]hls4ml failed at {stage}:[/] {type(error).__name__}: {error}")
    return row


# -- nnfx ----------------------------------------------------------------------------------------
def run_nnfx(path: Path, X: np.ndarray, unique: int, ref: np.ndarray, folder: Path, repeats):
    compiled, compile_s = timed(nnfx.compile, path, PRECISION)
    _, emit_s = timed(compiled.write_hls, folder / "hls")
    rows = []
    for engine in CSIM_ENGINES:
        with tempfile.TemporaryDirectory(prefix="nnfx-cache-") as cache, cache_dir(cache):
            _, cold = timed(CSimulation, compiled.graph, engine, False)
            _, warm = timed(CSimulation, compiled.graph, engine, False)
            rate, _ = best_rate(lambda x, e=engine: compiled.predict_raw(x, e), X, repeats)
            rows.append(
                {
                    "tool": "nnfx",
                    "engine": f"{engine} ({'ac' if engine == 'csim' else 'ap'}_fixed)",
                    "frontend_s": compile_s,
                    "emit_s": emit_s,
                    "cold_build_s": cold,
                    "warm_build_s": warm,
                    "samples_per_s": rate,
                    "agreement": agreement(compiled.predict(X[:unique], engine), ref),
                }
            )
    rate, _ = best_rate(lambda x: compiled.predict_raw(x, "reference"), X, repeats)
    rows.append(
        {
            "tool": "nnfx",
            "engine": "reference (NumPy)",
            "frontend_s": compile_s,
            "samples_per_s": rate,
            "agreement": agreement(compiled.predict(X[:unique], "reference"), ref),
        }
    )
    return compiled, rows


# -- profile -------------------------------------------------------------------------------------
def best_time(fn, repeats: int):
    """The result of ``fn()`` and its best time over ``repeats`` calls."""
    result, best = None, float("inf")
    for _ in range(max(repeats, 1)):
        result, seconds = timed(fn)
        best = min(best, seconds)
    return result, best


def profile_nnfx(compiled, X: np.ndarray, folder: str, repeats: int) -> dict:
    """Split a csim ``predict_raw`` into its steps (Python-side quantization and conversion,
    the C++ call; best of ``repeats`` each), and time the C++ call of both C-simulations on
    all cores and on one thread."""
    tensors = compiled.graph.tensors
    result: dict = {"threads": os.cpu_count()}
    with cache_dir(folder):
        compiled.predict_raw(X[:4], "csim")
        _, result["predict_raw_s"] = best_time(lambda: compiled.predict_raw(X, "csim"), repeats)
        raw, result["quantize_inputs_s"] = best_time(lambda: compiled.quantize_inputs(X), repeats)
        values, result["to_float_inputs_s"] = best_time(
            lambda: {n: to_float(r, tensors[n].dtype.frac) for n, r in raw.items()}, repeats
        )
        for engine in CSIM_ENGINES:
            sim = CSimulation(compiled.graph, engine, False)
            key = "cpp_call" if engine == "csim" else "cpp_call_ap"
            out, result[f"{key}_s"] = best_time(lambda s=sim: s.run(values), repeats)
            _, result[f"{key}_1_thread_s"] = best_time(
                lambda s=sim: s.run(values, threads=1), repeats
            )
            if engine == "csim":
                _, result["to_raw_outputs_s"] = best_time(
                    lambda o=out: {n: to_raw(v, tensors[n].dtype.frac) for n, v in o.items()},
                    repeats,
                )
    return result


def profile_hls4ml(hls_model, X: np.ndarray) -> dict:
    """cProfile one hls4ml predict, and time the bare C++ top function per sample."""
    profiler = cProfile.Profile()
    profiler.enable()
    start = time.perf_counter()
    hls_model.predict(X)
    profiled = time.perf_counter() - start
    profiler.disable()
    stats = pstats.Stats(profiler)
    by_self = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:6]
    top = [
        {"function": f"{Path(f).name}:{line}({name})", "calls": v[1], "tottime_s": v[2]}
        for (f, line, name), v in by_self
    ]
    _, unprofiled = timed(hls_model.predict, X)
    result = {"predict_s": unprofiled, "predict_under_cprofile_s": profiled, "top_self_time": top}
    try:  # the bare per-sample C++ call, without hls4ml's per-sample NumPy/ctypes handling
        function, ctype = hls_model._get_top_function(X)
        dtype = np.float32 if ctype.__name__ == "c_float" else np.float64
        n_out = hls_model.get_output_variables()[0].size()
        rows = [np.ascontiguousarray(x, dtype=dtype) for x in X]
        outs = [np.zeros(n_out, dtype=dtype) for _ in X]
        start = time.perf_counter()
        for x, y in zip(rows, outs, strict=True):
            function(x, y)
        result["bare_cpp_calls_s"] = time.perf_counter() - start
    except Exception as error:  # noqa: BLE001 (private API; the profile is optional)
        result["bare_cpp_calls_error"] = f"{type(error).__name__}: {error}"
    return result


def profile_summary(n: int, nn: dict, hl: dict | None) -> str:
    python = nn["quantize_inputs_s"] + nn["to_float_inputs_s"] + nn["to_raw_outputs_s"]
    text = (
        f"MLP, {n:,} samples. nnfx csim (ac_fixed): predict_raw {nn['predict_raw_s']:.3f} s; "
        f"step by step the C++ call (nnfx_run, {nn['threads']} threads) is "
        f"{nn['cpp_call_s']:.3f} s ({nn['cpp_call_1_thread_s']:.3f} s on one thread) and the "
        f"Python/NumPy side {python:.3f} s (input layout + quantization to raw codes "
        f"{nn['quantize_inputs_s']:.3f} s, codes to float64 {nn['to_float_inputs_s']:.3f} s, "
        f"outputs back to raw codes {nn['to_raw_outputs_s']:.3f} s), i.e. "
        f"{100 * nn['cpp_call_s'] / (python + nn['cpp_call_s']):.0f}% C++. nnfx csim-ap "
        f"(ap_fixed): the C++ call alone takes {nn['cpp_call_ap_s']:.3f} s "
        f"({nn['cpp_call_ap_1_thread_s']:.3f} s on one thread), so csim-ap is bound by "
        "ap_fixed arithmetic in C++, not by Python."
    )
    if hl:
        text += f" hls4ml predict: {hl['predict_s']:.3f} s"
        if "bare_cpp_calls_s" in hl:
            bare = hl["bare_cpp_calls_s"]
            text += (
                f", of which the bare per-sample C++ calls (one ctypes call per sample, "
                f"ap_fixed) are {bare:.3f} s ({100 * bare / hl['predict_s']:.0f}%); the rest is "
                "hls4ml's Python loop (per-sample np.zeros/asarray, ctypes ndpointer argument "
                "conversion, stacking the outputs)"
            )
        text += "."
    return text


# -- main ----------------------------------------------------------------------------------------
def gxx_version() -> str:
    done = subprocess.run(["g++", "--version"], capture_output=True, text=True)
    return done.stdout.splitlines()[0] if done.stdout else "unknown"


def model_verdict(rows: list[dict]) -> dict:
    hls = next(r for r in rows if r["tool"] == "hls4ml")
    if "error" in hls:
        return {"hls4ml_error": hls["error"]}
    verdict: dict = {
        "threads": {"nnfx": os.cpu_count(), "hls4ml": 1},
    }
    for engine in CSIM_ENGINES:
        r = next(r for r in rows if r["tool"] == "nnfx" and r["engine"].startswith(f"{engine} "))
        speedup = r["samples_per_s"] / hls["samples_per_s"]
        verdict[engine] = {
            "samples_per_s_over_hls4ml": speedup,
            "target": TARGETS[engine],
            "speed_target_met": speedup >= TARGETS[engine],
            "cold_build_s": r["cold_build_s"],
            "hls4ml_cold_build_s": hls["cold_build_s"],
            "cold_build_le_hls4ml": r["cold_build_s"] <= hls["cold_build_s"],
            "agreement": r["agreement"],
            "hls4ml_agreement": hls["agreement"],
            "agreement_ge_hls4ml": r["agreement"] >= hls["agreement"],
        }
    return verdict


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results, verdict, profile = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="csim-vs-hls4ml-") as tmp:
        tmp = Path(tmp)
        for name, (path, data, _) in build_models(tmp).items():
            X, unique = batch_inputs(data, args.batch)
            ref = float_argmax(path, X[:unique])
            console.print(f"{name}: {len(X):,} samples, agreement over {unique:,}")
            hls = run_hls4ml(path, X, unique, ref, tmp / f"hls4ml_{name}", args.repeats)
            hls_model = hls.pop("hls_model", None)
            compiled, rows = run_nnfx(path, X, unique, ref, tmp / f"nnfx_{name}", args.repeats)
            rows = [{"model": name, **hls}, *({"model": name, **r} for r in rows)]
            for r in rows:
                console.print(
                    f"  {r['tool']} {r['engine']}: "
                    + (r["error"] if "error" in r else f"{r['samples_per_s']:,.0f} samples/s")
                )
            results.extend(rows)
            verdict[name] = model_verdict(rows)
            if name.startswith("mlp"):
                profile["nnfx_csim"] = profile_nnfx(
                    compiled, X, str(tmp / "profile-cache"), args.repeats
                )
                if hls_model is not None:
                    with quiet():
                        profile["hls4ml"] = profile_hls4ml(hls_model, X)
                profile["summary"] = profile_summary(
                    len(X), profile["nnfx_csim"], profile.get("hls4ml")
                )
    columns = ["model", "tool", "engine", "emit s", "cold build s", "samples/s", "top-1 agree"]
    console.print(
        table(
            f"C-simulation at {PRECISION}, batch {args.batch:,} ({os.cpu_count()} cores)",
            columns,
            [
                [
                    r["model"],
                    r["tool"],
                    r["engine"],
                    fmt(r.get("emit_s"), ".3f"),
                    fmt(r.get("cold_build_s"), ".2f"),
                    fmt(r.get("samples_per_s"), ",.0f"),
                    fmt(r.get("agreement"), ".4f"),
                ]
                for r in results
            ],
        )
    )
    checks = [
        v[e][k]
        for v in verdict.values()
        if "hls4ml_error" not in v
        for e in CSIM_ENGINES
        for k in ("speed_target_met", "cold_build_le_hls4ml", "agreement_ge_hls4ml")
    ]
    verdict["all_met"] = bool(checks) and all(checks)
    for name, v in verdict.items():
        if isinstance(v, dict) and "csim" in v:
            console.print(
                f"{name}: csim {v['csim']['samples_per_s_over_hls4ml']:.1f}x hls4ml "
                f"(target 10x), csim-ap {v['csim-ap']['samples_per_s_over_hls4ml']:.1f}x "
                "(target 2x)"
            )
    console.print(profile.get("summary", ""))
    path = write(
        "csim_vs_hls4ml",
        {
            "benchmark": "csim_vs_hls4ml",
            "precision": PRECISION,
            "batch": args.batch,
            "repeats": args.repeats,
            "machine": {
                **machine(("numpy", "onnx", "onnxruntime", "nnfx", "hls4ml", "qonnx")),
                "gxx": gxx_version(),
            },
            "setup": {
                "hls4ml": "qonnx cleanup_model (+ ConvertToChannelsLastAndClean for the CNN) + "
                "GemmToMatMul; config_from_onnx_model(granularity='model', backend='Vitis', "
                "default_precision='fixed<16,6>', default_reuse_factor=1), Strategy Latency; "
                "convert_from_onnx_model(backend='Vitis', io_type='io_parallel'); emit = "
                "write(), cold build = compile() (rewrites the project, then g++ -O3 in a new "
                "folder; hls4ml has no build cache), predict = one ctypes call per sample. "
                "Conv nodes get explicit dilations=[1,1], group=1 before qonnx (it requires them).",
                "nnfx": "nnfx.compile(onnx, 'fixed<16,6>'); emit = write_hls(); cold build = "
                "CSimulation(graph, engine) with NNFX_CACHE_DIR on a fresh empty folder "
                "(warm_build_s: the same again, a cache hit); predict_raw(X, engine), the C++ "
                "bridge splitting the batch over all cores.",
                "precision_note": "hls4ml: results, weights, biases and accumulators all "
                "fixed<16,6> (its activation/softmax tables keep hls4ml's defaults); nnfx: "
                "fixed<16,6> results, weights and biases with exact-width accumulators.",
                "agreement": "fraction of samples whose argmax equals the float ONNX model's "
                "(onnxruntime, CPU); MLP: all samples of the batch, CNN: the 1,797 unique "
                "digits images.",
            },
            "results": results,
            "verdict": verdict,
            "profile": profile,
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
