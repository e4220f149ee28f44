"""The op table `nnfx ops` prints (OP_GROUPS) and the converters (CONVERTERS) cannot drift."""

from nnfx.frontends.converters import CONVERTERS, OP_GROUPS


def test_every_converter_is_listed_once_and_every_listed_op_has_a_converter():
    listed = [op for entries in OP_GROUPS.values() for op in entries]
    assert len(listed) == len(set(listed)), "an op is listed in two groups"
    assert set(CONVERTERS) - set(listed) == set(), "ops without a line in OP_GROUPS"
    assert set(listed) - set(CONVERTERS) == set(), "ops in OP_GROUPS without a converter"


def test_limits_are_short_single_lines():
    for entries in OP_GROUPS.values():
        for op, limits in entries.items():
            assert "\n" not in limits and len(limits) <= 80, op
