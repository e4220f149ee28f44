"""PyTorch's nn.RNN, nn.LSTM and nn.GRU (issue #15) with a Linear head, trained briefly on the
digits read row by row (8 steps of 8 pixels), through both exporters: batch-first they load,
agree with onnxruntime and PyTorch in float, and compiled at ``auto`` keep the float model's
top-1 class on held-out digits and agree bit for bit across the reference, the fixed-point
ONNX model and both C-simulations. Time-major layers (``batch_first=False``: the steps on the
graph input's first axis) are refused naming the layer; nn.RNN through the dynamo exporter,
which unrolls it into per-step MatMul, Add and Tanh on time-major slices, is refused too."""

import shutil

import numpy as np
import pytest

import nnfx
from nnfx.compiler.ops import Op
from nnfx.errors import UnsupportedOpError
from nnfx.trainer.data import load_dataset
from tests.helpers import assert_auto_keeps_top1_and_is_bit_exact, assert_matches_ort
from tests.torch_export import export

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
nn = torch.nn
needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)
KINDS = ["RNN", "LSTM", "GRU"]


class Classifier(nn.Module):
    def __init__(self, kind, batch_first=True):
        super().__init__()
        self.batch_first = batch_first
        self.rnn = getattr(nn, kind)(8, 16, batch_first=batch_first)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1] if self.batch_first else y[-1])


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits-seq")
    X = (data.X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    return X[order], data.y[order]


@pytest.fixture(scope="module")
def trained(digits):
    """One briefly trained classifier per kind (shared by the tests)."""
    X, y = digits
    models = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: threads only contend
    for kind in KINDS:
        torch.manual_seed(0)
        module = Classifier(kind)
        optimizer = torch.optim.Adam(module.parameters(), lr=0.02)
        inputs, labels = torch.from_numpy(X[:700]), torch.from_numpy(y[:700])
        for _ in range(40):
            optimizer.zero_grad()
            nn.functional.cross_entropy(module(inputs), labels).backward()
            optimizer.step()
        models[kind] = module.eval()
    torch.set_num_threads(threads)
    return models


def _accuracy(module, X, y):
    with torch.no_grad():
        return float(np.mean(module(torch.from_numpy(X)).numpy().argmax(axis=1) == y))


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("kind", KINDS)
def test_batch_first_layers_load_and_match(trained, digits, kind, dynamo, tmp_path):
    X, y = digits
    module = trained[kind]
    assert _accuracy(module, X[1400:], y[1400:]) > 0.8  # trained: top-1 is meaningful
    path = export(module, torch.from_numpy(X[:2]), tmp_path / "m.onnx", dynamo)
    if kind == "RNN" and dynamo:  # unrolled by the exporter into time-major slices
        with pytest.raises(UnsupportedOpError):
            nnfx.load(str(path))
        return
    loaded = assert_matches_ort(str(path), X[1400:1464])
    assert [n.op for n in loaded.graph.nodes] == [Op.RECURRENT, Op.DENSE]
    with torch.no_grad():
        expected = module(torch.from_numpy(X[1400:1464])).numpy()
    np.testing.assert_allclose(loaded.predict(X[1400:1464]), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kind,dynamo", [("RNN", False), ("LSTM", False), ("GRU", False), ("LSTM", True)]
)
def test_time_major_layers_are_refused_naming_the_layer(kind, dynamo, tmp_path):
    torch.manual_seed(0)
    module = Classifier(kind, batch_first=False).eval()
    path = export(module, torch.randn(8, 2, 8), tmp_path / "m.onnx", dynamo)
    with pytest.raises(UnsupportedOpError) as info:
        nnfx.load(str(path))
    assert f"({kind}): its input is time-major" in str(info.value)
    assert "\n" not in str(info.value)


@needs_gxx
@pytest.mark.parametrize("kind,dynamo", [("LSTM", False), ("GRU", True), ("RNN", False)])
def test_auto_keeps_top1_and_is_bit_exact(trained, digits, kind, dynamo, tmp_path):
    X, _ = digits
    path = export(trained[kind], torch.from_numpy(X[:2]), tmp_path / "m.onnx", dynamo)
    assert_auto_keeps_top1_and_is_bit_exact(path, X[:700], X[1400:])
