"""The HLS project's options (nnfx/backends/hls/options.py): each bad value is refused with
one sentence before anything is written."""

from __future__ import annotations

import pytest

import nnfx
from tests.op_models import compile_for


@pytest.mark.parametrize(
    "option,value",
    [
        ("part", "x} ; exec touch pwned ; #"),
        ("part", ""),
        ("part", "xc7z020\nclg400"),
        ("clock_period_ns", float("nan")),
        ("clock_period_ns", float("inf")),
        ("clock_period_ns", 0),
        ("clock_period_ns", -5.0),
        ("clock_period_ns", "5"),
        ("reuse_factor", 0),
        ("reuse_factor", True),
        ("reuse_factor", 2.5),
        ("top", "1net"),
        ("top", "int"),
        ("top", "EOF"),
        ("top", "weights_net"),
        ("top", "my net"),
        ("top", "net__x"),
    ],
)
def test_bad_hls_options_are_refused_with_one_sentence(option, value, tmp_path):
    compiled, _ = compile_for("dense", 0)
    with pytest.raises(nnfx.ConfigError) as e:
        compiled.write_hls(tmp_path / "prj", **{option: value})
    assert "\n" not in str(e.value) and not (tmp_path / "prj").exists()
    assert not (tmp_path / "pwned").exists()


def test_a_layers_reuse_factor_reaches_its_kernel_and_the_top_pipeline(tmp_path):
    """The per-layer reuse factor is what the layer's kernel shares multipliers by (its config
    struct's reuse_factor, read by the kernel's ALLOCATION pragma) and what the pipelined top
    waits for; the other layers keep the design's."""
    import re

    import numpy as np
    from onnx import helper

    from tests.helpers import make_model

    model = make_model(
        [
            helper.make_node("MatMul", ["x", "W1"], ["h"], name="fc1"),
            helper.make_node("Relu", ["h"], ["r"], name="act"),
            helper.make_node("MatMul", ["r", "W2"], ["y"], name="fc2"),
        ],
        [("x", ["N", 5])],
        [("y", ["N", 3])],
        {"W1": np.full((5, 6), 0.3, np.float32), "W2": np.full((6, 3), -0.2, np.float32)},
    )
    compiled = nnfx.compile(model, "fixed<12,4>")
    first, second = [n.name for n in compiled.graph.nodes if n.op.value == "Dense"]
    prj = compiled.write_hls(tmp_path / "prj", reuse_factor=2, layer_reuse_factor={second: 3})
    parameters = (prj / "firmware" / "defines.h").read_text()
    reuse = [int(r) for r in re.findall(r"reuse_factor = (\d+);", parameters)]
    assert reuse == [2, 3]
    assert "#pragma HLS PIPELINE II=3" in (prj / "firmware" / "nnfx_top.cpp").read_text()
    kernels = (prj / "firmware" / "nnfx_kernels.h").read_text()
    assert kernels.count("CONFIG_T::reuse_factor - 1) /") == 2  # dense and conv read it
    assert kernels.count("ALLOCATION operation instances=mul limit=multiplier_limit") == 2
