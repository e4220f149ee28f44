"""Names from a hostile model reach the terminal, report.md, report.html and the plots as
text: no escape sequences, no rich markup, no HTML, no Markdown, no mathtext, no templating."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper
from rich.console import Console

import nnfx
from nnfx import ui
from nnfx.cli import main
from nnfx.text import printable
from tests.helpers import make_model

LONG = "L" * 300 + "\x1b[31m"
NAMES = [
    "\x1b[2J",
    "[/]",
    "[bold red]x",
    "<script>alert(1)</script>",
    "{body}",
    "$\\frac$",
    "a|b`c*_[x](y)",
    LONG,
]
INPUT = "in[/]\x1b[31m<i>"
MODEL_NAME = "<script>alert(1)</script>{body}{title}$\\frac$[/]\x1b[2J"


@pytest.fixture(autouse=True)
def uncolored(monkeypatch):
    """Under ``pytest -s`` in a terminal the console styles nnfx's own text with escape
    sequences; what is checked here is the model's text, so print without styles."""
    if ui.console.color_system is not None:
        console = Console(highlight=False, emoji=False, width=160, color_system=None)
        monkeypatch.setattr(ui, "console", console)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """An MLP whose node, tensor, input, output and graph names are all hostile, and data."""
    rng = np.random.default_rng(0)
    ops = ["Gemm", "Relu", "Gemm", "Sigmoid", "Gemm", "Relu", "Gemm", "Softmax"]
    sizes = {0: (4, 8), 2: (8, 8), 4: (8, 8), 6: (8, 3)}
    nodes, initializers, previous = [], {}, INPUT
    for i, op in enumerate(ops):
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else "_2")
        out = LONG + "out" if i == len(ops) - 1 else f"{name} out"
        inputs = [previous]
        if op == "Gemm":
            w, b = f"{name} w", f"{name} b"
            initializers[w] = rng.standard_normal(sizes[i]).astype(np.float32)
            initializers[b] = rng.standard_normal(sizes[i][1]).astype(np.float32)
            inputs += [w, b]
        attrs = {"axis": 1} if op == "Softmax" else {}
        nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        previous = out
    model = make_model(nodes, [(INPUT, ["N", 4])], [(previous, ["N", 3])], initializers)
    model.graph.name = MODEL_NAME
    folder = tmp_path_factory.mktemp("hostile")
    onnx.save(model, folder / "model.onnx")
    X = 3 * rng.standard_normal((60, 4)).astype(np.float32)
    y = rng.integers(0, 3, 60)
    np.savez(folder / "data.npz", X=X, y=y)
    return folder, X, y


def assert_printable(text: str) -> None:
    bad = sorted({c for c in text if not c.isprintable() and c != "\n"})
    assert not bad, f"control characters {bad} in the output"


def test_inspect_prints_names_as_text(hostile, capsys):
    folder, *_ = hostile
    assert main(["inspect", str(folder / "model.onnx")]) == 0
    captured = capsys.readouterr()
    assert_printable(captured.out + captured.err)
    for shown in ("\\x1b[2J", "[/]", "[bold red]x", "<script>alert(1)</script>", "$\\frac$"):
        assert shown in captured.out
    assert "in[/]\\x1b[31m<i>" in captured.out


def test_compile_prints_names_as_text(hostile, tmp_path, capsys):
    folder, *_ = hostile
    args = ["compile", str(folder / "model.onnx"), "-o", str(tmp_path / "build")]
    args += ["--calibration", str(folder / "data.npz"), "--precision", "fixed<8,3>"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert_printable(captured.out + captured.err)
    assert "[bold red]x" in captured.out and "{body}" in captured.out
    assert "input 'in[/]\\x1b[31m<i>'" in captured.out  # it overflows: the table names it
    assert "accuracy on the calibration data" in captured.out


def test_report_escapes_model_text(hostile, tmp_path, recwarn):
    folder, X, y = hostile
    result = nnfx.report(
        folder / "model.onnx",
        X,
        y,
        tmp_path / "report",
        precisions=(6, 8),
        engines=("reference", "ort"),
        progress=False,
    )
    out = result.folder
    for name in ("accuracy_vs_width.png", "layer_ranges.png", "layer_error.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "<script>" not in md and "<i>" not in md
    assert "\\<script\\>alert(1)\\</script\\>" in md and "\\$\\\\frac\\$" in md
    assert "| a\\|b\\`c\\*\\_\\[x\\](y) |" in md  # one cell, not a broken row
    assert_printable(md)
    page = (out / "report.html").read_text()
    assert page.count("<body>") == 1 and page.count("<h1>") == 1
    assert "<script>" not in page  # no script: nothing from the model, nothing of nnfx's
    assert page.count("data:image/png;base64,") == 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "{title}" in page
    assert_printable(page)
    data = json.loads((out / "report.json").read_text())
    assert data["model"] == MODEL_NAME
    # node names are kept printable in the IR (nnfx.compiler.ir.printable_name)
    expected = [f"input '{INPUT}'", printable(NAMES[0])]
    assert [layer["layer"] for layer in data["layers"]][:2] == expected
    messages = [str(w.message) for w in recwarn]
    assert all(m.isprintable() for m in messages), messages
