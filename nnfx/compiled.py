"""``nnfx.compile``: a float model lowered to the fixed-point IR, and what runs it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx

from nnfx.compiler import serialize
from nnfx.compiler.fixed import FixedType, quantize_raw, to_float
from nnfx.compiler.ir import INTEGER, Graph
from nnfx.compiler.layout import to_ir
from nnfx.compiler.precision import assign_precision, check_calibration
from nnfx.compiler.precision_config import PrecisionConfig
from nnfx.errors import ConfigError, DataError, ModelError, PrecisionError
from nnfx.model import Model, load

ENGINES = ("reference", "ort", "csim", "csim-ap")
FORMAT = "nnfx-compiled"


class CompiledModel:
    """A model in fixed point: ``graph`` (typed IR), ``float_model`` (the float IR it came
    from), and the options it was compiled with."""

    def __init__(self, graph: Graph, float_model: Model, options: dict):
        self.graph = graph
        self.float_model = float_model
        self.options = options

    @property
    def reuse_factor(self) -> int:
        return int(self.options.get("reuse_factor", 1))

    # -- running ---------------------------------------------------------------------------
    def checked_inputs(self, X) -> dict[str, np.ndarray]:
        """Model-layout inputs as float64 by name, after the special-value rule that every
        engine shares (docs/semantics.md, "Special values"): NaN is refused, and so is
        +-inf in an input whose type wraps (under the SAT modes it becomes the type's extreme
        code when quantized); both with one DataError naming the input and the first sample."""
        checked = {}
        for name, x in self.float_model.model_inputs(X).items():
            x = np.asarray(x, dtype=np.float64)
            t = self.graph.tensors[name].dtype
            seen = self.float_model.stepped(name, x)  # what the input quantizer sees
            for bad, what in ((np.isnan(seen), "NaN"), (np.isinf(seen), "infinity")):
                if what == "infinity" and getattr(t, "overflow", "WRAP") != "WRAP":
                    continue
                if x.size and bad.any():
                    axis = self.graph.tensors[name].batch_axis
                    by_sample = np.moveaxis(bad, axis, 0).reshape(bad.shape[axis], -1)
                    sample = int(by_sample.any(axis=1).argmax())
                    why = (
                        "a fixed-point input must be a number"
                        if what == "NaN"
                        else f"its type {t} wraps and has no code for it (a SAT type clamps it)"
                    )
                    raise DataError(f"input '{name}' holds {what} at sample {sample}; {why}")
            checked[name] = x
        return checked

    def quantize_inputs(self, X) -> dict[str, np.ndarray]:
        """Model-layout float inputs to raw codes of the IR input types (after
        :meth:`checked_inputs`)."""
        return self._quantize(self.checked_inputs(X))

    def _quantize(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ir = self.float_model.to_ir_inputs(inputs)
        return {name: quantize_raw(x, self.graph.tensors[name].dtype) for name, x in ir.items()}

    def predict_raw(self, X, engine: str = "reference", overflows: dict | None = None):
        """Raw output codes in the IR layout, by output name. Every engine sees the same
        checked inputs (:meth:`checked_inputs`); an empty batch gives empty outputs of the
        right shape without running any engine."""
        if engine not in ENGINES:
            raise ConfigError(f"unknown engine '{engine}'; available: {', '.join(ENGINES)}")
        inputs = self.checked_inputs(X)
        if self.float_model.samples(inputs) == 0:
            return {
                name: np.zeros((0, *self.graph.tensors[name].shape), np.int64)
                for name in self.graph.outputs
            }
        if engine == "ort":
            return self._run_ort(inputs)
        if engine in ("csim", "csim-ap"):
            return self._run_csim(inputs, engine)
        from nnfx.runtime.reference_fixed import run_fixed

        return run_fixed(self.graph, self._quantize(inputs), overflows=overflows)

    def csimulation(self, engine: str = "csim"):
        """The built C-simulation (``csim``: ac_fixed, ``csim-ap``: ap_fixed), cached."""
        from nnfx.runtime.csim import CSimulation

        cache = self.__dict__.setdefault("_csim", {})
        if engine not in cache:
            cache[engine] = CSimulation(self.graph, engine)
        return cache[engine]

    def _run_csim(self, inputs: dict[str, np.ndarray], engine: str) -> dict[str, np.ndarray]:
        """``inputs`` from :meth:`checked_inputs`, non-empty; quantized here, in Python, so the
        C-simulation reads codes (exact doubles: boundary types are at most 53 bits)."""
        from nnfx.compiler.fixed import to_raw

        values = {
            name: to_float(raw, self.graph.tensors[name].dtype.frac)
            for name, raw in self._quantize(inputs).items()
        }
        out = self.csimulation(engine).run(values)
        return {
            name: out[name].astype(np.int64)
            if self.graph.tensors[name].dtype == INTEGER
            else to_raw(out[name], self.graph.tensors[name].dtype.frac)
            for name in self.graph.outputs
        }

    def write_hls(
        self,
        folder: str | Path,
        *,
        force: bool = False,
        inputs: Iterable = (),
        testbench_data=None,
        **options,
    ) -> Path:
        """Write the Vitis HLS project (options: top, part, clock_period_ns, reuse_factor,
        strategy, layer_reuse_factor, layer_strategy; see HlsOptions). ``force`` and ``inputs``
        as for :meth:`save`. ``testbench_data`` (inputs in the model's layout, as for
        :meth:`predict`): every sample becomes a line of the testbench's input vectors, on the
        input types' grids, and the reference's outputs its expected values, which the
        testbench compares bit for bit (docs/hls.md)."""
        from nnfx.backends.hls.writer import HlsOptions, write_project

        options.setdefault("reuse_factor", self.reuse_factor)
        hls_options = HlsOptions(**options)
        hls_options.check(self.graph)  # refused options before the test vectors are computed
        testbench = None
        if testbench_data is not None:
            try:
                raw_inputs = self.quantize_inputs(testbench_data)
            except DataError as e:
                raise DataError(f"testbench data: {e}") from None
            if len(next(iter(raw_inputs.values()))) == 0:
                raise DataError("testbench data holds no samples")
            testbench = (raw_inputs, self.predict_raw(testbench_data))
        return write_project(
            self.graph, folder, hls_options, force=force, inputs=inputs, testbench=testbench
        )

    def export_onnx(self, path: str | Path, fixed: bool = True) -> Path:
        """Write the fixed-point ONNX model (bit-exact with the reference), or with
        ``fixed=False`` the optimized float model."""
        from nnfx.backends import onnx as onnx_backend

        model = self.fixed_onnx() if fixed else onnx_backend.to_float_onnx(self.float_model.graph)
        return onnx_backend.save(model, path)

    def fixed_onnx(self) -> onnx.ModelProto:
        if getattr(self, "_fixed_onnx", None) is None:
            from nnfx.backends.onnx import to_fixed_onnx

            self._fixed_onnx = to_fixed_onnx(self.graph, name=f"{self.graph.name}_fixed")
        return self._fixed_onnx

    @property
    def ort_precision(self) -> str:
        """The element type the ``ort`` engine computes the codes in: ``float32`` where the
        export proves every step exact in it, ``float64``, or ``mixed`` (docs/semantics.md)."""
        from nnfx.backends.onnx import codes_dtype

        return codes_dtype(self.fixed_onnx())

    def _run_ort(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``inputs`` from :meth:`checked_inputs`, non-empty: the fixed-point graph quantizes
        them itself, as quantize_raw does (+-inf under SAT included)."""
        from nnfx.backends.onnx import _safe
        from nnfx.compiler.fixed import to_raw
        from nnfx.runtime.ort import engine_session, run_batched

        if getattr(self, "_ort_session", None) is None:
            self._ort_session, self._ort_rows, self._ort_workers = engine_session(self.fixed_onnx())
        feeds = {_safe(k): v for k, v in inputs.items()}
        if any(self.graph.tensors[k].batch_axis for k in (*inputs, *self.graph.outputs)):
            results = self._ort_session.run(None, feeds)  # run_batched splits axis 0
        else:
            results = run_batched(
                self._ort_session,
                feeds,
                batch_size=self._ort_rows,
                workers=self._ort_workers,
                progress=len(next(iter(feeds.values()))) > 1_000_000,
            )
        raw = {}
        for name, values in zip(self.graph.outputs, results, strict=True):
            t = self.graph.tensors[name]
            ir = to_ir(values, t.onnx_perm, t.batch_axis)
            raw[name] = ir.astype(np.int64) if t.dtype == INTEGER else to_raw(ir, t.dtype.frac)
        return raw

    def predict(self, X, engine: str = "reference"):
        """The fixed-point outputs as float64 values (class labels as int64), in the model's
        layout. One output: an array; several: a dict by name."""
        raw = self.predict_raw(X, engine)
        outputs = {name: self._values(name, raw[name]) for name in self.graph.outputs}
        return next(iter(outputs.values())) if len(outputs) == 1 else outputs

    def _values(self, name: str, raw: np.ndarray) -> np.ndarray:
        t = self.graph.tensors[name].dtype
        values = raw if t == INTEGER else to_float(raw, t.frac)
        return self.float_model.from_ir_output(name, values)

    def overflow_counts(self, X) -> dict[str, int]:
        """Per layer, how many values overflowed (wrapped, saturated) their type on ``X``. The
        quantization of each input counts as a layer, ``input '<name>'``, listed first."""
        from nnfx.runtime.reference_fixed import count_input_overflows

        nodes: dict[str, int] = {}
        self.predict_raw(X, overflows=nodes)  # first: it refuses bad inputs with one sentence
        counts = count_input_overflows(self.graph, self.float_model.to_ir_inputs(X))
        return {**counts, **nodes}

    # -- describing ------------------------------------------------------------------------
    def layer_table(self) -> list[dict]:
        """One row per node: op, output shape and type, and its constant/accumulator types."""
        rows = []
        for node in self.graph.nodes:
            out = self.graph.tensors[node.outputs[0]]
            p = node.precision
            rows.append(
                {
                    "name": node.name,
                    "op": node.op.value,
                    "output": str(out.shape),
                    "type": str(out.dtype),
                    "weight": str(p.weight) if p and p.weight else "",
                    "bias": str(p.bias) if p and p.bias else "",
                    "accum": (
                        f"{p.accum}{' (exact)' if p.accum_sized else ''}" if p and p.accum else ""
                    ),
                    "table": (
                        f"{p.table.size}@[{p.table.low:g},{p.table.high:g})"
                        if p and p.table
                        else ""
                    ),
                }
            )
        return rows

    def summary(self) -> str:
        rows = self.layer_table()
        header = ["name", "op", "output", "type", "weight", "bias", "accum", "table"]
        inputs = [
            {
                "name": n,
                "op": "Input",
                "output": str(self.graph.tensors[n].shape),
                "type": str(self.graph.tensors[n].dtype),
                "weight": "",
                "bias": "",
                "accum": "",
                "table": "",
            }
            for n in self.graph.inputs
        ]
        table = [header] + [[r[h] for h in header] for r in inputs + rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        ]
        lines.insert(1, "-" * max(len(line) for line in lines))
        return "\n".join(lines)

    # -- storing ---------------------------------------------------------------------------
    def save(
        self,
        folder: str | Path,
        hls: dict | None = None,
        *,
        force: bool = False,
        inputs: Iterable = (),
    ) -> Path:
        """``folder/model.json`` + ``weights.npz`` (the fixed IR), ``float/`` (the float IR),
        ``compile.json`` (the options), ``model_float.onnx`` and ``model_fixed.onnx``; with
        ``hls`` (HlsOptions fields), the Vitis HLS project in ``folder/hls/``. Written to a
        temporary directory, then moved: a failure leaves nothing half-written. ``folder`` is
        replaced only when nnfx wrote it or it is empty (``force``: also a folder of other
        files), and never when it holds the model file or one of ``inputs`` (nnfx.files)."""
        from nnfx.files import staged_directory

        folder = Path(folder)
        source = self.options.get("source")
        inputs = (source if isinstance(source, str) and source else None, *inputs)
        with staged_directory(folder, "compiled model", force=force, inputs=inputs) as staging:
            serialize.write(self.graph, staging)
            (staging / "float").mkdir()
            serialize.write(self.float_model.graph, staging / "float")
            record = {"format": FORMAT, "version": 1, **self.options}
            if hls is not None:  # what the project was written with (the report reads it)
                record["hls"] = {k: v for k, v in hls.items() if k != "testbench_data"}
            (staging / "compile.json").write_text(json.dumps(record, indent=1) + "\n")
            self._write_onnx(staging)
            if hls is not None:
                self.write_hls(staging / "hls", **hls)
        return folder

    def _write_onnx(self, folder: Path) -> None:
        """``model_float.onnx`` always; ``model_fixed.onnx`` when float64 can carry every value
        exactly (else ``model_fixed.txt`` says why)."""
        import onnx as onnx_lib

        from nnfx.backends import onnx as onnx_backend
        from nnfx.errors import UnsupportedOpError

        onnx_lib.save(
            onnx_backend.to_float_onnx(self.float_model.graph), str(folder / "model_float.onnx")
        )
        try:
            onnx_lib.save(self.fixed_onnx(), str(folder / "model_fixed.onnx"))
        except (PrecisionError, UnsupportedOpError) as e:
            (folder / "model_fixed.txt").write_text(f"no fixed-point ONNX export: {e}\n")

    def __repr__(self) -> str:
        return f"CompiledModel({self.graph.name!r}, {len(self.graph.nodes)} nodes)"


def load_compiled(folder: str | Path) -> CompiledModel:
    """Read what :meth:`CompiledModel.save` wrote."""
    folder = Path(folder)
    record_path = folder / "compile.json"
    if not record_path.is_file():
        raise ModelError(f"'{folder}' is not a compiled nnfx model (no compile.json)")
    try:
        record = json.loads(record_path.read_text())
    except ValueError as e:
        raise ModelError(f"'{record_path}' is not valid JSON ({e})") from None
    if record.get("format") != FORMAT:
        raise ModelError(f"'{record_path}' is not an nnfx compile record")
    options = {k: v for k, v in record.items() if k not in ("format", "version")}
    graph = Graph.load(folder)
    float_model = Model(Graph.load(folder / "float"), options.get("source", ""))
    return CompiledModel(graph, float_model, options)


def _calibration_inputs(model: Model, calibration) -> dict[str, np.ndarray] | None:
    if calibration is None:
        return None
    if isinstance(calibration, str | Path):
        path = Path(calibration)
        if not path.is_file():
            raise DataError(f"calibration file '{path}' does not exist")
        with np.load(path) as archive:
            if "X" not in archive.files:
                raise DataError(f"calibration file '{path}' has no array 'X'")
            calibration = archive["X"]
    try:
        return model.to_ir_inputs(calibration)
    except DataError as e:
        raise DataError(f"calibration data: {e}") from None


def compile(  # noqa: A001  (the public name the API promises)
    model_or_path,
    precision: str | FixedType | PrecisionConfig | dict = "fixed<16,6>",
    calibration=None,
    width: int = 16,
    reuse_factor: int = 1,
    config: str | Path | None = None,
    *,
    ranges: dict[str, tuple] | None = None,
) -> CompiledModel:
    """Lower a model (a path, an ``onnx.ModelProto`` or a loaded :class:`Model`) to fixed point.

    ``precision``: a type string for every tensor (``"fixed<16,6>"``), ``"auto"`` (needs
    ``calibration``, uses ``width`` bits), a :class:`PrecisionConfig` or its dict form;
    ``config``: a YAML/JSON precision file (overrides ``precision``). ``ranges``: instead of
    ``calibration``, the ranges an earlier calibration of the same model observed
    (:func:`nnfx.runtime.calibration.observed_ranges` on ``model.to_ir_inputs(data)``), so
    that many designs calibrate once (``nnfx.sweep`` does).
    """
    if ranges is not None and calibration is not None:
        raise ConfigError("give compile() calibration data or ranges, not both")
    started = time.perf_counter()
    if isinstance(model_or_path, Model):
        model = model_or_path
    elif isinstance(model_or_path, str | Path | onnx.ModelProto):
        model = load(model_or_path)
    else:
        raise ModelError(
            f"compile() takes a path, an onnx.ModelProto or an nnfx.Model, not "
            f"{type(model_or_path).__name__}"
        )
    if not isinstance(reuse_factor, int) or reuse_factor < 1:
        raise ConfigError(f"reuse_factor must be a positive integer, got {reuse_factor!r}")
    if config is not None:
        settings = PrecisionConfig.load(config)
    elif isinstance(precision, PrecisionConfig):
        settings = precision
    elif isinstance(precision, dict):
        settings = PrecisionConfig.from_dict(precision)
    elif precision == "auto":
        settings = PrecisionConfig(default="auto", width=width)
    else:
        settings = PrecisionConfig(default=FixedType.parse(precision))
    if settings.auto and config is None and not isinstance(precision, PrecisionConfig | dict):
        settings.width = width
    settings = PrecisionConfig.from_dict(
        {f: getattr(settings, f) for f in settings.__dataclass_fields__}
    )
    inputs = _calibration_inputs(model, calibration)
    if ranges is None and inputs is not None:
        from nnfx.runtime.calibration import observed_ranges

        check_calibration(model.graph, inputs)
        ranges = observed_ranges(model.graph, inputs)
    graph = assign_precision(model.graph, settings, ranges)
    options = {
        "source": model.source,
        "precision": "auto" if settings.auto else str(settings.default),
        "width": settings.width,
        "reuse_factor": reuse_factor,
        "config": {
            "layers": settings.layers,
            "tensors": {k: str(v) for k, v in settings.tensors.items()},
            "margin_bits": settings.margin_bits,
            "table_size": settings.table_size,
        },
        "compile_seconds": round(time.perf_counter() - started, 3),
    }
    return CompiledModel(graph, model, options)


__all__ = ["CompiledModel", "compile", "load_compiled", "PrecisionError"]
