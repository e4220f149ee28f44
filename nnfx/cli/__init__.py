"""The ``nnfx`` command. Thin: parse, call the library, print.

Every user error becomes one sentence on stderr and exit status 2; a traceback is a bug.
One module per command; the shared options live in ``options``, the shared printing in
``output``. Each command imports the heavy modules inside its function.
"""

from __future__ import annotations

import sys

import click

from nnfx.cli.compile import compile_command
from nnfx.cli.demo import demo
from nnfx.cli.inspect import inspect
from nnfx.cli.ops import ops
from nnfx.cli.report import report_command
from nnfx.cli.simulate import simulate
from nnfx.cli.sweep import sweep_command
from nnfx.cli.train import train
from nnfx.errors import NnfxError

__all__ = ["EXIT_USER_ERROR", "cli", "main", "run"]

EXIT_USER_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="nnfx")
def cli() -> None:
    """nnfx: neural networks to FPGAs.

    Train a network with the NumPy trainer (or bring an ONNX model), and follow it to a
    fixed-point design. Run `nnfx demo` for the whole journey on an embedded data set.
    """


for _command in (
    train,
    demo,
    inspect,
    ops,
    compile_command,
    simulate,
    report_command,
    sweep_command,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map errors to one sentence and an exit status. SIGINT
    ends it with 130, SIGTERM with 143, both after the cleanup of partial outputs."""
    from nnfx.files import Terminated, raise_on_sigterm
    from nnfx.text import printable

    try:
        with raise_on_sigterm():
            cli.main(args=argv, prog_name="nnfx", standalone_mode=False)
    except Terminated as e:
        click.echo("nnfx: terminated", err=True)
        return e.code
    except click.exceptions.Exit as e:
        return e.exit_code
    except SystemExit as e:
        return int(e.code or 0)
    except click.Abort:
        click.echo("nnfx: interrupted", err=True)
        return 130
    except click.ClickException as e:
        click.echo(f"nnfx: error: {printable(e.format_message())}", err=True)
        return EXIT_USER_ERROR
    except NnfxError as e:
        click.echo(f"nnfx: error: {printable(e)}", err=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        click.echo("nnfx: interrupted", err=True)
        return 130
    return 0


def run() -> None:
    """Console-script entry point."""
    try:
        code = main()
    except KeyboardInterrupt:  # between the start and main()'s own handler
        click.echo("nnfx: interrupted", err=True)
        code = 130
    sys.exit(code)
