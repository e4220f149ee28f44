"""Graph passes: each one a pure function ``Graph -> Graph``, run in the order declared here."""

from __future__ import annotations

from collections.abc import Callable

from nnfx.compiler.ir import Graph, validate
from nnfx.compiler.passes.canonicalize import canonicalize
from nnfx.compiler.passes.cleanup import eliminate_dead_code, remove_identity
from nnfx.compiler.passes.fold_batchnorm import fold_batchnorm
from nnfx.compiler.passes.fold_transposes import fold_transposes
from nnfx.compiler.passes.fuse import fuse_activations

Pass = Callable[[Graph], Graph]

# The default pipeline, in order. canonicalize runs again after the folds, whose rewrites can
# leave shape chains to collapse.
PIPELINE: tuple[Pass, ...] = (
    remove_identity,
    canonicalize,
    fold_batchnorm,
    fold_transposes,
    canonicalize,
    eliminate_dead_code,
)


def run_passes(graph: Graph, passes: tuple[Pass, ...] = PIPELINE, check: bool = True) -> Graph:
    """Apply ``passes`` in order; with ``check``, validate the graph after each one."""
    for p in passes:
        graph = p(graph)
        if check:
            validate(graph)
    return graph


__all__ = [
    "PIPELINE",
    "Pass",
    "canonicalize",
    "eliminate_dead_code",
    "fold_batchnorm",
    "fold_transposes",
    "fuse_activations",
    "remove_identity",
    "run_passes",
]
