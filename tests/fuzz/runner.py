"""Run fuzz cases, each in a forked child with a memory limit and a timeout.

A case is (seed, index): ``random.Random(f"{seed}:{index}")`` picks a seed model, mutates it
and draws the data, so any case reproduces on its own. The child loads the file with
``nnfx.load``, runs the float reference, compiles at ``fixed<12,4>`` and at ``auto`` (with
calibration data, sometimes holding NaN or Inf) and runs the fixed reference. The outcome must
be success or an :class:`nnfx.NnfxError` whose message is one printable sentence.
"""

from __future__ import annotations

import faulthandler
import json
import os
import random
import re
import resource
import select
import signal
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from tests.fuzz.corpus import seeds
from tests.fuzz.mutate import Mutator

TIMEOUT_S = 10.0
MEMORY_BYTES = 2 << 30  # on top of what the parent process already maps
MAX_MESSAGE = 2000
# An unescaped rich markup tag ("[/]", "[bold red]"), as rich.markup.escape finds them.
MARKUP = re.compile(r"(?<!\\)\[[a-z#/@][^\[]*?]")
FAILURES = ("uncaught", "bad-message", "timeout", "crash")


@dataclass
class Outcome:
    kind: str  # "ok", "error", or one of FAILURES
    detail: str = ""  # the error class, or what went wrong
    case: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.kind in FAILURES


def message_problem(message: str) -> str | None:
    """What is wrong with an error message, or None: one printable line, no markup."""
    if not message.strip():
        return "empty message"
    if not message.isprintable():
        return "non-printable characters"
    if MARKUP.search(message):
        return "rich markup"
    if len(message) > MAX_MESSAGE:
        return f"{len(message)} characters"
    return None


def make_case(seed: int, index: int) -> tuple[random.Random, str, bytes, list[str]]:
    """The mutated model of one case: (rng for the data, seed model name, bytes, log)."""
    rng = random.Random(f"{seed}:{index}")
    name, data = rng.choice(seeds())
    data, log = Mutator(rng).mutate(data)
    return rng, name, data, log


def random_inputs(model, rng: random.Random, batch: int) -> dict[str, np.ndarray]:
    """Data in the model's layout for every input."""
    from nnfx.frontends.onnx import inverse

    data_rng = np.random.default_rng(rng.randrange(2**32))
    out = {}
    for name in model.input_names:
        t = model.graph.tensors[name]
        shape = tuple(t.shape[i] for i in inverse(t.onnx_perm))
        scale = rng.choice((0.1, 1.0, 4.0, 100.0))
        out[name] = (data_rng.standard_normal((batch, *shape)) * scale).astype(np.float32)
    return out


def exercise(path: str, rng: random.Random) -> None:
    """What a user does with a model file; raises whatever nnfx raises."""
    import nnfx

    model = nnfx.load(path)
    X = random_inputs(model, rng, rng.choice((1, 2, 5)))
    feed = X if len(X) > 1 else next(iter(X.values()))
    model.predict(feed)
    compiled = nnfx.compile(model, "fixed<12,4>")
    compiled.predict(feed)
    calibration = {k: v.copy() for k, v in X.items()}
    if rng.random() < 0.15:  # special values must be refused as a DataError
        array = calibration[rng.choice(sorted(calibration))]
        if array.size:
            array.reshape(-1)[rng.randrange(array.size)] = rng.choice((np.nan, np.inf, -np.inf))
    calibration = calibration if len(calibration) > 1 else next(iter(calibration.values()))
    compiled = nnfx.compile(model, "auto", calibration=calibration, width=rng.choice((8, 16)))
    compiled.predict(feed)


def classify(action) -> tuple[str, str]:
    """Run ``action()``; (kind, detail) of its outcome."""
    from nnfx.errors import NnfxError

    try:
        action()
    except NnfxError as e:
        problem = message_problem(str(e))
        if problem:
            return "bad-message", f"{type(e).__name__} with {problem}: {str(e)[:300]!r}"
        return "error", type(e).__name__
    except BaseException as e:  # noqa: BLE001  (anything else escaping is the bug we look for)
        frames = traceback.extract_tb(e.__traceback__)
        where = next(
            (
                f"{f.filename.split('/nnfx/')[-1]}:{f.lineno}"
                for f in reversed(frames)
                if "/nnfx/" in f.filename and "/tests/" not in f.filename
            ),
            "?",
        )
        return "uncaught", f"{type(e).__name__} at {where}: {str(e)[:300]!r}"
    return "ok", ""


def _address_space() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


CASES_PER_WORKER = 100  # then a fresh worker, so that no case sees much of another's state
# The parent's ends of every worker's pipes: a new worker closes them, or a worker would hold
# another's pipe open and never see the end of its input.
_PARENT_FDS: set[int] = set()


@dataclass
class _Worker:
    """A forked child that runs cases sent to it one index per line, answering one JSON
    line each, under a memory limit; killed and replaced on a timeout."""

    pid: int
    send: int  # fd: indices to the child
    receive: int  # fd: outcomes from the child
    index: int | None = None  # the case it runs now
    started: float = 0.0
    done: int = 0
    buffer: bytes = b""

    @staticmethod
    def start(seed: int, folder: str, limit: int) -> _Worker:
        down_read, down_write = os.pipe()
        up_read, up_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            for fd in (down_write, up_read, *_PARENT_FDS):
                os.close(fd)
            _serve(down_read, up_write, seed, folder, limit)
        os.close(down_read)
        os.close(up_write)
        _PARENT_FDS.update((down_write, up_read))
        return _Worker(pid, down_write, up_read)

    def submit(self, index: int) -> None:
        self.index, self.started = index, time.monotonic()
        os.write(self.send, f"{index}\n".encode())

    def stop(self, kill: bool = False) -> None:
        if kill:
            os.kill(self.pid, signal.SIGKILL)
        self.close()
        os.waitpid(self.pid, 0)

    def close(self) -> None:
        for fd in (self.send, self.receive):
            os.close(fd)
            _PARENT_FDS.discard(fd)


def _serve(read_fd: int, write_fd: int, seed: int, folder: str, limit: int) -> None:
    """The worker's loop (in the forked child): bound memory, run cases until EOF, exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        warnings.simplefilter("ignore")
        faulthandler.disable()  # a crash is reported by the parent, without a stack dump
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        with os.fdopen(read_fd) as requests:
            for line in requests:
                index = int(line)
                rng, name, data, log = make_case(seed, index)
                path = os.path.join(folder, f"case{os.getpid()}.onnx")
                with open(path, "wb") as f:
                    f.write(data)
                kind, detail = classify(lambda: exercise(path, rng))  # noqa: B023
                message = json.dumps({"kind": kind, "detail": detail, "log": [name, *log]})
                os.write(write_fd, message.encode()[:60000] + b"\n")
    finally:
        os._exit(0)


def run_cases(
    seed: int, indices, jobs: int = 1, timeout_s: float = TIMEOUT_S, memory: int = MEMORY_BYTES
):
    """Yield the :class:`Outcome` of every case, run by ``jobs`` workers."""
    seeds()  # build the corpus once, before forking
    import nnfx  # noqa: F401  (imported once in the parent, shared by every worker)

    limit = _address_space() + memory if memory else 0
    pending = iter(indices)
    with tempfile.TemporaryDirectory(prefix="nnfx-fuzz-") as folder:
        workers: list[_Worker] = []
        idle = [_Worker.start(seed, folder, limit) for _ in range(jobs)]
        try:
            while True:
                while idle:
                    index = next(pending, None)
                    if index is None:
                        break
                    worker = idle.pop()
                    worker.submit(index)
                    workers.append(worker)
                for worker in idle:
                    worker.stop()
                idle = []
                if not workers:
                    return
                now = time.monotonic()
                wait = max(0.0, min(w.started + timeout_s - now for w in workers))
                ready, _, _ = select.select([w.receive for w in workers], [], [], wait)
                for worker in [w for w in workers if w.receive in ready]:
                    chunk = os.read(worker.receive, 65536)
                    worker.buffer += chunk
                    case = f"{seed}:{worker.index}"
                    if not chunk:  # died in the middle of a case
                        workers.remove(worker)
                        worker.close()
                        _, status = os.waitpid(worker.pid, 0)
                        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                        yield Outcome(
                            "crash",
                            f"killed by signal {signum}"
                            if signum
                            else "the worker exited in the middle of a case",
                            case,
                        )
                        idle.append(_Worker.start(seed, folder, limit))
                        continue
                    if not worker.buffer.endswith(b"\n"):
                        continue
                    result = json.loads(worker.buffer.decode())
                    worker.buffer, worker.done = b"", worker.done + 1
                    workers.remove(worker)
                    yield Outcome(result["kind"], result["detail"], case, result["log"])
                    if worker.done >= CASES_PER_WORKER:
                        worker.stop()
                        worker = _Worker.start(seed, folder, limit)
                    idle.append(worker)
                now = time.monotonic()
                for worker in [w for w in workers if now - w.started > timeout_s]:
                    workers.remove(worker)
                    worker.stop(kill=True)
                    yield Outcome("timeout", f"over {timeout_s:g} s", f"{seed}:{worker.index}")
                    idle.append(_Worker.start(seed, folder, limit))
        finally:  # stopped early (an exception, a closed generator): no worker outlives us
            for worker in workers + idle:
                worker.stop(kill=True)


def summarize(outcomes: list[Outcome], seconds: float) -> str:
    """A table: cases, successes, NnfxErrors by class, and every kind of failure."""
    kinds = Counter(o.kind for o in outcomes)
    errors = Counter(o.detail for o in outcomes if o.kind == "error")
    rows = [("cases", len(outcomes)), ("seconds", f"{seconds:.1f}"), ("success", kinds["ok"])]
    rows += [(f"NnfxError: {name}", n) for name, n in sorted(errors.items())]
    rows += [(kind, kinds[kind]) for kind in FAILURES]
    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value:>8}" for name, value in rows]
    failures = Counter((o.kind, o.detail) for o in outcomes if o.failed)
    for (kind, detail), n in failures.most_common():
        first = next(o for o in outcomes if o.kind == kind and o.detail == detail)
        lines.append(f"{kind} x{n} (first: case {first.case}): {detail}")
    return "\n".join(lines)
