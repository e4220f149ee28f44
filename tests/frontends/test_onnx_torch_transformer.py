"""A transformer-style MLP block from PyTorch (issue #14): LayerNorm -> Linear -> GELU -> Linear
with a residual, then a LayerNorm and a classifier head. Through both exporters it loads and
agrees with onnxruntime and PyTorch in float; compiled at ``auto`` it keeps the float model's
top-1 class on held-out data (>= 97%) and agrees bit for bit across the reference, the
fixed-point ONNX model and both C-simulations."""

import shutil

import numpy as np
import onnx
import pytest

import nnfx
from nnfx.compiler.ops import Op
from nnfx.report.layers import layer_rows
from nnfx.runtime import reference as float_reference
from tests.helpers import assert_matches_ort, rand
from tests.torch_export import export

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
nn = torch.nn
needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)
FEATURES = 16


class MlpBlock(nn.Module):
    """x + fc2(gelu(fc1(norm(x)))), then head(head_norm(.)): a pre-norm transformer's MLP."""

    def __init__(self, d=FEATURES, hidden=32, classes=5):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)
        self.head_norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)
        with torch.no_grad():  # scale and bias other than PyTorch's 1 and 0
            for norm in (self.norm, self.head_norm):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        x = x + self.fc2(nn.functional.gelu(self.fc1(self.norm(x))))
        return self.head(self.head_norm(x))


def _block(tmp_path, dynamo):
    torch.manual_seed(0)
    module = MlpBlock().eval()
    path = export(module, torch.randn(2, FEATURES), tmp_path / "block.onnx", dynamo)
    return module, path


def _data(rng, n):
    """Samples whose scale varies over an order of magnitude, as a residual stream's does."""
    return rand(rng, n, FEATURES) * (2.0 ** rng.uniform(-2, 2, (n, 1))).astype(np.float32)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_transformer_block_loads_and_matches(dynamo, tmp_path, rng):
    module, path = _block(tmp_path, dynamo)
    ops = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
    assert "LayerNormalization" in ops
    X = _data(rng, 20)
    loaded = assert_matches_ort(str(path), X)
    assert sum(n.op is Op.LAYER_NORM for n in loaded.graph.nodes) == 2
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-4, atol=1e-5)


@needs_gxx
@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_transformer_block_compiles_bit_exact(dynamo, tmp_path, rng):
    _, path = _block(tmp_path, dynamo)
    train, held_out = _data(rng, 512), _data(rng, 300)
    compiled = nnfx.compile(str(path), "auto", calibration=train)
    float_top1 = nnfx.load(str(path)).predict(held_out).argmax(axis=1)
    agreement = np.mean(compiled.predict(held_out).argmax(axis=1) == float_top1)
    assert agreement >= 0.97, agreement
    assert [n.op for n in compiled.graph.nodes] == [
        Op.LAYER_NORM,
        Op.DENSE,
        Op.ACTIVATION,
        Op.DENSE,
        Op.ADD,
        Op.LAYER_NORM,
        Op.DENSE,
    ]
    reference = compiled.predict_raw(held_out)
    # both exports give this one graph: the C-simulations (builds of a few seconds) run once
    for engine in ("ort",) if dynamo else ("ort", "csim", "csim-ap"):
        raw = compiled.predict_raw(held_out, engine)
        for output, codes in reference.items():
            np.testing.assert_array_equal(raw[output], codes, err_msg=f"{engine}: {output}")
    # the report's per-layer table: each LayerNorm's error against float, like every layer's
    loaded = nnfx.load(str(path))
    float_values = float_reference.run(loaded.graph, {"x": held_out}, intermediate=True)
    rows = layer_rows(loaded, compiled, held_out, float_values)
    norms = [r for r in rows if r["op"] == Op.LAYER_NORM.value]
    assert len(norms) == 2 and all(0 < r["relative_rms_error"] < 0.01 for r in norms), norms
