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
    figure — in the middle, keeping the head and the tail (where layer names differ:
    ``model/dense_1/MatMul`` and ``model/dense_2/MatMul``)."""
    text = printable(text)
    if len(text) > limit:
        tail = (limit - 1) // 2
        text = text[: limit - 1 - tail] + "…" + text[len(text) - tail :]
    return text.replace("$", r"\$")


def plot_labels(texts, limit: int = PLOT_LABEL_CHARS) -> list[str]:
    """:func:`plot_label` of each of ``texts``, distinct where the texts are: a label that
    shortening made equal to another's gets its position appended (``#2``)."""
    labels = [plot_label(t, limit) for t in texts]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [f"{label} #{k + 1}" if seen[label] > 1 else label for k, label in enumerate(labels)]
