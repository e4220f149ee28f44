"""Options across the commands: bad arguments are one sentence and exit 2, and every command
has --quiet and one output option."""

import pytest

from nnfx.cli import main


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--dataset", "missing.npz"], "data file 'missing.npz' does not exist"),
        (["train", "--dataset", "mnist"], "'mnist' is neither a built-in dataset"),
        (["train", "--optimizer", "lion"], "'lion' is not one of"),
        (["train", "--hidden", "64,x"], "not a comma-separated list of integers"),
        (["train", "--epochs", "0"], "--epochs"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_bad_arguments_are_one_sentence_and_exit_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and "Traceback" not in err


@pytest.mark.parametrize(
    "command,hidden",
    [
        ("train", ()),
        ("demo", ()),
        ("inspect", ("--save-ir",)),
        ("compile", ()),
        ("simulate", ("--save", "--input")),
        ("report", ()),
    ],
)
def test_every_command_has_quiet_and_one_output_option(command, hidden, capsys):
    assert main([command, "--help"]) == 0
    shown = capsys.readouterr().out
    assert "-q, --quiet" in shown and "-o, --output" in shown
    assert not [name for name in hidden if name in shown]
