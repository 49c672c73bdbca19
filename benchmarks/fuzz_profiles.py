"""Fuzz benchmark: 2,000 generated and mutated profile and stack files through `validate`, every valid one through
`preview`, a sample of at least 50 valid ones through `sandbox up`; prints the counts by outcome.

Usage: python benchmarks/fuzz_profiles.py [--cases 2000] [--sandbox 50] [--seed 0]
Exit code 1 when a property fails (the failing case is printed) or fewer than --sandbox cases reached the sandbox.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from profile_fuzz import Case, Fuzzer, cases  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--sandbox", type=int, default=50, help="valid cases to run through sandbox up")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # Roughly a third of the cases validate: sample every n-th valid one so the sandbox runs spread over the run.
    fuzzer = Fuzzer(sandbox_every=max(1, args.cases // 3 // (args.sandbox * 2)), sandbox_limit=args.sandbox)
    started = time.perf_counter()

    @seed(args.seed)
    @settings(max_examples=args.cases, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def run(case: Case) -> None:
        with tempfile.TemporaryDirectory() as folder:
            fuzzer.run(case, Path(folder))

    run()
    seconds = time.perf_counter() - started
    total = fuzzer.outcomes["validate: exit 0"] + fuzzer.outcomes["validate: exit 2"]
    print(f"fuzz: {total} files in {seconds:.0f} s; 0 tracebacks, every exit 0 or 2, nothing written")
    for outcome, count in sorted(fuzzer.outcomes.items()):
        print(f"  {outcome:<22} {count:>5}")
    sandboxed = fuzzer.outcomes["sandbox up: exit 0"] + fuzzer.outcomes["sandbox up: exit 2"]
    ok = total >= args.cases and sandboxed >= args.sandbox
    print("PASS" if ok else f"FAIL: {total} cases (wanted {args.cases}), {sandboxed} sandbox runs "
          f"(wanted {args.sandbox})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
