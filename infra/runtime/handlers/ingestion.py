"""Daily ingestion: landed CSV/Parquet files are schema-checked, then curated or quarantined by date.

Why it exists: training reads `curated/` only, so nothing reaches a model without passing the dataset
schema, and nothing that fails is dropped: it is kept in `quarantine/` with the reason next to it.

Per object under LANDING_PREFIX (in DATA_BUCKET), for the run date D (event `{"date": "YYYY-MM-DD"}`, else
today in UTC):
- download once (streamed to a temporary file, SHA-256 computed on the way), check it against the schema at
  SCHEMA_KEY in ARTIFACT_BUCKET: unsupported format, empty file, unreadable file, records with the wrong number
  of fields, missing / extra / duplicate columns, wrong types, nulls in non-nullable columns. Files are read by
  the reader the drift monitor and the Baseline step use (infra.runtime.drift.io, with the schema's CSV
  dialect), so a file curated here is read to the same rows and values wherever it is read later;
- good: server-side copy to `curated/dt=D/<name>`; bad: copy to `quarantine/dt=D/<name>` plus the sidecar
  `<name>.reason.json`; `<name>` is the key relative to the landing prefix;
- only once the copy is confirmed (S3's SHA-256 of the copy equals the checked one) is the landing
  object deleted.

Nothing is overwritten: when the destination key already holds other content, the file is stored under a
content-hash suffix (`a.csv` -> `a.<12 hex of SHA-256>.csv`) and the summary lists it under `renamed`. When
the destination already holds the same content (a rerun after a crash between copy and delete, or the same
file landed twice), no second copy is made: the landing object is removed and the summary lists it under
`already_present`. A rerun of a finished day finds the landing prefix empty, so it does nothing.

The copy is conditional on the version that was checked (S3: CopySourceIfMatch on the ETag, and S3 computes
the copy's SHA-256, which must equal the checked one; Cloud Storage: ifSourceGenerationMatch), so a file
replaced in landing during the run is never curated unchecked: it fails, stays in landing and is handled by the
next run. The bucket is reached through the object store STORAGE names (infra.runtime.adapters.storage: `s3`
by default, `gcs` on GCP), the alert through NOTIFICATIONS (`sns`, `cloud-logging`). Files that cannot
be processed (S3 errors, no space in /tmp: Lambda's default ephemeral storage is 512 MB) stay in landing,
are alerted, and the invocation fails so the scheduler retries. A missing or invalid schema stops the run
before anything moves: it is a deployment problem, not a data problem.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from infra.runtime.adapters.storage import SHA_METADATA, Downloaded, ObjectChanged, ObjectStore
from infra.runtime.adapters.storage import store_errors as _store_errors
from infra.runtime.adapters.storage import uri as _uri
from infra.runtime.clients import Adapters
from infra.runtime.drift import io
from infra.runtime.drift.dataset import ColumnSpec, ColumnType, CsvDialect, DatasetSchema
from infra.runtime.drift.io import Format, source_format
from infra.runtime.handlers import for_model

__all__ = ["ColumnSpec", "ColumnType", "CsvDialect", "DatasetSchema", "check_file", "handler", "run"]

log = logging.getLogger(__name__)

HASH_SUFFIX_CHARS = 12


# --------------------------------------------------------------------------------------------- the schema
# DatasetSchema, ColumnSpec and ColumnType live in infra.runtime.drift.dataset: the drift monitor and the
# Baseline step read the same schema's CSV dialect.


def accepts(kind: ColumnType, t: pa.DataType) -> bool:
    """Whether a Parquet column of Arrow type `t` satisfies the declared type."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if kind is ColumnType.STRING:
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))
    if kind is ColumnType.INTEGER:
        return bool(pa.types.is_integer(t))
    if kind is ColumnType.FLOAT:
        return bool(pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t))
    if kind is ColumnType.BOOLEAN:
        return bool(pa.types.is_boolean(t))
    if kind is ColumnType.DATE:
        return bool(pa.types.is_date(t))
    return bool(pa.types.is_timestamp(t))


# How CSV text is parsed per declared type (Arrow's casts: booleans are true/false/1/0 in any case); timestamps
# are parsed with or without a zone offset (_parse_timestamps).
CSV_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.INTEGER: pa.int64(),
    ColumnType.FLOAT: pa.float64(),
    ColumnType.BOOLEAN: pa.bool_(),
    ColumnType.DATE: pa.date32(),
}


# ---------------------------------------------------------------------------------------------- checking
class Reason(StrEnum):
    """Why a file was quarantined (the `reason` of its sidecar)."""

    UNSUPPORTED_FORMAT = "unsupported_format"
    EMPTY = "empty"
    UNREADABLE = "unreadable"
    MALFORMED_ROWS = "malformed_rows"  # CSV records with more or fewer fields than the header
    SCHEMA_MISMATCH = "schema_mismatch"  # missing, extra or duplicate columns
    WRONG_TYPE = "wrong_type"
    NULL_VALUES = "null_values"


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one file."""

    reason: Reason | None = None
    details: tuple[str, ...] = ()
    rows: int = 0

    @property
    def ok(self) -> bool:
        return self.reason is None


def check_file(path: Path, fmt: Format | None, schema: DatasetSchema) -> Verdict:
    """Check a local file against the schema; every failure becomes a Verdict, never an exception."""
    if fmt is None:
        return Verdict(Reason.UNSUPPORTED_FORMAT, ("only .csv, .tsv, .csv.gz, .parquet and .pq files are ingested",))
    if path.stat().st_size == 0:
        return Verdict(Reason.EMPTY, ("the file is empty (0 bytes)",))
    try:
        return _check(io.open_file(path, schema.csv, fmt=fmt), schema)
    except io.UnreadableFile as exc:
        return Verdict(Reason.UNREADABLE, (exc.reason,))


def _columns_problems(names: list[str], schema: DatasetSchema) -> list[str]:
    problems = []
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"duplicate columns: {', '.join(duplicates)}")
    missing = [c.name for c in schema.columns if c.name not in names]
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    extra = [n for n in dict.fromkeys(names) if schema.column(n) is None]
    if extra and not schema.allow_extra_columns:
        problems.append(f"extra columns: {', '.join(extra)}")
    return problems


class _NullCounter:
    """Nulls per non-nullable column, summed over batches."""

    def __init__(self, schema: DatasetSchema) -> None:
        self.required = [c.name for c in schema.columns if not c.nullable]
        self.nulls = dict.fromkeys(self.required, 0)
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for name in self.required:
            self.nulls[name] += batch.column(batch.schema.get_field_index(name)).null_count

    def verdict(self) -> Verdict:
        if self.rows == 0:
            return Verdict(Reason.EMPTY, ("no data rows",))
        found = [f"{n}: {k} null value(s) in a non-nullable column" for n, k in self.nulls.items() if k]
        if found:
            return Verdict(Reason.NULL_VALUES, tuple(found), self.rows)
        return Verdict(rows=self.rows)


def _check(source: io.TabularFile, schema: DatasetSchema) -> Verdict:
    if not source.names:
        return Verdict(Reason.EMPTY, ("no header row",))
    problems = _columns_problems(source.names, schema)
    if problems:
        return Verdict(Reason.SCHEMA_MISMATCH, tuple(problems))
    if source.schema is not None:  # Parquet: the declared types are checked against the file's own
        wrong = [
            f"{c.name}: expected {c.type.value}, found {source.schema.field(c.name).type}"
            for c in schema.columns
            if not accepts(c.type, source.schema.field(c.name).type)
        ]
        if wrong:
            return Verdict(Reason.WRONG_TYPE, tuple(wrong))
    counter = _NullCounter(schema)
    for batch in source.batches():  # reads every page / record: damage shows up here
        if source.schema is None:
            problem = _type_problem(batch, schema, counter.rows)
            if problem:
                return Verdict(Reason.WRONG_TYPE, (problem,), counter.rows)
        counter.add(batch)
    if source.malformed_rows:
        return Verdict(Reason.MALFORMED_ROWS, (f"{source.malformed_rows} record(s) with the wrong number of fields",
                                               *source.malformed_examples), counter.rows)
    return counter.verdict()


def _type_problem(batch: pa.RecordBatch, schema: DatasetSchema, rows_before: int) -> str | None:
    """The first CSV value that is not of its column's declared type, named by column and record, or None."""
    for spec in schema.columns:
        column = batch.column(batch.schema.get_field_index(spec.name))
        if spec.type is ColumnType.TIMESTAMP:
            try:
                _parse_timestamps(spec.name, column)
            except _TimestampError as exc:
                return str(exc)
            continue
        target = CSV_TYPES.get(spec.type)
        if target is None:
            continue
        try:
            pc.cast(column, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for i, value in enumerate(column.to_pylist()):  # slow path: only for a batch that fails
                if value is None:
                    continue
                try:
                    pc.cast(pa.array([value]), target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    return (f"{spec.name}: invalid value {value!r} for type {spec.type.value} "
                            f"(data record {rows_before + i + 1})")
    return None


class _TimestampError(ValueError):
    pass


def _parse_timestamps(name: str, column: pa.Array) -> None:
    """Timestamps with a zone offset (as UTC) or without one; anything else is a wrong type."""
    errors = []
    for target in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
        try:
            pc.cast(column, target)
            return
        except pa.ArrowInvalid as exc:
            errors.append(str(exc))
    raise _TimestampError(f"column {name}: expected timestamp values: {errors[-1]}")


# ------------------------------------------------------------------------------------------- settings/IO
class IngestionError(RuntimeError):
    """The run cannot proceed (schema unavailable) or some files could not be processed."""


def _prefix(value: str) -> str:
    value = value.strip().lstrip("/")
    return value if not value or value.endswith("/") else value + "/"


@dataclass(frozen=True)
class IngestionSettings:
    """The environment contract (see `infra.components.aws.automation`), prefixes normalised to `x/`."""

    data_bucket: str
    landing_prefix: str
    schema_key: str
    artifact_bucket: str
    curated_prefix: str = "curated/"
    quarantine_prefix: str = "quarantine/"
    alert_topic_arn: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # adapter choices and their settings (STORAGE, ...)

    def adapters(self) -> dict[str, str]:
        """The settings the cloud adapters read (STORAGE, NOTIFICATIONS, GCP_PROJECT, ALERT_TOPIC_ARN)."""
        return {**self.env, "ALERT_TOPIC_ARN": self.alert_topic_arn or ""}

    def __post_init__(self) -> None:
        for name in ("landing_prefix", "curated_prefix", "quarantine_prefix"):
            object.__setattr__(self, name, _prefix(getattr(self, name)))
        prefixes = {
            "landing": self.landing_prefix,
            "curated": self.curated_prefix,
            "quarantine": self.quarantine_prefix,
        }
        for name, value in prefixes.items():
            if not value:
                raise ValueError(f"the {name} prefix must not be empty (it would cover the whole bucket)")
        for outer, outer_prefix in prefixes.items():
            for inner, inner_prefix in prefixes.items():
                if outer != inner and inner_prefix.startswith(outer_prefix):
                    raise ValueError(
                        f"the {inner} prefix {inner_prefix!r} is inside the {outer} prefix {outer_prefix!r}"
                    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IngestionSettings:
        env = os.environ if env is None else env
        required = ("DATA_BUCKET", "LANDING_PREFIX", "SCHEMA_KEY", "ARTIFACT_BUCKET")
        missing = [k for k in required if not env.get(k)]
        if missing:
            raise ValueError(f"missing required environment variable(s): {', '.join(missing)}")
        return cls(
            data_bucket=env["DATA_BUCKET"],
            landing_prefix=env["LANDING_PREFIX"],
            schema_key=env["SCHEMA_KEY"],
            artifact_bucket=env["ARTIFACT_BUCKET"],
            curated_prefix=env.get("CURATED_PREFIX") or "curated/",
            quarantine_prefix=env.get("QUARANTINE_PREFIX") or "quarantine/",
            alert_topic_arn=env.get("ALERT_TOPIC_ARN") or None,
            env=dict(env),
        )


class IngestionDependencies(Adapters):
    """The cloud's object store and notifier (created on first use, never at import; S3 and SNS by default), the
    clock and the scratch directory."""

    def __init__(self, *, scratch_dir: str | None = None, **clients: Any) -> None:
        super().__init__(**clients)
        self.scratch_dir = scratch_dir  # None: the system temp dir (/tmp on Lambda)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def run_date(event: Mapping[str, Any] | None, clock: Callable[[], datetime]) -> date:
    """The partition date: the event's `date` (YYYY-MM-DD) or today in UTC; a malformed date is an error."""
    value = (event or {}).get("date") if isinstance(event, Mapping) else None
    if value is None:
        return clock().astimezone(UTC).date()
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f"event date must be YYYY-MM-DD, got {value!r}")
    return date.fromisoformat(value)


def load_schema(store: ObjectStore, bucket: str, key: str) -> DatasetSchema:
    where = _uri(store, bucket, key)
    try:
        body = store.get(bucket, key)
    except _store_errors() as exc:
        raise IngestionError(f"cannot read the dataset schema {where}: {exc}") from exc
    try:
        return DatasetSchema.model_validate_json(body)
    except ValidationError as exc:
        raise IngestionError(f"invalid dataset schema {where}: {exc}") from exc


def _landing_objects(store: ObjectStore, bucket: str, prefix: str) -> list[str]:
    return [key for key in store.keys(bucket, prefix) if not key.endswith("/")]  # "folders" hold no data


def _stored_sha256(store: ObjectStore, bucket: str, key: str) -> str | None:
    """SHA-256 of an existing object (the store's checksum, the metadata this job writes, else hashed), or None
    if there is no object."""
    head = store.head(bucket, key)
    if head is None:
        return None
    if head.sha256:
        return head.sha256
    return hashlib.sha256(store.get(bucket, key)).hexdigest()  # written by someone else: hash it to compare


def hashed_name(name: str, sha256: str, chars: int = HASH_SUFFIX_CHARS) -> str:
    """`dir/a.csv` -> `dir/a.<sha[:chars]>.csv` (the suffix goes before the last extension)."""
    path = PurePosixPath(name)
    stem, dot, ext = path.name.rpartition(".")
    base = f"{stem}.{sha256[:chars]}.{ext}" if dot and stem else f"{path.name}.{sha256[:chars]}"
    return str(path.with_name(base))


@dataclass
class _Placement:
    key: str
    renamed: bool  # stored under a content-hash name because the plain name holds other content
    existed: bool  # identical content was already there: nothing was copied


def _place(
    store: ObjectStore, bucket: str, source_key: str, download: Downloaded, target: str, metadata: dict[str, str]
) -> _Placement:
    """Copy the checked object to `target` without overwriting anything (content-hash names on conflict)."""
    candidates = [target, hashed_name(target, download.sha256), hashed_name(target, download.sha256, 64)]
    for candidate in candidates:
        existing = _stored_sha256(store, bucket, candidate)
        if existing == download.sha256:
            return _Placement(candidate, candidate != target, existed=True)
        if existing is None:
            try:  # only the version that was checked is copied; the store drops a copy that differs
                store.copy(bucket, source_key, candidate, if_version=download.version,
                           metadata={SHA_METADATA: download.sha256, **metadata}, content_type=download.content_type)
            except ObjectChanged:
                raise IngestionError(f"{source_key} changed after it was checked; left in landing for the next run"
                                     ) from None
            return _Placement(candidate, candidate != target, existed=False)
    raise IngestionError(f"{target}: every candidate name holds other content")


# ------------------------------------------------------------------------------------------------- the run
@dataclass
class RunSummary:
    """What a run did, returned by the handler and sent with the alert."""

    date: str
    bucket: str
    landing_prefix: str
    schema: str
    curated: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    already_present: list[dict[str, Any]] = field(default_factory=list)
    renamed: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    notified: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "bucket": self.bucket,
            "landing_prefix": self.landing_prefix,
            "schema": self.schema,
            "curated": self.curated,
            "quarantined": self.quarantined,
            "already_present": self.already_present,
            "renamed": self.renamed,
            "failed": self.failed,
            "counts": {
                k: len(v)
                for k, v in (
                    ("curated", self.curated),
                    ("quarantined", self.quarantined),
                    ("already_present", self.already_present),
                    ("renamed", self.renamed),
                    ("failed", self.failed),
                )
            },
            "notified": self.notified,
        }


def _ingest_one(
    settings: IngestionSettings,
    deps: IngestionDependencies,
    schema: DatasetSchema,
    key: str,
    day: date,
    summary: RunSummary,
) -> None:
    store, bucket = deps.store(settings.adapters()), settings.data_bucket
    name = key[len(settings.landing_prefix) :]
    with tempfile.TemporaryDirectory(prefix="ingest-", dir=deps.scratch_dir) as scratch:
        local = Path(scratch) / "object"
        download = store.fetch(bucket, key, local)
        verdict = check_file(local, source_format(name), schema)
    partition = f"dt={day.isoformat()}/"
    prefix = settings.curated_prefix if verdict.ok else settings.quarantine_prefix
    metadata = {"source-key": quote(key, safe="/"), "ingestion-date": day.isoformat()}
    if verdict.ok:
        metadata["rows"] = str(verdict.rows)
    placed = _place(store, bucket, key, download, prefix + partition + name, metadata)
    entry: dict[str, Any] = {"source": key, "key": placed.key, "sha256": download.sha256, "bytes": download.size}
    if not verdict.ok:
        assert verdict.reason is not None
        reason_key = placed.key + ".reason.json"
        if store.head(bucket, reason_key) is None:  # a rerun keeps the first verdict's record
            record = {
                "source": key,
                "quarantined_as": placed.key,
                "reason": verdict.reason.value,
                "details": list(verdict.details),
                "schema": _uri(store, settings.artifact_bucket, settings.schema_key),
                "sha256": download.sha256,
                "bytes": download.size,
                "date": day.isoformat(),
                "checked_at": deps.clock().isoformat(),
            }
            store.put(bucket, reason_key, json.dumps(record, indent=2).encode())
        entry.update(reason=verdict.reason.value, details=list(verdict.details), reason_key=reason_key)
    else:
        entry["rows"] = verdict.rows
    store.delete(bucket, key)  # only now: the copy is confirmed above

    if placed.existed:
        summary.already_present.append(
            {
                "source": key,
                "existing_key": placed.key,
                "sha256": download.sha256,
                "outcome": "curated" if verdict.ok else "quarantined",
            }
        )
        return
    if placed.renamed:
        summary.renamed.append(
            {
                "source": key,
                "wanted": prefix + partition + name,
                "stored_as": placed.key,
                "why": "the key already held different content; content-hash suffix added",
            }
        )
    (summary.curated if verdict.ok else summary.quarantined).append(entry)


def run(
    settings: IngestionSettings, deps: IngestionDependencies, event: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Process everything under the landing prefix for one run date; returns the summary."""
    day = run_date(event, deps.clock)
    store = deps.store(settings.adapters())
    schema = load_schema(store, settings.artifact_bucket, settings.schema_key)
    summary = RunSummary(
        date=day.isoformat(),
        bucket=settings.data_bucket,
        landing_prefix=settings.landing_prefix,
        schema=_uri(store, settings.artifact_bucket, settings.schema_key),
    )
    unprocessable: tuple[type[BaseException], ...] = (*_store_errors(), OSError, IngestionError)
    for key in _landing_objects(store, settings.data_bucket, settings.landing_prefix):
        try:
            _ingest_one(settings, deps, schema, key, day, summary)
        except unprocessable as exc:
            log.exception("ingestion of %s failed; it stays in landing", key)
            summary.failed.append({"source": key, "error": f"{type(exc).__name__}: {exc}"})
    notifier = deps.notifier(settings.adapters())
    if (summary.quarantined or summary.failed) and notifier is not None:
        notifier.publish(
            f"Ingestion {summary.date}: {len(summary.quarantined)} quarantined, {len(summary.failed)} failed",
            json.dumps(summary.as_dict(), indent=2),
        )
        summary.notified = True
    result = summary.as_dict()
    log.info("ingestion %s: %s", summary.date, json.dumps(result["counts"]))
    if summary.failed:
        raise IngestionError(
            f"{len(summary.failed)} file(s) could not be processed and stay in landing: {json.dumps(result)}"
        )
    return result


@for_model
def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Lambda entry point: settings from the environment, real clients created on first use."""
    return run(IngestionSettings.from_env(), IngestionDependencies(), event)
