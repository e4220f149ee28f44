"""Options shared by the commands, their callbacks, and the checks on the files they name.

The HLS defaults (part, clock period, strategy, reuse factor) are defined once here and used
by both `nnfx compile` and `nnfx report`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from nnfx.compiler.estimate import DEFAULT_CLOCK_PERIOD_NS, DEFAULT_PART  # noqa: F401
from nnfx.trainer.activations import ACTIVATIONS
from nnfx.trainer.data import DATASETS, SEQUENCE_DATASETS
from nnfx.trainer.optimizers import OPTIMIZERS
from nnfx.trainer.schedules import SCHEDULES

DEFAULT_STRATEGY = "latency"
STRATEGIES = ("latency", "resource")


# -- callbacks ----------------------------------------------------------------------------------
def int_list(ctx, param, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a comma-separated list of integers") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter(f"'{value}' must list positive layer sizes, e.g. 64,32")
    return sizes


def split_fractions(ctx, param, value: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not three comma-separated fractions") from None
    if len(parts) != 3 or min(parts) < 0 or abs(sum(parts) - 1) > 1e-6 or parts[0] == 0:
        raise click.BadParameter(
            f"'{value}' must be three fractions summing to 1, e.g. 0.7,0.15,0.15"
        )
    return parts


def dataset(ctx, param, value: str) -> str:
    if value in DATASETS + SEQUENCE_DATASETS:
        return value
    if value.endswith(".npz"):
        if not Path(value).is_file():
            raise click.BadParameter(f"data file '{value}' does not exist")
        return value
    raise click.BadParameter(
        f"'{value}' is neither a built-in dataset ({', '.join(DATASETS + SEQUENCE_DATASETS)}) "
        "nor a .npz file"
    )


def engine_list(ctx, param, value: str) -> tuple[str, ...]:
    """A comma-separated list of engines, each one of nnfx.compiled.ENGINES."""
    from nnfx.compiled import ENGINES

    names = tuple(e.strip() for e in value.split(",") if e.strip())
    unknown = [e for e in names if e not in ENGINES]
    if unknown:
        raise click.BadParameter(
            f"unknown engine(s) {', '.join(unknown)}; available: {', '.join(ENGINES)}"
        )
    if not names:
        raise click.BadParameter(f"no engine given; available: {', '.join(ENGINES)}")
    return names


class HiddenAliases(click.Option):
    """An option whose short name and first long name are the ones ``--help`` shows; the later
    long names are old spellings that still work (``--data`` shown, ``--input`` accepted)."""

    def get_help_record(self, ctx):
        names = self.opts
        short = [n for n in names if not n.startswith("--")]
        self.opts = short + [n for n in names if n.startswith("--")][:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = names


# -- shared options -----------------------------------------------------------------------------
force_option = click.option(
    "--force",
    is_flag=True,
    help="Replace an existing output that nnfx did not write (never the current folder, a "
    "parent of it, home, / or a folder holding an input).",
)


quiet_option = click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress or status lines; the results and errors are still printed.",
)


def engines_option(default: str, help: str = "Comma-separated engines to run."):
    return click.option(
        "--engines", default=default, show_default=True, callback=engine_list, help=help
    )


@contextmanager
def quieted(quiet: bool) -> Iterator[None]:
    """The console prints nothing inside (spinners and status lines of the library's work)
    when ``quiet``."""
    from nnfx.ui import console

    before = console.quiet
    console.quiet = quiet or before
    try:
        yield
    finally:
        console.quiet = before


reuse_factor_option = click.option(
    "--reuse-factor", default=1, show_default=True, type=click.IntRange(min=1)
)


def strategy_option(help: str | None = None):
    return click.option(
        "--strategy",
        default=DEFAULT_STRATEGY,
        show_default=True,
        type=click.Choice(list(STRATEGIES)),
        help=help,
    )


def part_option(help: str | None = None):
    return click.option("--part", default=DEFAULT_PART, show_default=True, help=help)


def clock_period_option(help: str | None = None):
    return click.option(
        "--clock-period",
        default=DEFAULT_CLOCK_PERIOD_NS,
        show_default=True,
        type=click.FloatRange(min=0.1),
        help=help,
    )


def train_options(f):
    """The training recipe's options, in the order `nnfx train --help` lists them."""
    options = [
        click.option(
            "--dataset",
            default="digits",
            show_default=True,
            callback=dataset,
            help=f"{', '.join(DATASETS)}, the sequences {', '.join(SEQUENCE_DATASETS)} "
            "(for --recurrent), or a .npz file with arrays X and y.",
        ),
        click.option(
            "--hidden",
            default="64,32",
            show_default=True,
            callback=int_list,
            help="Hidden layer sizes, comma-separated.",
        ),
        click.option(
            "--activation",
            default="relu",
            show_default=True,
            type=click.Choice([a for a in ACTIVATIONS if a != "softmax"]),
        ),
        click.option(
            "--optimizer", default="adam", show_default=True, type=click.Choice(list(OPTIMIZERS))
        ),
        click.option(
            "--lr",
            "learning_rate",
            default=0.001,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            help="Initial learning rate.",
        ),
        click.option(
            "--schedule",
            default="constant",
            show_default=True,
            type=click.Choice(SCHEDULES),
            help="Learning-rate schedule over the epochs.",
        ),
        click.option(
            "--momentum",
            default=0.9,
            show_default=True,
            type=click.FloatRange(0, 1, max_open=True),
            help="Momentum of the momentum and nesterov optimizers.",
        ),
        click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1)),
        click.option(
            "--batch-size",
            default=32,
            show_default=True,
            type=click.IntRange(min=0),
            help="Mini-batch size; 1 is stochastic, 0 is full-batch gradient descent.",
        ),
        click.option(
            "--seed",
            default=0,
            show_default=True,
            type=int,
            help="Seed of the split, the initialization and the shuffling.",
        ),
        click.option(
            "--l2",
            default=0.0,
            show_default=True,
            type=click.FloatRange(min=0),
            help="L2 penalty on the weights.",
        ),
        click.option(
            "--weight-decay",
            default=0.0,
            show_default=True,
            type=click.FloatRange(min=0),
            help="Weight decay (decoupled for adamw, coupled otherwise).",
        ),
        click.option(
            "--dropout",
            default=0.0,
            show_default=True,
            type=click.FloatRange(0, 1, max_open=True),
            help="Dropout rate after each hidden layer.",
        ),
        click.option(
            "--batchnorm/--no-batchnorm",
            default=False,
            show_default=True,
            help="Batch normalization after each hidden Dense layer.",
        ),
        click.option(
            "--patience",
            default=None,
            type=click.IntRange(min=1),
            help="Early stopping on the validation loss after this many epochs "
            "without improvement (best weights restored).",
        ),
        click.option(
            "--clip-norm",
            default=None,
            type=click.FloatRange(min=0, min_open=True),
            help="Clip gradients to this global L2 norm.",
        ),
        click.option(
            "--clip-value",
            default=None,
            type=click.FloatRange(min=0, min_open=True),
            help="Clip each gradient element to [-v, v].",
        ),
        click.option(
            "--split",
            default="0.7,0.15,0.15",
            show_default=True,
            callback=split_fractions,
            help="Train, validation, test fractions.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


# -- checks on the files the options name -------------------------------------------------------
def load_npz(path: str, what: str, need_y: bool = False):
    """``X`` and ``y`` (or None) from a .npz data file, with one sentence for what is wrong."""
    from nnfx.errors import DataError
    from nnfx.trainer.data import read_npz

    arrays = read_npz(path, what)
    if "X" not in arrays:
        raise DataError(
            f"{what} file '{path}' has no array 'X' (it holds {', '.join(arrays) or 'nothing'})"
        )
    y = arrays.get("y")
    if need_y and y is None:
        raise DataError(f"{what} file '{path}' has no labels 'y'; they are needed here")
    if y is not None and len(y) != len(arrays["X"]):
        raise DataError(
            f"{what} file '{path}': y has {len(y)} labels but X has {len(arrays['X'])} samples"
        )
    return arrays["X"], y


def check_writable_dir(folder: Path) -> None:
    """Create ``folder`` if needed and make sure we can write there, before any long work."""
    import tempfile

    from nnfx.errors import ConfigError

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(
            f"output folder '{folder}' cannot be made: a file is in the way"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot create output directory '{folder}' ({e.strerror})") from None
    try:
        tempfile.TemporaryFile(dir=folder).close()  # a probe that leaves no name behind
    except OSError:
        raise ConfigError(f"output directory '{folder}' is not writable") from None


# -- the convolutional model of `nnfx train` ----------------------------------------------------
def optional_int_list(ctx, param, value: str) -> tuple[int, ...]:
    """:func:`int_list`, with an empty value meaning none."""
    return int_list(ctx, param, value) if value.strip() else ()


conv_option = click.option(
    "--conv",
    default="",
    callback=optional_int_list,
    help="Train a CNN: filters of each 3x3 convolution (same padding, then the activation and "
    "2x2 max pooling while the image allows), comma-separated, e.g. 8,16; Flatten and the "
    "--hidden layers follow. Needs images: digits (as 1x8x8), or a .npz whose X is "
    "(N, C, H, W), (N, H, W) or (N, side*side).",
)


# -- the recurrent model of `nnfx train` ---------------------------------------------------------
def recurrent_layers(ctx, param, value: str) -> tuple[str, ...]:
    """``lstm:32,gru:16`` -> ``("lstm:32", "gru:16")``, each checked; empty means none."""
    from nnfx.errors import ConfigError
    from nnfx.trainer.builders import parse_recurrent

    specs = tuple(v.strip() for v in value.split(",") if v.strip())
    if not specs:
        return ()
    try:
        parse_recurrent(specs)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None
    return specs


recurrent_option = click.option(
    "--recurrent",
    default="",
    callback=recurrent_layers,
    help="Train a recurrent network: KIND:UNITS layers, comma-separated, KIND rnn, lstm or gru "
    "(e.g. lstm:32 or gru:32,gru:16; each but the last passes its whole sequence on), then "
    "the --hidden layers on the last state. Needs sequences: digits-seq, sine-seq, or a .npz "
    "whose X is (samples, steps, features).",
)


def precision_config_option(help: str = "Precision config, YAML or JSON (docs/precision.md)."):
    """``--config FILE``: a precision config file (per-layer and per-tensor types), as
    `nnfx compile` and `nnfx report` take it."""
    return click.option("--config", type=click.Path(dir_okay=False), default=None, help=help)


task_option = click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    default=None,
    help="How y is read: class labels (integers or one-hot rows; top-1 accuracy) or "
    "regression targets (MSE, MAE, max |error|). Default: found from y and the model's outputs.",
)


# -- quantization-aware training and the standardization of `nnfx train` -----------------------
def qat_type(ctx, param, value: str | None) -> str | None:
    """A ``--precision`` type for quantization-aware training, checked (fixed<6,2>, ...)."""
    if value is None:
        return None
    from nnfx.errors import ConfigError
    from nnfx.trainer.quantization import QuantSpec

    try:
        spec = QuantSpec.parse(value)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None
    if spec.integer is None:
        raise click.BadParameter(f"'{value}' is a bit width; give it as --quantize {spec.width}")
    return value


def qat_options(f):
    """``--quantize``, ``--precision`` and ``--standardize-in-model/--no-...``."""
    options = [
        click.option(
            "--quantize",
            default=None,
            type=click.IntRange(2, 24),
            help="Quantization-aware training at this many bits (power-of-two scales calibrated "
            "from the running max |x|); writes a QONNX model that `nnfx compile` takes as is.",
        ),
        click.option(
            "--precision",
            default=None,
            callback=qat_type,
            help="Quantization-aware training with this type for the weights, biases and "
            "activations, e.g. fixed<6,2> (modes default to RND_CONV,SAT); writes QONNX.",
        ),
        click.option(
            "--standardize-in-model/--no-standardize-in-model",
            default=True,
            show_default=True,
            help="Standardize as the model's first step (the ONNX model takes raw features); "
            "--no-standardize-in-model standardizes the data instead (the model expects "
            "standardized inputs, the constants are in history.json).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f
