"""Model text made safe for terminals, Markdown, HTML and plots (nnfx/text.py)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from nnfx.text import html_text, markdown, plot_label, plot_labels, printable  # noqa: E402

HOSTILE = [
    "\x1b[2J",
    "\x1b[31mred",
    "[/]",
    "[bold red]x",
    "<script>alert(1)</script>",
    "{body}",
    "$\\frac$",
    "a|b`c*d_e~f$g",
    "line\nbreak\r\ttab",
    "\u202eevil\u2066",
    "\udc80lone surrogate",
    "\x00\x7f\x9b",
    "L" * 5000,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_printable_leaves_no_control_character(text):
    shown = printable(text)
    assert shown.isprintable()
    shown.encode("utf-8")  # no lone surrogate left to fail on write


def test_printable_writes_characters_as_repr_does_and_keeps_text():
    assert printable("\x1b[31mred") == "\\x1b[31mred"
    assert printable("a\nb\tc") == "a\\nb\\tc"
    assert printable("a\nb\tc", newlines=True) == "a\nb\\tc"
    assert printable("\u202e") == "\\u202e"
    assert printable("dense_1 é 层") == "dense_1 é 层"
    assert printable(42) == "42"


def test_markdown_escapes_what_markdown_and_html_would_read():
    assert markdown("<script>alert(1)</script>") == "\\<script\\>alert(1)\\</script\\>"
    assert markdown("a|b") == "a\\|b"
    assert markdown("`x` *y* _z_ [l](u) $m$ ~s~ \\") == (
        "\\`x\\` \\*y\\* \\_z\\_ \\[l\\](u) \\$m\\$ \\~s\\~ \\\\"
    )
    assert markdown("a\nb") == "a\\\\nb"  # shows as a\nb
    assert markdown("dense_1 conv_2d_3") == "dense_1 conv_2d_3"  # between letters: inert
    assert markdown("__init__ a_ _b") == "\\_\\_init\\_\\_ a\\_ \\_b"


def test_html_text_escapes_markup_and_quotes():
    assert html_text("<script>'x'\"y\"&</script>") == (
        "&lt;script&gt;&#x27;x&#x27;&quot;y&quot;&amp;&lt;/script&gt;"
    )
    assert html_text("\x1b[2J") == "\\x1b[2J"


@pytest.mark.parametrize("text", HOSTILE)
def test_plot_label_renders_literally(text):
    label = plot_label(text)
    assert len(label) <= 41 and label.isprintable()
    fig, ax = plt.subplots()
    ax.set_yticks([0], [label])
    ax.set_title(label)
    fig.canvas.draw()  # mathtext would raise on "$\frac$"
    plt.close(fig)


def test_plot_label_escapes_dollars_and_shortens():
    assert plot_label("$\\frac$") == "\\$\\frac\\$"
    assert plot_label("x" * 60 + "y" * 40) == "x" * 20 + "…" + "y" * 19
    assert plot_label("dense_1") == "dense_1"


def test_plot_labels_keep_distinct_names_distinct():
    keras = [f"sequential_{'a' * 40}/dense_{k}/MatMul" for k in range(4)]
    labels = plot_labels(keras)
    assert len(set(labels)) == 4 and all(len(label) <= 40 for label in labels)
    assert [label[-8:] for label in labels] == [f"{k}/MatMul" for k in range(4)]
    same_ends = ["p" * 50 + "q" * 20 + "r" * 30, "p" * 50 + "s" * 20 + "r" * 30]
    assert plot_labels(same_ends) == [
        plot_label(same_ends[0]) + " #1",
        plot_label(same_ends[1]) + " #2",
    ]
