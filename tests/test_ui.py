"""Terminal output: model text is printed as text, never as markup or escape sequences."""

import io

import pytest
from rich.console import Console
from rich.text import Text

from nnfx.ui import plain, printable, table

HOSTILE = [
    "\x1b[2J",
    "[/]",
    "[bold red]x",
    "[link=file:///etc]y[/link]",
    "a\\[b]",
    "\u202ez",
    ":smile:",
]


def render(renderable) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, highlight=False, emoji=False, color_system=None)
    console.print(renderable)
    return buffer.getvalue()


@pytest.mark.parametrize("name", HOSTILE)
def test_plain_prints_the_name_as_it_is(name):
    shown = render(f"[bold]layer[/] {plain(name)}!")  # markup of ours around it still works
    assert shown == f"layer {printable(name)}!\n"


def test_a_trailing_backslash_does_not_escape_the_markup_after_it():
    assert render(f"[bold]{plain('a' + chr(92))}[/] b") == "a\\ b\n"


def test_plain_keeps_newlines_only_when_asked():
    assert render(plain("a\nb", newlines=True)) == "a\nb\n"
    assert render(plain("a\nb")) == "a\\nb\n"


def test_table_cells_and_title_are_text():
    rows = [[name, 1, 0.5] for name in HOSTILE] + [[Text("styled", style="bold"), 2, 1.0]]
    shown = render(table("[/] model \x1b[31m", ["[b]name[/b]", "n", "x"], rows))
    assert "[/] model \\x1b[31m" in shown and "[b]name[/b]" in shown
    for name in HOSTILE:
        assert printable(name) in shown
    assert "0.5000" in shown and "styled" in shown
    assert all(c.isprintable() or c == "\n" for c in shown)


def test_console_does_not_turn_names_into_emoji():
    from nnfx.ui import console

    buffer = io.StringIO()
    console.begin_capture()
    console.print(plain(":smile:"))
    buffer.write(console.end_capture())
    assert buffer.getvalue() == ":smile:\n"


def test_a_narrow_table_folds_long_names_and_keeps_them_distinct():
    prefix = "sequential/dense_1/MatMul/ReadVariableOp"  # 40 characters all four share
    names = [prefix + end for end in ("/resource", "/bias_add", ":0", "_1")]
    types = ["fixed<10,8,RND,SAT>", "fixed<10,2,RND,SAT>", "fixed<23,12> (exact)"]
    rows = [[name, "Dense", "(16,)", *types, ""] for name in names]
    columns = ["name", "op", "output", "type", "weight", "accum", "table"]
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, highlight=False, emoji=False, color_system=None)
    console.print(table("model in fixed point", columns, rows))
    shown = buffer.getvalue()
    assert max(len(line) for line in shown.splitlines()) <= 80
    cells: list[list[str]] = []  # per row, each line's cells
    for line in shown.splitlines():
        if line.startswith("│"):
            parts = [p.strip() for p in line.strip("│").split("│")]
            if parts[1]:  # the op column starts a row
                cells.append([])
            cells[-1].append(parts)
    # every column, each row's lines joined: the whole value, never cut short
    joined = [["".join(part[i] for part in row) for i in range(len(columns))] for row in cells]
    assert [row[0] for row in joined] == names
    for row in joined:
        assert [cell.replace(" ", "") for cell in row[3:6]] == [t.replace(" ", "") for t in types]
