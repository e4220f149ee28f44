"""Model names -> safe, unique C++ identifiers. Nothing from a model file reaches generated
C++ or a file path without passing through :func:`c_identifier`."""

from __future__ import annotations

import re

CPP_KEYWORDS = frozenset(
    """
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char16_t char32_t
class compl const constexpr const_cast continue decltype default delete do double dynamic_cast
else enum explicit export extern false float for friend goto if inline int long mutable
namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
reinterpret_cast return short signed sizeof static static_assert static_cast struct switch
template this thread_local throw true try typedef typeid typename union unsigned using virtual
void volatile wchar_t while xor xor_eq main std nnfx
""".split()
)


def c_identifier(name: str, taken: set[str]) -> str:
    """A valid C++ identifier from ``name``: letters, digits and underscores only, not starting
    with a digit or an underscore, not a keyword, unique among ``taken`` (which it joins)."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", str(name)).strip("_")
    text = re.sub(r"_+", "_", text) or "t"
    if text[0].isdigit():
        text = "t_" + text
    if text in CPP_KEYWORDS:
        text += "_"
    text = text[:48]
    candidate, k = text, 1
    while candidate in taken or candidate.lower() in {t.lower() for t in taken}:
        k += 1
        candidate = f"{text}_{k}"
    taken.add(candidate)
    return candidate
