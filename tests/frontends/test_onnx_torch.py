"""PyTorch models through both exporters (TorchScript and dynamo, external data): the float IR
equals onnxruntime and PyTorch itself."""

import warnings

import numpy as np
import onnx
import pytest

from tests.helpers import assert_matches_ort, ops, rand

# -- PyTorch -------------------------------------------------------------------------------
torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
nn = torch.nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(12, 32),
            nn.ReLU(),
            nn.Linear(32, 16),
            nn.Tanh(),
            nn.Dropout(0.2),
            nn.Linear(16, 5),
            nn.Softmax(dim=1),
        )

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(8 * 2 * 2, 10)
        self.fc2 = nn.Linear(8, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv1(x))))
        y = nn.functional.leaky_relu(self.conv2(x), 0.1)
        a = self.fc1(y.view(y.size(0), -1))
        b = self.fc2(torch.flatten(self.gap(y), 1))
        return torch.log_softmax(a + b, dim=1)


class Conv1DNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 4, 5, padding=2)
        self.pool = nn.AvgPool1d(2)
        self.fc = nn.Linear(4 * 8, 3)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.elu(self.pool(self.conv(x))), 1))


class BNMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 8)
        self.bn = nn.BatchNorm1d(8)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return torch.sigmoid(self.out(nn.functional.relu6(self.bn(self.fc(x)))))


def _randomize_batchnorm(module):
    torch.manual_seed(0)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return module.eval()


def export(module, example, path, dynamo, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            batch = torch.export.Dim("batch")
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=True,
                external_data=True,
                dynamic_shapes={"x": {0: batch}},
                verbose=False,
            )
        else:
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=False,
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
                **kwargs,
            )
    return path


TORCH_MODELS = {
    "mlp": (MLP, (12,)),
    "cnn": (CNN, (1, 8, 8)),
    "conv1d": (Conv1DNet, (3, 16)),
    "bn_mlp": (BNMLP, (6,)),
}


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("name", list(TORCH_MODELS))
def test_pytorch_models(name, dynamo, tmp_path, rng):
    cls, shape = TORCH_MODELS[name]
    torch.manual_seed(0)
    module = _randomize_batchnorm(cls())
    path = export(module, torch.randn(2, *shape), tmp_path / "m.onnx", dynamo)
    if dynamo:  # the weights live in an external data file beside the model
        assert (tmp_path / "m.onnx.data").exists()
        assert name == "bn_mlp" or any(  # bn_mlp's tensors are all small enough to inline
            i.data_location == onnx.TensorProto.EXTERNAL
            for i in onnx.load(str(path), load_external_data=False).graph.initializer
        )
    X = rand(rng, 9, *shape)
    loaded = assert_matches_ort(str(path), X)
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-4, atol=1e-5)


def test_pytorch_batchnorm_kept_as_batchnormalization_nodes(tmp_path, rng):
    module = _randomize_batchnorm(CNN())
    path = export(
        module,
        torch.randn(2, 1, 8, 8),
        tmp_path / "m.onnx",
        dynamo=False,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
    )
    module.eval()
    assert "BatchNormalization" in [n.op_type for n in onnx.load(str(path)).graph.node]
    loaded = assert_matches_ort(str(path), rand(rng, 7, 1, 8, 8))
    assert "BatchNorm" not in ops(loaded)
