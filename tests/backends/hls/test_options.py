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
