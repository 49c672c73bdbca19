"""Monitoring on GCP: the stack's notification channels and alert policies, the runtime jobs' log bucket, and
per model the drift monitor and A/B controller as scheduled Cloud Run jobs with the model's alert policies."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.base import Capability, ModelScope
from infra.components.gcp.context import GcpContext, Workload
from infra.components.gcp.jobs import Scheduling
from infra.components.gcp.network import GcpNetwork
from infra.components.gcp.registry import ImageRegistry
from infra.components.gcp.security import CmekKey
from infra.components.gcp.storage import READ, READ_WRITE, GcsStore
from infra.profiles.model import CloudMonitoring, CloudRunDriftMonitoring
from infra.runtime.adapters.notifications import ALERT_LABEL

DRIFT_NAMESPACE, AB_NAMESPACE = "MLOpsGen/Drift", "MLOpsGen/ABTest"
WINDOW = "300s"


def threshold(display: str, filter_: str, value: float, aligner: str) -> Any:
    """An alert condition: the aligned series above `value` for the whole window."""
    return {"display_name": display, "condition_threshold": {
        "filter": filter_, "comparison": "COMPARISON_GT", "threshold_value": value, "duration": WINDOW,
        "aggregations": [{"alignment_period": WINDOW, "per_series_aligner": aligner}],
    }}


def experiments_prefix(model: ModelScope) -> str:
    """Where a model's A/B experiment records live (the A/B controller and the deployer share them)."""
    return model.prefix("experiments").rstrip("/")


class GcpMonitoring(Capability):
    """An email notification channel per address; alert policies on any failed runtime job and on the alerts the
    runtime jobs log (drift, A/B decisions, quarantined data: infra.runtime.adapters.notifications writes them
    as structured log entries); a log bucket that keeps the jobs' logs; the account Cloud Scheduler starts the
    jobs as."""

    capability = "monitoring"

    def __init__(self, name: str, ctx: GcpContext, args: CloudMonitoring, *, key: CmekKey,
                 network: GcpNetwork, registry: ImageRegistry, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:Monitoring", name, opts)
        self.channels = [
            gcp.monitoring.NotificationChannel(
                f"{name}-email-{i}", display_name=f"{ctx.prefix} alerts ({email})", type="email",
                labels={"email_address": email}, project=ctx.project, opts=ctx.after_services(self),
            )
            for i, email in enumerate(args.alert_emails)
        ]
        self.channel_ids = [c.id for c in self.channels]
        self.scheduling = Scheduling(ctx, network, registry.runtime_uri, self)
        jobs = f'resource.type = "cloud_run_job" AND resource.labels.job_name = starts_with("{ctx.prefix}-")'
        gcp.monitoring.AlertPolicy(
            f"{name}-failed-jobs", display_name=f"{ctx.prefix}: a runtime job failed", project=ctx.project,
            combiner="OR", severity="ERROR", notification_channels=self.channel_ids,
            conditions=[threshold(
                "failed executions",
                f'{jobs} AND metric.type = "run.googleapis.com/job/completed_execution_count" '
                f'AND metric.labels.result = "failed"', 0, "ALIGN_SUM")],
            documentation={"content": "A drift, A/B, ingestion or retraining job execution failed: see its logs.",
                           "mime_type": "text/markdown"},
            alert_strategy={"auto_close": "86400s"}, opts=ctx.after_services(self),
        )
        gcp.monitoring.AlertPolicy(
            f"{name}-runtime-alerts", display_name=f"{ctx.prefix}: runtime alert", project=ctx.project,
            combiner="OR", severity="WARNING", notification_channels=self.channel_ids,
            conditions=[{"display_name": "alert logged by a runtime job", "condition_matched_log": {
                "filter": f'{jobs} AND labels."{ALERT_LABEL}" = "true"',
                "label_extractors": {"subject": "EXTRACT(jsonPayload.subject)"},
            }}],
            documentation={"content": "${log.extracted_label.subject}: see the log entry for the details.",
                           "mime_type": "text/markdown"},
            alert_strategy={"notification_rate_limit": {"period": "300s"}, "auto_close": "1800s"},
            opts=ctx.after_services(self),
        )
        self.log_bucket = gcp.logging.ProjectBucketConfig(
            f"{name}-logs", project=ctx.project, location=ctx.region, bucket_id=ctx.name("logs", 100),
            retention_days=args.log_retention_days, description=f"{ctx.prefix}: runtime job logs",
            cmek_settings={"kms_key_name": key.id},
            opts=key.after_grant(ctx, self, "logging", data=False),
        )
        gcp.logging.ProjectSink(
            f"{name}-job-logs", name=ctx.name("jobs", 100), project=ctx.project, filter=jobs,
            destination=pulumi.Output.concat("logging.googleapis.com/projects/", ctx.project, "/locations/",
                                             ctx.region, "/buckets/", self.log_bucket.bucket_id),
            unique_writer_identity=True, opts=self.child(),
        )
        self.register_outputs({"notificationChannels": self.channel_ids})


class ModelMonitor(Capability):
    """A model's daily drift job (retrains through its Vertex pipeline when the rule is met), in `ab` mode its
    A/B controller job on the model's endpoint, and alert policies on the endpoint's errors and p99 latency."""

    capability = "monitoring"

    def __init__(self, name: str, ctx: GcpContext, model: ModelScope, args: CloudRunDriftMonitoring, *,
                 store: GcsStore, shared: GcpMonitoring, training: Any, serving: Any,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:ModelMonitor", name, opts)
        baselines, reports = model.prefix("baselines"), model.prefix("reports/drift")
        self.drift = Workload(ctx, "drift", f"Daily drift monitor of {model.name}: reads its data, writes its "
                              "reports and metrics, submits its retraining pipeline", self, model)
        store.data.grant(self.drift, READ, model.prefix("curated"))
        # The pipeline template is read with the submitter's credentials.
        pipelines = (model.prefix("pipelines"),) if args.retrain_on_drift else ()
        readable = (baselines, model.prefix("schemas"), *pipelines)
        store.artifacts.grant(self.drift, READ, *readable)
        store.artifacts.grant(self.drift, READ_WRITE, reports)
        for role in ("roles/monitoring.metricWriter", "roles/logging.logWriter"):
            self.drift.grant_project_role(role)
        retraining: dict[str, pulumi.Input[str]] = {"RETRAINING_TRIGGER": ""}
        if args.retrain_on_drift:
            training.grant_submit(self.drift)
            retraining = training.settings()
        scheduling = shared.scheduling
        self.jobs = {"drift": scheduling.job(
            f"{model.name}-drift", "drift", self.drift, schedule=args.drift_schedule, parent=self, memory="4Gi",
            env={"MODEL": model.name, "ARTIFACT_BUCKET": store.artifacts.id, "DATA_BUCKET": store.data.id,
                 "MODEL_NAME": model.base, "BASELINE_KEY": f"{baselines}current/baseline.json",
                 "CURRENT_PREFIX": model.prefix("curated"), "REPORT_PREFIX": reports,
                 "METRIC_NAMESPACE": DRIFT_NAMESPACE, "METRICS": "cloud-monitoring", "STORAGE": "gcs",
                 "NOTIFICATIONS": "cloud-logging", "DRIFT_CONFIG": args.drift.model_dump_json(),
                 "SCHEMA_KEY": model.schema_key, **retraining},
        )}
        if serving is not None and serving.mode == "ab":
            self.ab = Workload(ctx, "abctl", f"A/B controller of {model.name}: reads its conversion metrics, "
                               "moves its endpoint's traffic", self, model)
            store.artifacts.grant(self.ab, READ_WRITE, f"{experiments_prefix(model)}/")
            for role in ("roles/monitoring.viewer", "roles/logging.logWriter", "roles/aiplatform.user"):
                self.ab.grant_project_role(role)
            ab = model.spec.serving.ab
            self.jobs["ab"] = scheduling.job(
                f"{model.name}-ab", "ab-controller", self.ab, schedule=ab.guardrail_schedule, parent=self,
                timeout_seconds=600, memory="1Gi",
                env={"MODEL": model.name, "ENDPOINT_NAME": serving.endpoint_id, "DECISIONS_BUCKET": store.artifacts.id,
                     "DECISIONS_PREFIX": experiments_prefix(model), "TRAFFIC_CONTROLLER": "vertex-endpoint",
                     "CHAMPION_VARIANT": "champion", "CHALLENGER_VARIANT": "challenger",
                     "METRIC_NAMESPACE": AB_NAMESPACE, "METRICS": "cloud-monitoring", "STORAGE": "gcs",
                     "NOTIFICATIONS": "cloud-logging", "GUARDRAIL_POLICY": ab.guardrail.model_dump_json()},
            )
        if serving is not None:
            endpoint = (f'resource.type = "aiplatform.googleapis.com/Endpoint" AND '
                        f'resource.labels.endpoint_id = "{serving.endpoint_id}"')
            for suffix, title, metric, value, aligner in (
                ("endpoint-errors", "prediction errors per 5 minutes", "prediction/online/error_count",
                 args.endpoint_5xx_alarm_threshold, "ALIGN_SUM"),
                ("latency-p99", "p99 latency (ms)", "prediction/online/prediction_latencies",
                 args.latency_p99_ms_alarm_threshold, "ALIGN_PERCENTILE_99"),
            ):
                gcp.monitoring.AlertPolicy(
                    f"{model.name}-{suffix}", display_name=f"{model.base}: {title}", project=ctx.project,
                    combiner="OR", severity="ERROR" if "errors" in suffix else "WARNING",
                    notification_channels=shared.channel_ids,
                    conditions=[threshold(title, f'{endpoint} AND metric.type = "aiplatform.googleapis.com/{metric}"',
                                          value, aligner)],
                    documentation={"content": f"{title} of the {model.name} endpoint above {value}.",
                                   "mime_type": "text/markdown"},
                    alert_strategy={"auto_close": "1800s"}, opts=ctx.after_services(self),
                )
        self.register_outputs({"jobs": {k: j.name for k, j in self.jobs.items()}})
