"""`nnfx inspect`: read an ONNX model into the IR and print it."""

from __future__ import annotations

import click

from nnfx.cli.options import HiddenAliases, force_option, quiet_option


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    "--save-ir",
    "output",
    cls=HiddenAliases,
    type=click.Path(file_okay=False),
    default=None,
    help="Also write the optimized IR (model.json + weights.npz) to this directory.",
)
@force_option
@quiet_option
def inspect(model: str, output: str | None, force: bool, quiet: bool) -> None:
    """Read an ONNX MODEL into the IR and print it, one line per node.

    The IR is what the compiler works on: Gemm/MatMul+Add become Dense, BatchNorm is folded
    into the layer before it, Identity/Dropout disappear, images are channels-last.
    """
    import nnfx
    from nnfx.ui import console, plain

    loaded = nnfx.load(model)
    graph = loaded.graph
    console.print(
        f"[bold]{plain(model)}[/]: {len(graph.nodes)} nodes, inputs "
        + ", ".join(f"{plain(n)} {_model_shape(graph, n)}" for n in graph.inputs)
        + ", outputs "
        + ", ".join(f"{plain(n)} {_model_shape(graph, n)}" for n in graph.outputs)
    )
    console.print(plain(loaded.summary(), newlines=True), soft_wrap=True)
    if output:
        graph.save(output, force=force, inputs=[model])
        if not quiet:
            console.print(f"IR written to {plain(output)}/ (model.json, weights.npz)")


def _model_shape(graph, name: str) -> str:
    from nnfx.compiler.layout import model_shape

    t = graph.tensors[name]
    return "(" + ", ".join(map(str, model_shape(t.shape, t.onnx_perm, t.batch_axis, "batch"))) + ")"
