"""``trained_model``: a folder holding a model trained by `nnfx train` (model.onnx,
history.json, test_data.npz), trained once per session for the compile, simulate and report
command tests."""

import pytest

from nnfx.cli import main


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    assert main(["train", "--epochs", "10", "-q", "-o", str(folder / "model.onnx")]) == 0
    return folder
