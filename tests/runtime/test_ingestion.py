"""Daily ingestion on moto: schema check, curated/quarantine partitions, no loss, no overwrite, idempotent."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.runtime.handlers import ingestion
from infra.runtime.handlers.ingestion import (
    ColumnSpec,
    ColumnType,
    DatasetSchema,
    IngestionDependencies,
    IngestionError,
    IngestionSettings,
    Reason,
    check_file,
)

REGION = "us-east-1"
DATA, ARTIFACTS = "shop-dev-data", "shop-dev-artifacts"
SCHEMA_KEY = "schemas/shop-dev-models/schema.json"
DAY = "2026-06-01"
SCHEMA = DatasetSchema(
    columns=[
        ColumnSpec(name="user_id", type=ColumnType.INTEGER, nullable=False),
        ColumnSpec(name="amount", type=ColumnType.FLOAT),
        ColumnSpec(name="country", type=ColumnType.STRING),
        ColumnSpec(name="converted", type=ColumnType.BOOLEAN),
        ColumnSpec(name="signup", type=ColumnType.DATE),
        ColumnSpec(name="seen_at", type=ColumnType.TIMESTAMP),
    ]
)
GOOD_CSV = (
    b"user_id,amount,country,converted,signup,seen_at\n"
    b"1,9.5,DE,true,2026-05-01,2026-05-31T10:00:00Z\n"
    b"2,,NA,false,2026-05-02,2026-05-31T11:00:00+02:00\n"
)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


GOOD_TABLE = pa.table(
    {
        "seen_at": pa.array([datetime(2026, 5, 31, 10, tzinfo=UTC)], pa.timestamp("ms", tz="UTC")),
        "user_id": pa.array([7], pa.int32()),
        "amount": pa.array([3], pa.int64()),  # integers are fine for a float column
        "country": pa.array(["FR"]).dictionary_encode(),
        "converted": pa.array([True]),
        "signup": pa.array([datetime(2026, 5, 1).date()], pa.date32()),
    }
)
GOOD_PARQUET = parquet_bytes(GOOD_TABLE)

BAD_FILES: dict[str, tuple[bytes, Reason, str]] = {
    "missing_column.csv": (
        b"user_id,country,converted,signup,seen_at\n1,DE,true,2026-05-01,2026-05-31T10:00:00Z\n",
        Reason.SCHEMA_MISMATCH,
        "missing columns: amount",
    ),
    "extra_column.csv": (
        GOOD_CSV.replace(b"seen_at\n", b"seen_at,email\n")
        .replace(b"Z\n", b"Z,a@b.c\n")
        .replace(b"02:00\n", b"02:00,d@e.f\n"),
        Reason.SCHEMA_MISMATCH,
        "extra columns: email",
    ),
    "wrong_type.csv": (GOOD_CSV.replace(b"\n2,", b"\nabc,"), Reason.WRONG_TYPE, "invalid value 'abc'"),
    "wrong_type.parquet": (
        parquet_bytes(GOOD_TABLE.set_column(1, "user_id", pa.array(["7"]))),
        Reason.WRONG_TYPE,
        "user_id: expected integer, found string",
    ),
    "bad_timestamp.csv": (GOOD_CSV.replace(b"2026-05-31T10:00:00Z", b"yesterday"), Reason.WRONG_TYPE, "seen_at"),
    "empty.csv": (b"", Reason.EMPTY, "0 bytes"),
    "header_only.csv": (GOOD_CSV.split(b"\n")[0] + b"\n", Reason.EMPTY, "no data rows"),
    "unreadable.parquet": (b"PAR1 this is not a parquet file at all", Reason.UNREADABLE, ""),
    "ragged.csv": (
        GOOD_CSV + b"3,1.0,DE,true,2026-05-03,2026-05-31T10:00:00Z,surplus\n",
        Reason.MALFORMED_ROWS,
        "7 fields where the header has 6",
    ),
    "nulls.csv": (GOOD_CSV.replace(b"\n2,", b"\n,"), Reason.NULL_VALUES, "user_id: 1 null value(s)"),
    "notes.txt": (b"hello", Reason.UNSUPPORTED_FORMAT, ".csv"),
}


@dataclass
class World:
    s3: Any
    sqs: Any
    queue_url: str
    settings: IngestionSettings
    deps: IngestionDependencies

    def land(self, name: str, body: bytes) -> str:
        key = self.settings.landing_prefix + name
        self.s3.put_object(Bucket=DATA, Key=key, Body=body)
        return key

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=DATA, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def body(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=DATA, Key=key)["Body"].read())

    def run(self, date: str | None = DAY) -> dict[str, Any]:
        return ingestion.run(self.settings, self.deps, {"date": date} if date else {})

    def alerts(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for m in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        for bucket in (DATA, ARTIFACTS):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=ARTIFACTS, Key=SCHEMA_KEY, Body=SCHEMA.model_dump_json().encode())
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        settings = IngestionSettings.from_env(
            {
                "DATA_BUCKET": DATA,
                "LANDING_PREFIX": "landing/",
                "CURATED_PREFIX": "curated/",
                "QUARANTINE_PREFIX": "quarantine/",
                "SCHEMA_KEY": SCHEMA_KEY,
                "ARTIFACT_BUCKET": ARTIFACTS,
                "ALERT_TOPIC_ARN": topic,
            }
        )
        deps = IngestionDependencies(
            s3=s3, sns=sns, clock=lambda: datetime(2026, 6, 2, 23, 30, tzinfo=UTC), scratch_dir=str(tmp_path)
        )
        yield World(s3, sqs, queue_url, settings, deps)


def test_good_csv_and_parquet_are_curated_under_the_run_date(world: World) -> None:
    world.land("orders.csv", GOOD_CSV)
    world.land("orders.parquet", GOOD_PARQUET)
    world.land("shop-a/orders.csv", GOOD_CSV)

    summary = world.run()

    assert world.keys() == [
        f"curated/dt={DAY}/orders.csv",
        f"curated/dt={DAY}/orders.parquet",
        f"curated/dt={DAY}/shop-a/orders.csv",
    ]
    assert world.body(f"curated/dt={DAY}/orders.csv") == GOOD_CSV
    assert world.body(f"curated/dt={DAY}/orders.parquet") == GOOD_PARQUET
    assert {e["key"]: e["rows"] for e in summary["curated"]} == {
        f"curated/dt={DAY}/orders.csv": 2,
        f"curated/dt={DAY}/orders.parquet": 1,
        f"curated/dt={DAY}/shop-a/orders.csv": 2,
    }
    assert summary["counts"]["quarantined"] == 0 and summary["notified"] is False
    assert world.alerts() == []
    head = world.s3.head_object(Bucket=DATA, Key=f"curated/dt={DAY}/orders.csv")
    assert head["Metadata"]["source-key"] == "landing/orders.csv"
    assert len(head["Metadata"]["sha256"]) == 64


def test_bad_files_are_quarantined_with_a_reason_and_alerted(world: World) -> None:
    for name, (body, _, _) in BAD_FILES.items():
        world.land(name, body)

    summary = world.run()

    assert world.keys("landing/") == []  # nothing left behind, nothing curated
    assert world.keys("curated/") == []
    assert summary["counts"]["quarantined"] == len(BAD_FILES)
    for name, (body, reason, detail) in BAD_FILES.items():
        key = f"quarantine/dt={DAY}/{name}"
        assert world.body(key) == body, name
        sidecar = json.loads(world.body(key + ".reason.json"))
        assert sidecar["reason"] == reason.value, (name, sidecar)
        assert detail in " ".join(sidecar["details"]), (name, sidecar["details"])
        assert sidecar["source"] == f"landing/{name}" and sidecar["date"] == DAY
    [alert] = world.alerts()
    assert alert["counts"]["quarantined"] == len(BAD_FILES) and alert["date"] == DAY


def test_a_rerun_of_the_same_day_does_not_duplicate(world: World) -> None:
    world.land("orders.csv", GOOD_CSV)
    world.land("broken.parquet", b"garbage")
    world.run()
    world.alerts()
    after_first = world.keys()

    rerun = world.run()

    assert world.keys() == after_first
    assert rerun["counts"] == {"curated": 0, "quarantined": 0, "already_present": 0, "renamed": 0, "failed": 0}
    assert world.alerts() == []


def test_a_crash_between_copy_and_delete_is_finished_without_a_second_copy(world: World) -> None:
    world.land("orders.csv", GOOD_CSV)
    world.land("broken.parquet", b"garbage")
    world.run()
    # As if the previous run died after copying, before deleting from landing.
    world.land("orders.csv", GOOD_CSV)
    world.land("broken.parquet", b"garbage")
    before = world.keys("curated/") + world.keys("quarantine/")

    rerun = world.run()

    assert world.keys("landing/") == []
    assert world.keys("curated/") + world.keys("quarantine/") == before
    assert {e["existing_key"] for e in rerun["already_present"]} == {
        f"curated/dt={DAY}/orders.csv",
        f"quarantine/dt={DAY}/broken.parquet",
    }
    assert rerun["counts"]["curated"] == rerun["counts"]["quarantined"] == 0


def test_a_same_name_file_landed_twice_is_not_overwritten(world: World) -> None:
    world.land("orders.csv", GOOD_CSV)
    world.land("broken.parquet", b"garbage")
    world.run()
    second_csv = GOOD_CSV + b"3,1.5,IT,true,2026-05-03,2026-05-31T12:00:00Z\n"
    world.land("orders.csv", second_csv)
    world.land("broken.parquet", b"other garbage")

    summary = world.run()

    assert world.body(f"curated/dt={DAY}/orders.csv") == GOOD_CSV  # the first one is untouched
    [renamed_csv] = [e for e in summary["curated"]]
    assert renamed_csv["key"].startswith(f"curated/dt={DAY}/orders.") and renamed_csv["key"].endswith(".csv")
    assert renamed_csv["key"] == f"curated/dt={DAY}/orders.{renamed_csv['sha256'][:12]}.csv"
    assert world.body(renamed_csv["key"]) == second_csv
    assert world.body(f"quarantine/dt={DAY}/broken.parquet") == b"garbage"
    [renamed_bad] = summary["quarantined"]
    assert world.body(renamed_bad["key"]) == b"other garbage"
    assert json.loads(world.body(renamed_bad["key"] + ".reason.json"))["reason"] == "unreadable"
    assert {r["stored_as"] for r in summary["renamed"]} == {renamed_csv["key"], renamed_bad["key"]}
    assert all("content-hash" in r["why"] for r in summary["renamed"])
    assert world.keys("landing/") == []


def test_the_date_defaults_to_today_in_utc_and_a_bad_date_is_refused(world: World) -> None:
    world.land("orders.csv", GOOD_CSV)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        world.run("06/01/2026")
    assert world.keys("landing/") == ["landing/orders.csv"]

    assert world.run(None)["date"] == "2026-06-02"
    assert world.keys("curated/") == ["curated/dt=2026-06-02/orders.csv"]


def test_without_a_schema_nothing_moves(world: World) -> None:
    world.land("orders.csv", GOOD_CSV)
    world.s3.delete_object(Bucket=ARTIFACTS, Key=SCHEMA_KEY)
    with pytest.raises(IngestionError, match="schema"):
        world.run()
    world.s3.put_object(Bucket=ARTIFACTS, Key=SCHEMA_KEY, Body=b'{"columns": [{"name": "a", "type": "text"}]}')
    with pytest.raises(IngestionError, match="invalid dataset schema"):
        world.run()
    assert world.keys() == ["landing/orders.csv"]


class FailingCopies:
    """Delegates to the moto client; copy_object of a chosen source key runs `before` first or fails."""

    def __init__(self, real: Any, source: str, before: Callable[[], None] | None = None) -> None:
        self._real, self._source, self._before = real, source, before

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def copy_object(self, **kwargs: Any) -> Any:
        if kwargs["CopySource"]["Key"] == self._source:
            if self._before is None:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "CopyObject")
            self._before()
        return self._real.copy_object(**kwargs)


def test_a_file_that_cannot_be_copied_stays_in_landing_and_fails_the_run(world: World) -> None:
    world.land("orders.csv", GOOD_CSV)
    world.land("other.csv", GOOD_CSV)
    world.deps = IngestionDependencies(
        s3=FailingCopies(world.s3, "landing/orders.csv"),
        sns=world.deps.sns,
        clock=world.deps.clock,
        scratch_dir=world.deps.scratch_dir,
    )
    with pytest.raises(IngestionError, match="stay in landing"):
        world.run()
    assert world.keys("landing/") == ["landing/orders.csv"]
    assert world.keys("curated/") == [f"curated/dt={DAY}/other.csv"]
    [alert] = world.alerts()
    assert alert["failed"][0]["source"] == "landing/orders.csv"


def test_a_file_replaced_in_landing_during_the_run_is_not_copied_unchecked(world: World) -> None:
    key = world.land("orders.csv", GOOD_CSV)

    def replace_with_garbage() -> None:
        world.s3.put_object(Bucket=DATA, Key=key, Body=b"not,the,checked\nfile")

    world.deps = IngestionDependencies(
        s3=FailingCopies(world.s3, key, replace_with_garbage),
        sns=world.deps.sns,
        clock=world.deps.clock,
        scratch_dir=world.deps.scratch_dir,
    )
    with pytest.raises(IngestionError):
        world.run()
    assert world.keys("curated/") == []
    assert world.body(key) == b"not,the,checked\nfile"  # still in landing for the next run


def test_check_file_type_rules(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(GOOD_CSV)
    verdict = check_file(path, "csv", SCHEMA)
    assert verdict.ok and verdict.rows == 2  # naive and offset timestamps both parse
    country_required = DatasetSchema(
        columns=[c.model_copy(update={"nullable": False}) if c.name == "country" else c for c in SCHEMA.columns]
    )
    assert check_file(path, "csv", country_required).ok  # "NA" is a country (Namibia), not a missing value
    path.write_bytes(GOOD_CSV.replace(b",DE,", b",,"))
    assert check_file(path, "csv", country_required).reason is Reason.NULL_VALUES  # an empty cell is missing
    path.write_bytes(GOOD_CSV.replace(b"9.5", b"9"))
    assert check_file(path, "csv", SCHEMA).ok  # an integer in a float column
    path.write_bytes(GOOD_CSV.replace(b"true", b"maybe"))
    assert check_file(path, "csv", SCHEMA).reason is Reason.WRONG_TYPE
    path.write_bytes(GOOD_PARQUET)
    assert check_file(path, "parquet", SCHEMA).ok  # int32, dictionary strings, timestamp[ms, UTC]
    relaxed = SCHEMA.model_copy(update={"allow_extra_columns": True})
    path.write_bytes(parquet_bytes(GOOD_TABLE.append_column("note", pa.array(["x"]))))
    assert check_file(path, "parquet", SCHEMA).reason is Reason.SCHEMA_MISMATCH
    assert check_file(path, "parquet", relaxed).ok


def test_schema_and_settings_validation() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        DatasetSchema(columns=[ColumnSpec(name="a", type=ColumnType.STRING)] * 2)
    with pytest.raises(ValueError, match="inside"):
        IngestionSettings(
            data_bucket=DATA,
            landing_prefix="data/",
            curated_prefix="data/curated/",
            schema_key=SCHEMA_KEY,
            artifact_bucket=ARTIFACTS,
        )
    with pytest.raises(ValueError, match="empty"):
        IngestionSettings(data_bucket=DATA, landing_prefix="/", schema_key=SCHEMA_KEY, artifact_bucket=ARTIFACTS)
    assert (
        IngestionSettings(
            data_bucket=DATA, landing_prefix="landing", schema_key=SCHEMA_KEY, artifact_bucket=ARTIFACTS
        ).landing_prefix
        == "landing/"
    )
    assert ingestion.hashed_name("a/b.csv", "0123456789abcdef" * 4) == "a/b.0123456789ab.csv"
    assert ingestion.hashed_name("README", "0123456789abcdef" * 4) == "README.0123456789ab"
