"""Run random cases through the fixed-point engines and compare their raw codes.

A case is one random network compiled once (one random precision) and a batch of random
inputs pushed through it by every engine. ``reference`` and ``ort`` run on every case; the
two C-simulations (``csim``, ``csim-ap``; a g++ build each, 1-5 s) run on every
``csim_every``-th case. Codes must be identical (``np.array_equal``), never close.

Outcomes, per case and engine (docs/testing.md says the same):

- *refused* — ``nnfx.load``/``nnfx.compile`` raised an ``NnfxError`` (every engine is refused
  alike; counted once, by error class), or one engine's ``predict_raw`` raised one (e.g. the
  fixed ONNX export cannot hold a type exactly in float64): counted for that engine.
  When the reference refuses (e.g. a ``DataError`` for NaN inputs), every other engine must
  refuse too, with the same error class or one saying it cannot represent the model at all
  (``CAPABILITY``); csim and csim-ap must refuse alike; otherwise it is a *refusal mismatch*.
- *equal* / *mismatch* — the engine's codes against the reference's.
- *error* — anything that is not an ``NnfxError`` (a crash of nnfx or of the tester).
- *skipped* — a C-simulation not run on this case (not sampled, or a model input/output
  wider than 53 bits, which the C-simulation exchanges as doubles).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import nnfx
from nnfx.compiler.fixed import FixedType
from nnfx.compiler.ir import INTEGER
from nnfx.compiler.passes import PIPELINE, fold_batchnorm, fuse_activations
from nnfx.errors import NnfxError
from tests.differential import generator as gen

ENGINES = ("reference", "ort", "csim", "csim-ap")
# An engine that cannot represent a compiled model at all refuses with one of these, whatever
# the data; it need not match the reference's refusal of the data.
CAPABILITY = ("PrecisionError", "UnsupportedOpError", "BuildError")
CSIM = ("csim", "csim-ap")
PASSES = {
    "default": PIPELINE,
    "fuse": (*PIPELINE, fuse_activations),  # Dense/Conv absorb a following relu/leaky_relu
    "nofold": tuple(p for p in PIPELINE if p is not fold_batchnorm),  # BatchNorm stays a node
}


@dataclass
class Options:
    seed: int = 1
    max_width: int = 32
    max_ops: int = 6
    batch: int = 48
    engines: tuple[str, ...] = ENGINES
    csim_every: int = 20
    csim_refused_every: int = 5  # and every Nth case that ort refused (0: never)
    save_dir: str | None = None
    minimize: bool = True
    minimize_limit: int = 8  # C-simulation minimizations per failure kind and worker (builds)
    specials: float = 0.0  # share of cases whose inputs also hold NaN, +Inf and -Inf
    # Run the sampled cases' C-simulations together, one build of their union per engine
    # (tests/csim_union.py), falling back to one build per case when the union does not run.
    csim_together: bool = False


@dataclass
class CaseResult:
    index: int
    ops: list[str] = field(default_factory=list)
    mode: str = ""
    passes: str = ""
    types: list[str] = field(default_factory=list)  # every distinct tensor type of the case
    compile_refusal: str | None = None
    ran: dict[str, bool] = field(default_factory=dict)  # engine -> produced codes
    equal: dict[str, bool] = field(default_factory=dict)  # engine -> equal to the reference
    refusals: dict[str, str] = field(default_factory=dict)  # engine -> "Class: message"
    errors: dict[str, str] = field(default_factory=dict)  # engine or stage -> "Class: message"
    skipped: dict[str, str] = field(default_factory=dict)  # engine -> reason
    refusal_mismatch: str | None = None
    mismatches: list[dict] = field(default_factory=list)
    crashes: dict[str, dict] = field(default_factory=dict)  # engine -> minimized crash
    saved: str | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.mismatches or self.errors or self.refusal_mismatch)


def _describe(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text[:300]}"


def raw_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@dataclass
class Built:
    """A case made concrete: the ONNX model, the precision, the compiled model, the data."""

    model: object
    passes: str
    precision: dict
    ops: list[str]
    calibration: np.ndarray | None = None
    compiled: object = None
    X: np.ndarray | None = None


def build(seed: int, index: int, options: Options, result: CaseResult) -> Built | None:
    """Draw case ``index`` and compile it; None when nnfx refuses (recorded in ``result``)."""
    rng_net = gen.rng_for(seed, index, 0)
    model, ops = gen.random_network(rng_net, options.max_ops)
    passes = str(rng_net.choice(gen.PASS_CHOICES))
    result.ops, result.passes = sorted(set(ops)), passes
    try:
        loaded = nnfx.load(model, passes=PASSES[passes])
    except NnfxError as e:
        result.compile_refusal = _describe(e)
        return Built(model, passes, {}, ops)
    precision, result.mode = gen.random_precision(
        gen.rng_for(seed, index, 1), loaded.graph, options.max_width
    )
    rng_data = gen.rng_for(seed, index, 2)
    shape = tuple(
        model.graph.input[0].type.tensor_type.shape.dim[i].dim_value
        for i in range(1, len(model.graph.input[0].type.tensor_type.shape.dim))
    )
    built = Built(model, passes, precision, ops)
    if precision["default"] == "auto":
        built.calibration = gen.calibration_data(rng_data, shape)
    try:
        built.compiled = nnfx.compile(loaded, dict(precision), calibration=built.calibration)
    except NnfxError as e:
        result.compile_refusal = _describe(e)
        return built
    graph = built.compiled.graph
    result.types = sorted(
        {str(t.dtype) for t in graph.tensors.values() if isinstance(t.dtype, FixedType)}
    )
    t_in = graph.tensors[graph.inputs[0]].dtype
    batch = 1 if rng_data.random() < 0.05 else options.batch  # a batch of one, sometimes
    built.X = gen.random_values(rng_data, t_in, (batch, *shape))
    if options.specials and rng_data.random() < options.specials:
        gen.add_specials(rng_data, built.X)
    return built


def io_too_wide(compiled) -> str | None:
    g = compiled.graph
    for name in (*g.inputs, *g.outputs):
        t = g.tensors[name].dtype
        if isinstance(t, FixedType) and t.width > gen.IO_MAX_WIDTH:
            return f"'{name}' is {t}, wider than {gen.IO_MAX_WIDTH} bits"
    return None


def _predict(compiled, X, engine: str) -> tuple[str, object]:
    try:
        return "ok", compiled.predict_raw(X, engine)
    except NnfxError as e:
        return "refused", _describe(e)
    except Exception as e:  # noqa: BLE001 - a crash is an outcome to report
        return "error", _describe(e)


def _child(connection, compiled, X, engine: str, log: str) -> None:
    import faulthandler
    import os
    import sys

    faulthandler.disable()  # a crash here is reported by the parent, not dumped
    with open(log, "w") as stream:  # the C++ runtime's own messages (ap_fixed assertions)
        os.dup2(stream.fileno(), 2)
        sys.stderr = stream
        connection.send(_predict(compiled, X, engine))
    connection.close()


def predict_isolated(compiled, X, engine: str, timeout: float) -> tuple[str, object]:
    """``predict_raw`` in a forked child, so that a C-simulation that aborts (an ap_fixed
    assertion, a segfault) or hangs is reported as an error instead of killing the tester."""
    import multiprocessing
    import signal
    import tempfile

    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    with tempfile.NamedTemporaryFile("r", suffix=".log") as log:
        process = context.Process(target=_child, args=(child, compiled, X, engine, log.name))
        process.start()
        child.close()
        outcome = None
        if parent.poll(timeout):
            try:
                outcome = parent.recv()
            except EOFError:
                outcome = None
        process.join(5 if outcome is not None else 0.1)
        if process.is_alive():
            process.kill()
            process.join()
        if outcome is None:
            code = process.exitcode
            if code is not None and code < 0:
                name = signal.Signals(-code).name
            else:
                name = "Timeout" if code is None or code == -9 else f"exit {code}"
            text = " ".join(log.read().split())[:300]
            outcome = ("error", f"Crash({name}): {text or 'no message'}")
    return outcome


def run_engines(compiled, X, engines, result: CaseResult, timeout: float = 600) -> dict:
    """Codes by engine (engines that refused or crashed are recorded in ``result``). The
    C-simulations run in a child process (a crash there is an outcome, not the end)."""
    outputs = {}
    for engine in engines:
        if engine in CSIM:
            status, value = predict_isolated(compiled, X, engine, timeout)
        else:
            status, value = _predict(compiled, X, engine)
        if status == "ok":
            outputs[engine] = value
            result.ran[engine] = True
        elif status == "refused":
            result.refusals[engine] = value
        else:
            result.errors[engine] = value
    return outputs


def compare(compiled, X, outputs: dict, result: CaseResult) -> None:
    ref = outputs.get("reference")
    for engine, out in outputs.items():
        if engine == "reference" or ref is None:
            continue
        same = raw_equal(out, ref)
        result.equal[engine] = same
        if not same:
            result.mismatches.append(mismatch_details(compiled, X, engine, ref, out))
    # refusals: the reference's must be shared by every engine; csim and csim-ap agree
    if "reference" in result.refusals:
        kind = result.refusals["reference"].split(":")[0]
        for engine in outputs:
            if engine != "reference":
                result.refusal_mismatch = f"the reference refused ({kind}) but {engine} ran"
        for engine, text in result.refusals.items():
            if text.split(":")[0] not in (kind, *CAPABILITY):
                result.refusal_mismatch = (
                    f"the reference refused with {kind}, {engine} with {text.split(':')[0]}"
                )
    c, a = (result.refusals.get(e, "").split(":")[0] for e in CSIM)
    if c != a and all(e in result.ran or e in result.refusals for e in CSIM):
        result.refusal_mismatch = f"csim {'refused: ' + c if c else 'ran'}, csim-ap " + (
            f"refused: {a}" if a else "ran"
        )


def _values(codes: np.ndarray, t) -> list:
    if t == INTEGER:
        return [int(v) for v in codes]
    return [float(np.ldexp(float(v), -t.frac)) for v in codes]


def mismatch_details(compiled, X, engine: str, ref: dict, out: dict, limit: int = 6) -> dict:
    """Which outputs, samples and elements differ, with codes and values."""
    details: dict = {"engine": engine, "outputs": {}}
    rows: set[int] = set()
    for name in ref:
        t = compiled.graph.tensors[name].dtype
        if name not in out or out[name].shape != ref[name].shape:
            details["outputs"][name] = {
                "shape": [list(ref[name].shape), list(out.get(name, np.empty(0)).shape)]
            }
            continue
        diff = np.argwhere(ref[name] != out[name])
        if not len(diff):
            continue
        rows.update(int(i[0]) for i in diff)
        first = [tuple(int(v) for v in i) for i in diff[:limit]]
        details["outputs"][name] = {
            "type": str(t),
            "differing": int(len(diff)),
            "of": int(ref[name].size),
            "first": [
                {
                    "index": list(i),
                    "reference": _values(np.array([ref[name][i]]), t)[0],
                    engine: _values(np.array([out[name][i]]), t)[0],
                    "reference_code": int(ref[name][i]),
                    f"{engine}_code": int(out[name][i]),
                }
                for i in first
            ],
        }
    details["samples"] = sorted(rows)[:20]
    details["differing_samples"] = len(rows)
    return details


# -- minimization ----------------------------------------------------------------------------
def _cut(compiled, tensor: str):
    """The compiled model computing only ``tensor`` (and what it needs) as its output."""
    from nnfx.compiled import CompiledModel
    from nnfx.compiler.passes import eliminate_dead_code

    graph = eliminate_dead_code(compiled.graph.replace(outputs=(tensor,)))
    return CompiledModel(graph, compiled.float_model, compiled.options)


def minimize(compiled, X, engine: str, mismatch: dict) -> dict:
    """The smallest reproduction: one mismatching input sample, and the first node (in
    topological order) whose output already differs between ``engine`` and the reference
    when the graph is cut right after it; with that node's types and the codes around it."""
    from nnfx.runtime.reference_fixed import run_fixed

    sample = mismatch["samples"][0] if mismatch.get("samples") else 0
    x1 = X[sample : sample + 1]
    found: dict = {"sample": int(sample), "input": np.asarray(x1).reshape(-1).tolist()}
    graph = compiled.graph
    for node in graph.nodes:
        out = node.outputs[0]
        t = graph.tensors[out].dtype
        if engine in CSIM and isinstance(t, FixedType) and t.width > gen.IO_MAX_WIDTH:
            continue
        cut = _cut(compiled, out)
        try:
            theirs = cut.predict_raw(x1, engine)
            ours = cut.predict_raw(x1, "reference")
        except NnfxError:
            continue
        if raw_equal(theirs, ours):
            continue
        codes = run_fixed(graph, compiled.quantize_inputs(x1), intermediate=True)
        found["node"] = _node_info(graph, node)
        diff = np.argwhere(ours[out] != theirs[out])
        element = tuple(int(v) for v in diff[0])
        found["element"] = list(element)
        found["reference_code"] = int(ours[out][element])
        found[f"{engine}_code"] = int(theirs[out][element])
        found["reference_value"] = _values(np.array([ours[out][element]]), t)[0]
        found[f"{engine}_value"] = _values(np.array([theirs[out][element]]), t)[0]
        found["node_inputs"] = {}
        for i in node.inputs:
            ti = graph.tensors[i].dtype
            ci = codes[i]
            entry: dict = {"type": str(ti)}
            if ci.shape == ours[out].shape:  # element-wise: the operands of that element
                entry["code"] = int(ci[element])
                entry["value"] = _values(np.array([ci[element]]), ti)[0]
            else:
                entry["codes"] = ci.reshape(-1)[:64].tolist()
            found["node_inputs"][i] = entry
        return found
    found["node"] = None  # only the whole graph shows it
    return found


def _node_info(graph, node) -> dict:
    p = node.precision
    return {
        "name": node.name,
        "op": node.op.value,
        "attrs": repr(node.attrs),
        "input_types": [str(graph.tensors[i].dtype) for i in node.inputs],
        "output_type": str(graph.tensors[node.outputs[0]].dtype),
        "precision": p.to_json() if p else None,
    }


def minimize_crash(compiled, X, engine: str, samples: int = 16) -> dict:
    """The first node whose cut graph already crashes the C-simulation, and one input sample
    (with the codes the node receives) that crashes it."""
    from nnfx.runtime.reference_fixed import run_fixed

    graph = compiled.graph
    for node in graph.nodes:
        t = graph.tensors[node.outputs[0]].dtype
        if isinstance(t, FixedType) and t.width > gen.IO_MAX_WIDTH:
            continue
        cut = _cut(compiled, node.outputs[0])
        status, text = predict_isolated(cut, X, engine, 300)
        if status != "error":
            continue
        found = {"node": _node_info(graph, node), "error": text}
        for s in range(min(samples, len(X))):
            status, text = predict_isolated(cut, X[s : s + 1], engine, 300)
            if status == "error":
                codes = run_fixed(graph, compiled.quantize_inputs(X[s : s + 1]), intermediate=True)
                found["sample"] = s
                found["input"] = np.asarray(X[s]).reshape(-1).tolist()
                found["node_input_codes"] = {
                    i: codes[i].reshape(-1)[:64].tolist() for i in node.inputs
                }
                break
        return found
    return {"node": None}


def csim_sampled(index: int, options: Options, result: CaseResult) -> bool:
    """The C-simulations run on every ``csim_every``-th case, and on every
    ``csim_refused_every``-th case that the ort engine refused (there, nothing else checks
    the reference)."""
    if index % max(options.csim_every, 1) == 0:
        return True
    extra = options.csim_refused_every
    return extra > 0 and "ort" in result.refusals and index % extra == 0


# -- one case --------------------------------------------------------------------------------
_MINIMIZED: collections.Counter = collections.Counter()


def _may_minimize(engine: str, kind: str, options: Options) -> bool:
    """Minimizing a C-simulation failure rebuilds cut graphs (seconds each): only the first
    ``minimize_limit`` failures of a kind per worker process are minimized."""
    if engine not in CSIM:
        return True
    _MINIMIZED[(engine, kind)] += 1
    return _MINIMIZED[(engine, kind)] <= options.minimize_limit


@dataclass
class _Pending:
    """A case whose fast engines ran; ``slow``: the C-simulations still to run."""

    built: Built | None
    result: CaseResult
    outputs: dict = field(default_factory=dict)
    slow: list[str] = field(default_factory=list)
    started: float = 0.0


def start_case(index: int, options: Options) -> _Pending:
    """Build case ``index`` and run its fast engines; the C-simulations it samples are left
    in ``slow``."""
    pending = _Pending(None, CaseResult(index), started=time.perf_counter())
    result = pending.result
    try:
        built = pending.built = build(options.seed, index, options, result)
        if built is not None and built.compiled is not None:
            fast = [e for e in options.engines if e not in CSIM]
            pending.outputs = run_engines(built.compiled, built.X, fast, result)
            slow = [e for e in options.engines if e in CSIM]
            if slow and not csim_sampled(index, options, result):
                for e in slow:
                    result.skipped[e] = "not sampled"
                slow = []
            wide = io_too_wide(built.compiled)
            if wide:
                for e in slow:
                    result.skipped[e] = wide
                slow = []
            pending.slow = slow
    except Exception as e:  # noqa: BLE001 - the tester itself or nnfx crashed
        _crashed(result, e)
    return pending


def _crashed(result: CaseResult, e: Exception) -> None:
    result.errors["case"] = _describe(e)
    result.errors["traceback"] = traceback.format_exc()[-2000:]


def finish_case(pending: _Pending, options: Options) -> CaseResult:
    """Compare the engines' codes (the C-simulations' included), minimize, save."""
    built, result = pending.built, pending.result
    try:
        if built is not None and built.compiled is not None and "case" not in result.errors:
            compare(built.compiled, built.X, pending.outputs, result)
            if options.minimize:
                for m in result.mismatches:
                    if not _may_minimize(m["engine"], "mismatch", options):
                        continue
                    try:
                        m["minimized"] = minimize(built.compiled, built.X, m["engine"], m)
                    except Exception as e:  # noqa: BLE001
                        m["minimized"] = {"error": _describe(e)}
                for engine in [e for e in result.errors if e in CSIM]:
                    if not _may_minimize(engine, _pattern(result.errors[engine]), options):
                        continue
                    try:
                        result.crashes[engine] = minimize_crash(built.compiled, built.X, engine)
                    except Exception as e:  # noqa: BLE001
                        result.crashes[engine] = {"error": _describe(e)}
    except Exception as e:  # noqa: BLE001
        _crashed(result, e)
    result.seconds = time.perf_counter() - pending.started
    if result.failed and options.save_dir and built is not None:
        result.saved = str(save(Path(options.save_dir), options, built, result))
    return result


def run_case(index: int, options: Options) -> CaseResult:
    pending = start_case(index, options)
    if pending.slow and pending.built is not None:
        try:
            pending.outputs.update(
                run_engines(pending.built.compiled, pending.built.X, pending.slow, pending.result)
            )
        except Exception as e:  # noqa: BLE001
            _crashed(pending.result, e)
    return finish_case(pending, options)


def _union_child(connection, compiled, raws, engine: str, log: str) -> None:
    import faulthandler
    import os
    import sys

    from tests.csim_union import run_together

    faulthandler.disable()
    with open(log, "w") as stream:
        os.dup2(stream.fileno(), 2)
        sys.stderr = stream
        try:
            connection.send(("ok", run_together(engine, compiled, raws)))
        except Exception as e:  # noqa: BLE001 - any failure sends the group back case by case
            connection.send(("error", _describe(e)))
    connection.close()


def run_slow_together(pending: list[_Pending], timeout: float = 900) -> None:
    """The sampled C-simulations of ``pending`` cases: per engine, one build of the union of
    the cases with one batch size, in a forked child; where a union does not run (a refusal,
    a crash, a hang), its cases run one by one as :func:`run_case` runs them, so every outcome
    is the one a lone run gives."""
    import multiprocessing
    import tempfile

    for engine in CSIM:
        groups: dict[int, list[tuple[_Pending, dict]]] = collections.defaultdict(list)
        for p in pending:
            if engine not in p.slow or p.built is None:
                continue
            try:
                raw = p.built.compiled.quantize_inputs(p.built.X)
            except NnfxError:  # refused inputs: the lone run records the refusal
                groups[-1].append((p, {}))
                continue
            groups[len(p.built.X)].append((p, raw))
        for batch, members in groups.items():
            outcome: tuple = ("error", "")
            if batch >= 0 and len(members) > 1:
                context = multiprocessing.get_context("fork")
                parent, child = context.Pipe(duplex=False)
                compiled = [p.built.compiled for p, _ in members]  # type: ignore[union-attr]
                raws = [raw for _, raw in members]
                with tempfile.NamedTemporaryFile("r", suffix=".log") as log:
                    process = context.Process(
                        target=_union_child, args=(child, compiled, raws, engine, log.name)
                    )
                    process.start()
                    child.close()
                    if parent.poll(timeout):
                        try:
                            outcome = parent.recv()
                        except EOFError:
                            pass
                    process.join(5)
                    if process.is_alive():
                        process.kill()
                        process.join()
            if outcome[0] == "ok":
                for (p, _), out in zip(members, outcome[1], strict=True):
                    p.outputs[engine] = out
                    p.result.ran[engine] = True
            else:
                for p, _ in members:
                    p.outputs.update(
                        run_engines(p.built.compiled, p.built.X, [engine], p.result)  # type: ignore[union-attr]
                    )


def save(folder: Path, options: Options, built: Built, result: CaseResult) -> Path:
    """``model.onnx``, ``precision.json``, ``inputs.npz`` (X, calibration) and
    ``result.json``: enough to replay the case without the generator (``--replay``)."""
    import onnx

    case = folder / f"seed{options.seed}-case{result.index}"
    case.mkdir(parents=True, exist_ok=True)
    onnx.save(built.model, str(case / "model.onnx"))
    record = {"precision": built.precision, "passes": built.passes}
    (case / "precision.json").write_text(json.dumps(record, indent=1) + "\n")
    arrays = {}
    if built.X is not None:
        arrays["X"] = built.X
    if built.calibration is not None:
        arrays["calibration"] = built.calibration
    np.savez(case / "inputs.npz", **arrays)
    info = dataclasses.asdict(result)
    info["options"] = dataclasses.asdict(options)
    info["reproduce"] = (
        f"python -m tests.differential --seed {options.seed} --case {result.index} "
        f"--max-width {options.max_width} --max-ops {options.max_ops} --batch {options.batch} "
        f"--csim-every 1   # or: python -m tests.differential --replay {case}"
    )
    if built.compiled is not None:
        info["layers"] = built.compiled.layer_table()
    (case / "result.json").write_text(json.dumps(info, indent=1, default=str) + "\n")
    return case


def replay(folder: Path, engines=ENGINES) -> CaseResult:
    """Run a saved case again from its files."""
    import onnx

    record = json.loads((folder / "precision.json").read_text())
    with np.load(folder / "inputs.npz") as data:
        X = data["X"]
        calibration = data["calibration"] if "calibration" in data.files else None
    result = CaseResult(-1)
    loaded = nnfx.load(onnx.load(str(folder / "model.onnx")), passes=PASSES[record["passes"]])
    compiled = nnfx.compile(loaded, record["precision"], calibration=calibration)
    outputs = run_engines(compiled, X, engines, result)
    compare(compiled, X, outputs, result)
    for m in result.mismatches:
        m["minimized"] = minimize(compiled, X, m["engine"], m)
    return result


# -- many cases ------------------------------------------------------------------------------
@dataclass
class Summary:
    options: Options
    first: int = 0
    cases: int = 0
    compile_refused: collections.Counter = field(default_factory=collections.Counter)
    runs: collections.Counter = field(default_factory=collections.Counter)
    equal: collections.Counter = field(default_factory=collections.Counter)
    mismatched: collections.Counter = field(default_factory=collections.Counter)
    refused: collections.Counter = field(default_factory=collections.Counter)
    refusal_classes: collections.Counter = field(default_factory=collections.Counter)
    errored: collections.Counter = field(default_factory=collections.Counter)
    error_classes: collections.Counter = field(default_factory=collections.Counter)
    skipped: collections.Counter = field(default_factory=collections.Counter)
    ops: collections.Counter = field(default_factory=collections.Counter)
    modes: collections.Counter = field(default_factory=collections.Counter)
    rounding: collections.Counter = field(default_factory=collections.Counter)
    overflow: collections.Counter = field(default_factory=collections.Counter)
    widths: collections.Counter = field(default_factory=collections.Counter)
    refusal_messages: collections.Counter = field(default_factory=collections.Counter)
    refusal_mismatches: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    seconds: float = 0.0

    def add(self, r: CaseResult) -> None:
        self.cases += 1
        self.ops.update(r.ops)
        if r.compile_refusal:
            self.compile_refused[r.compile_refusal.split(":")[0]] += 1
            self.refusal_messages[f"compile: {_pattern(r.compile_refusal)}"] += 1
        else:
            self.modes[f"{r.mode}/{r.passes}"] += 1
        for text in r.types:
            t = FixedType.parse(text)
            self.rounding[t.rounding] += 1
            self.overflow[t.overflow] += 1
            self.widths["2-16" if t.width <= 16 else "17-32" if t.width <= 32 else "33-62"] += 1
        for engine in self.options.engines:
            if engine in r.ran:
                self.runs[engine] += 1
            if engine in r.equal:
                (self.equal if r.equal[engine] else self.mismatched)[engine] += 1
            if engine in r.refusals:
                self.refused[engine] += 1
                self.refusal_classes[f"{engine}: {r.refusals[engine].split(':')[0]}"] += 1
                self.refusal_messages[f"{engine}: {_pattern(r.refusals[engine])}"] += 1
            if engine in r.errors:
                self.errored[engine] += 1
            if engine in r.skipped and not r.compile_refusal:
                self.skipped[engine] += 1
        for stage, text in r.errors.items():
            if stage != "traceback":
                self.error_classes[f"{stage}: {text.split(':')[0]}"] += 1
        if r.refusal_mismatch:
            self.refusal_mismatches.append((r.index, r.refusal_mismatch))
        if r.failed:
            self.failures.append(r)

    def as_json(self) -> dict:
        out: dict = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, collections.Counter):
                out[f.name] = dict(value)
            elif f.name == "failures":
                out[f.name] = [dataclasses.asdict(r) for r in value]
            elif f.name == "options":
                out[f.name] = dataclasses.asdict(value)
            else:
                out[f.name] = value
        return out

    @property
    def mismatches(self) -> int:
        return sum(self.mismatched.values())

    @property
    def ok(self) -> bool:
        return not self.failures

    def table(self) -> str:
        o = self.options
        compiled = self.cases - sum(self.compile_refused.values())
        lines = [
            f"differential test: seed {o.seed}, cases {self.first}..{self.first + self.cases - 1}, "
            f"max width {o.max_width}, max ops {o.max_ops}, batch {o.batch}, "
            f"csim engines where index % {o.csim_every} == 0"
            + (
                f" (or index % {o.csim_refused_every} == 0 and ort refused)"
                if o.csim_refused_every
                else ""
            )
            + (f", NaN/Inf inputs in {o.specials:.0%} of the cases" if o.specials else ""),
            f"cases {self.cases}: compiled {compiled}, refused at compile "
            f"{sum(self.compile_refused.values())}"
            + (f" ({_counts(self.compile_refused)})" if self.compile_refused else ""),
            "",
            f"{'engine':<10} {'ran':>7} {'equal':>7} {'mismatch':>9} {'refused':>8} "
            f"{'errors':>7} {'skipped':>8}",
        ]
        for e in o.engines:
            equal = "-" if e == "reference" else str(self.equal[e])
            mism = "-" if e == "reference" else str(self.mismatched[e])
            lines.append(
                f"{e:<10} {self.runs[e]:>7} {equal:>7} {mism:>9} {self.refused[e]:>8} "
                f"{self.errored[e]:>7} {self.skipped[e]:>8}"
            )
        lines += [
            "",
            f"refusals by class: {_counts(self.refusal_classes) or 'none'}",
            "refusals by message:"
            + "".join(f"\n  {v:>6}  {k}" for k, v in self.refusal_messages.most_common(12)),
            f"errors by class: {_counts(self.error_classes) or 'none'}",
            f"refusal mismatches: {len(self.refusal_mismatches)}"
            + "".join(f"\n  case {i}: {text}" for i, text in self.refusal_mismatches[:10]),
            f"mismatching cases: {len([f for f in self.failures if f.mismatches])}",
            f"precision/passes: {_counts(self.modes)}",
            f"types by rounding: {_counts(self.rounding)}",
            f"types by overflow: {_counts(self.overflow)}",
            f"types by width: {_counts(self.widths)}",
            f"ops: {_counts(self.ops)}",
            f"seconds: {self.seconds:.1f}",
        ]
        for f in self.failures[:20]:
            lines.append(f"FAILED case {f.index}: " + describe_failure(f))
        return "\n".join(lines)


def _pattern(text: str) -> str:
    """A refusal message with names and numbers blanked, to group refusals by kind."""
    import re

    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r"\(fixed<[^)]*\)|u?fixed<[^>]*>", "<type>", text)
    return re.sub(r"-?\d+", "N", text)[:110]


def _counts(counter: collections.Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1]))


def describe_failure(r: CaseResult) -> str:
    parts = []
    for stage, text in r.errors.items():
        if stage != "traceback":
            parts.append(f"error in {stage}: {text}")
        node = r.crashes.get(stage, {}).get("node")
        if node:
            codes = r.crashes[stage].get("node_input_codes")
            parts.append(
                f"first crashing node {node['name']} ({node['op']}, in {node['input_types']}, "
                f"out {node['output_type']}), input codes {codes}"
            )
    if r.refusal_mismatch:
        parts.append(f"refusal mismatch: {r.refusal_mismatch}")
    for m in r.mismatches:
        mini = m.get("minimized") or {}
        node = mini.get("node")
        where = (
            f"first differing node {node['name']} ({node['op']}, in {node['input_types']}, "
            f"out {node['output_type']}): reference {mini.get('reference_value')} "
            f"(code {mini.get('reference_code')}), {m['engine']} {mini.get(m['engine'] + '_value')}"
            f" (code {mini.get(m['engine'] + '_code')}), operands {mini.get('node_inputs')}"
            if node
            else json.dumps(m["outputs"], default=str)[:400]
        )
        parts.append(f"{m['engine']} differs on {m['differing_samples']} samples; {where}")
    if r.saved:
        parts.append(f"saved in {r.saved}")
    return "; ".join(parts)


def run_many(options: Options, cases: int, first: int = 0, jobs: int = 1, progress=None) -> Summary:
    """Cases ``first .. first + cases - 1``; ``jobs`` worker processes."""
    summary = Summary(options, first=first)
    started = time.perf_counter()
    indices = range(first, first + cases)
    if options.csim_together:
        pending = []
        for i in indices:
            pending.append(start_case(i, options))
        run_slow_together(pending)
        for p in pending:
            summary.add(finish_case(p, options))
            if progress:
                progress(summary)
    elif jobs <= 1:
        results = (run_case(i, options) for i in indices)
        for r in results:
            summary.add(r)
            if progress:
                progress(summary)
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for r in pool.map(run_case, indices, [options] * cases, chunksize=4):
                summary.add(r)
                if progress:
                    progress(summary)
    summary.seconds = time.perf_counter() - started
    return summary
