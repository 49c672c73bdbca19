"""The drift Lambda end to end on moto: S3 baseline + a day's files -> report, metrics, SNS, retraining."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from infra.runtime.adapters.retraining import (
    RETRAINING_TRIGGERS,
    RetrainingRequest,
    SageMakerPipelineTrigger,
    get_retraining_trigger,
    register_retraining_trigger,
)
from infra.runtime.drift import DriftReport, baseline_key, compute_baseline, upload_baseline
from infra.runtime.drift.dataset import ColumnSpec, ColumnType, CsvDialect, DatasetSchema
from infra.runtime.handlers import drift_monitor
from infra.runtime.handlers.drift_monitor import Dependencies, DriftSettings

REGION = "us-east-1"
ARTIFACTS = "mlops-artifacts"
DATA = "mlops-data"
MODEL = "churn"
PIPELINE = "churn-retraining"
NAMESPACE = "MLOpsGen/Drift"
DAY = "2026-11-25"
NOW = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)


@dataclass
class World:
    s3: Any
    sqs: Any
    queue_url: str
    sagemaker: Any
    cloudwatch: Any
    env: dict[str, str]

    def messages(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]

    def executions(self) -> list[dict[str, Any]]:
        return list(self.sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"])

    def report(self, key: str) -> DriftReport:
        return DriftReport.model_validate_json(self.s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read())


def _table(n: int, seed: int, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "tenure": rng.normal(24 + shift * 12, 12, n),
            "spend": rng.gamma(2.0, 50.0 * (1 + shift), n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1]),
        }
    )


def _put_parquet(s3: Any, key: str, table: pa.Table) -> None:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    s3.put_object(Bucket=DATA, Key=key, Body=sink.getvalue())


def _put_csv(s3: Any, key: str, table: pa.Table) -> None:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    s3.put_object(Bucket=DATA, Key=key, Body=sink.getvalue())


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # credentials: tests/conftest.py
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACTS)
        s3.create_bucket(Bucket=DATA)
        topic = sns.create_topic(Name="drift-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="drift-alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn="arn:aws:iam::123456789012:role/sagemaker-pipelines",
        )
        key = baseline_key("churn-models", 3)
        upload_baseline(
            compute_baseline(_table(20_000, seed=0), model_name=MODEL, model_version="3"), s3, ARTIFACTS, key
        )
        env = {
            "ARTIFACT_BUCKET": ARTIFACTS,
            "DATA_BUCKET": DATA,
            "MODEL_NAME": MODEL,
            "BASELINE_KEY": key,
            "CURRENT_PREFIX": "curated/",
            "REPORT_PREFIX": "drift-reports/",
            "METRIC_NAMESPACE": NAMESPACE,
            "ALERT_TOPIC_ARN": topic,
            "RETRAINING_TRIGGER": "sagemaker-pipeline",
            "PIPELINE_NAME": PIPELINE,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield World(s3, sqs, queue_url, sagemaker, cloudwatch, env)


def _deps() -> Dependencies:
    return Dependencies(clock=lambda: NOW)


def test_drifted_day_writes_report_metrics_alert_and_starts_retraining(world: World) -> None:
    _put_parquet(world.s3, f"curated/dt={DAY}/part-0.parquet", _table(3000, seed=1, shift=0.6))
    _put_csv(world.s3, f"curated/dt={DAY}/part-1.csv", _table(2000, seed=2, shift=0.6))
    world.s3.put_object(Bucket=DATA, Key=f"curated/dt={DAY}/_SUCCESS", Body=b"")

    summary = drift_monitor.handler({}, None, _deps())  # no date: yesterday (UTC) of NOW

    report_key = f"drift-reports/{MODEL}/dt={DAY}/report.json"
    assert summary["report_uri"] == f"s3://{ARTIFACTS}/{report_key}"
    assert summary["dataset_drift"] is True
    assert sorted(summary["drifted_features"]) == ["spend", "tenure"]
    report = world.report(report_key)
    assert report.rows == 5000 and len(report.sources) == 2
    assert report.model_version == "3"
    assert report.actions["retraining_status"] == "started"
    assert report.actions["alert_message_id"] == summary["alert_message_id"]

    metrics = world.cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    per_feature = {(m["MetricName"], {d["Name"]: d["Value"] for d in m["Dimensions"]}.get("Feature")) for m in metrics}
    assert {("wasserstein", "tenure"), ("wasserstein", "spend"), ("jensenshannon", "plan")} <= per_feature
    assert all({d["Name"] for d in m["Dimensions"]} >= {"Model"} for m in metrics)
    stats = world.cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="wasserstein",
        Dimensions=[{"Name": "Model", "Value": MODEL}, {"Name": "Feature", "Value": "tenure"}],
        StartTime=datetime(2000, 1, 1, tzinfo=UTC),
        EndTime=datetime(2100, 1, 1, tzinfo=UTC),
        Period=86400,
        Statistics=["Maximum"],
    )["Datapoints"]
    tenure = next(r for r in report.features if r.feature == "tenure")
    assert stats and stats[0]["Maximum"] == pytest.approx(tenure.value)

    messages = world.messages()
    assert len(messages) == 1
    assert messages[0]["Subject"].startswith(f"Drift: {MODEL} 2/3")
    assert json.loads(messages[0]["Message"])["report_uri"] == summary["report_uri"]

    executions = world.executions()
    assert len(executions) == 1
    assert executions[0]["PipelineExecutionArn"] == summary["retraining"]["run"]


def test_quiet_day_alerts_nobody_and_starts_nothing(world: World) -> None:
    _put_parquet(world.s3, f"curated/dt={DAY}/part-0.parquet", _table(4000, seed=3))
    summary = drift_monitor.handler({"date": DAY}, None, _deps())
    assert summary["drifted_features"] == [] and summary["dataset_drift"] is False
    assert summary["retraining"] is None and summary["alert_message_id"] is None
    assert world.messages() == []
    assert world.executions() == []
    names = {m["MetricName"] for m in world.cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]}
    assert {"wasserstein", "jensenshannon", "drift_share", "data_quality_errors"} <= names


def test_one_feature_drifting_alerts_but_does_not_retrain(world: World) -> None:
    table = _table(4000, seed=4)
    shifted = _table(4000, seed=4, shift=0.6)
    _put_parquet(world.s3, "adhoc/batch.parquet", table.set_column(0, "tenure", shifted.column("tenure")))
    summary = drift_monitor.handler({"current_key": "adhoc/batch.parquet"}, None, _deps())
    assert summary["drifted_features"] == ["tenure"] and summary["dataset_drift"] is False
    assert "/adhoc/" in summary["report_uri"]
    assert len(world.messages()) == 1
    assert world.executions() == []


def test_bad_data_is_reported_not_raised(world: World) -> None:
    bad = _table(3000, seed=5).drop_columns(["spend"]).append_column("extra", pa.array(np.arange(3000)))
    _put_parquet(world.s3, f"curated/dt={DAY}/part-0.parquet", bad)
    world.s3.put_object(Bucket=DATA, Key=f"curated/dt={DAY}/part-1.parquet", Body=b"garbage")
    summary = drift_monitor.handler({"date": DAY}, None, _deps())
    assert summary["findings"] == {"missing_column": 1, "extra_column": 1, "unreadable_source": 1}
    report = world.report(f"drift-reports/{MODEL}/dt={DAY}/report.json")
    assert report.rows == 3000 and report.n_tested == 2

    empty = drift_monitor.handler({"date": "2026-11-20"}, None, _deps())
    assert empty["findings"] == {"empty_batch": 1} and empty["rows"] == 0
    assert world.report(f"drift-reports/{MODEL}/dt=2026-11-20/report.json").n_tested == 0
    errors = world.cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="data_quality_errors",
        Dimensions=[{"Name": "Model", "Value": MODEL}],
        StartTime=datetime(2000, 1, 1, tzinfo=UTC),
        EndTime=datetime(2100, 1, 1, tzinfo=UTC),
        Period=86400,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert errors and errors[0]["Maximum"] >= 1


def test_a_failed_retraining_start_is_recorded(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_NAME", "no-such-pipeline")
    _put_parquet(world.s3, f"curated/dt={DAY}/part-0.parquet", _table(3000, seed=6, shift=0.6))
    summary = drift_monitor.handler({"date": DAY}, None, _deps())
    assert summary["retraining"]["status"] == "failed"
    report = world.report(f"drift-reports/{MODEL}/dt={DAY}/report.json")
    assert report.actions["retraining_status"] == "failed"
    assert len(world.messages()) == 1  # the alert still goes out


def test_settings_from_env_and_drift_config(world: World) -> None:
    env = dict(world.env, DRIFT_CONFIG=json.dumps({"method": "psi", "retrain_on": "never"}), CURRENT_PREFIX="x")
    settings = DriftSettings.from_env(env)
    assert settings.current_prefix == "x/" and settings.config.method == "psi"
    with pytest.raises(ValueError, match="DATA_BUCKET"):
        DriftSettings.from_env({k: v for k, v in env.items() if k != "DATA_BUCKET"})
    with pytest.raises(ValueError, match="drift_share"):
        DriftSettings.from_env(dict(env, DRIFT_CONFIG='{"drift_share": 3}'))


def test_retraining_registry_and_idempotency_key(world: World) -> None:
    assert "sagemaker-pipeline" in RETRAINING_TRIGGERS
    trigger = get_retraining_trigger("sagemaker-pipeline", {"PIPELINE_NAME": PIPELINE})
    assert isinstance(trigger, SageMakerPipelineTrigger)
    key = RetrainingRequest.key_for(MODEL, "3", f"dt={DAY}")
    assert key == RetrainingRequest.key_for(MODEL, "3", f"dt={DAY}") != RetrainingRequest.key_for(MODEL, "4", "x")
    arn = trigger.trigger(RetrainingRequest(model_name="churn model/v3", reason="test", idempotency_key=key))
    assert arn.startswith("arn:aws:sagemaker:") and len(world.executions()) == 1
    with pytest.raises(ValueError, match="unknown retraining trigger"):
        get_retraining_trigger("kubeflow", {})
    with pytest.raises(ValueError, match="already registered"):
        register_retraining_trigger("sagemaker-pipeline", SageMakerPipelineTrigger.from_settings)


def test_csv_is_read_with_the_dataset_schemas_dialect(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = DatasetSchema(
        columns=[ColumnSpec(name="tenure", type=ColumnType.FLOAT), ColumnSpec(name="spend", type=ColumnType.FLOAT),
                 ColumnSpec(name="plan", type=ColumnType.STRING)],
        csv=CsvDialect(delimiter=";", null_values=("n/a",)),
    )
    world.s3.put_object(Bucket=ARTIFACTS, Key="schemas/churn/schema.json", Body=schema.model_dump_json().encode())
    monkeypatch.setenv("SCHEMA_KEY", "schemas/churn/schema.json")
    table = _table(2000, seed=1)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(table.column_names)
    for i, row in enumerate(table.to_pylist()):
        writer.writerow(["n/a" if i < 100 else f"{row['tenure']:.6f}", f"{row['spend']:.6f}", row["plan"]])
    body = gzip.compress(codecs.BOM_UTF8 + out.getvalue().encode(), mtime=0)
    world.s3.put_object(Bucket=DATA, Key=f"curated/dt={DAY}/export.csv.gz", Body=body)

    summary = drift_monitor.handler({"date": DAY}, None, _deps())

    assert summary["status"] == "no drift" and summary["n_tested"] == 3 and summary["rows"] == 2000
    report = world.report(f"drift-reports/{MODEL}/dt={DAY}/report.json")
    tenure = next(r for r in report.features if r.feature == "tenure")
    assert tenure.missing_current == 100 and tenure.n_current == 1900
    assert not {"unparseable", "missing_column", "unreadable_source"} & set(summary["findings"])
