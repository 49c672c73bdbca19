"""In-memory numpy columns: the same baseline and report as the same data in Arrow, without importing pyarrow."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from infra.runtime.drift import (
    BaselineOptions,
    DriftConfig,
    DriftMonitor,
    FindingKind,
    array_batches,
    compare,
    compare_in_memory,
    compute_baseline,
    evidently_baseline,
)
from infra.runtime.drift.report import DriftReport

ROOT = Path(__file__).resolve().parents[2]


def _columns(n: int, seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    with_gaps = rng.normal(shift, 1.0, n)
    with_gaps[::97] = np.nan
    with_gaps[5::211] = np.inf
    return {
        "normal": rng.normal(shift, 1.0, n),
        "lognormal": rng.lognormal(shift, 0.5, n).astype(np.float32),
        "count": rng.poisson(3.0 + shift, n),  # int64, few distinct values: binned by value
        "small": rng.integers(0, 200, n).astype(np.int16),
        "gaps": with_gaps,
        "city": rng.choice(["berlin", "paris", "rome"], n),  # strings: through Arrow
        "member": rng.random(n) < 0.3 + shift / 10,  # booleans: through Arrow, as categories
    }


def _dump(report: DriftReport) -> dict[str, object]:
    return report.model_dump(exclude={"generated_at"})


@pytest.mark.parametrize(
    "options",
    [BaselineOptions(), BaselineOptions(fine_bins=50, psi_bins=5, categorical=["small"], exclude=["count"])],
)
def test_numpy_baseline_equals_arrow_baseline(options: BaselineOptions) -> None:
    columns = _columns(3000, seed=0)
    from_numpy = compute_baseline(columns, options=options, workers=2)
    from_arrow = compute_baseline(pa.table(columns), options=options, workers=2)
    assert from_numpy.model_dump(exclude={"created_at"}) == from_arrow.model_dump(exclude={"created_at"})
    assert from_numpy.features["normal"].dtype == "double"
    assert from_numpy.features["lognormal"].dtype == "float"
    # one column at a time, as (name, array) pairs, gives the same profiles too
    pairs = compute_baseline(iter(columns.items()), options=options)
    assert pairs.model_dump(exclude={"created_at"}) == from_numpy.model_dump(exclude={"created_at"})


@pytest.mark.parametrize("binning", ["recorded", "evidently"])
@pytest.mark.parametrize("method", [None, "psi", "ks", "wasserstein", "jensenshannon"])
def test_numpy_report_equals_arrow_report(binning: str, method: str | None) -> None:
    reference, current = _columns(4000, seed=1), _columns(3000, seed=2, shift=0.3)
    config = DriftConfig(method=method) if method is not None else DriftConfig()
    kwargs = {"binning": binning, "batch_rows": 700, "workers": 2}
    from_numpy = compare_in_memory(reference, current, config, **kwargs)  # type: ignore[arg-type]
    from_arrow = compare_in_memory(pa.table(reference), pa.table(current), config, **kwargs)  # type: ignore[arg-type]
    assert _dump(from_numpy) == _dump(from_arrow)  # bit for bit: the same values, counted in the same batches
    assert from_numpy.rows == 3000 and from_numpy.n_tested == 7
    assert "normal" in from_numpy.drifted_features


def test_evidently_binning_from_numpy_columns() -> None:
    reference, current = _columns(2000, seed=3), _columns(2500, seed=4, shift=0.2)
    ours = evidently_baseline(reference, current)
    theirs = evidently_baseline(pa.table(reference), pa.table(current))
    assert ours.model_dump(exclude={"created_at"}) == theirs.model_dump(exclude={"created_at"})


def test_array_batches_are_views_and_mix_with_arrow_batches() -> None:
    reference, current = _columns(3000, seed=5), _columns(2600, seed=6, shift=0.4)
    batches = list(array_batches(current, batch_rows=1000))
    assert [len(b["normal"]) for b in batches] == [1000, 1000, 600]
    assert all(np.shares_memory(b["normal"], current["normal"]) for b in batches)
    baseline = compute_baseline(reference)
    table = pa.table(current)
    arrow_only = compare(baseline, table.to_batches(max_chunksize=1000), workers=1)
    mixed = DriftMonitor(baseline, workers=1)
    mixed.update(batches[0])
    mixed.update(table.slice(1000, 1000))
    mixed.add_columns({name: values[2000:] for name, values in current.items()}, batch_rows=1000)
    assert _dump(mixed.report()) == _dump(arrow_only)


def test_columns_must_be_one_dimensional_and_of_one_length() -> None:
    with pytest.raises(ValueError, match="1-D"):
        compute_baseline({"x": np.zeros((10, 2))})
    with pytest.raises(ValueError, match="rows"):
        compute_baseline({"x": np.zeros(10), "y": np.zeros(9)})
    with pytest.raises(ValueError, match="rows"):
        list(array_batches({"x": np.zeros(10), "y": np.zeros(11)}))
    with pytest.raises(ValueError, match="batch_rows"):
        list(array_batches({"x": np.zeros(10)}, batch_rows=0))


def test_numpy_data_quality_problems_are_findings_like_arrow() -> None:
    rng = np.random.default_rng(7)
    baseline = compute_baseline({"x": rng.normal(0, 1, 2000), "city": rng.choice(["a", "b"], 2000)})
    bad = {
        "x": np.array(["1.5", "oops", "2.0", None] * 50, dtype=object),  # text where numbers were
        "city": np.array([1 + 2j] * 200),  # a dtype Arrow cannot hold
    }
    report = compare(baseline, [bad])
    kinds = {(f.kind, f.feature) for f in report.findings}
    assert (FindingKind.UNPARSEABLE, "x") in kinds
    assert (FindingKind.TYPE_CHANGED, "x") in kinds
    assert (FindingKind.TYPE_CHANGED, "city") in kinds
    assert (FindingKind.ALL_MISSING, "city") in kinds
    x = next(r for r in report.features if r.feature == "x")
    assert x.n_current == 100 and x.tested
    skipped = compute_baseline({"z": np.array([1j, 2j]), "x": np.ones(2)})
    assert skipped.skipped == {"z": "unsupported type complex128"}


def test_numpy_path_imports_neither_pyarrow_nor_scipy() -> None:
    """The point of the numpy path: a process comparing numbers in memory does not load pyarrow (~45 MB RSS)
    nor scipy (unless a feature is judged by a p-value test)."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from infra.runtime.drift import DriftConfig, compare_in_memory

        rng = np.random.default_rng(0)
        ref = {f"c{j}": rng.normal(0, 1, 5000) for j in range(3)}
        cur = {f"c{j}": rng.normal(0.5, 1, 5000) for j in range(3)}
        ref["k"], cur["k"] = rng.integers(0, 4, 5000), rng.integers(0, 5, 5000)
        report = compare_in_memory(ref, cur, DriftConfig(method="psi"), batch_rows=1000)
        assert report.n_tested == 4 and report.n_drifted >= 3, report
        compare_in_memory(ref, cur, binning="evidently")
        print(sorted(m for m in ("pyarrow", "scipy", "pandas") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
