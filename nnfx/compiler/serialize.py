"""A Graph on disk: ``model.json`` (structure and types, human-readable) and ``weights.npz``
(the constants). :meth:`Graph.save <nnfx.compiler.ir.Graph.save>` and
:meth:`Graph.load <nnfx.compiler.ir.Graph.load>` delegate here."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from nnfx.compiler.input_steps import InputStep
from nnfx.compiler.ir import (
    Graph,
    LayerPrecision,
    Node,
    Tensor,
    for_message,
    freeze,
    parse_dtype,
    validate,
)
from nnfx.compiler.ops import ATTRS, Op
from nnfx.errors import ModelError, NnfxError

FORMAT = "nnfx-ir"
FORMAT_VERSION = 1


def save(graph: Graph, folder: str | Path, *, force: bool = False, inputs: Iterable = ()) -> None:
    """Write ``model.json`` (structure, human-readable) and ``weights.npz`` (constants).

    The files are written to a temporary sibling directory first, then moved into place:
    a failure never leaves a half-written IR behind. ``folder`` is replaced only when nnfx
    wrote it or it is empty (``force``: also a folder of other files), and never when it
    holds one of ``inputs`` (see nnfx.files).
    """
    from nnfx.files import staged_directory

    with staged_directory(folder, "IR", force=force, inputs=inputs) as staging:
        write(graph, staging)


def write(graph: Graph, folder: Path) -> None:
    """Write the two files into ``folder`` (an existing directory), with no staging."""
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": graph.name,
        "inputs": list(graph.inputs),
        "outputs": list(graph.outputs),
        "tensors": [
            {
                "name": t.name,
                "shape": list(t.shape),
                "dtype": str(t.dtype),
                **({"onnx_perm": list(t.onnx_perm)} if t.onnx_perm is not None else {}),
                **({"steps": [step.to_json() for step in t.steps]} if t.steps else {}),
                **({"batch_axis": t.batch_axis} if t.batch_axis else {}),
            }
            for t in graph.tensors.values()
        ],
        "nodes": [
            {
                "name": n.name,
                "op": n.op.value,
                "inputs": list(n.inputs),
                "outputs": list(n.outputs),
                "attrs": _encode_attrs(n.attrs),
                "params": dict(n.params),
                **({"precision": n.precision.to_json()} if n.precision else {}),
            }
            for n in graph.nodes
        ],
    }
    (folder / "model.json").write_text(json.dumps(document, indent=1) + "\n")
    # the stubs type **kwds as if a constant could be named allow_pickle
    np.savez(folder / "weights.npz", **graph.constants)  # type: ignore[arg-type]


def load(folder: str | Path) -> Graph:
    """The graph in ``folder``, validated; a ModelError naming the file when it is not one."""
    folder = Path(folder)
    try:
        document = json.loads((folder / "model.json").read_text())
        with np.load(folder / "weights.npz", allow_pickle=False) as archive:
            constants = {k: archive[k] for k in archive.files}
    except (OSError, ValueError) as e:
        reason = for_message(e, 200)
        raise ModelError(
            f"'{for_message(folder, 200)}' does not hold a readable nnfx IR ({reason})"
        ) from None
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or document.get("version") != FORMAT_VERSION
    ):
        raise ModelError(
            f"'{for_message(folder / 'model.json', 200)}' is not an nnfx IR version "
            f"{FORMAT_VERSION}"
        )
    try:
        graph = _from_document(document, constants)
    except NnfxError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelError(
            f"'{for_message(folder / 'model.json', 200)}' is malformed "
            f"({type(e).__name__}: {for_message(e, 200)})"
        ) from None
    validate(graph)
    return graph


def _from_document(document: dict, constants: dict[str, np.ndarray]) -> Graph:
    tensors = {
        t["name"]: Tensor(
            t["name"],
            tuple(t["shape"]),
            parse_dtype(t["dtype"]),
            tuple(t["onnx_perm"]) if "onnx_perm" in t else None,
            tuple(InputStep.from_json(step) for step in t.get("steps", ())),
            int(t.get("batch_axis", 0)),
        )
        for t in document["tensors"]
    }
    nodes = []
    for n in document["nodes"]:
        op = Op(n["op"])
        nodes.append(
            Node(
                n["name"],
                op,
                tuple(n["inputs"]),
                tuple(n["outputs"]),
                _decode_attrs(ATTRS[op], n["attrs"]),
                dict(n["params"]),
                LayerPrecision.from_json(n["precision"]) if "precision" in n else None,
            )
        )
    return Graph(
        document["name"],
        tuple(document["inputs"]),
        tuple(document["outputs"]),
        tensors,
        tuple(nodes),
        freeze(constants),
    )


def _encode_value(value):
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, tuple):
        return [_encode_value(v) for v in value]
    return value


def _encode_attrs(attrs) -> dict:
    return {f.name: _encode_value(getattr(attrs, f.name)) for f in dataclasses.fields(attrs)}


def _decode_attrs(cls, data: dict):
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        v = data[f.name]
        if v in ("inf", "-inf"):
            v = math.inf if v == "inf" else -math.inf
        elif isinstance(v, list):
            v = tuple(v)
        values[f.name] = v
    return cls(**values)
