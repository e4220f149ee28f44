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

console = Console(highlight=False)
if not console.is_terminal:  # logs and pipes: wide enough that tables never fold
    console = Console(highlight=False, width=160)


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
    """A rich table: numeric columns right-aligned, text left-aligned, floats to 4 decimals."""
    rows = [list(r) for r in rows]
    t = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        numeric = bool(rows) and all(_numeric(r[i]) for r in rows)
        t.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        t.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))
    return t


def _numeric(value: object) -> bool:
    """A number, or a number as text ("1,234", "98.15", "-" for none)."""
    if isinstance(value, int | float):
        return True
    text = str(value).replace(",", "").replace("%", "").strip()
    if text in ("-", ""):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True
