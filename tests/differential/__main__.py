"""The differential tester's long run (docs/testing.md):

    python -m tests.differential --cases 10000 --seed 1 [--max-width 62]
        [--engines reference,ort,csim,csim-ap] [--csim-every 20] [--csim-refused-every 5]
        [--jobs 2] [--out DIR] [--json FILE]

prints a summary table, saves every failing case under ``--out`` (the ONNX model, the
precision, the inputs, what differed, minimized) and exits 1 when any case failed (a
mismatch, a refusal mismatch or a crash), 0 otherwise. ``--case I`` runs one case (all
engines, C-simulations included); ``--replay DIR`` reruns a saved case from its files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.differential.runner import ENGINES, Options, describe_failure, replay, run_many


def _preload() -> None:
    import importlib

    for name in (
        "nnfx.runtime.reference_fixed",
        "nnfx.runtime.csim",
        "nnfx.runtime.ort",
        "nnfx.backends.onnx",
        "nnfx.backends.hls.writer",
    ):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.differential", description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--first", type=int, default=0, help="index of the first case")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-width", type=int, default=32, help="widest type drawn (2..62)")
    parser.add_argument("--max-ops", type=int, default=6, help="most random steps per network")
    parser.add_argument("--batch", type=int, default=48, help="input samples per case")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--csim-every", type=int, default=20, help="run csim/csim-ap on every Nth case"
    )
    parser.add_argument(
        "--csim-refused-every",
        type=int,
        default=5,
        help="also run csim/csim-ap on every Nth case that ort refused (0: never)",
    )
    parser.add_argument(
        "--specials",
        type=float,
        default=0.0,
        help="share of cases whose inputs also hold NaN/+Inf/-Inf (0..1)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--out", default="differential-failures", help="folder for failing cases")
    parser.add_argument("--case", type=int, help="run this one case (every engine)")
    parser.add_argument("--replay", help="rerun a saved case folder")
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    parser.add_argument("--cache-dir", help="C-simulation build cache (default: a temporary one)")
    args = parser.parse_args(argv)

    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or "reference" not in engines:
        parser.error(f"--engines takes reference plus any of {', '.join(ENGINES[1:])}")
    if not 2 <= args.max_width <= 62:
        parser.error("--max-width must be within 2..62")
    with tempfile.TemporaryDirectory(prefix="nnfx-differential-") as scratch:
        os.environ["NNFX_CACHE_DIR"] = args.cache_dir or os.environ.get(
            "NNFX_DIFFERENTIAL_CACHE", scratch
        )
        if args.replay:
            result = replay(Path(args.replay), engines)
            for engine in engines:
                if engine in result.refusals:
                    state = "refused: " + result.refusals[engine]
                elif engine in result.errors:
                    state = "error: " + result.errors[engine]
                elif engine == "reference" or result.equal.get(engine):
                    state = "equal" if engine in result.ran else "did not run"
                else:
                    state = "MISMATCH"
                print(f"{engine:<10} {state}")
            if result.failed:
                print(describe_failure(result))
            return 1 if result.failed else 0
        options = Options(
            seed=args.seed,
            max_width=args.max_width,
            max_ops=args.max_ops,
            batch=args.batch,
            engines=engines,
            csim_every=1 if args.case is not None else args.csim_every,
            csim_refused_every=args.csim_refused_every,
            specials=args.specials,
            save_dir=args.out,
        )
        first, cases = (args.case, 1) if args.case is not None else (args.first, args.cases)
        last = [time.perf_counter()]

        def progress(summary) -> None:
            now = time.perf_counter()
            if now - last[0] >= 30 or summary.cases == cases:
                last[0] = now
                print(
                    f"... {summary.cases}/{cases} cases, {summary.mismatches} mismatches, "
                    f"{len(summary.failures)} failing",
                    file=sys.stderr,
                    flush=True,
                )

        _preload()  # worker processes fork with every engine already imported
        summary = run_many(options, cases, first=first, jobs=args.jobs, progress=progress)
    print(summary.table())
    if args.case is not None:
        for f in summary.failures:
            print(describe_failure(f))
    if args.json:
        Path(args.json).write_text(json.dumps(summary.as_json(), indent=1) + "\n")
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
