"""QONNX models through nnfx and through hls4ml's QONNX path, against qonnx's own execution.

The models (each exported or built as QONNX, cleaned by qonnx): Brevitas MLPs at 4 and 8 bits
(power-of-two scales), a Brevitas CNN (QuantConv2d, QuantReLU, MaxPool2d, per-channel weights,
QuantLinear; 4 bits), a binary MLP (Brevitas's BipolarQuant quantizers), a
Trunc model (Brevitas TruncAvgPool2d between two QuantConv2d), a hand-built MultiThreshold
model (Quant -> MatMul -> MultiThreshold) and a Brevitas MLP with float (non-power-of-two)
scales (Brevitas's default quantizers).

hls4ml's QONNX path, as its documentation gives it: ``cleanup_model``,
``ConvertToChannelsLastAndClean``, ``GemmToMatMul``, ``cleanup_model`` again, then
``config_from_onnx_model`` (granularity name, default precision fixed<16,6> for what the
Quant nodes do not fix) and ``convert_from_onnx_model`` (Vitis backend, io_parallel), then
``compile()`` (its C-simulation, ap_fixed) and ``predict``. nnfx reads the same cleaned file
(the CNN and Trunc models after the channels-last conversion, the file hls4ml reads) with no
precision given: the model's own types.

Per model and tool: accepted, or the refusal (one line); agreement of its C-simulation's
outputs with qonnx's execution on the same inputs (the fraction of outputs equal to qonnx's
float32 ones once rounded to float32, the largest absolute difference); the C-simulation's
build time and samples/s (best of a few repeats after a warm-up; nnfx csim is its own
fixed-point library, csim-ap is ap_fixed as hls4ml's). The machine is shared: samples/s vary
by up to 2x between runs.

Needs hls4ml, Brevitas, qonnx, PyTorch and g++. Usage: ``python benchmarks/qonnx_vs_hls4ml.py
[--batch 2000] [--repeats 3]``. Writes ``benchmarks/results/qonnx_vs_hls4ml.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from _hls4ml import build_and_run  # noqa: E402
from _machine import machine, write  # noqa: E402
from _timing import best_rate, cache_dir, quiet, timed  # noqa: E402

import nnfx  # noqa: E402
from nnfx.ui import console, table  # noqa: E402

PRECISION = "fixed<16,6>"
# The ops hls4ml's ONNX front end takes on images only in qonnx's channels-last domain.
SPATIAL = {"Conv", "MaxPool", "AveragePool", "BatchNormalization"}


def one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


# -- the models ------------------------------------------------------------------------
def cleaned(path: str, channels_last: bool = False):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(path))
    if channels_last:
        model = cleanup_model(model.transform(ConvertToChannelsLastAndClean()))
    return model.model


def export(net, shape, folder: Path, name: str, channels_last=False):
    import torch
    from brevitas.export import export_qonnx

    path = str(folder / f"{name}.onnx")
    with quiet():
        export_qonnx(net.eval(), torch.randn(1, *shape), export_path=path, dynamo=False)
    return cleaned(path, channels_last)


def calibrate(net, shape):
    import torch

    with torch.no_grad():
        net.train()
        for _ in range(3):
            net(torch.randn(64, *shape) * 2)
    return net.eval()


def brevitas_mlp(bits: int, folder: Path, fixed_point: bool = True):
    import torch
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )

    torch.manual_seed(bits)
    if fixed_point:
        w = {"weight_quant": Int8WeightPerTensorFixedPoint, "weight_bit_width": bits}
        a = {"act_quant": Int8ActPerTensorFixedPoint, "bit_width": bits}
        r = {"act_quant": Uint8ActPerTensorFixedPoint, "bit_width": bits}
    else:  # Brevitas's defaults: float scales
        w, a, r = {"weight_bit_width": bits}, {"bit_width": bits}, {"bit_width": bits}
    net = torch.nn.Sequential(
        QuantIdentity(return_quant_tensor=True, **a),
        QuantLinear(16, 32, bias=False, **w),
        QuantReLU(return_quant_tensor=True, **r),
        QuantLinear(32, 5, bias=False, **w),
    )
    name = f"mlp{bits}" if fixed_point else f"mlp{bits}_float_scales"
    return export(calibrate(net, (16,)), (16,), folder, name)


def brevitas_cnn(folder: Path):
    """QuantIdentity -> QuantConv2d -> QuantReLU -> MaxPool2d -> QuantConv2d (per-channel
    weights) -> QuantReLU -> Flatten -> QuantLinear, 4 bits; no average pool (qonnx leaves
    an AveragePool channels-first, which hls4ml refuses: the Trunc model shows it)."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )

    torch.manual_seed(1)
    per_tensor = {"weight_quant": Int8WeightPerTensorFixedPoint, "bias": False}
    per_channel = {
        "weight_quant": Int8WeightPerTensorFixedPoint.let(scaling_per_output_channel=True),
        "bias": False,
    }
    act = {"act_quant": Uint8ActPerTensorFixedPoint, "bit_width": 4, "return_quant_tensor": True}
    net = torch.nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=4, return_quant_tensor=True),
        QuantConv2d(2, 4, 3, padding=1, weight_bit_width=4, **per_tensor),
        QuantReLU(**act),
        torch.nn.MaxPool2d(2),
        QuantConv2d(4, 4, 3, padding=1, weight_bit_width=4, **per_channel),
        QuantReLU(**act),
        torch.nn.Flatten(),
        QuantLinear(64, 5, weight_bit_width=4, **per_tensor),
    )
    return export(calibrate(net, (2, 8, 8)), (2, 8, 8), folder, "cnn", channels_last=True)


def brevitas_trunc(folder: Path):
    from tests.qonnx_helpers import brevitas_trunc_net

    return export(
        calibrate(brevitas_trunc_net(), (2, 8, 8)), (2, 8, 8), folder, "trunc", channels_last=True
    )


def binary_mlp(folder: Path):
    from tests.qonnx_helpers import brevitas_binary_mlp

    return export(brevitas_binary_mlp((16, 32, 5), seed=0), (16,), folder, "binary")


def multi_threshold(rng):
    from tests.qonnx_helpers import Builder

    b = Builder(rng)
    xq = b.quant("x", 3, 8)
    w = b.quant(b.const(rng.standard_normal((16, 8))), 3, 4)
    mm = b.node("MatMul", [xq, w])
    thresholds = np.sort(rng.integers(-64, 65, size=(8, 7)) / 8.0, axis=1)
    b.multi_threshold(mm, thresholds, out="y", out_dtype="UINT3")
    return b.model([("x", [1, 16])], [("y", [1, 8])])


def inputs(model, n: int, rng) -> np.ndarray:
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
    x = np.round(rng.standard_normal((n, *shape)) * 2 * 8) / 8
    return x.astype(np.float32)


def qonnx_reference(model, X: np.ndarray) -> np.ndarray:
    from tests.qonnx_helpers import qonnx_outputs

    return qonnx_outputs(model, {model.graph.input[0].name: X})[model.graph.output[0].name]


def agreement(got: np.ndarray, want: np.ndarray) -> dict:
    """Outputs equal to qonnx's float32 ones (a tool's output rounded to float32 first: exact
    with power-of-two scales, where every value is a float32), and the largest difference."""
    got = np.asarray(got, np.float64).reshape(want.shape)
    return {
        "bit_equal": float(np.mean(got.astype(np.float32) == want)),
        "max_abs_diff": float(np.abs(got - want).max()),
    }


# -- the tools -------------------------------------------------------------------------
def run_nnfx(model, X, want, repeats) -> list[dict]:
    rows = []
    try:
        compiled = nnfx.compile(model)
    except Exception as error:  # noqa: BLE001 (the refusal is the result)
        return [{"tool": "nnfx", "engine": "csim", "error": one_line(error)}]
    name = model.graph.input[0].name
    for engine in ("csim", "csim-ap"):
        row: dict = {"tool": "nnfx", "engine": engine}
        with tempfile.TemporaryDirectory() as cache, cache_dir(cache):
            _, row["cold_build_s"] = timed(compiled.predict, {name: X[:2]}, engine)
            row["samples_per_s"], out = best_rate(
                lambda x, e=engine: compiled.predict({name: x}, engine=e), X, repeats
            )
        row.update(agreement(out, want))
        rows.append(row)
    return rows


def run_hls4ml(model, X, want, folder: Path, repeats) -> dict:
    import hls4ml
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    row: dict = {"tool": "hls4ml", "engine": "csim (ap_fixed)"}
    wrapper = None
    try:
        with quiet():
            wrapper = cleanup_model(ModelWrapper(model))
            wrapper = wrapper.transform(ConvertToChannelsLastAndClean())
            wrapper = cleanup_model(wrapper.transform(GemmToMatMul()))
            config = hls4ml.utils.config_from_onnx_model(
                wrapper, granularity="name", backend="Vitis", default_precision=PRECISION
            )
            out = build_and_run(
                hls4ml.converters.convert_from_onnx_model, wrapper, config, folder, X, repeats, row
            )
        row.update(agreement(out, want))
    except Exception as error:  # noqa: BLE001 (the refusal is the result)
        stage = getattr(error, "stage", "conversion")  # a StageError from build_and_run
        cause = getattr(error, "error", error)
        row["error"] = f"{stage}: {one_line(cause)}"
        if "channels-last" in row["error"] and wrapper is not None:  # hls4ml names no node
            left = sorted(
                {
                    n.op_type
                    for n in wrapper.graph.node
                    if n.op_type in SPATIAL and n.domain != "qonnx.custom_op.channels_last"
                }
            )
            row["error"] += f" (its {', '.join(left)}, which qonnx leaves channels-first)"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)  # qonnx runs opset-1 single-node sessions
    rng = np.random.default_rng(0)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with quiet():
            models = {
                "Brevitas MLP 4-bit": brevitas_mlp(4, folder),
                "Brevitas MLP 8-bit": brevitas_mlp(8, folder),
                "Brevitas CNN 4-bit (channels-last)": brevitas_cnn(folder),
                "binary MLP (BipolarQuant)": binary_mlp(folder),
                "Trunc (TruncAvgPool2d, channels-last)": brevitas_trunc(folder),
                "MultiThreshold": multi_threshold(rng),
                "MLP 8-bit, float scales": brevitas_mlp(8, folder, fixed_point=False),
            }
        for k, (name, model) in enumerate(models.items()):
            console.print(f"[{k + 1}/{len(models)}] {name}")
            X = inputs(model, args.batch, rng)
            with quiet():
                want = qonnx_reference(model, X)
            rows = run_nnfx(model, X, want, args.repeats)
            rows.append(run_hls4ml(model, X, want, folder / f"hls{k}", args.repeats))
            for row in rows:
                results.append({"model": name, **row})
    columns = [
        "model",
        "tool",
        "engine",
        "accepted",
        "bit-equal",
        "max |diff|",
        "build s",
        "samples/s",
    ]
    lines = []
    for r in results:
        ok = "error" not in r
        lines.append(
            [
                r["model"],
                r["tool"],
                r["engine"],
                "yes" if ok else r["error"],
                f"{r['bit_equal']:.4f}" if ok else "-",
                f"{r['max_abs_diff']:.3g}" if ok else "-",
                f"{r['cold_build_s']:.1f}" if ok else "-",
                f"{r['samples_per_s']:,.0f}" if ok else "-",
            ]
        )
    console.print(table("QONNX models: nnfx and hls4ml against qonnx's execution", columns, lines))
    info = machine(("numpy", "onnx", "onnxruntime", "nnfx", "qonnx", "brevitas", "hls4ml", "torch"))
    path = write(
        "qonnx_vs_hls4ml",
        {"machine": info, "batch": args.batch, "precision_default": PRECISION, "results": results},
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
