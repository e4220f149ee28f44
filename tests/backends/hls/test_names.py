"""Generated C++ names cannot collide: every name nnfx takes from a model is a role prefix plus
a sanitized, unique stem (nnfx/backends/hls/names.py). Projects whose tensors and nodes carry
nnfx's own generated names, keywords, macros and library names build with -Werror and run
bit-exact against the reference in both C-simulations."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper

import nnfx
from nnfx.backends.hls import names
from nnfx.backends.hls.writer import HlsWriter
from nnfx.runtime.csim import type_headers
from tests.helpers import make_model, raw_equal, run_strict_testbench

needs_gxx = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)
ENGINES = ["csim", "csim-ap"]


# -- the construction ------------------------------------------------------------------------
def test_role_prefixes_are_prefix_free_and_no_own_name_starts_with_one():
    prefixes = names.PREFIXES
    assert len(set(prefixes)) == len(prefixes)
    for a in prefixes:
        assert re.fullmatch(r"[a-z]+_", a)
        assert not any(b != a and b.startswith(a) for b in prefixes), a
    own = {*names.OWN_NAMES, "nnfx_top"}
    assert not [n for n in own if n.startswith(prefixes)]
    assert names.top_problem("nnfx_top") is None


def generated_name_problems(graph) -> list[str]:
    """Identifiers in a rendered project (and its C-simulation bridge) that start with a role
    prefix but are not role + a stem of this graph: nnfx's own names taking a model's space."""
    from nnfx.runtime.csim import bridge_source

    writer = HlsWriter(graph)
    files = writer.files()
    files["bridge.cpp"] = bridge_source(graph, writer)
    stems = {*writer.names.tensor_stems.values(), *writer.names.node_stems.values()}
    words = set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*", "\n".join(files.values())))
    pasted = {"values_", "ready_"}  # NNFX_CONSTANT's token pasting: values_##name
    return sorted(
        w
        for w in words - pasted
        if w.startswith(names.PREFIXES) and w.split("_", 1)[1] not in stems
    )


def test_no_fixed_name_of_the_kernels_templates_or_bridge_takes_a_model_name():
    """Every op's project, rendered: kernel members (weight_t...), locals, helpers, macros and
    guards never start with a role prefix; only role + stem does."""
    from tests.op_models import MODEL_NAMES, random_compile

    for name in MODEL_NAMES:
        compiled, _ = random_compile(np.random.default_rng(9), name)
        assert not generated_name_problems(compiled.graph), name
    assert not generated_name_problems(nnfx.compile(hostile_model(), "fixed<14,5>").graph)


def test_stems_are_unique_ignoring_case_and_made_of_single_underscores():
    hostile = ["a b", "a-b", "A_B", "a__b", "_a_b_", "", "ü", "ß", "1x", "x" * 200, "x" * 201]
    stems = names.unique_stems(hostile)
    assert len({s.lower() for s in stems.values()}) == len(hostile)
    for s in stems.values():
        assert re.fullmatch(r"[A-Za-z0-9]+(_[A-Za-z0-9]+)*", s) and len(s) <= 60


HEADERS = """
#include <pthread.h>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "{header}"
"""


@needs_gxx
@pytest.mark.parametrize("number", ["ap", "ac"])
def test_no_header_the_project_includes_has_a_name_with_a_role_prefix(number, tmp_path):
    """What makes the prefixes safe: no macro, and no identifier at all, in the standard
    headers and the ap/ac_fixed headers starts with a role prefix."""
    source = tmp_path / "headers.cpp"
    source.write_text(HEADERS.format(header=f"{number}_fixed.h"))
    flags = ["g++", "-std=c++14", "-pthread", f"-isystem{type_headers(number)}", "-E"]
    code = subprocess.run([*flags, "-P", str(source)], capture_output=True, text=True, check=True)
    macros = subprocess.run([*flags, "-dM", str(source)], capture_output=True, text=True)
    words = set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*", code.stdout + macros.stdout))
    assert not sorted(w for w in words if w.startswith(names.PREFIXES))
    assert not sorted(w for w in words if w.lower().startswith("nnfx"))  # ours alone


# -- hostile names, built and run ------------------------------------------------------------
def hostile_model():
    """Tensors and nodes named like nnfx's generated names (old and new scheme), keywords,
    macros and library names; inputs `in`, `s`; outputs `count`, `results`, `out`."""
    rng = np.random.default_rng(7)

    def w(*shape):
        return (rng.standard_normal(shape) * 0.5).astype(np.float32)

    nodes = [
        helper.make_node("Gemm", ["in", "W1"], ["weight_fc2"], name="fc2"),
        helper.make_node("Relu", ["weight_fc2"], ["bias_fc2"], name="size"),
        helper.make_node("Gemm", ["bias_fc2", "W2", "B2"], ["accum_fc2"], name="EOF"),
        helper.make_node("Sigmoid", ["accum_fc2"], ["config_fc2"], name="NULL"),
        helper.make_node("Add", ["config_fc2", "s"], ["nnfx_index"], name="errno"),
        helper.make_node("Softmax", ["nnfx_index"], ["scale_sm_exp"], name="sm"),
        helper.make_node("Tanh", ["scale_sm_exp"], ["h"], name="sm_exp"),
        helper.make_node("Relu", ["h"], ["h_t"], name="INFINITY"),
        helper.make_node("Concat", ["h", "h_t"], ["cat_0"], name="cat", axis=1),
        helper.make_node("Gemm", ["cat_0", "W3"], ["count"], name="cat_0"),
        helper.make_node("Sigmoid", ["cat_0"], ["tensor_in"], name="int8"),
        helper.make_node("Mul", ["tensor_in", "cat_0"], ["results"], name="values_weight_fc2"),
        helper.make_node("Tanh", ["in"], ["dtype_out"], name="dtype_in"),
        helper.make_node("Relu", ["dtype_out"], ["out"], name="main"),
        helper.make_node("Sigmoid", ["s"], ["NULL"], name="config_sm"),
        helper.make_node("Relu", ["NULL"], ["ü ß-☃"], name="std"),
        helper.make_node("Tanh", ["ü ß-☃"], ["errno"], name="nnfx"),
        helper.make_node("Relu", ["errno"], ["U_SS"], name="u-ss"),
        helper.make_node("Sigmoid", ["U_SS"], ["u ss"], name="EOF_2"),
    ]
    return make_model(
        nodes,
        [("in", ["N", 4]), ("s", ["N", 6])],
        [("count", ["N", 3]), ("results", ["N", 12]), ("out", ["N", 4]), ("u ss", ["N", 6])],
        {"W1": w(4, 6), "W2": w(6, 6), "B2": w(6), "W3": w(12, 3)},
    )


@pytest.fixture(scope="module")
def hostile():
    precision = {"default": "fixed<14,5,RND,SAT>", "table_size": 64}  # small: fast builds
    compiled = nnfx.compile(hostile_model(), precision)
    rng = np.random.default_rng(3)
    X = {"in": rng.standard_normal((40, 4)) * 2, "s": rng.standard_normal((40, 6)) * 2}
    return compiled, X


@needs_gxx
@pytest.mark.parametrize("engine", ENGINES)
def test_colliding_and_reserved_names_run_bit_exact(hostile, engine):
    compiled, X = hostile
    assert raw_equal(compiled.predict_raw(X, engine), compiled.predict_raw(X, "reference"))


@needs_gxx
def test_hostile_project_testbench_builds_with_werror_and_agrees(hostile, tmp_path):
    compiled, X = hostile
    g = compiled.graph
    folder = compiled.write_hls(tmp_path / "prj", testbench_data=X)  # 2 inputs, 4 outputs
    raw_in, raw_out = compiled.quantize_inputs(X), compiled.predict_raw(X)

    def lines(raw, tensors):
        rows = [
            np.concatenate(
                [
                    raw[n].reshape(len(raw[n]), -1)[k] * 2.0 ** -g.tensors[n].dtype.frac
                    for n in tensors
                ]
            )
            for k in range(len(X["in"]))
        ]
        return "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in rows)

    data = folder / "tb" / "tb_data"  # the vectors write_hls wrote, spelled out by hand
    assert (data / "tb_input_features.dat").read_text() == lines(raw_in, g.inputs)
    assert (data / "tb_output_predictions.dat").read_text() == lines(raw_out, g.outputs)
    run_strict_testbench(folder, "nnfx_top", "ap", samples=40, fast_constants=False)
    weights = [p.name.lower() for p in (folder / "firmware" / "weights").iterdir()]
    assert len(weights) == len(set(weights))
    assert all(n.startswith(names.PREFIXES) for n in weights)


# -- random names ----------------------------------------------------------------------------
NAME = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(sorted(names.CPP_KEYWORDS | names.RESERVED))
    | st.sampled_from(["weight_n0", "config_n1", "tensor_t1", "dtype_t2", "ready_weight_n0"]),
    st.from_regex(r"[a-z]{1,6}_(t|exp|inv|0|values|ready)", fullmatch=True),
)


def random_names_model(tensor_names, node_names):
    rng = np.random.default_rng(11)
    t = tensor_names
    nodes = [
        helper.make_node("Gemm", [t[0], "W1"], [t[1]], name=node_names[0]),
        helper.make_node("Sigmoid", [t[1]], [t[2]], name=node_names[1]),
        helper.make_node("Gemm", [t[2], "W2"], [t[3]], name=node_names[2]),
        helper.make_node("Softmax", [t[3]], [t[4]], name=node_names[3]),
    ]
    inits = {
        "W1": rng.standard_normal((4, 5)).astype(np.float32),
        "W2": rng.standard_normal((5, 3)).astype(np.float32),
    }
    return make_model(nodes, [(t[0], ["N", 4])], [(t[4], ["N", 3])], inits)


@needs_gxx
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    tensors=st.lists(NAME, min_size=5, max_size=5, unique=True).filter(
        lambda ts: not {"W1", "W2"} & set(ts)
    ),
    nodes=st.lists(NAME, min_size=4, max_size=4),
)
def test_random_unicode_keyword_and_duplicate_names_run_bit_exact(tensors, nodes):
    precision = {"default": "fixed<12,4,RND,SAT>", "table_size": 64}
    compiled = nnfx.compile(random_names_model(tensors, nodes), precision)
    X = np.random.default_rng(5).standard_normal((16, 4)) * 2
    # csim (ac_fixed) only: a ~1 s build; the hostile models above also run csim-ap
    assert raw_equal(compiled.predict_raw(X, "csim"), compiled.predict_raw(X, "reference"))
    text = "\n".join(HlsWriter(compiled.graph).files().values())
    assert "\x00" not in text
