"""Terminal output shared by the library and the CLI: one console, progress bars, tables.

Text from a model (names, paths, messages that quote them) is printed through :func:`plain`
(or a :func:`table` cell, which applies it): printable, and never read as rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from nnfx.text import printable

# emoji=False: a ":name:" in a model's names stays text
console = Console(highlight=False, emoji=False)
if not console.is_terminal:  # logs and pipes: wide enough that tables never fold
    console = Console(highlight=False, emoji=False, width=160)


def plain(text: object, newlines: bool = False) -> str:
    """``text`` for rich: control characters written as ``repr`` writes them (see
    :func:`nnfx.text.printable`; ``newlines`` keeps line breaks) and ``[...]`` escaped so
    that it is never read as markup (a trailing backslash is doubled, so that markup right
    after it still works). For f-strings passed to ``console.print``."""
    return escape(printable(text, newlines))


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
    """A rich table: numeric columns right-aligned, text left-aligned, floats to 4 decimals.
    The title and every cell are text, never markup (a :class:`rich.text.Text` cell is kept).
    A cell too wide for a narrow console folds onto more lines, never cut short: two layer
    names that differ only at their end still read differently."""
    rows = [list(r) for r in rows]
    t = Table(title=None if title is None else plain(title), title_justify="left")
    for i, name in enumerate(columns):
        numeric = bool(rows) and all(_numeric(r[i]) for r in rows)
        t.add_column(plain(name), justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        t.add_row(*(_cell(v) for v in row))
    return t


def _cell(value: object) -> str | Text:
    if isinstance(value, Text):
        return value
    return plain(f"{value:.4f}" if isinstance(value, float) else value)


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
