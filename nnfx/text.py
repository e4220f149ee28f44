"""Text from a model file made safe for where nnfx writes it: terminals, Markdown, HTML, plots.

Names and strings in a model are anyone's: they may carry escape sequences, rich markup,
HTML, Markdown or mathtext. Every place that shows them goes through one of these.
"""

from __future__ import annotations

import html
import re

# every character Markdown (GFM) or inline HTML could read; "_" only where it can open or
# close emphasis, not between two letters or digits (dense_1 stays dense_1)
MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|$~]|(?<![^\W_])_|_(?![^\W_]))")
PLOT_LABEL_CHARS = 40


def printable(text: object, newlines: bool = False) -> str:
    """``text`` with every character that is not printable (control characters, escape
    sequences, bidirectional overrides, lone surrogates) written the way ``repr`` writes it,
    e.g. ``\\x1b``; with ``newlines``, line breaks stay."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or (newlines and c == "\n") else repr(c)[1:-1] for c in text
    )


def markdown(text: object) -> str:
    """``text`` as literal Markdown (one line, for a heading or a table cell): every
    character Markdown or inline HTML would read is backslash-escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\g<0>", printable(text))


def html_text(text: object) -> str:
    """``text`` as literal HTML content or attribute value."""
    return html.escape(printable(text), quote=True)


def plot_label(text: object, limit: int = PLOT_LABEL_CHARS) -> str:
    """``text`` as a literal matplotlib label: printable, ``$`` escaped so that it never starts
    mathtext, and shortened to ``limit`` characters so that a long name cannot blow up the
    figure."""
    text = printable(text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")
