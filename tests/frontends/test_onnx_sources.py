"""Models from real exporters: our trainer, PyTorch (TorchScript and dynamo), scikit-learn."""

import warnings

import numpy as np
import onnx
import pytest

from nnfx.trainer import (
    ELU,
    SGD,
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from tests.helpers import assert_matches_ort, ops, rand

TRAINER_MODELS = {
    "mlp_every_activation": (
        (10,),
        lambda: [
            Dense(16),
            ReLU(),
            Dense(16),
            LeakyReLU(0.1),
            Dense(16),
            ELU(0.5),
            Dense(12),
            Sigmoid(),
            Dense(12),
            Tanh(),
            Dense(8),
            Linear(),
            Dropout(0.3),
            Dense(4),
            Softmax(),
        ],
    ),
    "mlp_batchnorm": ((10,), lambda: [Dense(16), BatchNorm1D(), ReLU(), Dense(3)]),
    "cnn_every_layer": (
        (2, 8, 8),
        lambda: [
            Conv2D(4, 3, padding="same"),
            BatchNorm2D(),
            ReLU(),
            MaxPool2D(2),
            Conv2D(6, 3, strides=2, padding=1),
            AvgPool2D(2, strides=1, padding=1),
            Tanh(),
            Flatten(),
            Dropout(0.2),
            Dense(5, activation="softmax"),
        ],
    ),
    "cnn_valid_rect": (
        (1, 9, 7),
        lambda: [Conv2D(3, (3, 2), padding=(1, 0)), ELU(), AvgPool2D((2, 3)), Flatten(), Dense(2)],
    ),
}


@pytest.mark.parametrize("name", list(TRAINER_MODELS))
def test_trainer_models(name, tmp_path, rng):
    shape, layers = TRAINER_MODELS[name]
    model = Sequential(layers(), input_shape=shape, seed=1)
    X = rand(rng, 32, *shape)
    model.compile(SGD(0.01), "mse", metrics=[])
    model.fit(X, rng.standard_normal((32, *model.output_shape)), epochs=2, verbose=0)
    path = tmp_path / "m.onnx"
    model.export_onnx(path)
    loaded = assert_matches_ort(str(path), X)
    assert "BatchNorm" not in ops(loaded)  # folded into the Dense/Conv before it
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-4, atol=1e-5)


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


# -- scikit-learn --------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["iris", "breast_cancer"])
@pytest.mark.parametrize("zipmap", [False, True])
def test_sklearn_mlp_classifier(dataset, zipmap, rng):
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is not installed")
    from sklearn import datasets
    from sklearn.neural_network import MLPClassifier

    X, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((16, 8), max_iter=300, random_state=0).fit(X, y)
    onx = skl2onnx.to_onnx(clf, X[:1], options={id(clf): {"zipmap": zipmap}}, target_opset=17)
    loaded = assert_matches_ort(onx, X)
    assert ops(loaded)[-1] == "ArgMax"
    outputs = loaded.predict(X)
    label_name = "output_label" if zipmap else "label"
    probability_name = [n for n in loaded.output_names if n != label_name][0]
    np.testing.assert_array_equal(outputs[label_name], clf.predict(X))
    np.testing.assert_allclose(
        outputs[probability_name], clf.predict_proba(X), rtol=1e-4, atol=1e-6
    )
