"""torch.split, tensor slicing and nn.PReLU(C) from PyTorch (issue #14): a CNN whose channels
split into two convolution branches, concatenated, with a slope per channel and per feature,
through both exporters: it loads, agrees with onnxruntime and PyTorch in float, and, compiled
at ``auto``, keeps the float model's top-1 class on held-out data and agrees bit for bit across
the reference, the fixed-point ONNX model and both C-simulations."""

import shutil

import numpy as np
import onnx
import pytest

from nnfx.compiler.ops import Op
from tests.helpers import assert_auto_keeps_top1_and_is_bit_exact, assert_matches_ort, rand
from tests.torch_export import export

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
nn = torch.nn
needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)
SHAPE = (3, 8, 8)


class SplitPReLUNet(nn.Module):
    """A stem, its channels split 3 + 5 into two convolutions and concatenated, channels 2:6
    kept, a Linear, its features 1:13 kept; nn.PReLU per channel and per feature."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.PReLU(8)
        self.left = nn.Conv2d(3, 4, 3, padding=1)
        self.right = nn.Conv2d(5, 4, 1)
        self.act2 = nn.PReLU(8)
        self.fc = nn.Linear(4 * 4 * 4, 16)
        self.act3 = nn.PReLU(16)
        self.head = nn.Linear(12, 5)
        with torch.no_grad():  # PyTorch starts every slope at 0.25: make them differ
            for m in (self.act, self.act2, self.act3):
                m.weight.uniform_(-0.3, 0.6)

    def forward(self, x):
        x = self.act(self.stem(x))
        a, b = torch.split(x, [3, 5], dim=1)
        x = self.act2(torch.cat([self.left(a), self.right(b)], dim=1))
        x = nn.functional.max_pool2d(x[:, 2:6], 2)
        h = self.act3(self.fc(torch.flatten(x, 1)))
        return self.head(h[:, 1:13])


def _exported(tmp_path, dynamo):
    torch.manual_seed(0)
    module = SplitPReLUNet().eval()
    return module, str(export(module, torch.randn(2, *SHAPE), tmp_path / "m.onnx", dynamo))


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_split_slice_prelu_load_and_match(dynamo, tmp_path, rng):
    module, path = _exported(tmp_path, dynamo)
    written = {n.op_type for n in onnx.load(path, load_external_data=False).graph.node}
    assert {"Split", "Slice", "PRelu"} <= written
    X = rand(rng, 9, *SHAPE)
    loaded = assert_matches_ort(path, X)
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-4, atol=1e-5)
    nodes = loaded.graph.nodes
    assert sum(n.op is Op.SLICE for n in nodes) == 4  # two of Split, two of slicing
    slopes = [n.param(loaded.graph, "alpha") for n in nodes if n.op is Op.ACTIVATION]
    assert [s.shape for s in slopes] == [(8,), (8,), (16,)]


@needs_gxx
def test_split_slice_prelu_compile_bit_exact(tmp_path, rng):
    """The TorchScript export (the dynamo one loads to the same IR ops, above); two g++
    builds."""
    _, path = _exported(tmp_path, dynamo=False)
    train, held_out = rand(rng, 256, *SHAPE), rand(rng, 200, *SHAPE)
    assert_auto_keeps_top1_and_is_bit_exact(path, train, held_out)
