"""`nnfx inspect`: the IR printed and saved, and bad model files."""

import pytest

from nnfx.cli import main


def test_inspect_prints_the_ir_and_saves_it(tmp_path, capsys):
    from nnfx.trainer import Conv2D, Dense, Flatten, MaxPool2D, Sequential

    model = Sequential(
        [Conv2D(4, 3, activation="relu"), MaxPool2D(2), Flatten(), Dense(3)], input_shape=(1, 8, 8)
    )
    model.export_onnx(tmp_path / "cnn.onnx")
    assert main(["inspect", str(tmp_path / "cnn.onnx"), "-o", str(tmp_path / "ir")]) == 0
    out = capsys.readouterr().out
    assert "inputs input (batch, 1, 8, 8)" in out and "Conv2D" in out and "Dense" in out
    assert (tmp_path / "ir" / "model.json").exists() and "IR written to" in out
    # the old spelling still works; --quiet keeps the IR, drops the status line
    assert (
        main(["inspect", str(tmp_path / "cnn.onnx"), "--save-ir", str(tmp_path / "ir2"), "-q"]) == 0
    )
    quiet = capsys.readouterr().out
    assert (tmp_path / "ir2" / "model.json").exists() and "IR written to" not in quiet
    assert "Conv2D" in quiet and "inputs input (batch, 1, 8, 8)" in quiet


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "does not exist"),
        (b"garbage" * 10, "is not a readable ONNX model"),
    ],
)
def test_inspect_bad_files(tmp_path, capsys, content, message):
    path = tmp_path / "m.onnx"
    if content is not None:
        path.write_bytes(content)
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_inspect_shows_a_quantized_models_own_weight_types(capsys):
    # a QKeras model through QONNX (tests/data): its Dense weights are fixed<6,1> codes
    from pathlib import Path

    from nnfx.cli import main

    path = Path(__file__).resolve().parents[1] / "data" / "qkeras_mlp.onnx"
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("name"))
    assert header.split()[-1] == "weights"
    dense = [line for line in out.splitlines() if " Dense " in line]
    assert len(dense) == 2 and all(line.endswith("w fixed<6,1,RND_CONV,SAT>") for line in dense)
    assert "ufixed<6,2,RND_CONV,SAT>" in out  # the activations' types, as before
