"""The ``nnfx`` command. Thin: parse, call the library, print.

Every user error becomes one sentence on stderr and exit status 2; a traceback is a bug.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

from nnfx.errors import NnfxError
from nnfx.trainer.activations import ACTIVATIONS
from nnfx.trainer.data import DATASETS
from nnfx.trainer.optimizers import OPTIMIZERS
from nnfx.trainer.schedules import SCHEDULES

EXIT_USER_ERROR = 2


def _int_list(ctx, param, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a comma-separated list of integers") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter(f"'{value}' must list positive layer sizes, e.g. 64,32")
    return sizes


def _split(ctx, param, value: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not three comma-separated fractions") from None
    if len(parts) != 3 or min(parts) < 0 or abs(sum(parts) - 1) > 1e-6 or parts[0] == 0:
        raise click.BadParameter(
            f"'{value}' must be three fractions summing to 1, e.g. 0.7,0.15,0.15"
        )
    return parts


def _dataset(ctx, param, value: str) -> str:
    if value in DATASETS:
        return value
    if value.endswith(".npz"):
        if not Path(value).is_file():
            raise click.BadParameter(f"data file '{value}' does not exist")
        return value
    raise click.BadParameter(
        f"'{value}' is neither a built-in dataset ({', '.join(DATASETS)}) nor a .npz file"
    )


_force_option = click.option(
    "--force",
    is_flag=True,
    help="Replace an existing output that nnfx did not write (never the current folder, a "
    "parent of it, home, / or a folder holding an input).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="nnfx")
def cli() -> None:
    """nnfx: neural networks to FPGAs.

    Train a network with the NumPy trainer (or bring an ONNX model), and follow it to a
    fixed-point design. Run `nnfx demo` for the whole journey on an embedded data set.
    """


def _train_options(f):
    options = [
        click.option(
            "--dataset",
            default="digits",
            show_default=True,
            callback=_dataset,
            help=f"{', '.join(DATASETS)}, or a .npz file with arrays X and y.",
        ),
        click.option(
            "--hidden",
            default="64,32",
            show_default=True,
            callback=_int_list,
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
            callback=_split,
            help="Train, validation, test fractions.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _config(**kw):
    from nnfx.trainer.recipe import TrainConfig

    batch = kw.pop("batch_size")
    return TrainConfig(batch_size=None if batch == 0 else batch, **kw)


@cli.command()
@_train_options
@click.option(
    "-o",
    "--output",
    default="model.onnx",
    show_default=True,
    type=click.Path(),
    help="ONNX file to write; history.json and test_data.npz go beside it.",
)
@_force_option
@click.option("-q", "--quiet", is_flag=True, help="No per-epoch output.")
def train(output: str, force: bool, quiet: bool, **kw) -> None:
    """Train an MLP classifier with the NumPy trainer and export it to ONNX.

    The data set is split 70/15/15 (stratified) and standardized with the training statistics.
    Prints one line per epoch and the test metrics; writes the ONNX model, history.json (the
    per-epoch history, the configuration and the standardization) and test_data.npz (the
    standardized test split, for `nnfx compile` and `nnfx simulate`).
    """
    from nnfx.trainer import recipe

    output_path = Path(output)
    _check_writable_dir(output_path.parent)
    config = _config(**kw)
    recipe.check_outputs(output_path, config, force)  # before the long work
    result = recipe.train(config, verbose=0 if quiet else 1)
    _print_model_and_metrics(result)
    files = recipe.save(result, output_path, config, force=force)
    _print_files(result, files)


@cli.command()
@click.option(
    "-o",
    "--output",
    default="nnfx-demo",
    show_default=True,
    type=click.Path(),
    help="Directory for every artifact of the demo.",
)
@_force_option
def demo(output: str, force: bool) -> None:
    """The whole journey on the embedded default: digits, a 64-32 MLP, fixed point.

    Trains with Adam for 30 epochs and evaluates on the held-out test split; exports ONNX and
    checks it with onnxruntime; compiles to fixed point at `auto` precision (10 bits,
    calibrated on the training split); writes the Vitis HLS project; runs the fixed-point
    model in the NumPy reference, as ONNX on onnxruntime and as the g++ C-simulation of the
    HLS kernels, and checks that all three agree bit for bit; writes the report.
    """
    import nnfx
    from nnfx.compiler.search import accuracy
    from nnfx.files import check_output_folder, staged_directory
    from nnfx.trainer import recipe
    from nnfx.ui import console, table

    final = Path(output)
    check_output_folder(final, "demo", force=force)  # before the long work
    _check_writable_dir(final.parent)
    config = recipe.TrainConfig()
    console.print(
        f"[bold]nnfx demo[/] — training a {'-'.join(map(str, config.hidden))} MLP "
        f"on {config.dataset} with {config.optimizer}"
    )
    result = recipe.train(config, verbose=1)
    _print_model_and_metrics(result)
    # Written into a temporary sibling directory, then moved into place: never half-written.
    with staged_directory(final, "demo", force=force) as staging:
        recipe.save(result, staging / "model.onnx", config)
        X_test, y_test = result.test
        with console.status("compiling to fixed point (auto, 10 bits)..."):
            compiled = nnfx.compile(
                staging / "model.onnx",
                "auto",
                width=10,
                calibration=result.train[0].astype(np.float32),
            )
            compiled.save(staging / "build", hls={})
        engines = ("reference", "ort", "csim")
        with console.status("running the fixed-point engines (g++ builds the C-simulation)..."):
            raw = {e: compiled.predict_raw(X_test, e) for e in engines}
        exact = {
            e: all(np.array_equal(raw["reference"][k], raw[e][k]) for k in raw[e]) for e in engines
        }
        float_acc = accuracy(compiled.float_model.predict(X_test), y_test)
        fixed_acc = accuracy(
            {k: compiled._values(k, v) for k, v in raw["reference"].items()}, y_test
        )
        nnfx.report(
            staging / "model.onnx",
            X_test,
            y_test,
            staging / "report",
            precisions=(6, 8, 10, 12, 16),
            width=10,
            engines=engines,
            calibration=result.train[0].astype(np.float32),
        )
    files = {k: final / v.name for k, v in result.files.items()}
    files["compiled"] = final / "build"
    files["hls"] = final / "build" / "hls"
    files["report"] = final / "report" / "report.html"
    labels = {
        "reference": "NumPy reference",
        "ort": "ONNX on onnxruntime",
        "csim": "HLS C-simulation, g++",
    }
    rows = [
        ["float (NumPy trainer)", f"{100 * result.test_metrics['accuracy']:.2f}", "-"],
        ["float (ONNX, nnfx IR)", f"{100 * float_acc:.2f}", "-"],
    ]
    rows += [
        [
            f"fixed, auto 10 bits ({labels[e]})",
            f"{100 * fixed_acc:.2f}",
            "-" if e == "reference" else ("yes" if exact[e] else "NO"),
        ]
        for e in engines
    ]
    console.print(
        table(
            f"test accuracy ({len(X_test)} samples)",
            ["model", "accuracy %", "bit-exact with the reference"],
            rows,
        )
    )
    _print_files(result, files)
    if not all(exact.values()):
        raise SystemExit(1)


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--save-ir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write the optimized IR (model.json + weights.npz) to this directory.",
)
@_force_option
def inspect(model: str, save_ir: str | None, force: bool) -> None:
    """Read an ONNX MODEL into the IR and print it, one line per node.

    The IR is what the compiler works on: Gemm/MatMul+Add become Dense, BatchNorm is folded
    into the layer before it, Identity/Dropout disappear, images are channels-last.
    """
    import nnfx
    from nnfx.ui import console, plain

    loaded = nnfx.load(model)
    graph = loaded.graph
    console.print(
        f"[bold]{plain(model)}[/]: {len(graph.nodes)} nodes, inputs "
        + ", ".join(f"{plain(n)} {_model_shape(graph, n)}" for n in graph.inputs)
        + ", outputs "
        + ", ".join(f"{plain(n)} {_model_shape(graph, n)}" for n in graph.outputs)
    )
    console.print(plain(loaded.summary(), newlines=True), soft_wrap=True)
    if save_ir:
        graph.save(save_ir, force=force, inputs=[model])
        console.print(f"IR written to {plain(save_ir)}/ (model.json, weights.npz)")


def _load_npz(path: str, what: str, need_y: bool = False):
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


@cli.command(name="compile")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    default="build",
    show_default=True,
    type=click.Path(),
    help="Directory for the compiled model.",
)
@_force_option
@click.option(
    "--precision",
    default="fixed<16,6>",
    show_default=True,
    help="A type for everything (fixed<16,6>, ap_fixed<8,3,AP_RND,AP_SAT>...), "
    "'auto' (calibrated, --width bits) or 'search' (narrowest within "
    "--max-accuracy-drop of float; needs X and y in --calibration).",
)
@click.option(
    "--width",
    default=16,
    show_default=True,
    type=click.IntRange(2, 32),
    help="Total width for --precision auto.",
)
@click.option(
    "--calibration",
    type=click.Path(dir_okay=False),
    default=None,
    help=".npz with array X (and y) in the model's input layout.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Precision config, YAML or JSON (docs/precision.md).",
)
@click.option(
    "--max-accuracy-drop",
    default=1.0,
    show_default=True,
    type=float,
    help="Search budget in percentage points of top-1 accuracy.",
)
@click.option("--reuse-factor", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--backend",
    "backends",
    multiple=True,
    type=click.Choice(["hls"]),
    help="Also emit a backend project: 'hls' writes the Vitis HLS project to OUTPUT/hls/.",
)
@click.option(
    "--strategy",
    default="latency",
    show_default=True,
    type=click.Choice(["latency", "resource"]),
    help="HLS strategy.",
)
@click.option("--part", default="xcvu13p-flga2577-2-e", show_default=True, help="FPGA part (HLS).")
@click.option(
    "--clock-period",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Clock period in ns (HLS).",
)
def compile_command(
    model,
    output,
    force,
    precision,
    width,
    calibration,
    config,
    max_accuracy_drop,
    reuse_factor,
    backends,
    strategy,
    part,
    clock_period,
) -> None:
    """Compile an ONNX MODEL to fixed point and write it to OUTPUT.

    Prints one row per layer: its output type, and the types of its weights, biases,
    accumulator and tables. With labels in the calibration data, also the float and
    fixed-point accuracy.
    """
    import nnfx
    from nnfx.compiler.search import accuracy, search_precision
    from nnfx.errors import ConfigError
    from nnfx.files import check_output_folder
    from nnfx.ui import console, plain, table

    out = Path(output)
    inputs = [model, calibration, config]
    check_output_folder(out, "compiled model", force=force, inputs=inputs)  # before the work
    _check_writable_dir(out.parent)
    X = y = None
    if calibration:
        X, y = _load_npz(calibration, "calibration", need_y=precision == "search")
    elif precision in ("auto", "search"):
        raise ConfigError(f"--precision {precision} needs --calibration data.npz")
    loaded = nnfx.load(model)
    if precision == "search":
        with console.status("searching bit widths...") as status:
            result = search_precision(
                loaded,
                X,
                y,
                max_accuracy_drop,
                progress=lambda what, acc: status.update(
                    f"search: {plain(what)}: {100 * acc:.2f}%"
                ),
            )
        console.print(
            f"search: {len(result.trials)} candidates; chosen: uniform "
            f"{result.config.width} bits"
            + (f", narrower layers {plain(result.config.layers)}" if result.config.layers else "")
        )
        compiled = nnfx.compile(
            loaded, precision=result.config, calibration=X, reuse_factor=reuse_factor
        )
    else:
        compiled = nnfx.compile(
            loaded,
            precision=precision,
            calibration=X,
            width=width,
            reuse_factor=reuse_factor,
            config=config,
        )
    hls = None
    if "hls" in backends:
        hls = {
            "reuse_factor": reuse_factor,
            "strategy": strategy,
            "part": part,
            "clock_period_ns": clock_period,
        }
    compiled.save(out, hls=hls, force=force, inputs=inputs)
    rows = [
        [r[k] for k in ("name", "op", "output", "type", "weight", "bias", "accum", "table")]
        for r in compiled.layer_table()
    ]
    console.print(
        table(
            f"{model} in fixed point",
            ["name", "op", "output", "type", "weight", "bias", "accum", "table"],
            rows,
        )
    )
    if X is not None and y is not None:
        float_acc = accuracy(loaded.predict(X), y)
        fixed_acc = accuracy(compiled.predict(X), y)
        console.print(
            f"accuracy on the calibration data: float {100 * float_acc:.2f}%, "
            f"fixed {100 * fixed_acc:.2f}%"
        )
    if X is not None:
        _print_overflows(compiled, X, "the calibration data")
    shown = plain(out)
    console.print(
        f"compiled model written to {shown}/"
        + (f" (Vitis HLS project in {shown}/hls/)" if hls else "")
    )


@cli.command()
@click.argument("build", type=click.Path(file_okay=False))
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False),
    help=".npz with array X (and optional labels y), in the model's input layout.",
)
@click.option(
    "--engines", default="reference", show_default=True, help="Comma-separated engines to run."
)
@click.option(
    "--save",
    "save_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write each engine's outputs to this .npz.",
)
def simulate(build, input_path, engines, save_path) -> None:
    """Run a compiled model (from `nnfx compile`) on data and compare the engines.

    Prints, per engine: accuracy (when y is given), agreement with the fixed reference
    (bit-exact or not, mismatching elements), time and samples/s; and the float model's
    accuracy for comparison. Exits with status 1 when engines disagree.
    """
    import time

    import nnfx
    from nnfx.compiled import ENGINES
    from nnfx.compiler.search import accuracy
    from nnfx.errors import ConfigError
    from nnfx.ui import console, table

    names = [e.strip() for e in engines.split(",") if e.strip()]
    unknown = [e for e in names if e not in ENGINES]
    if unknown:
        raise ConfigError(
            f"unknown engine(s) {', '.join(unknown)}; available: {', '.join(ENGINES)}"
        )
    compiled = nnfx.load_compiled(build)
    X, y = _load_npz(input_path, "input")
    rows, outputs, reference = [], {}, None
    start = time.perf_counter()
    float_out = compiled.float_model.predict(X)
    float_seconds = time.perf_counter() - start
    rows.append(
        [
            "float",
            f"{100 * accuracy(float_out, y):.2f}" if y is not None else "-",
            "-",
            "-",
            f"{float_seconds:.3f}",
            f"{len(X) / float_seconds:,.0f}",
        ]
    )
    disagree = False
    for engine in names:
        compiled.predict_raw(X[:1], engine)  # warm up: build sessions outside the timing
        start = time.perf_counter()
        raw = compiled.predict_raw(X, engine)
        seconds = time.perf_counter() - start
        if reference is None:
            reference = raw
        mismatches = sum(int(np.count_nonzero(raw[k] != reference[k])) for k in raw)
        disagree |= mismatches > 0
        values = compiled.predict(X, engine) if y is not None or save_path else None
        outputs[engine] = values
        rows.append(
            [
                engine,
                f"{100 * accuracy(values, y):.2f}" if y is not None else "-",
                "yes" if mismatches == 0 else "no",
                str(mismatches),
                f"{seconds:.3f}",
                f"{len(X) / seconds:,.0f}",
            ]
        )
    console.print(
        table(
            f"{len(X)} samples",
            ["engine", "accuracy %", "bit-exact", "mismatches", "seconds", "samples/s"],
            rows,
        )
    )
    _print_overflows(compiled, X, "the input data")
    if save_path:
        flat = {}
        for engine, values in outputs.items():
            items = values.items() if isinstance(values, dict) else [("output", values)]
            flat.update({f"{engine}.{k}": v for k, v in items})
        np.savez(save_path, **flat)
    if disagree:
        raise SystemExit(1)


@cli.command(name="report")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False),
    help=".npz with arrays X (model layout) and y (labels).",
)
@click.option(
    "-o",
    "--output",
    default="report",
    show_default=True,
    type=click.Path(),
    help="Directory for report.html, report.md, report.json and the plots.",
)
@_force_option
@click.option(
    "--precisions",
    default="6,8,10,12,16",
    show_default=True,
    help="Total widths for the accuracy sweep.",
)
@click.option(
    "--width",
    default=16,
    show_default=True,
    type=click.IntRange(2, 32),
    help="Width of the compiled design the engines, timing and estimates use.",
)
@click.option("--reuse-factor", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--strategy", default="latency", show_default=True, type=click.Choice(["latency", "resource"])
)
@click.option("--part", default="xcvu13p-flga2577-2-e", show_default=True)
@click.option("--clock-period", default=5.0, show_default=True, type=click.FloatRange(min=0.1))
def report_command(
    model, data_path, output, force, precisions, width, reuse_factor, strategy, part, clock_period
) -> None:
    """Accuracy, precision, latency and resource report of MODEL on labelled data.

    Writes OUTPUT/report.html (self-contained), report.md and report.json: engine accuracy and
    bit-exact agreement, accuracy against bit width (uniform and auto), per-layer ranges,
    overflows and error, latency/throughput, and the resource/latency estimate.
    """
    import nnfx
    from nnfx.errors import ConfigError
    from nnfx.ui import console, plain

    widths = _int_list(None, None, precisions) if precisions else ()
    if any(w < 2 or w > 32 for w in widths):
        raise ConfigError(f"--precisions must list widths from 2 to 32, got '{precisions}'")
    X, y = _load_npz(data_path, "data", need_y=True)
    result = nnfx.report(
        model,
        X,
        y,
        output,
        precisions=widths,
        width=width,
        reuse_factor=reuse_factor,
        strategy=strategy,
        part=part,
        clock_period_ns=clock_period,
        force=force,
        inputs=[data_path],
    )
    engines = ", ".join(f"{r['engine']} {100 * r['accuracy']:.2f}%" for r in result.data["engines"])
    console.print(f"accuracy: {engines}")
    for what, path in result.files.items():
        console.print(f"  {what:<9} {plain(path)}")


def _model_shape(graph, name: str) -> str:
    from nnfx.frontends.onnx import inverse

    t = graph.tensors[name]
    shape = tuple(t.shape[i] for i in inverse(t.onnx_perm))
    return "(batch" + "".join(f", {d}" for d in shape) + ")"


def _check_writable_dir(folder: Path) -> None:
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


def _print_model_and_metrics(result) -> None:
    from nnfx.ui import console, table

    console.print(result.model.summary())
    if result.test_metrics:
        rows = [(name, value) for name, value in result.test_metrics.items()]
        console.print(table(f"test set ({len(result.test[0])} samples)", ["metric", "value"], rows))


def _print_overflows(compiled, X, data: str) -> None:
    """Per layer, how many values overflowed their type on ``X`` (only the layers where any
    did), and one line on what to try; nothing when none did."""
    from nnfx.ui import console, table

    counts = [(layer, n) for layer, n in compiled.overflow_counts(X).items() if n]
    if not counts:
        return
    samples = len(next(iter(compiled.float_model.model_inputs(X).values())))
    console.print(f"values that overflowed their type (wrapped or saturated) on {data}:")
    console.print(table(None, ["layer", f"values overflowed ({samples} samples)"], counts))
    if compiled.options.get("precision") == "auto":
        hint = (
            "these values lie beyond the calibrated ranges: calibrate on data that covers "
            "them, or add integer bits (margin_bits, per-layer types): docs/precision.md"
        )
    else:
        hint = (
            "try --precision auto (calibrated ranges), a SAT overflow mode "
            "(fixed<16,6,RND,SAT>) or more integer bits for these layers: docs/precision.md"
        )
    console.print(hint)


def _print_files(result, files) -> None:
    from nnfx.ui import console, plain

    if result.onnx_agreement is not None:
        console.print(
            f"onnxruntime agrees with predict() on {result.onnx_agreement:.1%} of the test "
            f"predictions (max |difference| {result.onnx_max_abs_diff:.2e})"
        )
    for what, path in files.items():
        console.print(f"  {what:<10} {plain(path)}")


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


if __name__ == "__main__":
    run()
