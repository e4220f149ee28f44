"""The console script's entry: catches Ctrl-C while the CLI's modules are still importing."""

from __future__ import annotations

import sys


def run() -> None:
    """Import the CLI and run it; an interrupt at any point exits 130 with one line."""
    try:
        from nnfx.cli import run as run_cli
    except KeyboardInterrupt:
        sys.stderr.write("nnfx: interrupted\n")
        sys.exit(130)
    run_cli()
