"""``python -m tests.fuzz --cases 10000 --seed 1 [--jobs 2]``: a long mutation-fuzzing run.

Prints a summary table (cases, successes, NnfxErrors by class, uncaught, bad messages,
timeouts, crashes) and exits 1 on any failure. ``--case N --save case.onnx`` writes one
case's mutated model to reproduce it; ``--case N`` alone runs it in this process, traceback
included.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.fuzz.runner import exercise, make_case, run_cases, summarize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="index of the first case")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case")
    parser.add_argument("--case", type=int, default=None, help="run or save one case")
    parser.add_argument("--save", default=None, help="with --case: write its model here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every failure")
    args = parser.parse_args(argv)

    if args.case is not None:
        rng, name, data, log = make_case(args.seed, args.case)
        print(f"case {args.seed}:{args.case}: seed model {name}; " + "; ".join(log))
        if args.save:
            with open(args.save, "wb") as f:
                f.write(data)
            print(f"written to {args.save}")
            return 0
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
            f.write(data)
            f.flush()
            exercise(f.name, rng)  # an NnfxError or a traceback surfaces here
        print("success")
        return 0

    started = time.monotonic()
    outcomes = []
    indices = range(args.start, args.start + args.cases)
    for outcome in run_cases(args.seed, indices, jobs=args.jobs, timeout_s=args.timeout):
        outcomes.append(outcome)
        if args.verbose and outcome.failed:
            print(
                f"{outcome.kind} case {outcome.case}: {outcome.detail} [{'; '.join(outcome.log)}]"
            )
        if len(outcomes) % 1000 == 0:
            print(f"... {len(outcomes)} cases", file=sys.stderr, flush=True)
    print(summarize(outcomes, time.monotonic() - started))
    return 1 if any(o.failed for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
