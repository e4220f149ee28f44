"""C-simulation: the emitted HLS firmware built by g++ into a shared library and run batched.

The same kernels are built twice: with ac_fixed (``engine="csim"``, fast) and with ap_fixed
(``engine="csim-ap"``, what Vitis compiles); both headers ship inside the hls4ml package.
A generated bridge runs N samples per call, split over worker threads whose stacks are sized
from the model (the firmware keeps its tensors on the stack, as Vitis wants them). Builds are
cached by a hash of the sources and the flags (``$NNFX_CACHE_DIR/csim``, default
``~/.cache/nnfx/csim``); each library is recorded with its size and SHA-256 and verified before
it is loaded, so a damaged cache entry is rebuilt instead of crashing the process.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from string import Template

import numpy as np

from nnfx.compiler.ir import Graph
from nnfx.errors import BuildError

ENGINES = {"csim": "ac", "csim-ap": "ap"}
FLAGS = ["-O2", "-std=c++14", "-fPIC", "-shared", "-pthread", "-DNNFX_FAST_CONSTANTS"]
LIBRARY = "libnnfx_csim.so"
LOCKS = ".locks"  # one empty lock file per build key, so that one process builds it
RECORD = "library.json"  # size and sha256 of LIBRARY, written after a successful build
STALE_SECONDS = 3600  # a staging folder this old, or whose builder died, is removed


RUN_ERRORS = {
    1: "could not set up its worker threads",
    2: "could not size its worker threads' stacks",
    3: "could not start a worker thread (the model's tensors may need more stack than the "
    "machine allows)",
}


def cache_dir() -> Path:
    return Path(os.environ.get("NNFX_CACHE_DIR", Path.home() / ".cache" / "nnfx")) / "csim"


def type_headers(number: str) -> Path:
    import hls4ml

    root = Path(hls4ml.__file__).parent / "templates"
    return root / ("vivado/ap_types" if number == "ap" else "catapult/ac_types/include")


def bridge_source(graph: Graph, writer) -> str:
    """The bridge for a rendered :class:`HlsWriter` (its names, top and sizes): the template
    beside the testbench's, filled by the same :meth:`HlsWriter.harness`."""
    parts = writer.harness(
        declare="    {type} {var}[{size}];",
        read="        for (long i = 0; i < {size}; i++) {var}[i] = in[{k}][sample * {size} + i];",
        write="        for (long i = 0; i < {size}; i++) out[{k}][sample * {size} + i] = {value};",
    )
    names = writer.names
    terms = [
        f"sizeof({names.tensor_type(name)}) * {writer.size(name)}"
        for name in graph.tensors
        if names.tensor_type(name) in writer.types.defs  # tensors the project uses
    ]
    from nnfx.backends.hls.writer import TEMPLATES

    template = Template((TEMPLATES / "csim_bridge.cpp.in").read_text())
    return template.substitute(top=writer.top, tensor_bytes=" +\n    ".join(terms) or "0", **parts)


@functools.lru_cache(maxsize=1)
def _compiler_version() -> str:
    """``g++ --version`` (part of every build's cache key), asked once per process."""
    return subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(folder: Path) -> Path | None:
    """The cached library in ``folder`` when its size and SHA-256 match the build record."""
    library, record = folder / LIBRARY, folder / RECORD
    try:
        expected = json.loads(record.read_text())
        if library.stat().st_size != expected["size"]:
            return None
        return library if _file_digest(library) == expected["sha256"] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_builds(root: Path) -> None:
    """Remove ``.build-<pid>-*`` staging folders of dead builders, or older than an hour."""
    try:
        entries = list(root.glob(".build-*"))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        parts = entry.name.split("-")
        pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
        try:
            old = now - entry.lstat().st_mtime > STALE_SECONDS
        except OSError:
            continue
        if old or (pid is not None and pid != os.getpid() and not _pid_alive(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _prepare_cache(root: Path) -> None:
    """Create the cache folder or refuse with one sentence."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as e:  # ValueError (a NUL in the path) has no strerror
        reason = getattr(e, "strerror", None) or e
        raise BuildError(
            f"cannot use the C-simulation cache folder '{root}' ({reason}); "
            "set NNFX_CACHE_DIR to a writable folder"
        ) from None
    if not root.is_dir() or not os.access(root, os.W_OK | os.X_OK):
        raise BuildError(
            f"the C-simulation cache folder '{root}' is not a writable folder; "
            "set NNFX_CACHE_DIR to a writable folder"
        )


@contextlib.contextmanager
def _build_lock(path: Path):
    """One build of a key at a time across processes (two test workers, two users' runs):
    the second waits for the first and then finds its build. Where the lock file cannot be
    made, builds are not serialized (each still installs atomically)."""
    try:
        import fcntl

        path.parent.mkdir(exist_ok=True)
        handle = open(path, "a")  # noqa: SIM115 - held for the block
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CSimulation:
    """A built C-simulation of one compiled graph for one number type."""

    def __init__(self, graph: Graph, engine: str = "csim", progress: bool = True, options=None):
        """``options``: the HLS writer's (HlsOptions; default: its defaults)."""
        from nnfx.backends.hls.writer import HlsOptions, HlsWriter

        if engine not in ENGINES:
            raise BuildError(f"unknown C-simulation engine '{engine}'; expected csim or csim-ap")
        if shutil.which("g++") is None:
            raise BuildError("g++ is not installed; the C-simulation needs it")
        self.graph, self.engine, self.number = graph, engine, ENGINES[engine]
        writer = HlsWriter(graph, options or HlsOptions())
        self.files = writer.files()
        self.top = writer.top
        self.sizes = {n: writer.size(n) for n in (*graph.inputs, *graph.outputs)}
        self.files["bridge.cpp"] = bridge_source(graph, writer)
        flags = [*FLAGS, f"-isystem{type_headers(self.number)}"]
        if self.number == "ac":
            flags.append("-DNNFX_AC_TYPES")
        self.flags = flags
        self.library = self._build(progress)
        self._lib = ctypes.CDLL(str(self.library))
        self._lib.nnfx_run.argtypes = [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_long,
            ctypes.c_int,
        ]
        self._lib.nnfx_run.restype = ctypes.c_int

    def _key(self) -> str:
        digest = hashlib.sha256(_compiler_version().encode() + " ".join(self.flags).encode())
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name].encode() + b"\0")
        return digest.hexdigest()[:24]

    def _build(self, progress: bool) -> Path:
        root = cache_dir()
        folder = root / self._key()
        library = verified(folder)
        if library is not None:
            return library
        _prepare_cache(root)
        with _build_lock(root / LOCKS / folder.name):
            library = verified(folder)  # built by another process while this one waited
            if library is not None:
                return library
            return self._build_unlocked(root, folder, progress)

    def _build_unlocked(self, root: Path, folder: Path, progress: bool) -> Path:
        clean_stale_builds(root)
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".build-{os.getpid()}-", dir=root))
        except OSError as e:
            raise BuildError(
                f"cannot create a build folder in '{root}' ({e.strerror}); "
                "set NNFX_CACHE_DIR to a writable folder"
            ) from None
        try:
            self._compile(staging, progress)
            built = staging / LIBRARY
            record = {"size": built.stat().st_size, "sha256": _file_digest(built)}
            (staging / RECORD).write_text(json.dumps(record))
            if folder.is_symlink() or folder.is_file():
                folder.unlink()
            elif folder.exists():  # damaged (failed verification): replaced
                shutil.rmtree(folder, ignore_errors=True)
            try:
                staging.rename(folder)
            except OSError:  # another process installed the same build meanwhile
                if verified(folder) is None:
                    raise
        except OSError as e:
            raise BuildError(
                f"cannot write the {self.engine} C-simulation build into '{root}' "
                f"({getattr(e, 'strerror', None) or e}); set NNFX_CACHE_DIR to a writable folder"
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        library = verified(folder)
        if library is None:
            raise BuildError(f"the {self.engine} C-simulation build in '{folder}' was damaged")
        return library

    def _compile(self, staging: Path, progress: bool) -> None:
        """The bridge and the firmware compiled side by side (two processes: the build is
        most of a first run's time, and one g++ uses one core), then linked."""
        for rel, text in self.files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        sources = {"bridge.o": "bridge.cpp", "firmware.o": f"firmware/{self.top}.cpp"}
        compile_flags = [f for f in self.flags if f != "-shared"]
        commands = [["g++", *compile_flags, "-c", src, "-o", obj] for obj, src in sources.items()]
        link = ["g++", *self.flags, *sources, "-o", LIBRARY]

        def build() -> str:
            """Run the commands; the stderr of the first that fails ("" when all succeed)."""
            running = [
                subprocess.Popen(c, cwd=staging, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for c in commands
            ]
            errors = [p.communicate()[1].decode(errors="replace") for p in running]
            for p, err in zip(running, errors, strict=True):
                if p.returncode != 0:
                    return err or f"exit status {p.returncode}"
            done = subprocess.run(link, cwd=staging, capture_output=True, text=True)
            return "" if done.returncode == 0 else (done.stderr or f"exit status {done.returncode}")

        if progress:
            from nnfx.ui import console

            with console.status(f"g++: building the {self.engine} C-simulation..."):
                stderr = build()
        else:
            stderr = build()
        if stderr:
            lines = [line for line in stderr.splitlines() if line.strip()]
            first = next(  # the compiler's or the linker's own line, not collect2's summary
                (line for line in lines if "error" in line and "collect2" not in line),
                lines[0] if lines else "",
            )
            raise BuildError(f"g++ failed to build the {self.engine} C-simulation: {first}")

    def run(
        self, ir_inputs: dict[str, np.ndarray], threads: int | None = None
    ) -> dict[str, np.ndarray]:
        """Run on IR-layout input *values* (already quantized); return output values."""
        n = len(next(iter(ir_inputs.values())))
        if n == 0:
            return {
                name: np.empty((0, *self.graph.tensors[name].shape), np.float64)
                for name in self.graph.outputs
            }
        ins = [
            np.ascontiguousarray(ir_inputs[name].reshape(n, -1), dtype=np.float64)
            for name in self.graph.inputs
        ]
        outs = [np.empty((n, self.sizes[name]), dtype=np.float64) for name in self.graph.outputs]
        in_ptrs = (ctypes.c_void_p * len(ins))(*[a.ctypes.data for a in ins])
        out_ptrs = (ctypes.c_void_p * len(outs))(*[a.ctypes.data for a in outs])
        status = self._lib.nnfx_run(in_ptrs, out_ptrs, n, threads or os.cpu_count() or 1)
        if status != 0:
            raise BuildError(f"the {self.engine} C-simulation {RUN_ERRORS.get(status, 'failed')}")
        return {
            name: out.reshape(n, *self.graph.tensors[name].shape)
            for name, out in zip(self.graph.outputs, outs, strict=True)
        }
