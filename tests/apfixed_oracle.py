"""The real ap_fixed as a test oracle: g++ compiles conversions for a list of type
configurations against the ap_types headers shipped inside hls4ml; the build is cached."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from nnfx.backends.hls.render import cpp_type
from nnfx.backends.hls.writer import TEMPLATES
from nnfx.compiler.fixed import EXTENSION_ROUNDING, FixedType
from nnfx.runtime.csim import _build_lock

CONVERT = r"""
#include <cstdint>
#include "ap_fixed.h"
#include "nnfx_directed.h"
typedef void (*Converter)(const double*, int64_t*, int);
template <class T, int W, bool S>
void convert(const double* in, int64_t* out, int n) {
    for (int k = 0; k < n; ++k) {
        T v = in[k];
        uint64_t bits = v.range(W - 1, 0).to_uint64();
        bool negative = S && ((bits >> (W - 1)) & 1);
        out[k] = negative ? (int64_t)(bits | (W < 64 ? (~0ULL << W) : 0)) : (int64_t)bits;
    }
}
"""

MAIN = r"""
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>
typedef void (*Converter)(const double*, int64_t*, int);
%(externs)s
int main(int argc, char** argv) {
    const int values = atoi(argv[1]);
    Converter* tables[] = {%(tables)s};
    const int sizes[] = {%(sizes)s};
    std::vector<double> in(values);
    std::vector<int64_t> out(values);
    for (int t = 0; t < %(n_tables)d; ++t)
        for (int c = 0; c < sizes[t]; ++c) {
            if (fread(in.data(), sizeof(double), values, stdin) != (size_t)values) return 1;
            tables[t][c](in.data(), out.data(), values);
            fwrite(out.data(), sizeof(int64_t), values, stdout);
        }
    return 0;
}
"""


def ap_types_dir() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"


def _instantiation(t: FixedType) -> str:
    """ap_fixed itself for its own modes; for nnfx's CEIL and UP, which it lacks, the
    ``nnfx::directed`` type the HLS writer emits (templates/nnfx_directed.h), so that the C++
    rounding step is checked against quantize here too."""
    signed = "true" if t.signed else "false"
    if t.rounding in EXTENSION_ROUNDING:
        ctype = cpp_type(t, "ap")
    else:
        ctype = f"{'ap_fixed' if t.signed else 'ap_ufixed'}<{t.width},{t.integer},"
        ctype += f"AP_{t.rounding},AP_{t.overflow}>"
    return f"&convert<{ctype}, {t.width}, {signed}>"


class ApFixedOracle:
    """Build once (cached under ``cache_dir``), then ``codes(values_per_type)``."""

    def __init__(self, types: list[FixedType], cache_dir: Path, chunks: int = 4):
        self.types = types
        chunk_lists = [types[i::chunks] for i in range(chunks)]
        self.order = [t for chunk in chunk_lists for t in chunk]
        sources = {}
        for k, chunk in enumerate(chunk_lists):
            body = ",\n".join(_instantiation(t) for t in chunk)
            sources[f"table_{k}.cpp"] = (
                CONVERT
                + f"extern Converter TABLE_{k}[];\nConverter TABLE_{k}[] = {{\n{body}\n}};\n"
            )
        sources["main.cpp"] = MAIN % {
            "externs": "\n".join(f"extern Converter TABLE_{k}[];" for k in range(chunks)),
            "tables": ", ".join(f"TABLE_{k}" for k in range(chunks)),
            "sizes": ", ".join(str(len(c)) for c in chunk_lists),
            "n_tables": chunks,
        }
        compiler = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout
        kernels = (TEMPLATES / "nnfx_directed.h").read_text()  # only what the oracle compiles
        text = compiler + kernels + repr(sorted(sources.items()))
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.folder = cache_dir / key
        self.binary = self.folder / "ap_quantize"
        if not self.binary.exists():
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            with _build_lock(self.folder.parent / ".locks" / key):  # one builder at a time
                if not self.binary.exists():
                    self._build(sources)

    def _build(self, sources: dict[str, str]) -> None:
        staging = self.folder.with_name(self.folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, text in sources.items():
            (staging / name).write_text(text)
        flags = ["-O0", "-std=c++14", "-w", f"-I{ap_types_dir()}", f"-I{TEMPLATES}"]

        def compile_one(name):
            subprocess.run(["g++", *flags, "-c", name, "-o", name + ".o"], cwd=staging, check=True)

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(compile_one, sources))
        objects = [n + ".o" for n in sources]
        subprocess.run(["g++", *objects, "-o", "ap_quantize"], cwd=staging, check=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        staging.rename(self.folder)

    def codes(self, values: dict[FixedType, np.ndarray]) -> dict[FixedType, np.ndarray]:
        """ap_fixed's raw codes for each type's values (every array has the same length)."""
        n = len(next(iter(values.values())))
        stdin = b"".join(np.asarray(values[t], "<f8").tobytes() for t in self.order)
        done = subprocess.run(
            [str(self.binary), str(n)], input=stdin, capture_output=True, check=True
        )
        out = np.frombuffer(done.stdout, dtype="<i8").reshape(len(self.order), n)
        return {t: out[i] for i, t in enumerate(self.order)}
