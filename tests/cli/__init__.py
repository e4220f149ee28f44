"""Tests of the `nnfx` command, one module per command module in nnfx/cli/."""
