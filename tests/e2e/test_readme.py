"""The README, executed: every console command and Python snippet runs as written (a few on
smaller settings, listed in SMALLER), in the README's order, in one fresh folder; every output
line the README shows must be what nnfx prints. So its examples cannot go stale.

The README annotates what is not a runnable example with HTML comments, invisible on GitHub:
``<!-- readme-test: skip -->`` before a block that is not run (the install commands), and
``<!-- readme-test: file PATH -->`` before a block that is an excerpt of the file PATH (each of
its lines must be in that file). In console blocks, ``$ `` starts a command (``\\`` continues
it); the lines up to the next command are an excerpt of its output: each line must appear in
the output, in order, after both are normalized (table borders and runs of spaces dropped;
durations and tiny floating-point differences, which vary from run to run, read as ``<t>`` and
``<e>``), and ``...`` stands for any lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

# Settings the test makes smaller, to keep the suite fast: (README text, what runs instead).
# Only blocks whose output the README does not show are changed.
SMALLER = [
    ("epochs=20, batch_size=32", "epochs=2, batch_size=32"),
]

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None, reason="the README's HLS part needs g++"
)


@dataclass
class Block:
    lang: str
    text: str
    line: int  # where it starts in README.md
    note: str  # the readme-test annotation before it, if any


def blocks(markdown: str) -> list[Block]:
    found, note = [], ""
    lines = markdown.splitlines()
    k = 0
    while k < len(lines):
        line = lines[k]
        mark = re.fullmatch(r"<!-- readme-test: (.+) -->", line.strip())
        if mark:
            note = mark.group(1).strip()
        elif line.startswith("```"):
            end = next(j for j in range(k + 1, len(lines)) if lines[j].startswith("```"))
            found.append(Block(line[3:].strip(), "\n".join(lines[k + 1 : end]), k + 1, note))
            note, k = "", end
        k += 1
    return found


def commands(text: str) -> list[tuple[str, list[str]]]:
    """A console block's commands, each with the output lines the README shows for it."""
    out: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        if not lines[k].startswith("$ "):
            k += 1
            continue
        command = lines[k][2:]
        while command.endswith("\\"):
            k += 1
            command = command[:-1] + " " + lines[k].strip()
        k += 1
        shown = []
        while k < len(lines) and not lines[k].startswith("$ "):
            shown.append(lines[k])
            k += 1
        out.append((command, shown))
    return out


BORDERS = re.compile(r"[│┃┏┓┗┛┡┩└┘┌┐├┤┬┴┼━─╇╈╋┳┻]")


def normalize(line: str) -> str:
    line = BORDERS.sub(" ", line)
    line = re.sub(r"\b\d+(\.\d+)?(s|ms|us)\b", "<t>", line)  # durations
    line = re.sub(r"\b\d\.\d+e-\d+\b", "<e>", line)  # differences at float precision
    return " ".join(line.split())


def assert_shows(shown: list[str], output: str, what: str) -> None:
    """Each shown line (but ``...``) is a line of ``output``, in order."""
    actual = [normalize(line) for line in output.splitlines()]
    at = 0
    for line in shown:
        want = normalize(line)
        if want in ("", "..."):
            continue
        hit = next((j for j in range(at, len(actual)) if actual[j] == want), None)
        assert hit is not None, (
            f"README.md shows for {what}:\n  {line.strip()}\nbut it printed:\n{output}"
        )
        at = hit + 1


def smaller(text: str) -> str:
    for readme, instead in SMALLER:
        text = text.replace(readme, instead)
    return text


def test_every_readme_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    namespace: dict = {"__name__": "readme"}
    ran = 0
    for block in blocks(README.read_text()):
        where = f"the block at README.md line {block.line}"
        if block.note == "skip":
            continue
        if block.note.startswith("file "):
            path = tmp_path / block.note[5:].strip()
            assert path.exists(), f"{where} quotes {path.name}, which no example wrote"
            assert_shows(block.text.splitlines(), path.read_text(), where)
            continue
        if block.lang == "python":
            code = compile(smaller(block.text), f"README.md:{block.line}", "exec")
            exec(code, namespace)  # one namespace: the snippets build on each other
            ran += 1
        elif block.lang == "console":
            cwd = tmp_path  # each block starts in the folder the examples share
            for command, shown in commands(block.text):
                if command.startswith("cd "):
                    cwd = cwd / command[3:].split("#")[0].strip()
                    continue
                done = subprocess.run(
                    ["bash", "-c", smaller(command)],
                    cwd=cwd,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                output = done.stdout + done.stderr
                assert done.returncode == 0, f"`{command}` ({where}) failed:\n{output}"
                assert_shows(shown, output, f"`{command}`")
                ran += 1
    assert ran >= 10  # the README's examples were found
