"""Terminal output shared by the library and the CLI: one console, progress bars, tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console(stderr=False, highlight=False)
if not console.is_terminal:  # logs and pipes: wide enough that tables never fold
    console = Console(stderr=False, highlight=False, width=160)


def progress_bar(transient: bool = False) -> Progress:
    """A progress bar with a description, the bar, done/total, elapsed and remaining time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=transient,
    )


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A rich table; floats are shown with 4 decimals, right-aligned."""
    t = Table(title=title, title_justify="left")
    for name in columns:
        t.add_column(
            name, justify="left" if name in ("layer", "name", "type", "metric") else "right"
        )
    for row in rows:
        t.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))
    return t
