"""Issue cases a-f: reading real-world files right, column roles, statuses. Right values come from scipy or by hand."""

from __future__ import annotations

import codecs
import json
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon
from typer.testing import CliRunner

from infra.cli.drift import NOT_EVALUATED_EXIT
from infra.cli.main import app
from infra.runtime.drift import DriftConfig, DriftMonitor, baseline_from_file, compare_files, compute_baseline
from infra.runtime.drift.config import Method
from infra.runtime.drift.dataset import ColumnSpec, ColumnType, CsvDialect, DatasetSchema
from infra.runtime.drift.report import DriftReport, FeatureResult, FindingKind, Status
from infra.runtime.drift.roles import Role
from infra.runtime.handlers.ingestion import check_file

runner = CliRunner()


def _feature(report: DriftReport, name: str) -> FeatureResult:
    return next(r for r in report.features if r.feature == name)


def _cli(reference: Path, current: Path, *extra: str) -> tuple[int, DriftReport]:
    result = runner.invoke(app, ["drift", "--reference", str(reference), "--current", str(current), "--json", *extra])
    assert result.exit_code in (0, NOT_EVALUATED_EXIT), result.output
    return result.exit_code, DriftReport.model_validate_json(result.stdout)


def _write_csv(path: Path, header: str, rows: list[str], *, bom: bool = False, newline: str = "\n") -> None:
    text = newline.join([header, *rows]) + newline
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode())


# a. A category spelled like a null token -------------------------------------------------------------------


def test_a_category_spelled_like_a_null_token_is_a_value(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    ref = rng.choice(["NA", "EU", "AS"], 2000, p=[0.1, 0.45, 0.45])
    cur = rng.choice(["NA", "EU", "AS"], 2000, p=[0.6, 0.2, 0.2])
    _write_csv(tmp_path / "ref.csv", "continent", list(ref))
    _write_csv(tmp_path / "cur.csv", "continent", list(cur))
    code, report = _cli(tmp_path / "ref.csv", tmp_path / "cur.csv")
    keys = ["NA", "EU", "AS"]
    expected = jensenshannon([Counter(ref)[k] for k in keys], [Counter(cur)[k] for k in keys])
    continent = _feature(report, "continent")
    assert expected == pytest.approx(0.38, abs=0.01)
    assert continent.method is Method.JENSENSHANNON
    assert continent.value == pytest.approx(expected, rel=1e-12)
    assert continent.status is Status.DRIFT and report.status is Status.DRIFT and code == 0
    assert continent.missing_current == 0 and continent.current["share[NA]"] == Counter(cur)["NA"] / 2000
    # Ingestion reads the same file to the same values: NA is a country code, not a missing value.
    schema = DatasetSchema(columns=[ColumnSpec(name="continent", type=ColumnType.STRING, nullable=False)])
    assert check_file(tmp_path / "cur.csv", "csv", schema).ok
    # A dataset whose exports do write NA for missing declares it, and both readers follow.
    declared = DatasetSchema(columns=schema.columns, csv=CsvDialect(null_values=("NA",)))
    assert check_file(tmp_path / "cur.csv", "csv", declared).reason is not None  # nulls in a non-nullable column
    (tmp_path / "schema.json").write_text(declared.model_dump_json())
    _, with_tokens = _cli(tmp_path / "ref.csv", tmp_path / "cur.csv", "--schema", str(tmp_path / "schema.json"))
    assert _feature(with_tokens, "continent").missing_current == Counter(cur)["NA"]


# b. A byte-order mark ----------------------------------------------------------------------------------------


def test_b_a_byte_order_mark_loses_no_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    n = 600_000
    ref_rows = [f"{v:.4f},{r}" for v, r in zip(rng.normal(0, 1, 5000), rng.choice(["n", "s"], 5000), strict=True)]
    _write_csv(tmp_path / "ref.csv", "score,region", ref_rows)
    scores = [f"{v:.4f}" for v in rng.normal(0, 1, n)]
    scores[n - 1000] = "abc"
    regions = rng.choice(["n", "s"], n)
    rows = [f"{s},{r}" for s, r in zip(scores, regions, strict=True)]
    _write_csv(tmp_path / "bom.csv", "score,region", rows, bom=True)
    _write_csv(tmp_path / "plain.csv", "score,region", rows)
    baseline = baseline_from_file(tmp_path / "ref.csv")
    reports = [compare_files(baseline, [tmp_path / name]) for name in ("bom.csv", "plain.csv")]
    for report in reports:
        assert report.rows == n
        [unparseable] = [f for f in report.findings if f.kind is FindingKind.UNPARSEABLE]
        assert unparseable.feature == "score" and unparseable.count == 1
        assert not [f for f in report.findings if f.kind is FindingKind.UNREADABLE_SOURCE]
        assert _feature(report, "score").n_current == n - 1
        assert _feature(report, "region").n_current == n
    with_bom, without = (r.model_dump(exclude={"generated_at", "sources"}) for r in reports)
    assert with_bom == without


# c. A type change that is not a data change -----------------------------------------------------------------


def test_c_float32_copies_of_float64_values_are_not_drift(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    ref = rng.choice([0.1, 0.2, 0.3, 0.4], 5000)
    cur = rng.permutation(ref)  # the same values, in another order
    pq.write_table(pa.table({"x": pa.array(ref, pa.float64())}), tmp_path / "ref.parquet")
    pq.write_table(pa.table({"x": pa.array(cur.astype(np.float32), pa.float32())}), tmp_path / "cur.parquet")
    code, report = _cli(tmp_path / "ref.parquet", tmp_path / "cur.parquet")
    x = _feature(report, "x")
    assert x.role is Role.NUMERIC and x.tested
    as_read = cur.astype(np.float32).astype(np.float64)
    expected_w = sps.wasserstein_distance(ref, as_read) / ref.std()
    assert expected_w == pytest.approx(4.5e-8, rel=0.25)
    assert x.stats["wasserstein"] == pytest.approx(expected_w, rel=1e-6)
    keys = [0.1, 0.2, 0.3, 0.4]
    expected_js = jensenshannon([Counter(ref)[k] for k in keys], [Counter(cur)[k] for k in keys])
    assert x.method is Method.JENSENSHANNON  # Evidently's test for <= 5 values, chosen from the reference
    assert expected_js == 0.0 and x.value == pytest.approx(expected_js, abs=1e-12)
    assert x.status is Status.NO_DRIFT and not report.dataset_drift and report.status is Status.NO_DRIFT
    assert not [f for f in report.findings if f.kind is FindingKind.NEW_CATEGORIES]
    assert code == 0
    # The same data stored as float64 gives the same test and the same verdict.
    pq.write_table(pa.table({"x": pa.array(cur, pa.float64())}), tmp_path / "cur64.parquet")
    _, same = _cli(tmp_path / "ref.parquet", tmp_path / "cur64.parquet")
    x64 = _feature(same, "x")
    assert x64.method is Method.JENSENSHANNON and x64.value == pytest.approx(expected_js)


# d. A dialect -------------------------------------------------------------------------------------------------


def test_d_semicolon_files_are_read_as_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    for name, shift in (("ref.csv", 0.0), ("cur.csv", 1.0)):
        amount = rng.normal(10 + shift, 2, 3000)
        city = rng.choice(["Lyon; FR", "Köln", 'Rome "IT"'], 3000)
        rows = [f'{a:.3f};"{c.replace(chr(34), chr(34) * 2)}"' for a, c in zip(amount, city, strict=True)]
        (tmp_path / name).write_text("\r\n".join(["amount;city", *rows]) + "\r\n", encoding="utf-8")
    code, report = _cli(tmp_path / "ref.csv", tmp_path / "cur.csv")
    assert code == 0 and report.n_tested == 2 and report.rows == 3000
    assert [r.feature for r in report.features] == ["amount", "city"]
    assert _feature(report, "amount").status is Status.DRIFT
    assert set(_feature(report, "city").current) == {"share[Lyon; FR]", "share[Köln]", 'share[Rome "IT"]'}
    assert not [f for f in report.findings if f.kind is FindingKind.MISSING_COLUMN]
    # Declared in the schema, the delimiter is not guessed.
    schema = DatasetSchema(columns=[ColumnSpec(name="amount", type=ColumnType.FLOAT),
                                    ColumnSpec(name="city", type=ColumnType.STRING)], csv=CsvDialect(delimiter=";"))
    assert check_file(tmp_path / "cur.csv", "csv", schema).rows == 3000


# e. Columns that are not features -----------------------------------------------------------------------------


def _sample(rng: np.random.Generator, n: int) -> dict[str, list[str]]:
    start = date(2026, 1, 1)
    return {
        "user_id": [str(v) for v in rng.choice(10**9, n, replace=False)],
        "signup": [(start + timedelta(days=int(d))).isoformat() for d in rng.integers(0, 365, n)],
        "session": [f"s-{v:x}" for v in rng.choice(10**12, n, replace=False)],
        "comment": [f"this is comment number {v}" for v in rng.integers(0, 10**6, n)],
        "spend": [f"{v:.2f}" for v in rng.gamma(2, 10, n)],
        "empty": [""] * n,
    }


def test_e_identifiers_dates_and_empty_columns_are_reported_not_tested(tmp_path: Path) -> None:
    rng = np.random.default_rng(15)
    for name in ("ref.csv", "cur.csv"):
        columns = _sample(rng, 2000)
        rows = [",".join(values) for values in zip(*columns.values(), strict=True)]
        _write_csv(tmp_path / name, ",".join(columns), rows)
    code, report = _cli(tmp_path / "ref.csv", tmp_path / "cur.csv")
    assert [r.feature for r in report.features] == ["user_id", "signup", "session", "comment", "spend", "empty"]
    roles = {r.feature: r.role for r in report.features}
    assert roles == {"user_id": Role.IDENTIFIER, "signup": Role.DATETIME, "session": Role.IDENTIFIER,
                     "comment": Role.TEXT, "spend": Role.NUMERIC, "empty": None}
    assert [r.feature for r in report.features if r.tested] == ["spend"]
    assert _feature(report, "spend").status is Status.NO_DRIFT and report.status is Status.NO_DRIFT
    not_tested = {f.feature: f.message for f in report.findings if f.kind is FindingKind.NOT_TESTED}
    assert set(not_tested) == {"user_id", "signup", "session", "comment", "empty"}
    assert "100% of the 2000 reference values are distinct" in not_tested["user_id"]
    assert "datetime" in not_tested["signup"] and "no values" in not_tested["empty"]
    for r in report.features:
        assert (r.status is Status.NOT_EVALUATED) == (not r.tested) and (r.reasons != []) == (not r.tested)
    assert "\\u0000" not in json.dumps(report.model_dump(mode="json")) and code == 0
    # A role declared in the config wins: the ids as categories are tested (and drift: every id is new).
    config = tmp_path / "drift.json"
    config.write_text('{"features": {"session": {"role": "categorical"}, "spend": {"role": "identifier"}},'
                      ' "baseline": {"max_categories": 5000}}')
    _, declared = _cli(tmp_path / "ref.csv", tmp_path / "cur.csv", "--config", str(config))
    assert _feature(declared, "session").tested and _feature(declared, "session").drift
    assert not _feature(declared, "spend").tested
    new = next(f for f in declared.findings if f.kind is FindingKind.NEW_CATEGORIES and f.feature == "session")
    assert new.share == 1.0 and new.count == 2000


def test_e_parquet_logical_types_and_null_columns_are_all_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    n = 1500
    start = datetime(2026, 1, 1)

    def table() -> pa.Table:
        return pa.table({
            "day": pa.array([date(2026, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 90, n)], pa.date32()),
            "at": pa.array([start + timedelta(minutes=int(m)) for m in rng.integers(0, 10**5, n)], pa.timestamp("ms")),
            "nothing": pa.nulls(n),
            "price": pa.array(rng.normal(5, 1, n)),
            "code": pa.array(rng.choice(["a", "b", "c"], n)).dictionary_encode(),
            "active": pa.array(rng.choice([True, False], n)),
        })

    pq.write_table(table(), tmp_path / "ref.parquet")
    pq.write_table(table(), tmp_path / "cur.parquet")
    _, report = _cli(tmp_path / "ref.parquet", tmp_path / "cur.parquet")
    assert [r.feature for r in report.features] == ["day", "at", "nothing", "price", "code", "active"]
    assert {r.feature: r.role for r in report.features} == {
        "day": Role.DATETIME, "at": Role.DATETIME, "nothing": None,
        "price": Role.NUMERIC, "code": Role.CATEGORICAL, "active": Role.BOOLEAN,
    }
    assert [r.feature for r in report.features if r.tested] == ["price", "code", "active"]
    assert {f.feature for f in report.findings if f.kind is FindingKind.NOT_TESTED} == {"day", "at", "nothing"}


# f. Nothing to compare ------------------------------------------------------------------------------------------


def test_f_a_header_only_current_file_is_not_evaluated(tmp_path: Path) -> None:
    rng = np.random.default_rng(17)
    pacsv.write_csv(pa.table({"a": rng.normal(0, 1, 500), "b": rng.choice(["x", "y"], 500)}), tmp_path / "ref.csv")
    (tmp_path / "cur.csv").write_text('"a","b"\n')
    code, report = _cli(tmp_path / "ref.csv", tmp_path / "cur.csv")
    assert code == NOT_EVALUATED_EXIT == 3
    assert report.status is Status.NOT_EVALUATED and report.reasons == ["no rows in the current data"]
    assert not report.dataset_drift and report.n_tested == 0
    assert all(r.status is Status.NOT_EVALUATED and r.reasons == ["no rows in the current data"]
               for r in report.features)
    table = runner.invoke(
        app, ["drift", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "cur.csv")]
    )
    assert table.exit_code == 3 and "NOT EVALUATED" in table.stdout and "no dataset drift" not in table.stdout
    # No column in common is not evaluated either, with the reason.
    (tmp_path / "other.csv").write_text("c,d\n1,2\n3,4\n")
    code, other = _cli(tmp_path / "ref.csv", tmp_path / "other.csv")
    assert code == 3 and other.reasons == ["no feature could be tested"]
    assert {r.feature: r.reasons[0] for r in other.features}["c"] == "not in the reference data (no baseline for it)"


# Test choice: where Evidently's default is unsound -------------------------------------------------------------


def test_a_category_set_change_is_seen_where_a_z_test_is_blind() -> None:
    ref = pa.table({"tier": ["a"] * 250 + ["b"] * 250})
    cur = pa.table({"tier": ["a"] * 250 + ["c"] * 250})
    monitor = DriftMonitor(compute_baseline(ref), DriftConfig())
    monitor.update(cur)
    report = monitor.report()
    tier = _feature(report, "tier")
    table = np.array([[250, 250, 0], [250, 0, 250]])
    expected = sps.chi2_contingency(table, correction=False).pvalue
    assert tier.method is Method.CHISQUARE and tier.value == pytest.approx(expected, rel=1e-9)
    assert tier.drift
    # The Z-test of the first category's share (Evidently's default for two values) sees nothing: 50% -> 50%.
    z = DriftMonitor(compute_baseline(ref), DriftConfig(features={"tier": {"method": "z"}}))
    z.update(cur)
    assert not _feature(z.report(), "tier").drift
    # With the same two categories both tests give the same p-value (chi-square with 1 dof is z squared).
    same = pa.table({"tier": ["a"] * 300 + ["b"] * 200})
    p_values = []
    for config in (DriftConfig(), DriftConfig(features={"tier": {"method": "z"}})):
        m = DriftMonitor(compute_baseline(ref), config)
        m.update(same)
        p_values.append(_feature(m.report(), "tier").value)
    assert p_values[0] == pytest.approx(p_values[1], rel=1e-9)
