"""``sweep.json``: the sweep's inputs (hashes of the model, the data and the calibration, and
the settings that change results) and one row per finished point. Rewritten atomically after
every design, so that a killed sweep leaves every finished point behind, and a resume with the
same inputs skips them; a resume with other inputs is refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from nnfx.errors import ConfigError
from nnfx.sweep.grid import Point

FORMAT = "nnfx-sweep"
FILE = "sweep.json"


def array_hash(*arrays) -> str:
    """SHA-256 over arrays (or dicts of arrays by name): dtype, shape and bytes of each."""
    h = hashlib.sha256()
    for a in arrays:
        items = sorted(a.items()) if isinstance(a, dict) else [("", a)]
        for name, x in items:
            if x is None:
                h.update(b"none")
                continue
            x = np.ascontiguousarray(x)  # a copy only when it is not contiguous already
            h.update(f"{name}|{x.dtype.str}|{x.shape}|".encode())
            h.update(x.reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def model_hash(model_or_path) -> str:
    """SHA-256 of the ONNX file (or model) the sweep compiles."""
    import onnx

    if isinstance(model_or_path, str | Path):
        return hashlib.sha256(Path(model_or_path).read_bytes()).hexdigest()
    if isinstance(model_or_path, onnx.ModelProto):
        return hashlib.sha256(model_or_path.SerializeToString(deterministic=True)).hexdigest()
    graph = model_or_path.graph  # an nnfx.Model: its IR's constants and structure
    h = hashlib.sha256(
        repr([(n.name, n.op, n.inputs, n.outputs, n.attrs, n.params) for n in graph.nodes]).encode()
    )
    for name in sorted(graph.constants):
        h.update(name.encode())
        h.update(np.ascontiguousarray(graph.constants[name]).tobytes())
    return h.hexdigest()


def load(folder: Path, inputs: dict) -> tuple[list[dict], list[dict]]:
    """The rows and runs of an earlier sweep into ``folder`` (empty when there is none); one
    sentence when it was made from other inputs (``inputs``: the hashes and settings)."""
    path = folder / FILE
    if not path.is_file():
        return [], []
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"'{path}' cannot be read as a sweep record ({e})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ConfigError(f"'{path}' is not an nnfx sweep record")
    for key, what in (
        ("model_sha256", "another model"),
        ("data_sha256", "other evaluation data"),
        ("calibration_sha256", "other calibration data"),
        ("settings", "other settings"),
    ):
        if record.get(key) != inputs.get(key):
            detail = ""
            if key == "settings":
                old = record.get(key) or {}
                changed = [k for k in inputs[key] if old.get(k) != inputs[key][k]]
                detail = f" ({', '.join(changed)})" if changed else ""
            raise ConfigError(
                f"'{path}' holds a sweep of {what}{detail}; resume it with the same inputs or "
                "choose another output folder"
            )
    rows = [r for r in record.get("points", []) if isinstance(r, dict) and "key" in r]
    return rows, [r for r in record.get("runs", []) if isinstance(r, dict)]


def write(folder: Path, header: dict, rows: list[dict], runs: list[dict]) -> Path:
    """Write ``sweep.json`` atomically: the header, the runs so far, the rows in sweep order
    and the Pareto fronts."""
    from nnfx.files import atomic_file
    from nnfx.sweep.pareto import fronts

    ordered = sorted(rows, key=lambda r: Point.from_row(r).order())
    record = {
        "format": FORMAT,
        "version": 1,
        **header,
        "runs": runs,
        "pareto": fronts(ordered, header["task"]),
        "points": ordered,
    }
    path = folder / FILE
    with atomic_file(path) as f:
        f.write((json.dumps(record, indent=1, default=_plain) + "\n").encode())
    return path


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")
