"""`nnfx ops`: the supported ONNX ops, grouped, with their limits, from the frontend's table."""

from nnfx.cli import main
from nnfx.frontends.converters import CONVERTERS, OP_GROUPS


def test_ops_lists_every_supported_op_with_its_group_and_limits(capsys):
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"{len(CONVERTERS)} ONNX ops, opsets 13 to 21")
    for group, entries in OP_GROUPS.items():
        assert group in out
        for op in entries:
            assert op in out
    assert "1-D/2-D" in out and "constants and shapes only" in out


def test_ops_quiet_drops_the_heading_and_keeps_the_table(capsys):
    assert main(["ops", "-q"]) == 0
    out = capsys.readouterr().out
    assert "ONNX ops, opsets" not in out and "Gemm" in out and "ZipMap" in out


def test_ops_help_and_a_stray_argument(capsys):
    assert main(["ops", "--help"]) == 0
    assert "grouped, with each op's limits" in capsys.readouterr().out
    assert main(["ops", "Gemm"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnfx: error:") and err.count("\n") == 1
