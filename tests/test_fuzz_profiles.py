"""Property-based: generated and mutated profile and stack files never crash the CLI (see profile_fuzz.py).

200 cases here, derandomized so `make test` is deterministic; `make fuzz` runs 2,000 with `sandbox up`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from profile_fuzz import Case, Fuzzer, cases

FUZZER = Fuzzer(sandbox_every=10, sandbox_limit=1)


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_every_file_exits_0_or_2_without_traceback_or_output(case: Case) -> None:
    with tempfile.TemporaryDirectory() as folder:
        FUZZER.run(case, Path(folder))


def test_the_fuzz_reached_every_stage() -> None:
    # Runs after the property above in the same file (pytest keeps file order, xdist keeps a file on one worker).
    counts = FUZZER.outcomes
    assert counts["validate: exit 2"] >= 50 and counts["validate: exit 0"] >= 10, counts
    assert counts["preview: exit 0"] == counts["validate: exit 0"]
    assert counts["sandbox up: exit 0"] + counts["sandbox up: exit 2"] == 1, counts
