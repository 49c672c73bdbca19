"""Monitoring: the stack's alert topic (shared); per model, the scheduled drift monitor and A/B controller
functions, alarms and a dashboard."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.functions import PythonFunction
from infra.components.aws.registry import ModelRegistry
from infra.components.aws.schedules import ModelSchedules
from infra.components.aws.security import EncryptionKey
from infra.components.aws.serving import CHALLENGER, CHAMPION
from infra.components.aws.storage import ArtifactStore
from infra.components.aws.training import TrainingPipeline
from infra.components.base import Capability, Grantable, ModelScope, StackContext
from infra.profiles.model import LambdaDriftMonitoring, ModelMonitoring

DRIFT_NAMESPACE = "MLOpsGen/Drift"
AB_NAMESPACE = "MLOpsGen/ABTest"
# Metrics the drift monitor (infra.runtime.handlers.drift_monitor) puts, per model.
DRIFT_SHARE_METRIC = "drift_share"
DATA_QUALITY_METRIC = "data_quality_errors"


class Monitoring(Capability):
    """The stack's alerts go to one encrypted SNS topic (every model's alarms and functions publish to it)."""

    capability = "monitoring"

    def __init__(
        self, name: str, ctx: StackContext, args: LambdaDriftMonitoring, *, key: EncryptionKey,
        registry: ModelRegistry, opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:Monitoring", name, opts)
        self.topic = aws.sns.Topic(
            f"{name}-alerts", name=ctx.name("alerts", 256), kms_master_key_id=key.arn, opts=self.child()
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts-policy", arn=self.topic.arn,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [
                {
                    "Sid": "AlarmsAndEventsPublish", "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                    "Action": "sns:Publish", "Resource": self.topic.arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                },
                {
                    "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
                    "Resource": self.topic.arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ]}),
            opts=self.child(),
        )
        for i, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(
                f"{name}-alerts-email-{i}", topic=self.topic.arn, protocol="email", endpoint=email, opts=self.child()
            )

        self.image = registry.runtime_image
        self.register_outputs({"alertTopicArn": self.topic.arn})

    def grant_publish(self, role: Grantable) -> aws.iam.RolePolicy:
        return role.allow("alerts", [{"Effect": "Allow", "Action": "sns:Publish", "Resource": self.topic.arn}])


def grant_metrics(role: Grantable, namespace: str) -> aws.iam.RolePolicy:
    return role.allow("metrics", [{
        "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
    }])


class ModelMonitor(Capability):
    """A model's drift monitor and, in `ab` mode, its A/B controller, each on the model's schedules (which pass
    the model name); the model's drift, data-quality and function alarms, and its dashboard."""

    capability = "monitoring"

    def __init__(
        self, name: str, ctx: StackContext, model: ModelScope, args: ModelMonitoring, *, key: EncryptionKey,
        store: ArtifactStore, shared: Monitoring, training: TrainingPipeline, serving: Any,
        schedules: ModelSchedules, log_retention_days: int, opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:ModelMonitor", name, opts)
        self.topic = shared.topic
        metric_model = model.base  # the CloudWatch dimension: unique per stack, unlike the bare model name
        baselines, reports = model.prefix("baselines"), model.prefix("reports/drift")
        self.drift = PythonFunction(
            f"{model.name}-drift-monitor", ctx, self, handler="infra.runtime.handlers.drift_monitor.handler",
            description=f"Compares the day's curated {model.name} data with its baseline; alerts and retrains",
            key=key, image=shared.image, log_retention_days=log_retention_days, alarm_topic=shared.topic.arn,
            memory_mb=2048, timeout=900,
            ephemeral_storage_mb=10240,  # each day's objects are downloaded to /tmp before streaming
            environment={
                "MODEL": model.name,
                "ARTIFACT_BUCKET": store.artifacts.id,
                "DATA_BUCKET": store.data.id,
                "MODEL_NAME": metric_model,
                "BASELINE_KEY": f"{baselines}current/baseline.json",
                "CURRENT_PREFIX": model.prefix("curated"),
                "REPORT_PREFIX": reports,
                "METRIC_NAMESPACE": DRIFT_NAMESPACE,
                "ALERT_TOPIC_ARN": self.topic.arn,
                "RETRAINING_TRIGGER": "sagemaker-pipeline" if args.retrain_on_drift else "none",
                "PIPELINE_NAME": training.pipeline_name,
                "DRIFT_CONFIG": args.drift.model_dump_json(),
                # The dataset schema ingestion checks against: CSV is read with its dialect, as ingestion read it.
                "SCHEMA_KEY": model.schema_key,
            },
        )
        store.data.grant_read(self.drift.role, model.prefix("curated"))
        store.artifacts.grant_read(self.drift.role, baselines, model.prefix("schemas"), grant="baselines-and-schema")
        store.artifacts.grant_read_write(self.drift.role, reports, grant="reports")
        grant_metrics(self.drift.role, DRIFT_NAMESPACE)
        shared.grant_publish(self.drift.role)
        if args.retrain_on_drift:
            training.grant_start(self.drift.role)
        schedules.add(f"{model.name}-drift-daily", "drift-daily", args.drift_schedule, self.drift)

        self.controller: PythonFunction | None = None
        if serving is not None and serving.mode == "ab":
            ab = model.spec.serving.ab
            self.controller = PythonFunction(
                f"{model.name}-ab-controller", ctx, self, handler="infra.runtime.handlers.ab_controller.handler",
                description=f"A/B guardrail of {model.name}: rolls the challenger back when conversion drops",
                key=key, image=shared.image, log_retention_days=log_retention_days, alarm_topic=shared.topic.arn,
                timeout=300, memory_mb=512,
                environment={
                    "MODEL": model.name,
                    "ENDPOINT_NAME": serving.endpoint_name,
                    "CHAMPION_VARIANT": CHAMPION,
                    "CHALLENGER_VARIANT": CHALLENGER,
                    "METRIC_NAMESPACE": AB_NAMESPACE,
                    "ALERT_TOPIC_ARN": self.topic.arn,
                    "DECISIONS_BUCKET": store.artifacts.id,
                    "DECISIONS_PREFIX": experiments_prefix(model),
                    "TRAFFIC_CONTROLLER": "sagemaker-variants",
                    "GUARDRAIL_POLICY": ab.guardrail.model_dump_json(),
                },
            )
            store.artifacts.grant_read_write(self.controller.role, model.prefix("experiments"))
            shared.grant_publish(self.controller.role)
            self.controller.role.allow("traffic", [
                {"Effect": "Allow", "Action": ["sagemaker:DescribeEndpoint",
                                               "sagemaker:UpdateEndpointWeightsAndCapacities"],
                 "Resource": endpoint_arn(ctx, serving.endpoint_name)},
                # CloudWatch reads have no resource-level permissions.
                {"Effect": "Allow", "Action": ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics"],
                 "Resource": "*"},
            ])
            schedules.add(f"{model.name}-ab-guardrail", "ab-guardrail", ab.guardrail_schedule, self.controller)
        self._alarms(name, model, args, metric_model)
        self._dashboard(name, ctx, model, serving, metric_model)
        self.register_outputs({"driftFunction": self.drift.name})

    def _alarm(self, name: str, physical: str, **kwargs: Any) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            name, name=physical, alarm_actions=[self.topic.arn], ok_actions=[self.topic.arn],
            treat_missing_data="notBreaching", opts=self.child(), **kwargs,
        )

    def _alarms(self, name: str, model: ModelScope, args: ModelMonitoring, metric_model: str) -> None:
        self._alarm(
            f"{name}-dataset-drift", model.physical("dataset-drift", 255), namespace=DRIFT_NAMESPACE,
            metric_name=DRIFT_SHARE_METRIC, dimensions={"Model": metric_model}, statistic="Maximum", period=86400,
            evaluation_periods=1, threshold=args.drift.drift_share, comparison_operator="GreaterThanOrEqualToThreshold",
            alarm_description=f"{model.name} dataset drift: the share of drifted input features reached the threshold",
        )
        self._alarm(
            f"{name}-data-quality", model.physical("data-quality", 255), namespace=DRIFT_NAMESPACE,
            metric_name=DATA_QUALITY_METRIC, dimensions={"Model": metric_model}, statistic="Maximum", period=86400,
            evaluation_periods=1, threshold=1, comparison_operator="GreaterThanOrEqualToThreshold",
            alarm_description=f"{model.name}: the day's data failed data-quality checks (missing columns, types, ...)",
        )
        # each function's error and dead-letter alarms come with the function (PythonFunction)

    def _dashboard(self, name: str, ctx: StackContext, model: ModelScope, serving: Any, metric_model: str) -> None:
        widgets: list[dict[str, Any]] = []
        variants = [v.name for v in (serving.variants if serving is not None else [])]
        if variants:
            endpoint = serving.endpoint_name
            widgets += [
                {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
                    "title": "Invocations per variant", "region": ctx.region, "stat": "Sum", "period": 300,
                    "metrics": [["AWS/SageMaker", "Invocations", "EndpointName", endpoint, "VariantName", v]
                                for v in variants],
                }},
                {"type": "metric", "x": 12, "y": 0, "width": 12, "height": 6, "properties": {
                    "title": "p99 model latency (µs)", "region": ctx.region, "stat": "p99", "period": 300,
                    "metrics": [["AWS/SageMaker", "ModelLatency", "EndpointName", endpoint, "VariantName", v]
                                for v in variants],
                }},
            ]
        if serving is not None and serving.mode == "ab":
            widgets.append({"type": "metric", "x": 0, "y": 6, "width": 12, "height": 6, "properties": {
                "title": "Conversion per variant (A/B guardrail input)", "region": ctx.region, "stat": "Sum",
                "period": 3600,
                "metrics": [[AB_NAMESPACE, m, "EndpointName", serving.endpoint_name, "VariantName", v]
                            for m in ("Visitors", "Conversions") for v in (CHAMPION, CHALLENGER)],
            }})
        widgets.append({"type": "metric", "x": 12, "y": 6, "width": 12, "height": 6, "properties": {
            "title": "Dataset drift share", "region": ctx.region, "stat": "Maximum", "period": 86400,
            "metrics": [[DRIFT_NAMESPACE, DRIFT_SHARE_METRIC, "Model", metric_model]],
        }})
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=model.physical("mlops"),
            dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}), opts=self.child(),
        )


def experiments_prefix(model: ModelScope) -> str:
    """Where a model's experiment records live (the A/B controller and the deployer share them)."""
    return model.prefix("experiments").rstrip("/")


def endpoint_arn(ctx: StackContext, endpoint_name: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:aws:sagemaker:", ctx.region, ":", ctx.account_id, ":endpoint/", endpoint_name)
