"""A corpus of awkward files, each read by ingestion and by the drift monitor: the same rows and values.

Every file is generated here from known rows (the truth), written the awkward way (encodings, BOM, dialects,
quoting, line breaks past the first read block, null tokens, gzip, widened Parquet types, logical types ...).
Then ingestion's check must accept it with exactly the true number of rows (or refuse it for the stated
reason), and the drift monitor must count exactly the true values of every column; whatever it cannot read is
a finding. Arrow's read block is shrunk to 1 KiB so that every file crosses block boundaries.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io as pyio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.runtime.drift import Baseline, BaselineOptions, DriftMonitor, compute_baseline
from infra.runtime.drift import io as drift_io
from infra.runtime.drift.dataset import ColumnSpec, ColumnType, CsvDialect, DatasetSchema
from infra.runtime.drift.monitor import _CategoricalFeature, _NumericFeature
from infra.runtime.drift.report import FindingKind
from infra.runtime.handlers.ingestion import Reason, check_file

ROWS = 120
CITIES = ["Paris", "Köln", "São Paulo", 'Rome "Eternal"', "Lyon, FR", "Line\nbreak", "CR\r\nLF", "NA", "null",
          "  padded  ", "Zürich;CH", "Tab\there", "Pipe|city", "東京"]


def truth_rows(seed: int, n: int = ROWS) -> list[dict[str, Any]]:
    """id (unique int), amount (float or missing), city (awkward text or missing), ok (boolean)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append({
            "id": 1000 + i,
            "amount": None if i % 17 == 3 else round(float(rng.normal(50, 10)), 3),
            "city": None if i % 23 == 5 else CITIES[int(rng.integers(0, len(CITIES)))],
            "ok": bool(rng.integers(0, 2)),
        })
    return rows


SCHEMA_COLUMNS = [
    ColumnSpec(name="id", type=ColumnType.INTEGER, nullable=False),
    ColumnSpec(name="amount", type=ColumnType.FLOAT),
    ColumnSpec(name="city", type=ColumnType.STRING),
    ColumnSpec(name="ok", type=ColumnType.BOOLEAN, nullable=False),
]


def csv_text(rows: list[dict[str, Any]], *, delimiter: str = ",", newline: str = "\n", quoting: int = csv.QUOTE_MINIMAL,
             null: str = "", true: str = "true", false: str = "false", header: list[str] | None = None) -> str:
    out = pyio.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=quoting)
    writer.writerow(header or ["id", "amount", "city", "ok"])
    for r in rows:
        writer.writerow([
            r["id"],
            null if r["amount"] is None else repr(r["amount"]),
            null if r["city"] is None else r["city"],
            true if r["ok"] else false,
        ])
    return out.getvalue()


@dataclass
class Case:
    name: str
    write: Callable[[Path, list[dict[str, Any]]], None]
    dialect: CsvDialect = field(default_factory=CsvDialect)
    reason: Reason | None = None  # ingestion's verdict when the file is refused
    readable: bool = True  # False: no row can be read (the readers' findings say why)
    finding: FindingKind | None = None  # the drift monitor's finding for what it could not read
    prepare: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda rows: rows  # the rows written


def text(content: Callable[[list[dict[str, Any]]], str], encoding: str = "utf-8", bom: bytes = b"",
         compress: bool = False) -> Callable[[Path, list[dict[str, Any]]], None]:
    def write(path: Path, rows: list[dict[str, Any]]) -> None:
        data = bom + content(rows).encode(encoding)
        path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return write


def parquet(build: Callable[[list[dict[str, Any]]], pa.Table]) -> Callable[[Path, list[dict[str, Any]]], None]:
    def write(path: Path, rows: list[dict[str, Any]]) -> None:
        pq.write_table(build(rows), path, row_group_size=50)
    return write


FLOAT64, INT64 = pa.float64(), pa.int64()


def arrow_table(rows: list[dict[str, Any]], *, amount: pa.DataType = FLOAT64, ident: pa.DataType = INT64,
                dictionary: bool = False) -> pa.Table:
    city = pa.array([r["city"] for r in rows], pa.string())
    return pa.table({
        "id": pa.array([r["id"] for r in rows], ident),
        "amount": pa.array([r["amount"] for r in rows], pa.float64()).cast(amount),
        "city": city.dictionary_encode() if dictionary else city,
        "ok": pa.array([r["ok"] for r in rows], pa.bool_()),
    })


def ascii_only(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "city": None if r["city"] is None else r["city"].encode("ascii", "replace").decode()} for r in rows]


def latin(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "city": None if r["city"] is None else r["city"].replace("東京", "Tokyo")} for r in rows]


def with_ragged(rows: list[dict[str, Any]]) -> str:
    lines = csv_text(rows).splitlines(keepends=True)
    # Records are not lines (quoted line breaks): insert the bad record right after the header.
    return lines[0] + "9999,1.0,Berlin,true,surplus\n" + "".join(lines[1:])


def first_city(city: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda rows: [{**rows[0], "city": city}, *latin(rows[1:])]


CASES = [
    Case("plain.csv", text(csv_text)),
    Case("crlf.csv", text(lambda r: csv_text(r, newline="\r\n"))),
    Case("bom.csv", text(csv_text, bom=codecs.BOM_UTF8)),
    Case("bom_crlf.csv", text(lambda r: csv_text(r, newline="\r\n"), bom=codecs.BOM_UTF8)),
    Case("utf16.csv", text(csv_text, encoding="utf-16")),  # Python writes the BOM
    Case("utf16be_bom.csv", text(csv_text, encoding="utf-16-be", bom=codecs.BOM_UTF16_BE)),
    Case("latin1.csv", text(csv_text, encoding="latin-1"), CsvDialect(encoding="latin-1"), prepare=latin),
    Case("cp1252.csv", text(csv_text, encoding="cp1252"), CsvDialect(encoding="cp1252"), prepare=latin),
    Case("ascii.csv", text(csv_text, encoding="ascii"), prepare=ascii_only),
    Case("semicolon.csv", text(lambda r: csv_text(r, delimiter=";"))),
    Case("tab.tsv", text(lambda r: csv_text(r, delimiter="\t"))),
    Case("pipe.csv", text(lambda r: csv_text(r, delimiter="|"))),
    Case("declared_semicolon.csv", text(lambda r: csv_text(r, delimiter=";")), CsvDialect(delimiter=";")),
    Case("quote_all.csv", text(lambda r: csv_text(r, quoting=csv.QUOTE_ALL))),
    Case("quote_nonnumeric_crlf.csv", text(lambda r: csv_text(r, quoting=csv.QUOTE_NONNUMERIC, newline="\r\n"))),
    Case("no_final_newline.csv", text(lambda r: csv_text(r).rstrip("\n"))),
    Case("long_field.csv", text(csv_text), prepare=first_city("x\n" * 3000)),  # a 6 KB field, blocks of 1 KB
    Case("booleans_mixed_case.csv", text(lambda r: csv_text(r, true="TRUE", false="False"))),
    Case("booleans_01.csv", text(lambda r: csv_text(r, true="1", false="0"))),
    Case("declared_null_tokens.csv", text(lambda r: csv_text(r, null="NULL")), CsvDialect(null_values=("NULL",))),
    Case("header_only.csv", text(lambda r: csv_text([])), reason=Reason.EMPTY, readable=False,
         finding=FindingKind.EMPTY_BATCH),
    Case("empty.csv", text(lambda r: ""), reason=Reason.EMPTY, readable=False, finding=FindingKind.UNREADABLE_SOURCE),
    Case("ragged.csv", text(with_ragged), reason=Reason.MALFORMED_ROWS, finding=FindingKind.MALFORMED_ROWS),
    Case("undeclared_latin1.csv", text(csv_text, encoding="latin-1"), reason=Reason.UNREADABLE, readable=False,
         finding=FindingKind.UNREADABLE_SOURCE, prepare=first_city("Köln")),
    Case("gzip.csv.gz", text(csv_text, compress=True)),
    Case("gzip_bom_crlf_semicolon.csv.gz",
         text(lambda r: csv_text(r, delimiter=";", newline="\r\n"), bom=codecs.BOM_UTF8, compress=True)),
    Case("plain.parquet", parquet(arrow_table)),
    Case("float32.parquet", parquet(lambda r: arrow_table(r, amount=pa.float32()))),
    Case("int32_id.parquet", parquet(lambda r: arrow_table(r, ident=pa.int32()))),
    Case("dictionary.parquet", parquet(lambda r: arrow_table(r, dictionary=True))),
    Case("decimal.parquet", parquet(lambda r: arrow_table(r, amount=pa.decimal128(12, 3)))),
    Case(
        "logical_types.pq",
        parquet(lambda r: arrow_table(r).append_column("day", pa.array(
            [date(2026, 1, 1) + timedelta(days=i % 40) for i in range(len(r))], pa.date32())).append_column(
            "seen_at", pa.array([datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=7 * i) for i in range(len(r))],
                                pa.timestamp("us", tz="UTC"))).append_column("nothing", pa.nulls(len(r)))),
    ),
]


def _as_float(value: Any) -> float:
    return float(Decimal(str(value))) if value is not None else float("nan")


@pytest.fixture(scope="module")
def reference() -> Baseline:
    """A baseline of the truth itself (typed), whose categories hold every awkward city."""
    rows = truth_rows(0, 600)
    table = arrow_table(rows)
    return compute_baseline(table, options=BaselineOptions(max_categories=5000))


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_ingestion_and_drift_read_the_same_rows_and_values(
    case: Case, tmp_path: Path, reference: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drift_io, "CSV_BLOCK_BYTES", 1024)  # every file crosses read blocks
    monkeypatch.setattr(drift_io, "SNIFF_BYTES", 700)  # and is sniffed from a part of it
    expected = case.prepare(truth_rows(len(case.name)))
    path = tmp_path / case.name
    case.write(path, expected)
    schema = DatasetSchema(columns=SCHEMA_COLUMNS, csv=case.dialect, allow_extra_columns=True)

    verdict = check_file(path, drift_io.source_format(path.name), schema)
    if case.reason is None:
        assert verdict.ok, verdict
        assert verdict.rows == len(expected)
    else:
        assert verdict.reason is case.reason, verdict

    monitor = DriftMonitor(reference, dialect=case.dialect, workers=1)
    monitor.add_file(path)
    report = monitor.report()
    if not case.readable:
        expected = []
    assert monitor.rows == len(expected)
    kinds = {f.kind for f in report.findings}
    assert not kinds & {FindingKind.UNPARSEABLE, FindingKind.TYPE_CHANGED, FindingKind.MISSING_COLUMN}, report.findings
    if case.finding is not None:
        assert case.finding in kinds
    else:
        assert not kinds & {FindingKind.UNREADABLE_SOURCE, FindingKind.MALFORMED_ROWS}, report.findings
    if not expected:
        return
    city = monitor.features["city"]
    assert isinstance(city, _CategoricalFeature)
    assert city.counts == Counter(r["city"] for r in expected if r["city"] is not None)
    assert city.missing == sum(r["city"] is None for r in expected)
    ok = monitor.features["ok"]
    assert isinstance(ok, _CategoricalFeature)
    assert ok.counts == Counter("true" if r["ok"] else "false" for r in expected)
    amount = monitor.features["amount"]
    assert isinstance(amount, _NumericFeature)
    values = np.array([_as_float(r["amount"]) for r in expected])
    finite = values[np.isfinite(values)]
    assert amount.n == finite.size and amount.missing == values.size - finite.size
    tolerance = 1e-5 if "float32" in case.name else 1e-12
    assert amount.summary()["mean"] == pytest.approx(finite.mean(), rel=tolerance)
    assert amount.summary()["min"] == pytest.approx(finite.min(), rel=tolerance)
    results = {r.feature: r for r in report.features}  # every column of either file, tested or with reasons
    assert set(results) == {"id", "amount", "city", "ok"} | set(drift_io.open_file(path, case.dialect).names)
    assert results["id"].role == "identifier" and not results["id"].tested
    assert all(r.tested or r.reasons for r in results.values())


# Property: any text written per RFC 4180 is read back -------------------------------------------------------

FIELD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def rfc4180_field(value: str, delimiter: str, quote_all: bool) -> str:
    """A field quoted when it holds the delimiter, a quote or a line break (or always), quotes doubled.
    (Python's csv writer leaves a lone CR unquoted when the line terminator is LF, which RFC 4180 forbids.)"""
    if quote_all or any(c in value for c in (delimiter, '"', "\r", "\n")):
        return '"' + value.replace('"', '""') + '"'
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(FIELD, FIELD, FIELD), max_size=40),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    quote_all=st.booleans(),
)
def test_any_text_written_per_rfc_4180_is_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[tuple[str, str, str]], delimiter: str, newline: str,
    quote_all: bool,
) -> None:
    monkeypatch.setattr(drift_io, "CSV_BLOCK_BYTES", 64)  # records cross blocks, long ones exceed them
    lines = [delimiter.join(["a", "b", "c"])]
    lines += [delimiter.join(rfc4180_field(v, delimiter, quote_all) for v in row) for row in rows]
    path = tmp_path / "any.csv"
    path.write_bytes(codecs.BOM_UTF8 + (newline.join(lines) + newline).encode())
    source = drift_io.open_file(path, CsvDialect(delimiter=delimiter))
    table = source.read_table()
    assert source.names == ["a", "b", "c"] and source.malformed_rows == 0
    # The only missing value is the empty field.
    assert table.to_pylist() == [{k: (v or None) for k, v in zip("abc", row, strict=True)} for row in rows]
