"""The C++ names of a generated project: model names can never collide with nnfx's own.

Each model name (tensor or node) is sanitized to a *stem*: ASCII letters and digits joined by
single underscores, at most :data:`STEM_CHARS` long, unique among the tensors (or among the
nodes) even ignoring case. Every identifier nnfx derives from a model is then
``ROLE + "_" + stem`` with ``ROLE`` one of the words of :data:`ROLES`. A role word has no
underscore, so the text before the first underscore *is* the role: two generated names are equal
only when role and stem are, and a generated name never equals one of nnfx's fixed names
(:data:`OWN_NAMES`, none of which starts with a role prefix), a keyword, or a macro or library
name (no standard or ap/ac_fixed header declares a name that starts with a role prefix — tested
by preprocessing them). Weight headers are named after their array, so file names are ours too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

STEM_CHARS = 48

# role word -> what an identifier with that prefix names. Tensor roles take a tensor's stem,
# the others a node's stem.
ROLES: dict[str, str] = {
    "tensor": "a tensor's array (top-function argument or local, bridge and testbench buffer)",
    "dtype": "a tensor's number type",
    "config": "a layer's configuration struct",
    "weights": "a layer's weight array",
    "biases": "a layer's bias array (Dense, Conv, BatchNorm, LayerNorm)",
    "scales": "a BatchNorm's or LayerNorm's scale array",
    "reciprocals": "a pooling layer's reciprocal array",
    "params": "an activation's parameter array",
    "lut": "an activation's lookup table",
    "explut": "a softmax's exp table",
    "invlut": "a softmax's 1/sum (or log-sum) table",
    "perm": "a transpose's index array",
    "labels": "an argmax's class labels",
    "wtype": "the weight type of a layer",
    "btype": "the bias type of a layer",
    "stype": "the scale type of a BatchNorm or LayerNorm",
    "rtype": "the reciprocal type of a pooling layer",
    "ptype": "the parameter type of an activation",
    "acctype": "the accumulator type of a Dense or Conv",
    "total": "the sum type of a pooling layer, a softmax or a LayerNorm",
    "widetype": "the intermediate type of a hard_sigmoid",
    "difftype": "the difference type of a softmax",
    "alphatype": "the slope type of a fused leaky_relu",
    "etype": "the exp table type of a softmax",
    "itype": "the inverse table type of a softmax",
    "lutscale": "the table index scale of an activation or a LayerNorm",
    "expscale": "the exp table index scale of a softmax",
    "invscale": "the inverse table index scale of a softmax",
    "normlut": "a LayerNorm's inverse square-root table",
    "normsteps": "a LayerNorm's thresholds of the normalizing shift",
    "devtype": "the deviation type (n x - sum) of a LayerNorm",
    "vartype": "the sum-of-squares type of a LayerNorm",
    "halftype": "the type of a LayerNorm's power of two 2^-(s/2)",
    "rsqrttype": "the table type of a LayerNorm",
    "normtype": "the normalized value type of a LayerNorm",
    "codescale": "the scale 2^F from a LayerNorm's deviations to their codes",
    "recweights": "a recurrent layer's recurrent weight array",
    "recbiases": "a GRU's recurrent bias array of its candidate gate",
    "tanhlut": "a recurrent layer's tanh table",
    "tanhscale": "the tanh table index scale of a recurrent layer",
    "sigtype": "the sigmoid table type of a recurrent layer",
    "tanhtype": "the tanh table type of a recurrent layer",
    "celltype": "the cell state type of a recurrent layer",
    "qtype": "the recurrent sum type of a GRU's candidate gate",
    "candtype": "the candidate gate's sum type of a GRU",
    "thresh": "a MultiThreshold's threshold array (codes on its input's grid)",
    "levels": "a MultiThreshold's result for each count of thresholds reached",
    "threshtype": "the threshold type of a MultiThreshold",
    "signs": "a binary layer's weight sign bits, 16 per word (templates/nnfx_binary.h)",
    "units": "a binary layer's product magnitude per output",
    "unittype": "the product magnitude type of a binary layer",
    "bitstype": "the bit vector type of a binary layer's signs",
    "values": "the double values of a constant array (C-simulation only)",
    "ready": "the flag that converts a constant array at load time (C-simulation only)",
}
TENSOR_ROLES = ("tensor", "dtype")
PREFIXES = tuple(f"{word}_" for word in ROLES)

# Every fixed identifier nnfx writes at file scope, in the top function, the testbench or the
# C-simulation bridge (macros, include guards, helpers, locals). None starts with a role prefix,
# and neither does any name in the kernels (members such as weight_t, locals): tested.
OWN_NAMES = frozenset(
    """
nnfx nnfx_index_t NNFX_CONSTANT NNFX_FAST_CONSTANTS NNFX_AC_TYPES NNFX_KERNELS_H_
NNFX_TOP_H_ NNFX_DEFINES_H_ NNFX_PARAMETERS_H_ fill
nnfx_read_values nnfx_as_double nnfx_write_values main inputs predictions results count
mismatches input_line expected_line in expected out
nnfx_work nnfx_run_range nnfx_run nnfx_tensor_bytes nnfx_threads work first last attributes
stack ids created status sample k i n threads step begin end arg
""".split()
)

CPP_KEYWORDS = frozenset(
    """
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
extern false final float for friend goto if import inline int long module mutable namespace new
noexcept not not_eq nullptr operator or or_eq override private protected public register
reinterpret_cast requires return short signed sizeof static static_assert static_cast struct
switch template this thread_local throw true try typedef typeid typename union unsigned using
virtual void volatile wchar_t while xor xor_eq
""".split()
)

# Names a user-chosen top function must not take: keywords, nnfx's own, and the standard
# library's common functions, types and macros (the top lives at file scope beside them).
RESERVED = (
    CPP_KEYWORDS
    | OWN_NAMES
    | frozenset(
        """
std size_t ptrdiff_t NULL EOF errno INFINITY NAN HUGE_VAL assert stdin stdout stderr
int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intptr_t uintptr_t
abs exp log pow sqrt floor ceil round sin cos tan min max printf puts exit abort malloc free
memcpy memset strlen time clock signal raise index size read write open close ap_fixed
ap_ufixed ap_int ap_uint ac_fixed ac_int
""".split()
    )
)


def stem(name: str) -> str:
    """A model name as ASCII letters and digits joined by single underscores (never empty)."""
    words = re.findall(r"[A-Za-z0-9]+", str(name))
    return "_".join(words)[:STEM_CHARS].strip("_") or "x"


def unique_stems(names: Iterable[str]) -> dict[str, str]:
    """Each name's stem, made unique (ignoring case) by a numeric suffix, in order."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        if name in out:
            continue
        base = stem(name)
        candidate, k = base, 1
        while candidate.lower() in taken:
            k += 1
            candidate = f"{base}_{k}"
        taken.add(candidate.lower())
        out[name] = candidate
    return out


def generated(role: str, stem_: str) -> str:
    """The identifier of ``role`` for a sanitized stem."""
    assert role in ROLES, role
    return f"{role}_{stem_}"


def top_problem(top: object) -> str | None:
    """Why ``top`` cannot name the top function, or None when it can."""
    if not isinstance(top, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", top):
        return "must be a letter followed by at most 62 letters, digits or underscores"
    if "__" in top or top.endswith("_"):
        return "must not contain '__' or end with '_' (reserved in C++)"
    if top in RESERVED:
        return "is a C++ keyword, a standard-library name or one of nnfx's own names"
    if top.startswith(PREFIXES):
        return f"must not start with one of nnfx's generated prefixes ({', '.join(PREFIXES)})"
    return None


class Names:
    """The identifiers of one graph's project: tensors and nodes keyed by their IR names."""

    def __init__(self, tensors: Iterable[str], nodes: Iterable[str]):
        self.tensor_stems = unique_stems(tensors)
        self.node_stems = unique_stems(nodes)

    def tensor(self, name: str) -> str:
        return generated("tensor", self.tensor_stems[name])

    def tensor_type(self, name: str) -> str:
        return generated("dtype", self.tensor_stems[name])

    def node(self, role: str, name: str) -> str:
        assert role not in TENSOR_ROLES, role
        return generated(role, self.node_stems[name])
