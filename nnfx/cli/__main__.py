"""``python -m nnfx.cli``: the same as the ``nnfx`` command."""

from nnfx.cli import run

if __name__ == "__main__":
    run()
