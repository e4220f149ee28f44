"""Recurrent layers against hls4ml: a Keras-shaped classifier (one LSTM or GRU of 16 units,
``return_sequences=False``, then Dense 10) trained briefly on the digits read row by row
(scikit-learn's digits as 8 steps of 8 pixels, /16), through hls4ml 1.3 and through nnfx.

hls4ml's routes to a recurrent layer:

- its ONNX front end (the route the other benchmarks take): tried on the same model as
  nnfx's ONNX file; hls4ml 1.3 has no ONNX handler for ``LSTM``/``GRU``, and the refusal is
  recorded;
- its Keras front end, which has recurrent layers: needs TensorFlow, which is not installed
  here (``pip install tensorflow-cpu`` was not attempted: several hundred MB); recorded;
- its PyTorch front end, which reads ``nn.LSTM``/``nn.GRU`` with ``batch_first=True`` as
  Keras's ``return_sequences=False`` layer: the comparison runs through it (Vitis backend,
  io_parallel, Latency, reuse factor 1, every precision fixed<16,6>). Its default
  channels-last conversion transposes the ``(steps, features)`` input as if it were
  channels-first, so its C-simulation is fed each sample transposed, ``(features, steps)``
  (checked: then it agrees with PyTorch to 6e-3 at fixed<32,16>; fed as is, it does not).

Per tool: top-1 agreement with the float model (PyTorch) on the 1,797 digits, the time to
build the C-simulation (hls4ml ``compile()``; nnfx ``CSimulation`` on an empty cache, csim =
ac_fixed, csim-ap = ap_fixed) and C-simulation samples/s on a batch of the digits tiled
(best of a few repeats after a warm-up). nnfx runs at fixed<16,6> (as hls4ml) and at ``auto``
(16 bits, calibrated on the training rows); its NumPy reference is timed too, and nnfx's
engines are checked bit-exact against it.

Needs hls4ml, PyTorch and g++. Usage: ``python benchmarks/rnn_vs_hls4ml.py [--batch 5000]
[--repeats 3]``. Writes ``benchmarks/results/rnn_vs_hls4ml.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from _hls4ml import build_and_run  # noqa: E402
from _machine import machine, write  # noqa: E402
from _timing import best_rate, cache_dir, quiet, timed  # noqa: E402

import nnfx  # noqa: E402
from nnfx.runtime.csim import CSimulation  # noqa: E402
from nnfx.trainer.data import load_dataset  # noqa: E402
from nnfx.ui import console, table  # noqa: E402

PRECISION = "fixed<16,6>"
UNITS = 16


def models(kind: str, X: np.ndarray, y: np.ndarray):
    """(the model nnfx exports: the last state into the head; the same weights as hls4ml's
    PyTorch front end wants them: the layer's output straight into the head)."""
    import torch

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, kind)(8, UNITS, batch_first=True)
            self.fc = torch.nn.Linear(UNITS, 10)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])

    class ForHls4ml(torch.nn.Module):  # hls4ml reads the layer as return_sequences=False
        def __init__(self, trained):
            super().__init__()
            self.rnn, self.fc = trained.rnn, trained.fc

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out)

    torch.manual_seed(0)
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    inputs, labels = torch.from_numpy(X[:1400]), torch.from_numpy(y[:1400])
    for _ in range(80):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs), labels).backward()
        optimizer.step()
    model.eval()
    return model, ForHls4ml(model).eval()


def float_top1(model, X: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(X.astype(np.float32))).numpy().argmax(axis=1)


def agreement(pred, ref: np.ndarray) -> float:
    return float((np.asarray(pred).reshape(len(ref), -1).argmax(1) == ref).mean())


def hls4ml_onnx(path: Path, folder: Path) -> dict:
    import hls4ml

    row: dict = {"tool": "hls4ml", "engine": "ONNX front end"}
    try:
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.util.cleanup import cleanup_model

        with quiet():
            model = cleanup_model(ModelWrapper(str(path)))
            config = hls4ml.utils.config_from_onnx_model(
                model, granularity="model", backend="Vitis", default_precision=PRECISION
            )
            hls4ml.converters.convert_from_onnx_model(
                model, output_dir=str(folder), backend="Vitis", hls_config=config
            )
        row["result"] = "converted"
    except Exception as error:  # noqa: BLE001 (the refusal is the result)
        row["error"] = f"{type(error).__name__}: {error}"[:300]
    return row


def hls4ml_keras() -> dict:
    try:
        import tensorflow  # noqa: F401
    except ImportError as error:
        return {"tool": "hls4ml", "engine": "Keras front end", "error": f"{error}"}
    return {"tool": "hls4ml", "engine": "Keras front end", "result": "TensorFlow present"}


def hls4ml_pytorch(model, X, unique, ref, folder: Path, repeats) -> dict:
    import hls4ml

    row: dict = {"tool": "hls4ml", "engine": "csim (ap_fixed), PyTorch front end"}
    try:
        with quiet():
            config = hls4ml.utils.config_from_pytorch_model(
                model,
                input_shape=(8, 8),
                granularity="model",
                backend="Vitis",
                default_precision=PRECISION,
                default_reuse_factor=1,
            )
            # hls4ml's PyTorch front end takes the input channels-first, (features, steps),
            # and transposes it to channels-last itself: give it that layout
            out = build_and_run(
                hls4ml.converters.convert_from_pytorch_model,
                model,
                config,
                folder,
                X,
                repeats,
                row,
                prepare=lambda x: np.ascontiguousarray(x.transpose(0, 2, 1), np.float32),
            )
        row["agreement"] = agreement(out[:unique], ref)
    except Exception as error:  # noqa: BLE001 (recorded)
        row["error"] = str(error)[:300]
        row["traceback"] = traceback.format_exc(limit=-3)
    return row


def nnfx_rows(path: Path, X, unique, ref, calibration, repeats) -> list[dict]:
    rows = []
    for precision in (PRECISION, "auto"):
        compiled = nnfx.compile(str(path), precision, calibration=calibration)
        reference = compiled.predict_raw(X[:unique])
        rate, out = best_rate(lambda x, c=compiled: c.predict(x), X, repeats)
        rows.append(
            {
                "tool": "nnfx",
                "precision": precision,
                "engine": "reference (NumPy)",
                "samples_per_s": rate,
                "agreement": agreement(out[:unique], ref),
            }
        )
        for engine in ("csim", "csim-ap"):
            with tempfile.TemporaryDirectory(prefix="nnfx-cache-") as cache, cache_dir(cache):
                _, cold = timed(CSimulation, compiled.graph, engine, False)
                rate, _ = best_rate(lambda x, c=compiled, e=engine: c.predict_raw(x, e), X, repeats)
                raw = compiled.predict_raw(X[:unique], engine)
            exact = all(np.array_equal(raw[k], v) for k, v in reference.items())
            rows.append(
                {
                    "tool": "nnfx",
                    "precision": precision,
                    "engine": f"{engine} ({'ac' if engine == 'csim' else 'ap'}_fixed)",
                    "cold_build_s": cold,
                    "samples_per_s": rate,
                    "agreement": agreement(compiled.predict(X[:unique]), ref),
                    "bit_exact_with_reference": exact,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
    from tests.torch_export import export

    data = load_dataset("digits-seq")
    digits = (data.X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(digits))
    digits, labels = digits[order], data.y[order]
    X = np.ascontiguousarray(
        np.concatenate([digits] * (-(-args.batch // len(digits))))[: args.batch]
    )
    unique = min(len(digits), args.batch)
    results: dict = {
        "machine": machine(("numpy", "onnx", "onnxruntime", "nnfx", "hls4ml", "torch"))
    }
    for kind in ("LSTM", "GRU"):
        model, for_hls4ml = models(kind, digits, labels)
        ref = float_top1(model, digits[:unique])
        with tempfile.TemporaryDirectory(prefix="rnn-bench-") as folder:
            path = export(
                model, __import__("torch").from_numpy(digits[:2]), Path(folder) / "m.onnx", False
            )
            rows = [
                hls4ml_onnx(path, Path(folder) / "onnx"),
                hls4ml_keras(),
                hls4ml_pytorch(for_hls4ml, X, unique, ref, Path(folder) / "torch", args.repeats),
                *nnfx_rows(path, X, unique, ref, digits[:1400], args.repeats),
            ]
        results[kind] = {
            "float_accuracy_held_out": float(np.mean(ref[1400:] == labels[1400:unique])),
            "rows": [{k: v for k, v in r.items() if k != "traceback"} for r in rows],
        }
        console.print(
            table(
                f"{kind}: {UNITS} units, digits-seq",
                ["tool", "precision", "engine", "agreement", "build s", "samples/s", "note"],
                [
                    [
                        r["tool"],
                        r.get("precision", PRECISION if r["tool"] == "hls4ml" else ""),
                        r["engine"],
                        f"{r['agreement']:.4f}" if "agreement" in r else "",
                        f"{r['cold_build_s']:.1f}" if "cold_build_s" in r else "",
                        f"{r['samples_per_s']:,.0f}" if "samples_per_s" in r else "",
                        (
                            r.get("error")
                            or ("bit-exact" if r.get("bit_exact_with_reference") else "")
                        )[:70],
                    ]
                    for r in rows
                ],
            )
        )
    console.print(f"wrote {write('rnn_vs_hls4ml', results)}")


if __name__ == "__main__":
    main()
