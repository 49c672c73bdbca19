"""Monitoring: alert topic, alarms, dashboard, and the scheduled drift monitor and A/B controller functions."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.functions import PythonFunction
from infra.components.aws.registry import ModelRegistry
from infra.components.aws.security import EncryptionKey
from infra.components.aws.serving import CHALLENGER, CHAMPION, ModelEndpoint
from infra.components.aws.storage import ArtifactStore
from infra.components.aws.training import TrainingPipeline
from infra.components.base import Capability, Grantable, StackContext, new_role
from infra.profiles.model import LambdaDriftMonitoring

DRIFT_NAMESPACE = "MLOpsGen/Drift"
AB_NAMESPACE = "MLOpsGen/ABTest"
# Metrics the drift monitor (infra.runtime.handlers.drift_monitor) puts, per model.
DRIFT_SHARE_METRIC = "drift_share"
DATA_QUALITY_METRIC = "data_quality_errors"


class Monitoring(Capability):
    """Alerts go to one encrypted SNS topic; drift and A/B decisions run on EventBridge Scheduler."""

    capability = "monitoring"

    def __init__(
        self, name: str, ctx: StackContext, args: LambdaDriftMonitoring, *, key: EncryptionKey,
        store: ArtifactStore, registry: ModelRegistry, training: TrainingPipeline, serving: ModelEndpoint,
        opts: pulumi.ResourceOptions | None = None,
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
        model = registry.group_name
        self.drift = PythonFunction(
            "drift-monitor", ctx, self, handler="infra.runtime.handlers.drift_monitor.handler",
            description="Compares yesterday's curated data with the model's baseline; alerts and retrains on drift",
            key=key, image=self.image, log_retention_days=args.log_retention_days, memory_mb=2048, timeout=900,
            ephemeral_storage_mb=10240,  # each day's objects are downloaded to /tmp before streaming
            environment={
                "ARTIFACT_BUCKET": store.artifacts.id,
                "DATA_BUCKET": store.data.id,
                "MODEL_NAME": model,
                "BASELINE_KEY": f"baselines/{model}/current/baseline.json",
                "CURRENT_PREFIX": "curated/",
                "REPORT_PREFIX": "reports/drift/",
                "METRIC_NAMESPACE": DRIFT_NAMESPACE,
                "ALERT_TOPIC_ARN": self.topic.arn,
                "RETRAINING_TRIGGER": "sagemaker-pipeline" if args.retrain_on_drift else "none",
                "PIPELINE_NAME": training.pipeline_name,
                "DRIFT_CONFIG": args.drift.model_dump_json(),
                # The dataset schema ingestion checks against: CSV is read with its dialect, as ingestion read it.
                "SCHEMA_KEY": f"schemas/{model}/schema.json",
            },
        )
        store.data.grant_read(self.drift.role, "curated/")
        store.artifacts.grant_read_write(self.drift.role)
        self._grant_metrics(self.drift.role, DRIFT_NAMESPACE)
        self._grant_publish(self.drift.role)
        if args.retrain_on_drift:
            training.grant_start(self.drift.role)

        self.controller = PythonFunction(
            "ab-controller", ctx, self, handler="infra.runtime.handlers.ab_controller.handler",
            description="A/B guardrail: rolls the challenger back when conversion drops",
            key=key, image=self.image, log_retention_days=args.log_retention_days, timeout=300, memory_mb=512,
            environment={
                "ENDPOINT_NAME": serving.endpoint_name,
                "CHAMPION_VARIANT": CHAMPION,
                "CHALLENGER_VARIANT": CHALLENGER,
                "METRIC_NAMESPACE": AB_NAMESPACE,
                "ALERT_TOPIC_ARN": self.topic.arn,
                "DECISIONS_BUCKET": store.artifacts.id,
                "DECISIONS_PREFIX": "experiments",
                "TRAFFIC_CONTROLLER": "sagemaker-variants",
                "GUARDRAIL_POLICY": args.ab_guardrail.model_dump_json(),
            },
        )
        store.artifacts.grant_read_write(self.controller.role, "experiments/")
        self._grant_publish(self.controller.role)
        endpoint_arn = pulumi.Output.concat(
            "arn:aws:sagemaker:", ctx.region, ":", ctx.account_id, ":endpoint/", serving.endpoint_name
        )
        self.controller.role.allow("traffic", [
            {"Effect": "Allow", "Action": ["sagemaker:DescribeEndpoint",
                                           "sagemaker:UpdateEndpointWeightsAndCapacities"],
             "Resource": endpoint_arn},
            # CloudWatch reads have no resource-level permissions.
            {"Effect": "Allow", "Action": ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics"],
             "Resource": "*"},
        ])

        self.schedule_group = aws.scheduler.ScheduleGroup(
            f"{name}-schedules", name=ctx.name("monitoring"), opts=self.child()
        )
        scheduler_role = new_role(ctx, f"{name}-scheduler-role", "monitoring-scheduler", self,
                                  "scheduler.amazonaws.com")
        scheduler_role.allow("invoke", [{
            "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": [self.drift.arn, self.controller.arn],
        }])
        for logical, expression, function in (
            ("drift-daily", args.drift_schedule, self.drift),
            ("ab-guardrail", args.ab_guardrail_schedule, self.controller),
        ):
            aws.scheduler.Schedule(
                f"{name}-{logical}", name=ctx.name(logical, 64), group_name=self.schedule_group.name,
                schedule_expression=expression, schedule_expression_timezone=ctx.spec.body.automation.timezone,
                flexible_time_window={"mode": "OFF"},
                target={"arn": function.arn, "role_arn": scheduler_role.arn,
                        "retry_policy": {"maximum_retry_attempts": 2}},
                opts=self.child(),
            )
        self._alarms(name, ctx, args, serving, model)
        self.register_outputs({"alertTopicArn": self.topic.arn})

    def _grant_metrics(self, role: Grantable, namespace: str) -> None:
        role.allow("metrics", [{
            "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
        }])

    def _grant_publish(self, role: Grantable) -> None:
        role.allow("alerts", [{"Effect": "Allow", "Action": "sns:Publish", "Resource": self.topic.arn}])

    def _alarm(self, name: str, ctx: StackContext, **kwargs: Any) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            name, name=ctx.name(name.split("-", 1)[1], 255), alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn], treat_missing_data="notBreaching", opts=self.child(), **kwargs,
        )

    def _alarms(self, name: str, ctx: StackContext, args: LambdaDriftMonitoring, serving: ModelEndpoint,
                model: str) -> None:
        for variant in (CHAMPION, CHALLENGER):
            dims = {"EndpointName": serving.endpoint_name, "VariantName": variant}
            self._alarm(
                f"{name}-{variant}-5xx", ctx, namespace="AWS/SageMaker", metric_name="Invocation5XXErrors",
                dimensions=dims, statistic="Sum", period=300, evaluation_periods=1,
                threshold=args.endpoint_5xx_alarm_threshold, comparison_operator="GreaterThanOrEqualToThreshold",
                alarm_description=f"{variant} variant returns server errors",
            )
            self._alarm(
                f"{name}-{variant}-latency", ctx, namespace="AWS/SageMaker", metric_name="ModelLatency",
                dimensions=dims, extended_statistic="p99", period=300, evaluation_periods=3,
                threshold=args.latency_p99_ms_alarm_threshold * 1000, comparison_operator="GreaterThanThreshold",
                alarm_description=f"{variant} p99 model latency above {args.latency_p99_ms_alarm_threshold} ms",
            )
        self._alarm(
            f"{name}-dataset-drift", ctx, namespace=DRIFT_NAMESPACE, metric_name=DRIFT_SHARE_METRIC,
            dimensions={"Model": model}, statistic="Maximum", period=86400, evaluation_periods=1,
            threshold=args.drift.drift_share, comparison_operator="GreaterThanOrEqualToThreshold",
            alarm_description="Dataset drift: the share of drifted input features reached the threshold",
        )
        self._alarm(
            f"{name}-data-quality", ctx, namespace=DRIFT_NAMESPACE, metric_name=DATA_QUALITY_METRIC,
            dimensions={"Model": model}, statistic="Maximum", period=86400, evaluation_periods=1, threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            alarm_description="The day's data failed data-quality checks (missing columns, types, NaN, ...)",
        )
        for function in (self.drift, self.controller):
            self._alarm(
                f"{name}-{function.logical}-errors", ctx, namespace="AWS/Lambda",
                metric_name="Errors", dimensions={"FunctionName": function.name}, statistic="Sum", period=3600,
                evaluation_periods=1, threshold=1, comparison_operator="GreaterThanOrEqualToThreshold",
                alarm_description="A monitoring function failed",
            )
        widgets = [
            {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
                "title": "Invocations per variant", "region": ctx.region, "stat": "Sum", "period": 300,
                "metrics": [["AWS/SageMaker", "Invocations", "EndpointName", serving.endpoint_name,
                             "VariantName", v] for v in (CHAMPION, CHALLENGER)],
            }},
            {"type": "metric", "x": 12, "y": 0, "width": 12, "height": 6, "properties": {
                "title": "Conversion per variant (A/B guardrail input)", "region": ctx.region, "stat": "Sum",
                "period": 3600,
                "metrics": [[AB_NAMESPACE, m, "EndpointName", serving.endpoint_name, "VariantName", v]
                            for m in ("Visitors", "Conversions") for v in (CHAMPION, CHALLENGER)],
            }},
            {"type": "metric", "x": 0, "y": 6, "width": 12, "height": 6, "properties": {
                "title": "p99 model latency (µs)", "region": ctx.region, "stat": "p99", "period": 300,
                "metrics": [["AWS/SageMaker", "ModelLatency", "EndpointName", serving.endpoint_name,
                             "VariantName", v] for v in (CHAMPION, CHALLENGER)],
            }},
            {"type": "metric", "x": 12, "y": 6, "width": 12, "height": 6, "properties": {
                "title": "Dataset drift share", "region": ctx.region, "stat": "Maximum", "period": 86400,
                "metrics": [[DRIFT_NAMESPACE, DRIFT_SHARE_METRIC, "Model", model]],
            }},
        ]
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=ctx.name("mlops"),
            dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}), opts=self.child(),
        )
