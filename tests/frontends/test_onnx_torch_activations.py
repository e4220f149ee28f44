"""Issue #14's activations from PyTorch, through both exporters: GELU (the TorchScript
exporter's Erf composition, recognized as one table), SELU, Softplus, Hardswish and Mish load,
match onnxruntime in float, and compiled at ``auto`` keep top-1 agreement with float."""

import warnings

import numpy as np
import pytest

import nnfx
from nnfx.compiler.ops import Activation, Op
from tests.helpers import assert_matches_ort

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
nn = torch.nn


class ActivationMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(8, 32),
            nn.GELU(),
            nn.Linear(32, 32),
            nn.SELU(),
            nn.Linear(32, 32),
            nn.Softplus(),
            nn.Linear(32, 32),
            nn.Hardswish(),
            nn.Linear(32, 32),
            nn.Mish(),
            nn.Linear(32, 4),
        )

    def forward(self, x):
        return self.net(x)


def export(module, example, path, dynamo):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        axes = (
            {"dynamic_shapes": {"x": {0: torch.export.Dim("batch")}}}
            if dynamo
            else {
                "input_names": ["x"],
                "dynamic_axes": {"x": {0: "N"}},
            }
        )
        torch.onnx.export(module, (example,), str(path), dynamo=dynamo, **axes)
    return path


@pytest.mark.parametrize(
    "dynamo",
    [False, True],
    ids=["torchscript", "dynamo"],
)
def test_an_mlp_of_the_new_activations_compiles_at_auto(dynamo, tmp_path, rng):
    torch.manual_seed(0)
    module = ActivationMLP().eval()
    path = export(module, torch.randn(2, 8), tmp_path / "m.onnx", dynamo)
    X = rng.standard_normal((600, 8)).astype(np.float32)
    loaded = assert_matches_ort(str(path), X[:16])
    kinds = {n.attrs.kind for n in loaded.graph.nodes if n.op is Op.ACTIVATION}
    assert {Activation.GELU, Activation.SELU, Activation.SOFTPLUS} <= kinds
    assert {Activation.HARD_SWISH, Activation.MISH} <= kinds
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-4, atol=1e-5)
    compiled = nnfx.compile(loaded, "auto", calibration=X[:300])
    held_out = X[300:]
    fixed = compiled.predict(held_out)
    agreement = np.mean(fixed.argmax(axis=1) == loaded.predict(held_out).argmax(axis=1))
    assert agreement >= 0.97, agreement
