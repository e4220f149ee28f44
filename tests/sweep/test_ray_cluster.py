"""`nnfx sweep --address`: a Ray cluster started apart (`ray start --head`, as a user starts
one) is reached by its address from the CLI, and the sweep's rows equal the in-process ones.
The cluster is one node on this machine; its address is what a remote one's would be."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import nnfx
from tests.sweep.sweep_helpers import GRID, strip

# one xdist worker for every Ray test: two Ray instances at once would share the 2 cores
pytestmark = pytest.mark.xdist_group("ray")

# Ray 2.60's token authentication is for clusters across machines; this local one goes without
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    ray_cli = Path(sys.executable).with_name("ray")
    port = _free_port()
    # its own session folder (short: Ray's socket paths are limited), so that no other Ray
    # user on this machine finds this cluster as "the" local one after the test
    temp = tempfile.mkdtemp(prefix="nnfxray")
    head = subprocess.Popen(
        [
            str(ray_cli),
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the teardown stops all of it
        env=ENV,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the head listens once its GCS is up
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        os.killpg(head.pid, signal.SIGKILL)
        pytest.fail("ray start --head did not listen within 60 s")
    yield address
    os.killpg(head.pid, signal.SIGKILL)  # raylet, GCS and workers with it
    head.wait(30)
    shutil.rmtree(temp, ignore_errors=True)
    # `ray start` also points Ray's machine-wide file at the head: no stale pointer is left
    pointer = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    if pointer.is_file() and pointer.read_text().strip().endswith(f":{port}"):
        pointer.unlink()


def test_the_cli_sweeps_on_a_cluster_by_address(cluster, tiny_mlp, tmp_path):
    path, X, y = tiny_mlp
    np.savez(tmp_path / "eval.npz", X=X, y=y)
    here = nnfx.sweep(path, X, y, tmp_path / "here", workers=1, progress=False, **GRID)
    command = [
        sys.executable, "-c", "from nnfx.cli import main; raise SystemExit(main())", "sweep",
        str(path), "--data", str(tmp_path / "eval.npz"), "--widths", "6,40",
        "--policies", "uniform,auto", "--reuse-factor", "1,4", "--address", cluster,
        "-o", str(tmp_path / "there"), "-q",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    record = json.loads((tmp_path / "there" / "sweep.json").read_text())
    described = record["runs"][0]
    assert described["executor"] == "ray" and described["nodes"] == 1
    assert described["cluster_cpus"] == 2 and described["workers"] == 2
    assert strip(record["points"]) == strip(here.points) and len(here.points) == 8
