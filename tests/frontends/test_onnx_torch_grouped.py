"""Grouped and depthwise convolution from PyTorch (issue #14): a depthwise-separable CNN and a
MobileNet-style block through both exporters load, agree with onnxruntime in float, and
compiled at ``auto`` keep the float model's top-1 class and agree bit for bit across the
reference, the fixed-point ONNX model and both C-simulations."""

import shutil

import numpy as np
import onnx
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.estimate import estimate
from nnfx.errors import ModelError
from tests.helpers import (
    assert_auto_keeps_top1_and_is_bit_exact,
    assert_matches_ort,
    make_model,
    rand,
)
from tests.torch_export import export

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
nn = torch.nn
needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)


def _randomize_batchnorm(module):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return module.eval()


class SeparableCNN(nn.Module):
    """A stem, a depthwise (multiplier 2) and pointwise pair, a grouped convolution."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.depthwise = nn.Conv2d(6, 12, 3, padding=1, stride=2, groups=6)
        self.pointwise = nn.Conv2d(12, 8, 1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = torch.relu(self.pointwise(torch.relu(self.depthwise(x))))
        x = torch.relu(self.grouped(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class MobileNetBlock(nn.Module):
    """Depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU6 (MobileNet v1's block)."""

    def __init__(self, channels=4, out=8):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.pointwise = nn.Conv2d(channels, out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.fc = nn.Linear(out * 4 * 4, 5)

    def forward(self, x):
        x = nn.functional.relu6(self.bn1(self.depthwise(x)))
        x = nn.functional.relu6(self.bn2(self.pointwise(x)))
        x = nn.functional.max_pool2d(x, 2)
        return self.fc(torch.flatten(x, 1))


GROUPED_MODELS = {"separable": (SeparableCNN, (3, 8, 8)), "mobilenet": (MobileNetBlock, (4, 8, 8))}


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("name", list(GROUPED_MODELS))
def test_grouped_pytorch_models_load_and_match(name, dynamo, tmp_path, rng):
    cls, shape = GROUPED_MODELS[name]
    torch.manual_seed(0)
    module = _randomize_batchnorm(cls())
    path = export(module, torch.randn(2, *shape), tmp_path / "m.onnx", dynamo)
    groups = [
        a.i
        for n in onnx.load(str(path), load_external_data=False).graph.node
        for a in n.attribute
        if n.op_type == "Conv" and a.name == "group"
    ]
    assert max(groups) > 1
    X = rand(rng, 9, *shape)
    loaded = assert_matches_ort(str(path), X)
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-4, atol=1e-5)


@needs_gxx
@pytest.mark.parametrize("name", list(GROUPED_MODELS))
def test_grouped_pytorch_models_compile_bit_exact(name, tmp_path, rng):
    cls, shape = GROUPED_MODELS[name]
    torch.manual_seed(0)
    module = _randomize_batchnorm(cls())
    path = export(module, torch.randn(2, *shape), tmp_path / "m.onnx", dynamo=False)
    train, held_out = rand(rng, 256, *shape), rand(rng, 200, *shape)
    assert_auto_keeps_top1_and_is_bit_exact(path, train, held_out)


def _conv_model(group, channels=4, weight=(4, 2, 3, 3)):
    return make_model(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="c", group=group)],
        [("x", ["N", channels, 5, 5])],
        [("y", None)],
        {"W": np.ones(weight, np.float32)},
    )


@pytest.mark.parametrize(
    "group,weight", [(3, (3, 2, 3, 3)), (2, (3, 2, 3, 3)), (2, (4, 1, 3, 3)), (0, (4, 2, 3, 3))]
)
def test_a_group_that_does_not_fit_is_one_sentence(group, weight):
    with pytest.raises(ModelError) as info:
        nnfx.load(_conv_model(group, weight=weight))
    message = str(info.value)
    assert message.startswith("node 'c' (Conv): ") and f"group={group} does not fit" in message
    assert message.count(". ") == 0


def test_grouped_weights_are_not_expanded(rng):
    """The IR keeps (kh, kw, Cin / group, Cout); the estimate counts only those weights."""
    model = _conv_model(4, weight=(8, 1, 3, 3))
    compiled = nnfx.compile(model, "fixed<16,6>")
    (conv,) = [n for n in compiled.graph.nodes if n.op.value == "Conv"]
    assert conv.attrs.group == 4 and conv.param(compiled.graph, "weight").shape == (3, 3, 1, 8)
    assert estimate(compiled.graph).layers[0].multiplications == 8 * 9


def test_group_round_trips_and_old_files_load_as_one(tmp_path, rng):
    from nnfx.compiler.ops import ConvAttrs
    from nnfx.compiler.serialize import _decode_attrs, _encode_attrs

    compiled = nnfx.compile(_conv_model(4, weight=(8, 1, 3, 3)), "fixed<12,4,RND,SAT>")
    compiled.save(tmp_path / "out")
    again = nnfx.load_compiled(tmp_path / "out")
    X = rand(rng, 5, 4, 5, 5)
    np.testing.assert_array_equal(again.predict(X), compiled.predict(X))
    (conv,) = [n for n in again.graph.nodes if n.op.value == "Conv"]
    assert conv.attrs.group == 4
    data = _encode_attrs(ConvAttrs(2, 3, (3,), (1,), (0, 0), (1,)))
    del data["group"]  # a model.json written before grouped convolution
    assert _decode_attrs(ConvAttrs, data).group == 1
