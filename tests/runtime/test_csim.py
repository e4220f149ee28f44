"""The C-simulation runtime: big tensors off the Python thread's stack, a cache that survives
damage (truncated libraries, stale or corrupted build folders, a bad cache folder) and empty
batches."""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.errors import BuildError
from nnfx.runtime import csim
from nnfx.runtime.csim import LIBRARY, RECORD, CSimulation, cache_dir
from tests.helpers import make_model

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)


def raw_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def big_cnn():
    """Two 3x3 convolutions (4 and 8 channels) on 3x224x224 with 36-bit tensors: about 11 MB
    of tensors per sample, more than a default 8 MB thread stack."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "K1"], ["c1"], name="c1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
        helper.make_node("Conv", ["r1", "K2"], ["c2"], name="c2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="r2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="g"),
        helper.make_node("Flatten", ["g"], ["y"], name="flat"),
    ]
    inits = {
        "K1": (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32),
        "K2": (rng.standard_normal((8, 4, 3, 3)) * 0.3).astype(np.float32),
    }
    return make_model(nodes, [("x", ["N", 3, 224, 224])], [("y", ["N", 8])], inits)


def test_a_cnn_on_224x224_images_runs_bit_exact_in_both_csims():
    weights = {"weight": "fixed<8,2>"}
    precision = {"default": "fixed<36,12>", "layers": {"c1": weights, "c2": weights}}
    compiled = nnfx.compile(big_cnn(), precision)
    X = np.random.default_rng(1).standard_normal((1, 3, 224, 224))
    reference = compiled.predict_raw(X, "reference")
    for engine in ("csim", "csim-ap"):
        assert raw_equal(compiled.predict_raw(X, engine), reference), engine


@pytest.fixture(scope="module")
def small():
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], name="fc"),
        helper.make_node("Relu", ["h"], ["y"], name="act"),
    ]
    W = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    compiled = nnfx.compile(make_model(nodes, [("x", ["N", 4])], [("y", ["N", 3])], {"W": W}))
    X = np.random.default_rng(3).standard_normal((10, 4))
    return compiled, X, compiled.predict_raw(X)


def run(compiled, X, engine="csim"):
    compiled.__dict__.pop("_csim", None)  # forget the loaded simulation: build or load again
    return compiled.predict_raw(X, engine)


def entry(compiled):
    sim = compiled.csimulation("csim")
    return sim.library.parent


def damage(folder, how: str) -> None:
    library, record = folder / LIBRARY, folder / RECORD
    if how == "truncated":  # a build cut short (a full disk, a killed copy): half the bytes,
        # in a new file (this process still maps the old one; truncating it would break it)
        (folder / "half").write_bytes(library.read_bytes()[: library.stat().st_size // 2])
        (folder / "half").replace(library)
    elif how == "no library":
        library.unlink()
    elif how == "no record":
        record.unlink()
    elif how == "garbage record":
        record.write_text("{not json")
    else:  # a file where the build folder should be
        shutil.rmtree(folder)
        folder.write_text("not a folder")


def test_a_damaged_cache_entry_is_rebuilt_and_stale_builds_are_cleaned(
    small, tmp_path, monkeypatch
):
    monkeypatch.setenv("NNFX_CACHE_DIR", str(tmp_path))
    compiled, X, expected = small
    assert raw_equal(run(compiled, X), expected)
    folder = entry(compiled)
    record = json.loads((folder / RECORD).read_text())
    assert record["size"] == (folder / LIBRARY).stat().st_size and len(record["sha256"]) == 64
    for how in ("truncated", "no library", "no record", "garbage record", "a file"):
        damage(folder, how)
        assert csim.verified(folder) is None, how
        assert raw_equal(run(compiled, X), expected), how
        assert csim.verified(folder) is not None, how

    root = cache_dir()
    dead = root / ".build-999999999-abc"  # a pid that cannot exist
    alive = root / f".build-{os.getpid()}-def"  # a build of ours in progress
    old = root / ".build-xyz"  # killed long ago
    for stale in (dead, alive, old):
        (stale / "firmware").mkdir(parents=True)
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    damage(folder, "no library")
    assert raw_equal(run(compiled, X), expected)
    assert not dead.exists() and not old.exists() and alive.exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".build-") and p != alive]


def test_a_bad_cache_folder_is_one_sentence(small, tmp_path, monkeypatch):
    compiled, X, _ = small
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("NNFX_CACHE_DIR", str(tmp_path / "file"))
    with pytest.raises(BuildError, match="NNFX_CACHE_DIR") as e:
        run(compiled, X)
    assert "\n" not in str(e.value)
    if os.geteuid() != 0:  # root writes anywhere
        (tmp_path / "locked").mkdir(mode=0o500)
        monkeypatch.setenv("NNFX_CACHE_DIR", str(tmp_path / "locked"))
        with pytest.raises(BuildError, match="NNFX_CACHE_DIR"):
            run(compiled, X)


def test_an_empty_batch_gives_empty_outputs(small):
    compiled, X, _ = small
    sim = CSimulation(compiled.graph, "csim", progress=False)
    out = sim.run({"x": np.empty((0, 4))})
    assert out["y"].shape == (0, 3)
    raw = compiled.predict_raw(X[:0], "csim")
    assert raw["y"].shape == (0, 3) and raw["y"].dtype == np.int64


@pytest.mark.parametrize(
    "broken,culprit",
    [("firmware", "error: expected unqualified-id"), ("link", "cannot find -lnnfx_no_such")],
)
def test_a_failed_build_is_one_sentence_naming_g_plus_plus(
    small, tmp_path, monkeypatch, broken, culprit
):
    """The bridge and the firmware compile side by side, then link: a failure in either step
    is one BuildError naming the engine and g++'s first error line, and nothing is cached."""
    monkeypatch.setenv("NNFX_CACHE_DIR", str(tmp_path / "cache"))
    if broken == "firmware":
        original = CSimulation._compile

        def spoiled(self, staging, progress):
            self.files[f"firmware/{self.top}.cpp"] += "\nthis is not C++;\n"
            return original(self, staging, progress)

        monkeypatch.setattr(CSimulation, "_compile", spoiled)
    else:  # an undefined symbol only the link step sees
        monkeypatch.setattr(csim, "FLAGS", [*csim.FLAGS, "-Wl,--no-undefined", "-lnnfx_no_such"])
    with pytest.raises(BuildError) as e:
        CSimulation(small[0].graph, "csim", progress=False)
    message = str(e.value)
    assert message.startswith("g++ failed to build the csim C-simulation: ") and "\n" not in message
    assert culprit in message  # g++'s or ld's own line, not collect2's summary
    assert not [p for p in (tmp_path / "cache" / "csim").iterdir() if p.name != csim.LOCKS]
