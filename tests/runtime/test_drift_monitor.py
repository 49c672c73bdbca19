"""The streaming monitor: test choice, corrections, the dataset rule, bad data as findings, streaming = in memory."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from infra.runtime.drift import (
    Baseline,
    BaselineOptions,
    DriftConfig,
    DriftMonitor,
    FindingKind,
    Method,
    baseline_from_file,
    baseline_key,
    compare,
    compare_files,
    compute_baseline,
)
from infra.runtime.drift.config import default_method
from infra.runtime.drift.monitor import MAX_NEW_CATEGORIES, _CategoricalFeature, _NumericFeature
from infra.runtime.drift.report import DriftReport


def _kinds(report: DriftReport) -> dict[str, set[str | None]]:
    out: dict[str, set[str | None]] = {}
    for f in report.findings:
        out.setdefault(f.kind.value, set()).add(f.feature)
    return out


@pytest.fixture(scope="module")
def reference() -> pa.Table:
    rng = np.random.default_rng(0)
    n = 3000
    return pa.table(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 0.5, n),
            "visits": rng.integers(0, 4, n),  # 4 distinct values: tested like a category
            "city": rng.choice(["berlin", "paris", "rome"], n, p=[0.5, 0.3, 0.2]),
            "member": rng.choice([True, False], n),
        }
    )


@pytest.fixture(scope="module")
def baseline(reference: pa.Table) -> Baseline:
    return compute_baseline(reference, model_name="churn", model_version="3")


def _current(n: int = 2000, seed: int = 1, shift: float = 0.0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    return {
        "age": rng.normal(40 + shift * 10, 10, n),
        "income": rng.lognormal(10, 0.5, n),
        "visits": rng.integers(0, 4, n),
        "city": rng.choice(["berlin", "paris", "rome"], n, p=[0.5, 0.3, 0.2]),
        "member": rng.choice([True, False], n),
    }


@pytest.mark.parametrize(
    ("kind", "n_ref", "n_unique", "expected"),
    [
        ("numeric", 1000, 100, Method.KS),
        ("numeric", 1000, 5, Method.CHISQUARE),
        ("numeric", 1000, 2, Method.CHISQUARE),  # Evidently: Z-test (deviation: see default_method)
        ("categorical", 800, 3, Method.CHISQUARE),
        ("categorical", 800, 2, Method.CHISQUARE),
        ("numeric", 1001, 6, Method.WASSERSTEIN),
        ("numeric", 5000, 5, Method.JENSENSHANNON),
        ("categorical", 5000, 40, Method.JENSENSHANNON),
    ],
)
def test_default_method_follows_evidently(kind: str, n_ref: int, n_unique: int, expected: Method) -> None:
    assert default_method(kind, n_ref, n_unique) is expected  # type: ignore[arg-type]


def test_methods_chosen_per_feature_and_overrides(baseline: Baseline) -> None:
    report = compare(baseline, pa.table(_current()).to_batches())
    methods = {r.feature: r.method for r in report.features}
    assert methods == {
        "age": Method.WASSERSTEIN,
        "income": Method.WASSERSTEIN,
        "visits": Method.JENSENSHANNON,
        "city": Method.JENSENSHANNON,
        "member": Method.JENSENSHANNON,
    }
    small = compute_baseline(pa.table(_current(n=500, seed=5)))
    small_methods = {r.feature: r.method for r in compare(small, pa.table(_current()).to_batches()).features}
    assert small_methods == {
        "age": Method.KS,
        "income": Method.KS,
        "visits": Method.CHISQUARE,
        "city": Method.CHISQUARE,
        "member": Method.CHISQUARE,
    }
    config = DriftConfig(features={"age": {"method": "psi", "threshold": 0.2}, "city": {"method": "ks"}})
    report = compare(baseline, pa.table(_current()).to_batches(), config)
    age = next(r for r in report.features if r.feature == "age")
    city = next(r for r in report.features if r.feature == "city")
    assert (age.method, age.threshold, age.statistic, age.value) == (Method.PSI, 0.2, "psi", age.stats["psi"])
    assert city.method is Method.JENSENSHANNON  # KS needs numbers: the default is kept, with a finding
    assert _kinds(report)["invalid_config"] == {"city"}


def test_drift_is_found_where_the_data_moved(baseline: Baseline) -> None:
    report = compare(baseline, pa.table(_current(shift=0.5)).to_batches())
    assert report.drifted_features == ["age"]
    assert report.n_tested == 5
    assert report.drift_share == pytest.approx(0.2)
    assert not report.dataset_drift
    quiet = compare(baseline, pa.table(_current()).to_batches())
    assert quiet.drifted_features == []


def test_dataset_rule_uses_the_share_of_drifted_features(baseline: Baseline) -> None:
    current = _current(shift=0.5)
    current["city"] = np.random.default_rng(2).choice(["berlin", "paris", "rome"], 2000, p=[0.2, 0.3, 0.5])
    current["income"] = np.asarray(current["income"]) * 1.5
    batches = pa.table(current).to_batches()
    report = compare(baseline, batches)
    assert sorted(report.drifted_features) == ["age", "city", "income"]
    assert report.drift_share == pytest.approx(0.6)
    assert report.dataset_drift
    assert not compare(baseline, batches, DriftConfig(drift_share=0.7)).dataset_drift
    assert compare(baseline, batches, DriftConfig(drift_share=0.6)).dataset_drift


def test_corrections_for_many_p_value_tests() -> None:
    rng = np.random.default_rng(3)
    ref = {f"x{i}": rng.normal(0, 1, 400) for i in range(10)}
    cur = {f"x{i}": rng.normal(0, 1, 400) for i in range(10)}
    cur["x0"] = rng.normal(0.25, 1, 400)
    base = compute_baseline(pa.table(ref))
    p = sps.ks_2samp(ref["x0"], cur["x0"]).pvalue
    assert 0.005 < p < 0.05, "premise: significant alone, not after a correction for 10 tests"
    plain = compare(base, pa.table(cur).to_batches(), DriftConfig())
    assert "x0" in plain.drifted_features
    for correction in ("bonferroni", "benjamini-hochberg"):
        corrected = compare(base, pa.table(cur).to_batches(), DriftConfig(correction=correction))
        x0 = next(r for r in corrected.features if r.feature == "x0")
        assert x0.value == pytest.approx(p, rel=1e-9)
        assert x0.adjusted_p_value is not None and x0.adjusted_p_value > 0.05
        assert "x0" not in corrected.drifted_features
    bonferroni = compare(base, pa.table(cur).to_batches(), DriftConfig(correction="bonferroni"))
    assert next(r for r in bonferroni.features if r.feature == "x0").adjusted_p_value == pytest.approx(p * 10)


def test_streaming_in_small_batches_equals_one_batch(baseline: Baseline) -> None:
    table = pa.table(_current(n=5000, shift=0.2))
    whole = compare(baseline, [table.combine_chunks().to_batches()[0]], workers=1)
    streamed = compare(baseline, table.to_batches(max_chunksize=37), workers=2)
    assert [r.feature for r in whole.features] == [r.feature for r in streamed.features]
    for a, b in zip(whole.features, streamed.features, strict=True):
        assert a.stats.keys() == b.stats.keys()
        for key in a.stats:
            assert a.stats[key] == pytest.approx(b.stats[key], rel=1e-9, abs=1e-12), (a.feature, key)
        assert a.drift == b.drift
    assert whole.model_dump(exclude={"generated_at", "features"}) == streamed.model_dump(
        exclude={"generated_at", "features"}
    )


def test_files_stream_like_tables(tmp_path: Path, reference: pa.Table, baseline: Baseline) -> None:
    table = pa.table(_current(n=4000, shift=0.3))
    pq.write_table(table, tmp_path / "cur.parquet", row_group_size=700)
    pacsv.write_csv(table, tmp_path / "cur.csv")
    in_memory = compare(baseline, table.to_batches())
    for name in ("cur.parquet", "cur.csv"):
        from_file = compare_files(baseline, [tmp_path / name])
        assert from_file.rows == 4000
        assert not from_file.findings, from_file.findings
        for a, b in zip(in_memory.features, from_file.features, strict=True):
            assert a.value == pytest.approx(b.value, rel=1e-9), (name, a.feature)
    # The same reference profiled from CSV (text) and Parquet (typed) gives the same profiles.
    pq.write_table(reference, tmp_path / "ref.parquet")
    pacsv.write_csv(reference, tmp_path / "ref.csv")
    from_parquet = baseline_from_file(tmp_path / "ref.parquet")
    from_csv = baseline_from_file(tmp_path / "ref.csv")
    assert {k: p.kind for k, p in from_csv.features.items()} == {k: p.kind for k, p in from_parquet.features.items()}
    assert from_csv.features["age"].model_dump(exclude={"dtype"}) == from_parquet.features["age"].model_dump(
        exclude={"dtype"}
    )


def test_baseline_round_trips_through_json(baseline: Baseline) -> None:
    again = Baseline.from_json(baseline.to_json())
    assert again == baseline
    batches = pa.table(_current(shift=0.3)).to_batches()
    assert compare(again, batches).model_dump(exclude={"generated_at"}) == compare(baseline, batches).model_dump(
        exclude={"generated_at"}
    )
    assert baseline_key("churn-models", 3) == "baselines/churn-models/3/baseline.json"
    profile = baseline.features["age"]
    assert profile.kind == "numeric"
    assert len(profile.counts) == 2 * len(profile.edges) + 1 == len(profile.offsets)
    assert sum(profile.counts) == profile.n == 3000
    assert profile.binning == "ranges" and len(profile.bin_counts) == 10  # deciles
    assert baseline.features["visits"].binning == "values"  # type: ignore[union-attr]
    city = baseline.features["city"]
    assert city.kind == "categorical" and sum(city.frequencies().values()) == pytest.approx(1.0)


# Bad data: every kind becomes a finding, never an exception ------------------------------------------------


def test_missing_extra_and_duplicate_columns(baseline: Baseline) -> None:
    current = _current()
    del current["income"]
    current["session_id"] = np.arange(2000)
    report = compare(baseline, pa.table(current).to_batches())
    kinds = _kinds(report)
    assert kinds["missing_column"] == {"income"}
    assert kinds["extra_column"] == {"session_id"}
    income = next(r for r in report.features if r.feature == "income")
    assert not income.tested and not income.drift
    assert report.n_tested == 4
    duplicated = pa.Table.from_arrays(
        [pa.array(current["age"]), pa.array(current["age"])], names=["age", "age"]
    ).to_batches()
    assert "age" in _kinds(compare(baseline, duplicated))["duplicate_column"]


def test_missing_and_infinite_values(baseline: Baseline) -> None:
    current = _current()
    age = np.asarray(current["age"]).copy()
    age[:300] = np.nan
    age[300:310] = np.inf
    current["age"] = age
    current["income"] = np.full(2000, np.nan)
    report = compare(baseline, pa.table(current).to_batches())
    kinds = _kinds(report)
    assert "age" in kinds["missing_values"]
    assert kinds["non_finite"] == {"age"}
    assert kinds["all_missing"] == {"income"}
    age_result = next(r for r in report.features if r.feature == "age")
    assert age_result.tested and age_result.n_current == 1690 and age_result.missing_current == 300


def test_new_categories_and_new_values(baseline: Baseline) -> None:
    current = _current()
    current["city"] = np.where(np.arange(2000) % 10 == 0, "madrid", np.asarray(current["city"]))
    current["visits"] = np.where(np.arange(2000) % 20 == 0, 7, np.asarray(current["visits"]))
    report = compare(baseline, pa.table(current).to_batches())
    new = {f.feature: f for f in report.findings if f.kind is FindingKind.NEW_CATEGORIES}
    assert set(new) == {"city", "visits"}
    assert new["city"].count == 200 and "madrid" in new["city"].message
    assert new["visits"].count == 100


def test_changed_types_and_unparseable_values(baseline: Baseline) -> None:
    current = _current()
    current["age"] = [str(v) if i % 100 else "n/a" for i, v in enumerate(np.asarray(current["age"]))]
    current["city"] = np.random.default_rng(4).integers(0, 3, 2000)
    current["member"] = np.ones(2000)
    report = compare(baseline, pa.table(current).to_batches())
    kinds = _kinds(report)
    assert kinds["type_changed"] == {"age", "city", "member"}
    assert kinds["unparseable"] == {"age"}
    age = next(r for r in report.features if r.feature == "age")
    assert age.tested and age.n_current == 1980
    timestamps = pa.table({"age": pa.array([date(2026, 1, 1)] * 10)})
    report = compare(baseline, timestamps.to_batches())
    assert "age" in _kinds(report)["type_changed"] and "age" in _kinds(report)["all_missing"]


def test_csv_text_is_parsed_and_bad_cells_reported(tmp_path: Path, baseline: Baseline) -> None:
    path = tmp_path / "day.csv"
    rows = ["age,income,visits,city,member"] + [f"{30 + i % 20},{1000 + i},{i % 4},rome,true" for i in range(300)]
    rows[5] = "forty,1000,1,rome,false"
    path.write_text("\n".join(rows) + "\n")
    report = compare_files(baseline, [path])
    kinds = _kinds(report)
    assert kinds["unparseable"] == {"age"}
    assert "type_changed" not in kinds  # text is how CSV carries numbers
    assert report.rows == 300


def test_empty_batches_and_unreadable_files(tmp_path: Path, baseline: Baseline) -> None:
    empty = pa.table({k: pa.array(np.asarray(v)[:0]) for k, v in _current().items()})
    no_batches: list[pa.RecordBatch] = []
    for batches in (empty.to_batches(), no_batches):
        report = compare(baseline, batches)
        assert "empty_batch" in _kinds(report)
        assert report.n_tested == 0 and not report.dataset_drift and report.drift_share == 0.0
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really parquet")
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table(_current()), good)
    report = compare_files(baseline, [broken, good, tmp_path / "notes.txt"])
    assert report.rows == 2000 and report.n_tested == 5
    unreadable = [f for f in report.findings if f.kind is FindingKind.UNREADABLE_SOURCE]
    assert len(unreadable) == 2


def test_memory_is_bounded_by_the_baseline(baseline: Baseline) -> None:
    monitor = DriftMonitor(baseline, workers=1)
    rng = np.random.default_rng(6)
    age, city = monitor.features["age"], monitor.features["city"]
    assert isinstance(age, _NumericFeature) and isinstance(city, _CategoricalFeature)
    cells = age.cells.size
    for i in range(4):  # 4 batches, each with 1,000 categories never seen before
        batch = _current(n=1000, seed=10 + i)
        batch["city"] = np.array([f"town-{i}-{j}" for j in range(1000)])
        batch["age"] = rng.normal(40, 10, 1000)
        monitor.update(pa.table(batch))
    assert age.cells.size == cells
    assert len(city.counts) <= MAX_NEW_CATEGORIES + 1  # + one bucket for the rest
    result = next(r for r in monitor.report().features if r.feature == "city")
    assert result.drift and result.n_current == 4000


def test_options_exclude_and_force_categorical(reference: pa.Table) -> None:
    options = BaselineOptions(categorical=["visits"], exclude=["income"], fine_bins=100)
    base = compute_baseline(reference, options=options)
    assert base.features["visits"].kind == "categorical"
    assert base.skipped == {"income": "excluded"}
    assert len(base.features["age"].edges) == 101  # type: ignore[union-attr]
    report = compare(base, pa.table(_current()).to_batches(), DriftConfig(ignore=["age"]))
    assert [r.feature for r in report.features if r.tested] == ["visits", "city", "member"]
    untested = {r.feature: r.reasons for r in report.features if not r.tested}
    assert untested == {"age": ["ignored by the drift config"], "income": ["excluded"]}
    assert "extra_column" not in _kinds(report)


@pytest.mark.parametrize("kind", ["normal", "outliers", "integers", "exact-grid"])
def test_lookup_counting_equals_sorted_counting(kind: str) -> None:
    rng = np.random.default_rng(7)
    if kind == "normal":
        ref, cur = rng.normal(0, 1, 5000), rng.normal(0.3, 1.5, 7000)
    elif kind == "outliers":  # one far value squeezes a uniform lookup grid: falls back to sorting
        ref, cur = np.append(rng.lognormal(0, 1, 5000), 1e9), np.append(rng.lognormal(0, 1, 7000), [-5.0, 2e9])
    elif kind == "integers":  # values on the edges themselves
        ref, cur = rng.integers(0, 50, 5000).astype(float), rng.integers(-3, 60, 7000).astype(float)
    else:  # every distinct value is an edge, like the Evidently-compatible grid
        ref, cur = np.round(rng.normal(0, 1, 3000), 3), np.round(rng.normal(0, 1, 3000), 3)
    base = compute_baseline(pa.table({"x": ref}), options=BaselineOptions(fine_bins=200))
    by_lookup, by_sorting = DriftMonitor(base, workers=1), DriftMonitor(base, workers=1)
    a, b = by_lookup.features["x"], by_sorting.features["x"]
    assert isinstance(a, _NumericFeature) and isinstance(b, _NumericFeature)
    assert (a.lookup is None) == (kind == "outliers")
    b.lookup = None
    for feature in (a, b):
        for chunk in np.array_split(cur, 5):
            feature.add_values(chunk.copy())
    np.testing.assert_array_equal(a.cells, b.cells)
    np.testing.assert_allclose(a.offsets, b.offsets, rtol=1e-9, atol=1e-6)
    assert a.summary() == pytest.approx(b.summary())
    assert a.cells.sum() == cur.size
