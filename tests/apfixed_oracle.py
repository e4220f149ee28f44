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

from nnfx.compiler.fixed import FixedType

CONVERT = r"""
#include <cstdint>
#include "ap_fixed.h"
typedef void (*Converter)(const double*, int64_t*, int);
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O>
void convert(const double* in, int64_t* out, int n) {
    for (int k = 0; k < n; ++k) {
        if (S) {
            ap_fixed<W, I, Q, O> v = in[k];
            uint64_t bits = v.range(W - 1, 0).to_uint64();
            bool negative = (bits >> (W - 1)) & 1;
            out[k] = negative ? (int64_t)(bits | (W < 64 ? (~0ULL << W) : 0)) : (int64_t)bits;
        } else {
            ap_ufixed<W, I, Q, O> v = in[k];
            out[k] = (int64_t)v.range(W - 1, 0).to_uint64();
        }
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
    signed = "true" if t.signed else "false"
    return f"&convert<{t.width},{t.integer},{signed},AP_{t.rounding},AP_{t.overflow}>"


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
        key = hashlib.sha256((compiler + repr(sorted(sources.items()))).encode()).hexdigest()[:16]
        self.folder = cache_dir / key
        self.binary = self.folder / "ap_quantize"
        if not self.binary.exists():
            self._build(sources)

    def _build(self, sources: dict[str, str]) -> None:
        staging = self.folder.with_name(self.folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, text in sources.items():
            (staging / name).write_text(text)
        flags = ["-O0", "-std=c++14", "-w", f"-I{ap_types_dir()}"]

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
