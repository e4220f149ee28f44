"""`nnfx simulate`: run a compiled model on data with several engines and compare them."""

from __future__ import annotations

import click
import numpy as np

from nnfx.cli.options import load_npz
from nnfx.cli.output import print_overflows


@click.command()
@click.argument("build", type=click.Path(file_okay=False))
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False),
    help=".npz with array X (and optional labels y), in the model's input layout.",
)
@click.option(
    "--engines", default="reference", show_default=True, help="Comma-separated engines to run."
)
@click.option(
    "--save",
    "save_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write each engine's outputs to this .npz.",
)
def simulate(build, input_path, engines, save_path) -> None:
    """Run a compiled model (from `nnfx compile`) on data and compare the engines.

    Prints, per engine: accuracy (when y is given), agreement with the fixed reference
    (bit-exact or not, mismatching elements), time and samples/s; and the float model's
    accuracy for comparison. Exits with status 1 when engines disagree.
    """
    import time

    import nnfx
    from nnfx.compiled import ENGINES
    from nnfx.errors import ConfigError
    from nnfx.search import accuracy
    from nnfx.ui import console, table

    names = [e.strip() for e in engines.split(",") if e.strip()]
    unknown = [e for e in names if e not in ENGINES]
    if unknown:
        raise ConfigError(
            f"unknown engine(s) {', '.join(unknown)}; available: {', '.join(ENGINES)}"
        )
    compiled = nnfx.load_compiled(build)
    X, y = load_npz(input_path, "input")
    rows, outputs, reference = [], {}, None
    start = time.perf_counter()
    float_out = compiled.float_model.predict(X)
    float_seconds = time.perf_counter() - start
    rows.append(
        [
            "float",
            f"{100 * accuracy(float_out, y):.2f}" if y is not None else "-",
            "-",
            "-",
            f"{float_seconds:.3f}",
            f"{len(X) / float_seconds:,.0f}",
        ]
    )
    disagree = False
    for engine in names:
        compiled.predict_raw(X[:1], engine)  # warm up: build sessions outside the timing
        start = time.perf_counter()
        raw = compiled.predict_raw(X, engine)
        seconds = time.perf_counter() - start
        if reference is None:
            reference = raw
        mismatches = sum(int(np.count_nonzero(raw[k] != reference[k])) for k in raw)
        disagree |= mismatches > 0
        values = compiled.predict(X, engine) if y is not None or save_path else None
        outputs[engine] = values
        rows.append(
            [
                engine,
                f"{100 * accuracy(values, y):.2f}" if y is not None else "-",
                "yes" if mismatches == 0 else "no",
                str(mismatches),
                f"{seconds:.3f}",
                f"{len(X) / seconds:,.0f}",
            ]
        )
    console.print(
        table(
            f"{len(X)} samples",
            ["engine", "accuracy %", "bit-exact", "mismatches", "seconds", "samples/s"],
            rows,
        )
    )
    print_overflows(compiled, X, "the input data")
    if save_path:
        flat = {}
        for engine, values in outputs.items():
            items = values.items() if isinstance(values, dict) else [("output", values)]
            flat.update({f"{engine}.{k}": v for k, v in items})
        np.savez(save_path, **flat)
    if disagree:
        raise SystemExit(1)
