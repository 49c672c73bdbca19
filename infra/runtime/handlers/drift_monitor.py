"""Drift monitor: a scheduled Lambda that compares a day's curated data with the model's baseline.

Why its own job: SageMaker Model Monitor is closed to new customers, so the stack runs this (daily, by an
EventBridge schedule) instead. One streaming pass over the day's files, bounded memory (see
infra.runtime.drift); bad data becomes findings in the report, never a failed run.

Environment contract (set by the Pulumi component):
- ARTIFACT_BUCKET (required): holds the baseline and the reports.
- BASELINE_KEY (required unless the event gives `baseline_key`): e.g. `baselines/<group>/<version>/baseline.json`
  (infra.runtime.drift.baseline_key).
- DATA_BUCKET (required); CURRENT_PREFIX (default `curated/`): the partition root; a run reads every
  `*.parquet` / `*.csv` object under `<CURRENT_PREFIX>dt=YYYY-MM-DD/`.
- MODEL_NAME (required): CloudWatch dimension `Model`, report path, retraining display name.
- REPORT_PREFIX (default `drift-reports/`): reports go to
  `<REPORT_PREFIX><MODEL_NAME>/dt=YYYY-MM-DD/report.json` (or `.../adhoc/<UTC time>-<hash>/report.json`).
- METRIC_NAMESPACE (default `MLOpsGen/Drift`): one metric per tested feature, named after the statistic the
  feature is judged on (`wasserstein`, `jensenshannon`, `psi`, `ks_p_value`, `chisquare_p_value`,
  `z_p_value`), dimensions Model and Feature; plus `drift_share` and `data_quality_errors` (dimension Model).
- ALERT_TOPIC_ARN (optional): SNS message when the alert rule is met (any drifted feature by default).
- RETRAINING_TRIGGER (optional, e.g. `sagemaker-pipeline`) and its settings (PIPELINE_NAME, optional
  PIPELINE_PARAMETERS JSON): started when the retraining rule is met (dataset drift by default).
- DRIFT_CONFIG (optional): JSON of infra.runtime.drift.DriftConfig.
- SCHEMA_KEY (optional): the dataset schema in ARTIFACT_BUCKET (the one ingestion checks against); CSV files
  are read with its `csv` dialect (delimiter, null tokens, encoding), as ingestion read them.
- STORAGE (default `s3`), METRICS (default `cloudwatch`), NOTIFICATIONS (default `sns`): the adapters the
  monitor reaches its cloud through (GCP: `gcs`, `cloud-monitoring`, `cloud-logging`; infra.runtime.adapters).
Event: `{"date": "YYYY-MM-DD"}` (default: yesterday, UTC) or `{"current_key": "<key in DATA_BUCKET>"}`;
`baseline_key` overrides BASELINE_KEY.
Each object is downloaded to the Lambda's /tmp and streamed from there, one at a time: give the function
ephemeral storage above the largest daily object, and memory for one Parquet row group plus the baseline.
IAM: s3:GetObject on the baseline and the data prefix, s3:ListBucket on DATA_BUCKET, s3:PutObject on the
report prefix, cloudwatch:PutMetricData, sns:Publish, sagemaker:StartPipelineExecution.
Order: compare, start retraining, alert, metrics, then the report (which records what was done). A retried
invocation starts no second pipeline execution (idempotency token per model version and batch).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from infra.runtime.adapters.metrics import MetricPoint
from infra.runtime.adapters.retraining import RetrainingRequest, RetrainingTrigger, get_retraining_trigger
from infra.runtime.adapters.storage import uri
from infra.runtime.clients import Adapters
from infra.runtime.drift import io as drift_io
from infra.runtime.drift.baseline import download_baseline
from infra.runtime.drift.config import DriftConfig, Rule, parse_config_text
from infra.runtime.drift.dataset import CsvDialect, DatasetSchema
from infra.runtime.drift.monitor import DriftMonitor
from infra.runtime.drift.report import DriftReport, FindingKind, Severity
from infra.runtime.handlers import for_model

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "MLOpsGen/Drift"
DEFAULT_CURRENT_PREFIX = "curated/"
DEFAULT_REPORT_PREFIX = "drift-reports/"


def _prefix(value: str) -> str:
    value = value.strip().lstrip("/")
    return value if not value or value.endswith("/") else value + "/"


@dataclass(frozen=True)
class DriftSettings:
    """The environment contract, parsed once."""

    artifact_bucket: str
    data_bucket: str
    model_name: str
    baseline_key: str = ""
    current_prefix: str = DEFAULT_CURRENT_PREFIX
    report_prefix: str = DEFAULT_REPORT_PREFIX
    metric_namespace: str = DEFAULT_NAMESPACE
    alert_topic_arn: str = ""
    retraining_trigger: str = ""
    schema_key: str = ""
    config: DriftConfig = field(default_factory=DriftConfig)
    env: Mapping[str, str] | None = None  # settings of the retraining trigger (PIPELINE_NAME, ...) and adapters

    def adapters(self) -> dict[str, str]:
        """The settings the cloud adapters read (STORAGE, METRICS, NOTIFICATIONS, GCP_PROJECT, ALERT_TOPIC_ARN)."""
        return {**(self.env or {}), "ALERT_TOPIC_ARN": self.alert_topic_arn}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DriftSettings:
        e = dict(os.environ if env is None else env)
        missing = [k for k in ("ARTIFACT_BUCKET", "DATA_BUCKET", "MODEL_NAME") if not e.get(k)]
        if missing:
            raise ValueError(f"drift monitor: missing environment variables: {', '.join(missing)}")
        raw_config = e.get("DRIFT_CONFIG", "")
        try:
            config = parse_config_text(raw_config, source="DRIFT_CONFIG")
        except Exception as exc:  # UserError: a deployment mistake, so fail loudly with the field named
            raise ValueError(f"drift monitor: invalid DRIFT_CONFIG: {exc}") from None
        return cls(
            artifact_bucket=e["ARTIFACT_BUCKET"],
            data_bucket=e["DATA_BUCKET"],
            model_name=e["MODEL_NAME"],
            baseline_key=e.get("BASELINE_KEY", ""),
            current_prefix=_prefix(e.get("CURRENT_PREFIX", DEFAULT_CURRENT_PREFIX)),
            report_prefix=_prefix(e.get("REPORT_PREFIX", DEFAULT_REPORT_PREFIX)),
            metric_namespace=e.get("METRIC_NAMESPACE") or DEFAULT_NAMESPACE,
            alert_topic_arn=e.get("ALERT_TOPIC_ARN", ""),
            retraining_trigger=e.get("RETRAINING_TRIGGER", ""),
            schema_key=e.get("SCHEMA_KEY", ""),
            config=config,
            env=e,
        )


class Dependencies(Adapters):
    """The cloud's clients and adapters, the retraining trigger and the clock; injectable for tests, created
    lazily."""

    def __init__(self, *, retraining: RetrainingTrigger | None = None, **clients: Any) -> None:
        super().__init__(**clients)
        self._retraining = retraining

    def retraining(self, name: str, settings: Mapping[str, str]) -> RetrainingTrigger:
        if self._retraining is None:
            self._retraining = get_retraining_trigger(name, settings)
        return self._retraining


@dataclass(frozen=True)
class Batch:
    """What one run judges: a day's partition or one object."""

    label: str  # dt=YYYY-MM-DD or the object key
    keys: list[str]
    report_key: str


def _rule_met(rule: Rule, report: DriftReport) -> bool:
    if rule is Rule.DATASET_DRIFT:
        return report.dataset_drift
    if rule is Rule.ANY_FEATURE_DRIFT:
        return report.any_drift
    return False


def _select_batch(event: Mapping[str, Any], settings: DriftSettings, deps: Dependencies) -> Batch:
    base = f"{settings.report_prefix}{settings.model_name}/"
    current_key = event.get("current_key")
    if current_key:
        stamp = deps.clock().strftime("%Y%m%dT%H%M%SZ")
        digest = RetrainingRequest.key_for(str(current_key))[:8]
        return Batch(str(current_key), [str(current_key)], f"{base}adhoc/{stamp}-{digest}/report.json")
    raw_date = event.get("date")
    day = date.fromisoformat(str(raw_date)) if raw_date else (deps.clock() - timedelta(days=1)).date()
    prefix = f"{settings.current_prefix}dt={day.isoformat()}/"
    listed = deps.store(settings.adapters()).keys(settings.data_bucket, prefix)
    keys = [k for k in listed if drift_io.source_format(k)]
    return Batch(f"dt={day.isoformat()}", sorted(keys), f"{base}dt={day.isoformat()}/report.json")


def _stream(monitor: DriftMonitor, batch: Batch, settings: DriftSettings, deps: Dependencies) -> None:
    """Download each object to local scratch space (Lambda /tmp) and stream it; failures become findings."""
    store = deps.store(settings.adapters())
    if not batch.keys:
        where = uri(store, settings.data_bucket, f"{settings.current_prefix}{batch.label}/")
        monitor.add_finding(FindingKind.EMPTY_BATCH, Severity.ERROR, f"no .parquet or .csv objects under {where}")
        return
    with tempfile.TemporaryDirectory(prefix="drift-") as scratch:
        for i, key in enumerate(batch.keys):
            where = uri(store, settings.data_bucket, key)
            local = Path(scratch) / f"{i}-{Path(key).name}"  # keeps `.csv.gz`
            try:
                store.download(settings.data_bucket, key, str(local))
            except Exception as exc:  # client / transfer errors: the object is unusable
                monitor.sources.append(where)
                monitor.add_finding(FindingKind.UNREADABLE_SOURCE, Severity.ERROR, f"{where}: {exc}")
                continue
            monitor.add_file(local, label=where)
            local.unlink(missing_ok=True)


def _put_metrics(report: DriftReport, settings: DriftSettings, deps: Dependencies) -> int:
    model = {"Model": settings.model_name}
    points = [MetricPoint(str(r.statistic), float(r.value), {**model, "Feature": r.feature})
              for r in report.features if r.tested and r.statistic and r.value is not None]
    points.append(MetricPoint("drift_share", report.drift_share, model))
    points.append(MetricPoint("data_quality_errors", float(len(report.errors())), model, unit="Count"))
    # The metrics describe this run, whenever the metrics service receives them.
    return int(deps.metrics(settings.adapters()).put(settings.metric_namespace, points, deps.clock()))


def summarize(report: DriftReport, report_uri: str) -> dict[str, Any]:
    """What the run found, small enough for an SNS message and the Lambda's return value."""
    return {
        "model": report.model_name,
        "model_version": report.model_version,
        "rows": report.rows,
        "sources": report.sources,
        "report_uri": report_uri,
        "status": report.status.value,
        "dataset_drift": report.dataset_drift,
        "drift_share": round(report.drift_share, 4),
        "n_tested": report.n_tested,
        "drifted_features": report.drifted_features,
        "findings": dict(Counter(f.kind.value for f in report.findings)),
    }


def _dialect(settings: DriftSettings, deps: Dependencies) -> CsvDialect:
    """The dataset schema's CSV dialect; a schema that is set but missing or invalid is a deployment error."""
    if not settings.schema_key:
        return CsvDialect()
    body = deps.store(settings.adapters()).get(settings.artifact_bucket, settings.schema_key)
    return DatasetSchema.model_validate_json(body).csv


def run(event: Mapping[str, Any] | None, settings: DriftSettings, deps: Dependencies) -> dict[str, Any]:
    """One monitoring run; returns the summary (also stored in the report's `actions`)."""
    event = event or {}
    baseline_key = str(event.get("baseline_key") or settings.baseline_key)
    if not baseline_key:
        raise ValueError("drift monitor: no baseline (set BASELINE_KEY or pass baseline_key in the event)")
    store = deps.store(settings.adapters())
    baseline = download_baseline(store, settings.artifact_bucket, baseline_key)
    if not baseline.model_name:
        baseline.model_name = settings.model_name
    batch = _select_batch(event, settings, deps)
    monitor = DriftMonitor(baseline, settings.config, dialect=_dialect(settings, deps))
    _stream(monitor, batch, settings, deps)
    report = monitor.report()
    report_uri = uri(store, settings.artifact_bucket, batch.report_key)
    summary = summarize(report, report_uri)

    retraining: dict[str, str] | None = None
    if settings.retraining_trigger and _rule_met(settings.config.retrain_on, report):
        request = RetrainingRequest(
            model_name=settings.model_name,
            reason=(
                f"Data drift in {report.n_drifted} of {report.n_tested} features "
                f"({report.drift_share:.0%}) for {batch.label}."
            ),
            idempotency_key=RetrainingRequest.key_for(settings.model_name, baseline.model_version, batch.label),
            report_uri=report_uri,
            drifted_features=tuple(report.drifted_features),
        )
        try:
            run_id = deps.retraining(settings.retraining_trigger, settings.env or {}).trigger(request)
            retraining = {"status": "started", "trigger": settings.retraining_trigger, "run": run_id}
        except Exception as exc:  # the report and the alert must still go out; the failure is recorded
            log.exception("retraining trigger %s failed", settings.retraining_trigger)
            retraining = {"status": "failed", "trigger": settings.retraining_trigger, "error": str(exc)}
        report.actions.update({f"retraining_{k}": v for k, v in retraining.items()})
    summary["retraining"] = retraining

    alert_id: str | None = None
    notifier = deps.notifier(settings.adapters())
    if notifier is not None and _rule_met(settings.config.alert_on, report):
        subject = f"Drift: {settings.model_name} {report.n_drifted}/{report.n_tested} features drifted"
        alert_id = notifier.publish(subject, json.dumps(summary, indent=2, default=str))
        report.actions["alert_message_id"] = alert_id
    summary["alert_message_id"] = alert_id

    summary["metrics"] = _put_metrics(report, settings, deps)
    store.put(settings.artifact_bucket, batch.report_key, report.model_dump_json(indent=1).encode())
    log.info("drift run %s: %s", batch.label, json.dumps(summary, default=str))
    return summary


@for_model
def handler(event: Mapping[str, Any] | None, context: Any, deps: Dependencies | None = None) -> dict[str, Any]:
    """Lambda entry point: settings from the environment, real clients created on first use."""
    return run(event, DriftSettings.from_env(), deps or Dependencies())
