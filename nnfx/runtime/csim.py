"""C-simulation: the emitted HLS firmware built by g++ into a shared library and run batched.

The same kernels are built twice: with ac_fixed (``engine="csim"``, fast) and with ap_fixed
(``engine="csim-ap"``, what Vitis compiles); both headers ship inside the hls4ml package.
A generated bridge runs N samples per call, split over threads. Builds are cached by a hash of
the sources and the flags (``$NNFX_CACHE_DIR``, default ``~/.cache/nnfx/csim``), so a rebuild
happens only when the C++ changed.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from string import Template

import numpy as np

from nnfx.compiler.ir import INTEGER, Graph
from nnfx.errors import BuildError

ENGINES = {"csim": "ac", "csim-ap": "ap"}
FLAGS = ["-O2", "-std=c++14", "-fPIC", "-shared", "-pthread", "-DNNFX_FAST_CONSTANTS"]

BRIDGE = Template(r"""// nnfx C-simulation bridge: N samples through ${top}, split over threads.
#include <cstdint>
#include <thread>
#include <vector>
#include "firmware/${top}.h"

static void run_range(const double* const* in, double* const* out, long begin, long end) {
    for (long s = begin; s < end; s++) {
${declare}
${read}
        ${top}(${call});
${write}
    }
}

extern "C" int nnfx_run(const double* const* in, double* const* out, long n, int threads) {
    if (threads < 1) threads = 1;
    if (n < 64 * threads) threads = 1;
    std::vector<std::thread> pool;
    const long step = (n + threads - 1) / threads;
    for (int t = 0; t < threads; t++) {
        const long begin = t * step, end = begin + step < n ? begin + step : n;
        if (begin < end) pool.emplace_back(run_range, in, out, begin, end);
    }
    for (auto& worker : pool) worker.join();
    return 0;
}
""")


def cache_dir() -> Path:
    return Path(os.environ.get("NNFX_CACHE_DIR", Path.home() / ".cache" / "nnfx")) / "csim"


def type_headers(number: str) -> Path:
    import hls4ml

    root = Path(hls4ml.__file__).parent / "templates"
    return root / ("vivado/ap_types" if number == "ap" else "catapult/ac_types/include")


def bridge_source(graph: Graph, top: str, var: dict[str, str], sizes: dict[str, int]) -> str:
    declare, read, call, write = [], [], [], []
    for k, name in enumerate(graph.inputs):
        v, n = var[name], sizes[name]
        declare.append(f"        {v}_t {v}[{n}];")
        read.append(f"        for (long i = 0; i < {n}; i++) {v}[i] = in[{k}][s * {n} + i];")
        call.append(v)
    for k, name in enumerate(graph.outputs):
        v, n = var[name], sizes[name]
        declare.append(f"        {v}_t {v}[{n}];")
        value = f"(double){v}[i]" if graph.tensors[name].dtype == INTEGER else f"{v}[i].to_double()"
        write.append(f"        for (long i = 0; i < {n}; i++) out[{k}][s * {n} + i] = {value};")
        call.append(v)
    return BRIDGE.substitute(
        top=top,
        declare="\n".join(declare),
        read="\n".join(read),
        call=", ".join(call),
        write="\n".join(write),
    )


class CSimulation:
    """A built C-simulation of one compiled graph for one number type."""

    def __init__(self, graph: Graph, engine: str = "csim", progress: bool = True):
        from nnfx.backends.hls.writer import HlsOptions, HlsWriter

        if engine not in ENGINES:
            raise BuildError(f"unknown C-simulation engine '{engine}'; expected csim or csim-ap")
        if shutil.which("g++") is None:
            raise BuildError("g++ is not installed; the C-simulation needs it")
        self.graph, self.engine, self.number = graph, engine, ENGINES[engine]
        writer = HlsWriter(graph, HlsOptions())
        self.files = writer.files()
        self.top = writer.top
        self.var = writer.var
        self.sizes = {n: writer.size(n) for n in (*graph.inputs, *graph.outputs)}
        self.files["bridge.cpp"] = bridge_source(graph, self.top, self.var, self.sizes)
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
        compiler = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout
        digest = hashlib.sha256(compiler.encode() + " ".join(self.flags).encode())
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name].encode() + b"\0")
        return digest.hexdigest()[:24]

    def _build(self, progress: bool) -> Path:
        folder = cache_dir() / self._key()
        library = folder / "libnnfx_csim.so"
        if library.exists():
            return library
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
        try:
            for rel, text in self.files.items():
                path = staging / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            command = [
                "g++",
                *self.flags,
                "bridge.cpp",
                f"firmware/{self.top}.cpp",
                "-o",
                "libnnfx_csim.so",
            ]
            if progress:
                from nnfx.ui import console

                with console.status(f"g++: building the {self.engine} C-simulation..."):
                    done = subprocess.run(command, cwd=staging, capture_output=True, text=True)
            else:
                done = subprocess.run(command, cwd=staging, capture_output=True, text=True)
            if done.returncode != 0:
                first = next(
                    (line for line in done.stderr.splitlines() if "error" in line),
                    done.stderr.strip().splitlines()[0] if done.stderr.strip() else "",
                )
                raise BuildError(f"g++ failed to build the {self.engine} C-simulation: {first}")
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return library

    def run(
        self, ir_inputs: dict[str, np.ndarray], threads: int | None = None
    ) -> dict[str, np.ndarray]:
        """Run on IR-layout input *values* (already quantized); return output values."""
        n = len(next(iter(ir_inputs.values())))
        ins = [
            np.ascontiguousarray(ir_inputs[name].reshape(n, -1), dtype=np.float64)
            for name in self.graph.inputs
        ]
        outs = [np.empty((n, self.sizes[name]), dtype=np.float64) for name in self.graph.outputs]
        in_ptrs = (ctypes.c_void_p * len(ins))(*[a.ctypes.data for a in ins])
        out_ptrs = (ctypes.c_void_p * len(outs))(*[a.ctypes.data for a in outs])
        self._lib.nnfx_run(in_ptrs, out_ptrs, n, threads or os.cpu_count() or 1)
        return {
            name: out.reshape(n, *self.graph.tensors[name].shape)
            for name, out in zip(self.graph.outputs, outs, strict=True)
        }
