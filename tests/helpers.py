"""Shared test helpers: build small ONNX models, compare nnfx with onnxruntime."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import nnfx
from nnfx.runtime.ort import session

RTOL = 1e-5


def make_model(nodes, inputs, outputs, initializers=None, opset=17, ml=False):
    """An ONNX model from helper-made nodes; ``inputs``/``outputs`` are (name, shape) pairs
    (shape with 'N' for the batch), initializers a dict name -> array."""
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()],
    )
    opsets = [helper.make_opsetid("", opset)]
    if ml:
        opsets.append(helper.make_opsetid("ai.onnx.ml", 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8 if opset <= 18 else 10
    if any(s is None for _, s in outputs):  # let ONNX's shape inference fill in the outputs
        inferred = onnx.shape_inference.infer_shapes(model)
        known = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
        for out in model.graph.output:
            if not out.type.tensor_type.HasField("shape") and out.name in known:
                out.type.CopyFrom(known[out.name].type)
    return model


def ort_outputs(model, feeds: dict) -> dict[str, np.ndarray]:
    sess = session(model)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds), strict=True))


def assert_matches_ort(model, X, **load_kwargs) -> nnfx.Model:
    """``nnfx.load(model).predict(X)`` equals onnxruntime within 1e-5 relative to each output's
    largest magnitude (ORT computes in float32, the reference in float64). Integer outputs
    (class labels) must be equal."""
    loaded = nnfx.load(model, **load_kwargs)
    sess = session(model)
    feeds = X if isinstance(X, dict) else {sess.get_inputs()[0].name: X}
    feeds = {k: np.asarray(v, np.float32) for k, v in feeds.items()}
    expected = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds), strict=True))
    ours = loaded.predict(feeds if len(feeds) > 1 else next(iter(feeds.values())))
    if not isinstance(ours, dict):
        ours = {loaded.output_names[0]: ours}
    for name, theirs in expected.items():
        if isinstance(theirs, list):  # ZipMap: a list of {label: probability}
            continue
        mine = ours[name]
        assert mine.shape == theirs.shape, (name, mine.shape, theirs.shape)
        if np.issubdtype(theirs.dtype, np.integer):
            np.testing.assert_array_equal(mine, theirs)
            continue
        scale = max(float(np.max(np.abs(theirs))), 1e-30)
        worst = float(np.max(np.abs(mine - theirs)))
        assert worst <= RTOL * scale, (
            f"output '{name}': max |diff| {worst:.3g} vs scale {scale:.3g}"
        )
    return loaded


def raw_equal(a: dict, b: dict) -> bool:
    """Two engines' raw outputs (name -> integer codes) are the same tensors, bit for bit."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def ops(model: nnfx.Model) -> list[str]:
    return [n.op.value for n in model.graph.nodes]


def rand(rng, *shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def export_torch_digits_cnn(folder):
    """A small PyTorch CNN on scikit-learn's digits, exported by the TorchScript exporter:
    (onnx path, images as float32 NCHW, labels). Skips the test without PyTorch."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(32, 10),
        torch.nn.Softmax(dim=1),
    ).eval()
    torch.onnx.export(
        net,
        (torch.from_numpy(X[:2]),),
        str(folder / "cnn.onnx"),
        dynamo=False,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "N"}},
    )
    return folder / "cnn.onnx", X, digits.target


def train_mlp_onnx(name, tmp_path_factory, hidden=(64, 32), last="softmax"):
    """An MLP on a built-in dataset trained as `nnfx train` trains it (Adam 0.001, batch 32,
    30 epochs) and exported to ONNX: (onnx path, X, y, X_test, y_test), standardized."""
    from nnfx.trainer import (
        Adam,
        Dense,
        Sequential,
        Standardizer,
        load_dataset,
        train_val_test_split,
    )

    data = load_dataset(name)
    (X, y), _, (Xt, yt) = train_val_test_split(data.X, data.y, seed=0)
    scaler = Standardizer().fit(X)
    X, Xt = scaler.transform(X).astype(np.float32), scaler.transform(Xt).astype(np.float32)
    layers = [Dense(h, activation="relu", kernel_initializer="he_uniform") for h in hidden]
    if last == "sigmoid":
        layers.append(Dense(1, activation="sigmoid"))
        loss = "binary_crossentropy"
    else:
        layers.append(Dense(data.n_classes, activation="softmax"))
        loss = "categorical_crossentropy"
    model = Sequential(layers, input_shape=(X.shape[1],), seed=0)
    model.compile(Adam(0.001), loss)
    model.fit(X, y, epochs=30, verbose=0)
    path = tmp_path_factory.mktemp(name) / "model.onnx"
    model.export_onnx(path)
    return path, X, y, Xt, yt


__all__ = ["make_model", "ort_outputs", "assert_matches_ort", "ops", "rand", "onnx"]


def run_strict_testbench(
    folder: Path, top: str, number: str, samples: int, fast_constants: bool = True
) -> None:
    """Build an emitted project's testbench with ``-Wall -Wextra -Werror`` (ap_fixed, or
    ac_fixed for ``number="ac"``; ``fast_constants=False`` keeps the static const arrays
    Vitis compiles) and run it on its tb_data: it must report ``samples`` samples and no
    mismatching value."""
    from nnfx.runtime.csim import type_headers

    flags = ["-std=c++14", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas"]
    flags.append(f"-isystem{type_headers(number)}")
    if fast_constants:
        flags.append("-DNNFX_FAST_CONSTANTS")
    if number == "ac":
        flags.append("-DNNFX_AC_TYPES")
    sources = [f"firmware/{top}.cpp", f"tb/{top}_tb.cpp"]
    build = subprocess.run(
        ["g++", *flags, *sources, "-o", "tb_run"], cwd=folder, capture_output=True, text=True
    )
    assert build.returncode == 0, build.stderr[:3000]
    run = subprocess.run(["../tb_run"], cwd=folder / "tb", capture_output=True, text=True)
    expected = f"{samples} samples, 0 mismatching values"
    assert run.returncode == 0 and expected in run.stdout, run.stdout


def assert_auto_keeps_top1_and_is_bit_exact(path, train, held_out):
    """``path`` compiled at ``auto`` (calibrated on ``train``) keeps the float model's top-1
    class on >= 97% of ``held_out`` and gives the reference's codes in ort, csim, csim-ap."""
    assert_keeps_top1_and_is_bit_exact(
        path, nnfx.compile(str(path), "auto", calibration=train), held_out
    )


def assert_keeps_top1_and_is_bit_exact(path, compiled, held_out):
    """``compiled`` (from ``path``) keeps the float model's top-1 class on >= 97% of
    ``held_out`` and gives the reference's codes in ort, csim, csim-ap."""
    float_top1 = nnfx.load(str(path)).predict(held_out).argmax(axis=1)
    assert np.mean(compiled.predict(held_out).argmax(axis=1) == float_top1) >= 0.97
    reference = compiled.predict_raw(held_out)
    for engine in ("ort", "csim", "csim-ap"):
        raw = compiled.predict_raw(held_out, engine)
        for output, codes in reference.items():
            np.testing.assert_array_equal(raw[output], codes, err_msg=f"{engine}: {output}")
