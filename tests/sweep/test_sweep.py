"""nnfx.sweep in this process: rows, failures, resuming (after a kill too), refusals, the
Pareto fronts and the report page."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nnfx
from nnfx.errors import ConfigError
from nnfx.search import accuracy
from nnfx.sweep.grid import Point, grid, parse_widths
from nnfx.sweep.pareto import front
from tests.sweep.sweep_helpers import GRID


def test_points_failures_and_the_page(tiny_mlp, tmp_path):
    path, X, y = tiny_mlp
    result = nnfx.sweep(path, X, y, tmp_path / "s", workers=1, progress=False, **GRID)
    rows = {r["key"]: r for r in result.points}
    assert list(rows) == [p.key for p in grid(**GRID)] and result.ran == 8
    assert [k for k, r in rows.items() if r["status"] == "ok"] == [
        "uniform-w6-rf1-latency",
        "uniform-w6-rf4-latency",
        "auto-w6-rf1-latency",
        "auto-w6-rf4-latency",
    ]
    assert "an exact accumulator needs" in rows["uniform-w40-rf1-latency"]["error"]
    assert "width must be an integer from 2 to 32" in rows["auto-w40-rf4-latency"]["error"]
    # the emulation's accuracy is the fixed reference's, over all the data
    auto = nnfx.compile(path, "auto", calibration=X, width=6)
    assert rows["auto-w6-rf1-latency"]["accuracy"] == accuracy(auto.predict(X), y)
    uniform = nnfx.compile(path, rows["uniform-w6-rf1-latency"]["design"])
    assert rows["uniform-w6-rf4-latency"]["accuracy"] == accuracy(uniform.predict(X), y)
    assert rows["auto-w6-rf1-latency"]["engine"] == "ort:CPUExecutionProvider"
    # the reuse factor changes the estimate, not the design
    one, four = rows["auto-w6-rf1-latency"], rows["auto-w6-rf4-latency"]
    assert one["design"] == four["design"] and one["accuracy"] == four["accuracy"]
    estimate = nnfx.estimate(auto.graph, reuse_factor=4).total()
    assert (four["lut"], four["dsp"], four["latency_cycles"]) == (
        estimate["lut"],
        estimate["dsp"],
        estimate["latency_cycles"],
    )
    record = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert record["points"] == result.points and record["task"] == "classification"
    assert set(record["pareto"]["lut"]) <= {k for k, r in rows.items() if r["status"] == "ok"}
    page = (tmp_path / "s" / "report.html").read_text()
    assert "an exact accumulator needs" in page and "data:image/png;base64," in page
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched: one file
    assert (tmp_path / "s" / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_skips_finished_points_and_refuses_other_inputs(tiny_mlp, tmp_path):
    path, X, y = tiny_mlp
    out = tmp_path / "s"
    first = nnfx.sweep(
        path, X, y, out, workers=1, progress=False, widths=(6,), reuse_factors=(1, 2)
    )
    again = nnfx.sweep(
        path, X, y, out, workers=1, progress=False, widths=(6, 8), reuse_factors=(1, 2)
    )
    assert (first.ran, again.ran) == (4, 4) and len(again.points) == 8
    before = {r["key"]: r["finished"] for r in first.points}
    after = {r["key"]: r["finished"] for r in again.points}
    assert all(after[k] == v for k, v in before.items())  # not run again
    assert [run["points"] for run in again.record["runs"]] == [4, 4]
    # a sweep that lost points (as a kill between two designs leaves it) runs only those
    record = json.loads((out / "sweep.json").read_text())
    record["points"] = [r for r in record["points"] if r["width"] != 8]
    (out / "sweep.json").write_text(json.dumps(record))
    third = nnfx.sweep(
        path, X, y, out, workers=1, progress=False, widths=(6, 8), reuse_factors=(1, 2)
    )
    assert third.ran == 4 and [r["key"] for r in third.points] == [r["key"] for r in again.points]
    with pytest.raises(ConfigError, match="holds a sweep of other evaluation data"):
        nnfx.sweep(path, X[:-1], y[:-1], out, workers=1, progress=False, widths=(6,))
    other = nnfx.load(path)
    name = next(iter(other.graph.constants))
    other.graph.constants[name] = 2 * other.graph.constants[name]
    with pytest.raises(ConfigError, match=r"^'.*sweep.json' holds a sweep of another model;"):
        nnfx.sweep(other, X, y, out, workers=1, progress=False, widths=(6,))
    with pytest.raises(ConfigError, match=r"other settings \(part\)"):
        nnfx.sweep(path, X, y, out, workers=1, progress=False, widths=(6,), part="xc7z020clg400-1")


def test_a_killed_sweep_resumes(tiny_mlp, tmp_path):
    path, X, y = tiny_mlp
    big = np.tile(X, (150, 1))  # 60,000 samples: each design takes a while to emulate
    np.savez(tmp_path / "data.npz", X=big, y=np.tile(y, 150))
    out = tmp_path / "s"
    script = (
        "import numpy as np, nnfx\n"
        f"d = np.load({str(tmp_path / 'data.npz')!r})\n"
        f"nnfx.sweep({str(path)!r}, d['X'], d['y'], {str(out)!r}, widths=range(4, 13), "
        "policies=('uniform', 'auto'), workers=1, progress=False)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not (out / "sweep.json").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGTERM)
    assert child.wait(30) in (-signal.SIGTERM, 143)
    done = json.loads((out / "sweep.json").read_text())["points"]
    assert 0 < len(done) < 18
    with np.load(tmp_path / "data.npz") as d:
        result = nnfx.sweep(
            path,
            d["X"],
            d["y"],
            out,
            widths=range(4, 13),
            policies=("uniform", "auto"),
            workers=1,
            progress=False,
        )
    assert result.ran == 18 - len(done) and len(result.points) == 18
    assert not [p for p in os.listdir(out) if "nnfx-tmp" in p]


def test_regression_is_measured_by_mse(tiny_mlp, tmp_path):
    path, X, _ = tiny_mlp
    targets = np.random.default_rng(0).random((len(X), 3))
    result = nnfx.sweep(path, X, targets, tmp_path / "r", workers=1, progress=False, widths=(8,))
    compiled = nnfx.compile(path, "auto", calibration=X, width=8)
    row = result.points[1]
    assert row["policy"] == "auto" and result.record["task"] == "regression"
    assert row["mse"] == pytest.approx(np.mean((compiled.predict(X) - targets) ** 2), rel=1e-12)


def test_the_output_folder_is_guarded(tiny_mlp, tmp_path):
    path, X, y = tiny_mlp
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds files nnfx did not write"):
        nnfx.sweep(path, X, y, theirs, workers=1, progress=False, widths=(6,))
    assert sorted(os.listdir(theirs)) == ["notes.txt"]


def test_pareto_front_of_hand_made_rows():
    def row(key, acc, lut, status="ok"):
        return {"key": key, "accuracy": acc, "lut": lut, "status": status}

    rows = [
        row("a", 0.90, 100),
        row("b", 0.95, 200),
        row("c", 0.90, 150),  # dominated by a (same accuracy, more LUTs)
        row("d", 0.97, 200),  # dominates b
        row("e", 0.99, 500),
        row("f", 0.99, 500),  # equal to e: both kept
        row("g", 0.99, 50, "failed"),  # failures are never on the front
        row("h", 0.80, 90),
    ]
    assert front(rows, "lut", "classification") == ["a", "d", "e", "f", "h"]
    mse = [
        {"key": k, "mse": m, "lut": lut, "status": "ok"}
        for k, m, lut in [("x", 0.1, 100), ("y", 0.2, 50), ("z", 0.3, 60)]
    ]
    assert front(mse, "lut", "regression") == ["x", "y"]


def test_grid_and_widths():
    assert parse_widths("4:8") == [4, 5, 6, 7, 8]
    assert parse_widths("4:16:4,6") == [4, 8, 12, 16, 6]
    points = grid((8, 4), ("auto", "uniform"), (2, 1), ("resource", "latency"))
    assert points[0] == Point("uniform", 4, 1, "latency") and len(points) == 16
    assert points[0].key == "uniform-w4-rf1-latency"
    for bad, message in (
        (lambda: parse_widths("8:4"), "runs backwards"),
        (lambda: parse_widths("a"), "is not a width"),
        (lambda: grid((8,), ("best",)), "unknown sweep policy 'best'"),
        (lambda: grid((0,)), "from 1 to 62"),
        (lambda: grid((8,), reuse_factors=(0,)), "positive integers"),
    ):
        with pytest.raises(ConfigError, match=message):
            bad()
