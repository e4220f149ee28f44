"""`nnfx train`: accuracy and the ONNX model's agreement, optimizers, regularization, npz data
sets, bad data files, the files it writes (the test and training splits), CNNs (--conv),
recurrent networks (--recurrent) and --quiet."""

import json

import numpy as np
import onnx
import pytest

from nnfx.cli import main
from nnfx.runtime.ort import run

ISSUE_COMMAND = (
    "train --dataset digits --hidden 64,32 --activation relu --optimizer adam --lr 0.001 "
    "--epochs 30 --batch-size 32 --seed 0"
).split()


def test_train_reaches_95_percent_and_onnx_agrees(tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert main([*ISSUE_COMMAND, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "   30/30" in printed and "val_accuracy" in printed
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["test_metrics"]["accuracy"] >= 0.95
    assert len(record["history"]["loss"]) == 30 and "val_accuracy" in record["history"]
    data = np.load(tmp_path / "test_data.npz")
    probabilities = run(out, data["X"])
    assert np.mean(probabilities.argmax(1) == data["y"]) == pytest.approx(
        record["test_metrics"]["accuracy"]
    )
    assert record["onnx_test_agreement"] == 1.0
    train = np.load(tmp_path / "train_data.npz")
    assert len(train["X"]) + len(data["X"]) < 1797 and train["X"].shape[1:] == (64,)
    # the standardization is the model's first step: both splits hold the raw pixels 0..16
    assert record["standardized_in_model"] is True
    for split in (train, data):
        pixels = split["X"]
        assert np.array_equal(pixels, np.round(pixels)) and pixels.max() == 16
    mean, std = (np.array(record["standardizer"][k]) for k in ("mean", "std"))
    assert np.allclose(mean, train["X"].mean(axis=0), atol=1e-5)
    assert [n.op_type for n in onnx.load(out).graph.node[:2]] == ["Sub", "Div"]


@pytest.mark.parametrize(
    "optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adamw"]
)
def test_train_with_every_optimizer(tmp_path, optimizer):
    args = [
        "train",
        "--dataset",
        "iris",
        "--optimizer",
        optimizer,
        "--lr",
        "0.05",
        "--epochs",
        "40",
        "--hidden",
        "8",
        "--schedule",
        "cosine",
        "-q",
        "-o",
        str(tmp_path / "m.onnx"),
    ]
    assert main(args) == 0
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["test_metrics"]["accuracy"] >= 0.8, optimizer


def test_train_with_regularization_options(tmp_path):
    args = [
        "train",
        "--dataset",
        "wine",
        "--hidden",
        "16,8",
        "--dropout",
        "0.2",
        "--batchnorm",
        "--l2",
        "1e-4",
        "--patience",
        "3",
        "--clip-norm",
        "1.0",
        "--batch-size",
        "0",
        "--epochs",
        "60",
        "--lr",
        "0.01",
        "-q",
        "-o",
        str(tmp_path / "sub" / "m.onnx"),
    ]
    assert main(args) == 0
    record = json.loads((tmp_path / "sub" / "history.json").read_text())
    assert record["config"]["batch_size"] is None and record["config"]["batchnorm"] is True


def test_train_on_an_npz_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert (
        main(
            [
                "train",
                "--dataset",
                str(tmp_path / "d.npz"),
                "--epochs",
                "20",
                "-q",
                "-o",
                str(tmp_path / "m.onnx"),
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"X": np.ones((10, 3)), "y": np.zeros(9)}, "y has 9 labels but X has 10 samples"),
        ({"X": np.array([[np.nan, 1.0], [1.0, 1.0]]), "y": np.array([0, 1])}, "NaN"),
    ],
)
def test_bad_data_files_are_one_sentence_and_exit_2(arrays, message, tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", **arrays)
    out = tmp_path / "out" / "m.onnx"
    assert main(["train", "--dataset", str(tmp_path / "bad.npz"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
    assert not out.exists()


def test_train_writes_only_files_nnfx_wrote(tmp_path, capsys):
    quick = ["train", "--epochs", "1", "-q", "--hidden", "8"]
    out = tmp_path / "out"
    (out / "model.onnx").mkdir(parents=True)
    assert main([*quick, "-o", str(out / "model.onnx")]) == 2
    assert "is not a file" in capsys.readouterr().err
    (out / "model.onnx").rmdir()
    (out / "model.onnx").write_text("my own model")
    assert main([*quick, "-o", str(out / "model.onnx")]) == 2
    err = capsys.readouterr().err
    assert "nnfx did not write it" in err and "--force" in err and err.count("\n") == 1
    assert (out / "model.onnx").read_text() == "my own model"
    assert main([*quick, "-o", str(out / "model.onnx"), "--force"]) == 0
    record = json.loads((out / "history.json").read_text())
    assert record["nnfx_format"] == "nnfx-train-history"
    assert main([*quick, "-o", str(out / "model.onnx")]) == 0  # its own files: replaced
    (out / "history.json").write_text("{}")
    assert main([*quick, "-o", str(out / "model.onnx")]) == 2
    assert "history.json' exists and nnfx did not write it" in capsys.readouterr().err
    assert (out / "history.json").read_text() == "{}"
    assert main([*quick, "-o", str(out / "history.json"), "--force"]) == 2
    assert "the name of a file train writes" in capsys.readouterr().err
    data = out / "test_data.npz"
    for target in (data, out / "model.onnx"):  # the data set is never overwritten
        args = [*quick, "--dataset", str(data), "-o", str(target), "--force"]
        assert main(args) == 2
        assert "is the data file" in capsys.readouterr().err
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files


def test_train_data_is_overwritten_only_when_nnfx_wrote_it(tmp_path, capsys):
    quick = ["train", "--epochs", "1", "-q", "--hidden", "8", "-o", str(tmp_path / "m.onnx")]
    assert main(quick) == 0
    assert np.load(tmp_path / "train_data.npz")["nnfx_format"] == "nnfx-train-data"
    assert main(quick) == 0  # its own file: replaced
    np.savez(tmp_path / "train_data.npz", X=np.ones((2, 64)), y=np.zeros(2))
    assert main(quick) == 2
    err = capsys.readouterr().err
    assert "train_data.npz' exists and nnfx did not write it" in err and err.count("\n") == 1
    assert "nnfx_format" not in np.load(tmp_path / "train_data.npz")
    assert main([*quick, "--force"]) == 0
    assert "nnfx_format" in np.load(tmp_path / "train_data.npz")
    assert main([*quick[:-1], str(tmp_path / "train_data.npz"), "--force"]) == 2
    assert "the name of a file train writes" in capsys.readouterr().err


def test_train_a_cnn_on_digits_that_compiles_bit_exact(tmp_path, capsys):
    import nnfx

    args = "train --dataset digits --conv 4 --hidden 16 --epochs 15 --lr 0.003 -q".split()
    assert main([*args, "-o", str(tmp_path / "cnn.onnx")]) == 0
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["test_metrics"]["accuracy"] >= 0.9 and record["config"]["conv"] == [4]
    assert record["onnx_test_agreement"] == 1.0
    train, test = (np.load(tmp_path / f"{split}_data.npz") for split in ("train", "test"))
    assert train["X"].shape[1:] == test["X"].shape[1:] == (1, 8, 8)  # the model's layout
    compiled = nnfx.compile(tmp_path / "cnn.onnx", "auto", calibration=train["X"])
    ops = {row["op"] for row in compiled.layer_table()}
    assert {"Conv", "MaxPool", "Dense"} <= ops
    reference = compiled.predict(test["X"])
    assert np.array_equal(reference, compiled.predict(test["X"], engine="ort"))
    assert np.mean(reference.argmax(1) == test["y"]) >= 0.85


def test_train_a_cnn_on_npz_images(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5, 5))  # (N, H, W): one channel is added
    y = (X[:, 2, 2] > 0).astype(int)
    np.savez(tmp_path / "images.npz", X=X, y=y)
    args = ["--dataset", str(tmp_path / "images.npz"), "--conv", "2,3", "--hidden", "4"]
    assert main(["train", *args, "--epochs", "2", "-q", "-o", str(tmp_path / "m.onnx")]) == 0
    assert np.load(tmp_path / "test_data.npz")["X"].shape[1:] == (1, 5, 5)


@pytest.mark.parametrize("dataset", ["iris", "features.npz"])
def test_conv_on_data_that_are_not_images_is_one_sentence(dataset, tmp_path, capsys):
    np.savez(tmp_path / "features.npz", X=np.ones((20, 10)), y=np.arange(20) % 2)
    if dataset.endswith(".npz"):
        dataset = str(tmp_path / dataset)
    out = tmp_path / "out" / "m.onnx"
    assert main(["train", "--dataset", dataset, "--conv", "4", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--conv" in err and "needs images" in err and err.count("\n") == 0
    assert not out.exists()


def test_train_a_recurrent_network_on_digit_rows(tmp_path, capsys):
    import onnx

    args = "train --dataset digits-seq --recurrent gru:16 --hidden 8 --epochs 2 --lr 0.01"
    assert main([*args.split(), "-o", str(tmp_path / "rnn.onnx")]) == 0
    printed = capsys.readouterr().out
    assert "gru_1" in printed and "GRU" in printed and "(batch, 16)" in printed
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["config"]["recurrent"] == ["gru:16"] and record["onnx_test_agreement"] == 1.0
    train, test = (np.load(tmp_path / f"{split}_data.npz") for split in ("train", "test"))
    assert train["X"].shape[1:] == test["X"].shape[1:] == (8, 8)  # (steps, features)
    ops = [node.op_type for node in onnx.load(tmp_path / "rnn.onnx").graph.node]
    assert ops[:5] == ["Sub", "Div", "Transpose", "GRU", "Squeeze"]  # raw rows in
    probabilities = run(tmp_path / "rnn.onnx", test["X"])
    assert np.mean(probabilities.argmax(1) == test["y"]) == pytest.approx(
        record["test_metrics"]["accuracy"]
    )


def test_train_a_recurrent_stack_on_npz_sequences(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 6, 2))
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    np.savez(tmp_path / "seq.npz", X=X, y=y)
    args = ["--dataset", str(tmp_path / "seq.npz"), "--recurrent", "lstm:4,rnn:3", "--hidden", "4"]
    assert main(["train", *args, "--epochs", "2", "-q", "-o", str(tmp_path / "m.onnx")]) == 0
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["config"]["recurrent"] == ["lstm:4", "rnn:3"]
    assert record["onnx_test_agreement"] == 1.0


@pytest.mark.parametrize(
    "args,message",
    [
        (["--recurrent", "lstm:8"], "needs sequences, but dataset 'digits' has samples of shape"),
        (["--recurrent", "lstm:8,tcn:4"], "recurrent layer 'tcn:4' is not KIND:UNITS"),
        (["--dataset", "digits-seq", "--recurrent", "gru:4", "--conv", "4"], "not both"),
    ],
)
def test_recurrent_misuse_is_one_sentence(args, message, tmp_path, capsys):
    out = tmp_path / "out" / "m.onnx"
    assert main(["train", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
    assert not out.exists()


def test_train_quiet_prints_the_test_metrics_only(tmp_path, capsys):
    quick = ["train", "--epochs", "2", "--hidden", "8"]
    assert main([*quick, "-o", str(tmp_path / "a.onnx")]) == 0
    loud = capsys.readouterr().out
    assert main([*quick, "-o", str(tmp_path / "b.onnx"), "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert "2/2" in loud and "dense_1" in loud and "history.json" in loud
    assert "accuracy" in quiet and "test set" in quiet
    assert "2/2" not in quiet and "dense_1" not in quiet and "history.json" not in quiet


def test_no_standardize_in_model_keeps_the_old_behaviour(tmp_path):
    """--no-standardize-in-model: standardized splits, no Sub/Div; ONNX equals predict."""
    out = tmp_path / "m.onnx"
    args = ["train", "--dataset", "iris", "--epochs", "5", "--hidden", "8", "-q"]
    assert main([*args, "--no-standardize-in-model", "-o", str(out)]) == 0
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["standardized_in_model"] is False and record["onnx_test_agreement"] == 1.0
    train = np.load(tmp_path / "train_data.npz")
    assert np.allclose(train["X"].mean(axis=0), 0, atol=1e-5)
    assert onnx.load(out).graph.node[0].op_type == "Gemm"


QUANT_DOMAIN = "qonnx.custom_op.general"


@pytest.mark.parametrize(
    "flags, weight_type",
    [
        (["--quantize", "6", "--no-standardize-in-model"], "fixed<6,"),
        (["--precision", "fixed<6,2>"], "fixed<6,2,RND_CONV,SAT>"),
    ],
)
def test_quantization_aware_training_writes_qonnx_compiled_with_its_own_types(
    flags, weight_type, tmp_path
):
    """The exported file is QONNX (Quant nodes, after the Sub/Div of the standardization when
    it is in the model); nnfx compiles it with the model's types, and its fixed-point
    reference agrees with the trainer on the test samples (history.json): on every one when
    the model starts at its first Quant (the trainer's forward, bit for bit), nearly every one
    when nnfx computes the standardization in its own fixed-point types first (see
    docs/training.md); `nnfx compile` takes the file with no options."""
    import nnfx

    out = tmp_path / "m.onnx"
    args = ["train", "--epochs", "6", "--hidden", "16", "-q", *flags, "-o", str(out)]
    assert main(args) == 0
    record = json.loads((tmp_path / "history.json").read_text())
    in_model = record["standardized_in_model"]
    assert record["onnx_test_agreement"] >= (0.97 if in_model else 1.0)
    assert record["test_metrics"]["accuracy"] >= 0.85
    graph = onnx.load(out).graph
    first = ["Sub", "Div", "Quant"] if in_model else ["Quant"]
    assert [n.op_type for n in graph.node[: len(first)]] == first
    quants = [n for n in graph.node if n.op_type == "Quant"]
    assert len(quants) == 7 and {n.domain for n in quants} == {QUANT_DOMAIN}
    compiled = nnfx.compile(out)
    dense = [n for n in compiled.graph.nodes if n.op.name == "DENSE"]
    assert all(str(n.precision.weight).startswith(weight_type) for n in dense)
    assert main(["compile", str(out), "-o", str(tmp_path / "build")]) == 0


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--quantize", "6", "--recurrent", "lstm:4", "--dataset", "sine-seq"],
            "relu MLPs and CNNs",
        ),
        (["--quantize", "6", "--precision", "fixed<6,2>"], "not both"),
        (["--precision", "fixed<6>"], "cannot read quantizer"),
        (["--quantize", "4", "--activation", "tanh"], "relu MLPs and CNNs"),
    ],
)
def test_quantization_flags_refused_in_one_sentence(flags, message, tmp_path, capsys):
    assert main(["train", "--epochs", "1", "-q", *flags, "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
