"""PyTorch's nn.RNN, nn.LSTM and nn.GRU (issue #15) with a Linear head, trained briefly on the
digits read row by row (8 steps of 8 pixels), through both exporters: batch-first they load,
agree with onnxruntime and PyTorch in float, and compiled at ``auto`` keep the float model's
top-1 class on held-out digits and agree bit for bit across the reference, the fixed-point
ONNX model and both C-simulations. So do time-major layers (``batch_first=False``: the batch on
axis 1 of the graph input, and of a whole-sequence output), bidirectional LSTM and GRU layers,
and nn.RNN through the dynamo exporter (which unrolls it into per-step MatMul, Add and Tanh)."""

import shutil

import numpy as np
import pytest

import nnfx
from nnfx.compiler.ops import Op
from nnfx.trainer.data import load_dataset
from tests.csim_union import share_csim
from tests.helpers import assert_keeps_top1_and_is_bit_exact, assert_matches_ort
from tests.torch_export import export

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
nn = torch.nn
needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)
KINDS = ["RNN", "LSTM", "GRU"]


BIDIRECTIONAL = ["LSTM", "GRU"]


class Classifier(nn.Module):
    def __init__(self, kind, batch_first=True, bidirectional=False):
        super().__init__()
        self.batch_first = batch_first
        self.rnn = getattr(nn, kind)(8, 16, batch_first=batch_first, bidirectional=bidirectional)
        self.fc = nn.Linear(32 if bidirectional else 16, 10)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1] if self.batch_first else y[-1])


def time_major(module):
    """The same trained layer and head, reading (steps, batch, features)."""
    copy = Classifier(
        type(module.rnn).__name__, batch_first=False, bidirectional=module.rnn.bidirectional
    )
    copy.load_state_dict(module.state_dict())
    return copy.eval()


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits-seq")
    X = (data.X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    return X[order], data.y[order]


@pytest.fixture(scope="module")
def trained(digits):
    """One briefly trained classifier per kind, and bidirectional ones ("bi-LSTM", "bi-GRU"),
    batch-first (shared by the tests; :func:`time_major` gives their time-major twins)."""
    X, y = digits
    models = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: threads only contend
    for kind in KINDS + [f"bi-{k}" for k in BIDIRECTIONAL]:
        torch.manual_seed(0)
        module = Classifier(kind.removeprefix("bi-"), bidirectional=kind.startswith("bi-"))
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


def _exported(trained, case, tmp_path):
    """(the module, its ONNX file, whether time-major) for a case "kind-layout-exporter"."""
    kind, layout, exporter = case.split("-")[-3:]
    kind = "bi-" + kind if case.startswith("bi-") else kind
    module = trained[kind] if layout == "bf" else time_major(trained[kind])
    example = torch.zeros(2, 8, 8) if layout == "bf" else torch.zeros(8, 2, 8)
    path = tmp_path / f"{case}.onnx"
    export(module, example, path, exporter == "dynamo", batch_axis=int(layout == "tm"))
    return module, path, layout == "tm"


# compiled at auto and run in every engine: every kind, layout and exporter, and a
# bidirectional layer; their C-simulations one build per engine (tests/csim_union.py)
BIT_EXACT = [
    f"{kind}-{layout}-{exporter}"
    for kind in KINDS
    for layout in ("bf", "tm")
    for exporter in ("torchscript", "dynamo")
] + ["bi-GRU-tm-torchscript"]
# more bidirectional layers, in each layout and exporter, in float (the BIT_EXACT cases check
# float too)
FLOAT_CASES = ["bi-LSTM-bf-torchscript", "bi-GRU-bf-dynamo", "bi-LSTM-tm-dynamo"]


@pytest.mark.parametrize("case", FLOAT_CASES)
def test_layers_load_and_match_onnxruntime_and_pytorch(trained, digits, case, tmp_path):
    _check_float(trained, digits, case, *_exported(trained, case, tmp_path))


def _check_float(trained, digits, case, module, path, steps_first):
    """``path`` loads batch-first inside and agrees with onnxruntime and PyTorch."""
    X, y = digits
    assert _accuracy(trained[case.rsplit("-", 2)[0]], X[1400:], y[1400:]) > 0.8  # trained
    held_out = X[1400:1464].transpose(1, 0, 2) if steps_first else X[1400:1464]
    loaded = assert_matches_ort(str(path), held_out)
    (x,) = loaded.graph.inputs
    assert loaded.graph.tensors[x].batch_axis == int(steps_first)
    layers = [n.op for n in loaded.graph.nodes if n.op is Op.RECURRENT]
    assert len(layers) == (2 if case.startswith("bi-") else 1)
    assert loaded.graph.nodes[-1].op is Op.DENSE
    with torch.no_grad():
        expected = module(torch.from_numpy(np.ascontiguousarray(held_out))).numpy()
    np.testing.assert_allclose(loaded.predict(held_out), expected, rtol=1e-4, atol=1e-5)


class Sequence(nn.Module):
    """The whole output sequence of a time-major layer: (steps, batch, directions * hidden)."""

    def __init__(self, module):
        super().__init__()
        self.rnn = module.rnn

    def forward(self, x):
        return self.rnn(x)[0]


@pytest.fixture(scope="module")
def compiled_cases(trained, digits, tmp_path_factory):
    """Each BIT_EXACT case (checked in float first), and a time-major sequence output
    of a bidirectional LSTM ("seq"), compiled at auto; their C-simulations one build per engine
    (tests/csim_union.py)."""
    X, _ = digits
    folder = tmp_path_factory.mktemp("recurrent")
    cases = {}
    for case in BIT_EXACT:
        module, path, steps_first = _exported(trained, case, folder)
        _check_float(trained, digits, case, module, path, steps_first)
        train = X[:700].transpose(1, 0, 2) if steps_first else X[:700]
        cases[case] = (path, nnfx.compile(str(path), "auto", calibration=train), steps_first)
    path = export(
        Sequence(time_major(trained["bi-LSTM"])),
        torch.zeros(8, 2, 8),
        folder / "seq.onnx",
        False,
        batch_axis=1,
        output_batch_axis=1,
    )
    train = X[:700].transpose(1, 0, 2)
    cases["seq"] = (path, nnfx.compile(str(path), "auto", calibration=train), True)
    if shutil.which("g++") is not None:
        share_csim([compiled for _, compiled, _ in cases.values()])
    return cases


@needs_gxx
@pytest.mark.xdist_group("torch-recurrent")  # one worker builds the shared C-simulations
@pytest.mark.parametrize("case", BIT_EXACT)
def test_auto_keeps_top1_and_is_bit_exact(compiled_cases, digits, case):
    X, _ = digits
    path, compiled, steps_first = compiled_cases[case]
    held_out = X[1400:].transpose(1, 0, 2) if steps_first else X[1400:]
    assert_keeps_top1_and_is_bit_exact(path, compiled, held_out)


@needs_gxx
@pytest.mark.xdist_group("torch-recurrent")
def test_a_time_major_sequence_output_is_bit_exact_in_the_model_layout(compiled_cases, digits):
    X, _ = digits
    path, compiled, _ = compiled_cases["seq"]
    held_out = X[1400:1500].transpose(1, 0, 2)
    assert_matches_ort(str(path), held_out[:, :64])
    (y,) = compiled.graph.outputs
    assert compiled.graph.tensors[y].batch_axis == 1
    values = compiled.predict(held_out)
    assert values.shape == (8, 100, 32)  # (steps, batch, both directions' hidden)
    assert np.max(np.abs(values - nnfx.load(str(path)).predict(held_out))) < 0.05
    reference = compiled.predict_raw(held_out)
    for engine in ("ort", "csim", "csim-ap"):
        np.testing.assert_array_equal(compiled.predict_raw(held_out, engine)[y], reference[y])
