"""The console script (nnfx/_entry.py): help and exit status, and SIGINT before click runs."""

import subprocess
import sys


def test_console_script_help_and_exit_status(tmp_path):
    nnfx = [sys.executable, "-m", "nnfx.cli"]
    done = subprocess.run([*nnfx, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "train" in done.stdout and "demo" in done.stdout
    done = subprocess.run([*nnfx, "train", "--help"], capture_output=True, text=True)
    assert "--optimizer" in done.stdout and "sgd|momentum|nesterov" in done.stdout
    done = subprocess.run([*nnfx, "train", "--dataset", "nope.npz"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("nnfx: error:")


CHILD_INTERRUPTED_AT_START = """
import os, signal, sys
import nnfx.cli

signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the parent ignores it


def interrupted(*args, **kwargs):  # SIGINT before click parses anything
    os.kill(os.getpid(), signal.SIGINT)
    raise AssertionError("not reached")


nnfx.cli.cli.main = interrupted
sys.argv = ["nnfx", "--help"]
nnfx.cli.run()
"""


def test_sigint_before_click_runs_is_quiet():
    done = subprocess.run(
        [sys.executable, "-c", CHILD_INTERRUPTED_AT_START], capture_output=True, text=True
    )
    assert done.returncode == 130 and done.stderr.strip() == "nnfx: interrupted", done.stderr
