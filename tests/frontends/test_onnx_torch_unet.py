"""Upsampling and zero padding from PyTorch (issue #14): a small U-Net (Conv-ReLU, MaxPool,
Conv-ReLU, nn.Upsample(scale_factor=2, nearest), Concat with the skip, Conv, global pooling,
Linear), a ZeroPad2d network and a 1-D F.interpolate / F.pad network, through both exporters:
they load, agree with onnxruntime (and PyTorch) in float, and compiled at ``auto`` keep the
float model's top-1 class on held-out data and agree bit for bit across the reference, the
fixed-point ONNX model and both C-simulations."""

import shutil

import numpy as np
import onnx
import pytest

from nnfx.compiler.ops import Op
from tests.helpers import assert_auto_keeps_top1_and_is_bit_exact, assert_matches_ort, rand
from tests.torch_export import export

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
nn = torch.nn
F = nn.functional
needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)


class UNet(nn.Module):
    """One level of a U-Net: the encoder's features skip the bottleneck and are concatenated
    with its upsampled output."""

    def __init__(self, channels=1, classes=5):
        super().__init__()
        self.enc = nn.Conv2d(channels, 3, 3, padding=1)
        self.mid = nn.Conv2d(3, 4, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec = nn.Conv2d(7, 4, 3, padding=1)
        self.fc = nn.Linear(4, classes)

    def forward(self, x):
        skip = torch.relu(self.enc(x))
        x = torch.relu(self.mid(F.max_pool2d(skip, 2)))
        x = torch.cat([self.up(x), skip], dim=1)
        x = torch.relu(self.dec(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ZeroPadNet(nn.Module):
    """ZeroPad2d before a Conv (asymmetric), and before a MaxPool."""

    def __init__(self, channels=1, classes=4):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))
        self.conv = nn.Conv2d(channels, 4, 3)
        self.pool_pad = nn.ZeroPad2d(1)
        self.fc = nn.Linear(4 * 3 * 4, classes)

    def forward(self, x):
        x = torch.relu(self.conv(self.pad(x)))  # (4, 5, 7)
        x = F.max_pool2d(self.pool_pad(x), 2)  # (4, 3, 4)
        return self.fc(torch.flatten(x, 1))


class Sequence(nn.Module):
    """1-D: F.interpolate by a scale and to a size, F.pad, a strided Conv1d."""

    def __init__(self, channels=2, classes=3):
        super().__init__()
        self.conv = nn.Conv1d(channels, 4, 3, stride=2)
        self.fc = nn.Linear(4 * 12, classes)

    def forward(self, x):  # (C, 6)
        x = F.interpolate(x, scale_factor=2)  # (C, 12)
        x = F.interpolate(x, size=24) + F.pad(torch.relu(x), (5, 7))
        x = torch.relu(self.conv(F.pad(x, (1, 0))))  # (4, 12)
        return self.fc(torch.flatten(x, 1))


MODELS = {"unet": (UNet, (1, 8, 8)), "zeropad": (ZeroPadNet, (1, 6, 6)), "seq": (Sequence, (2, 6))}


def _exported(name, dynamo, tmp_path):
    cls, shape = MODELS[name]
    torch.manual_seed(0)
    module = cls().eval()
    return module, export(module, torch.randn(2, *shape), tmp_path / "m.onnx", dynamo), shape


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("name", list(MODELS))
def test_pytorch_resampling_models_load_and_match(name, dynamo, tmp_path, rng):
    module, path, shape = _exported(name, dynamo, tmp_path)
    written = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
    assert written & {"Resize", "Pad"}
    X = rand(rng, 9, *shape)
    loaded = assert_matches_ort(str(path), X)
    ops = {n.op for n in loaded.graph.nodes}
    assert ops & {Op.UPSAMPLE, Op.PAD} and Op.TRANSPOSE not in ops
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-4, atol=1e-5)


@needs_gxx
@pytest.mark.parametrize("name,dynamo", [("unet", False), ("zeropad", True)])
def test_pytorch_resampling_models_compile_bit_exact(name, dynamo, tmp_path, rng):
    _, path, shape = _exported(name, dynamo, tmp_path)
    train, held_out = rand(rng, 256, *shape), rand(rng, 200, *shape)
    assert_auto_keeps_top1_and_is_bit_exact(path, train, held_out)
