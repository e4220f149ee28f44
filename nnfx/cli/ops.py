"""`nnfx ops`: the ONNX ops the frontend reads, by group, with each one's limits."""

from __future__ import annotations

import click

from nnfx.cli.options import quiet_option


@click.command()
@quiet_option
def ops(quiet: bool) -> None:
    """List the ONNX ops nnfx reads, grouped, with each op's limits.

    An op outside this list fails loading with one sentence naming it. Ops of another domain
    than ONNX's own are written domain.OpType.
    """
    from nnfx.frontends.converters import OP_GROUPS
    from nnfx.frontends.onnx import MAX_OPSET, MIN_OPSET
    from nnfx.ui import console, table

    rows = []
    for group, entries in OP_GROUPS.items():
        for index, (op, limits) in enumerate(entries.items()):
            rows.append((group if index == 0 else "", op, limits))
    if not quiet:
        console.print(f"{len(rows)} ONNX ops, opsets {MIN_OPSET} to {MAX_OPSET}:")
    console.print(table(None, ["group", "op", "limits"], rows))
