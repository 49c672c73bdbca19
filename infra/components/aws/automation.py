"""Automation: daily ingestion, weekly retraining, and moving approved models onto the challenger variant."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.components.aws.functions import PythonFunction
from infra.components.aws.monitoring import AB_NAMESPACE, Monitoring
from infra.components.aws.registry import ModelRegistry
from infra.components.aws.security import EncryptionKey
from infra.components.aws.serving import CHALLENGER, CHAMPION, ModelEndpoint
from infra.components.aws.storage import ArtifactStore
from infra.components.aws.training import TrainingPipeline
from infra.components.base import Capability, StackContext, new_role
from infra.profiles.model import Automation, SageMakerEndpointServing


class MlopsAutomation(Capability):
    """Schedules and event rules that keep data, models and traffic moving without anyone editing code."""

    capability = "automation"

    def __init__(
        self, name: str, ctx: StackContext, args: Automation, *, key: EncryptionKey, store: ArtifactStore,
        registry: ModelRegistry, training: TrainingPipeline, serving: ModelEndpoint, serving_args:
        SageMakerEndpointServing, monitoring: Monitoring, log_retention_days: int,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:Automation", name, opts)
        self.ingestion = PythonFunction(
            "ingestion", ctx, self, handler="infra.runtime.handlers.ingestion.handler",
            description="Daily: moves landed files to date-partitioned curated data after a schema check",
            key=key, image=monitoring.image, log_retention_days=log_retention_days, timeout=900, memory_mb=2048,
            ephemeral_storage_mb=10240,
            environment={
                "DATA_BUCKET": store.data.id,
                "LANDING_PREFIX": args.ingestion_source_prefix,
                "CURATED_PREFIX": "curated/",
                "QUARANTINE_PREFIX": "quarantine/",
                "SCHEMA_KEY": f"schemas/{registry.group_name}/schema.json",
                "ARTIFACT_BUCKET": store.artifacts.id,
                "ALERT_TOPIC_ARN": monitoring.topic.arn,
            },
        )
        store.data.grant_read_write(self.ingestion.role)
        store.artifacts.grant_read(self.ingestion.role, "schemas/")
        self.ingestion.role.allow("landing-cleanup", [{
            "Effect": "Allow", "Action": "s3:DeleteObject",
            "Resource": store.data.objects(args.ingestion_source_prefix),
        }])
        self.ingestion.role.allow("alerts", [{"Effect": "Allow", "Action": "sns:Publish",
                                              "Resource": monitoring.topic.arn}])

        self.deployer = PythonFunction(
            "deployer", ctx, self, handler="infra.runtime.handlers.deployer.handler",
            description="On model approval: puts the new version on the challenger variant at the first ramp stage",
            key=key, image=monitoring.image, log_retention_days=log_retention_days, timeout=300, memory_mb=512,
            environment={
                "ENDPOINT_NAME": serving.endpoint_name,
                "CHAMPION_VARIANT": CHAMPION,
                "CHALLENGER_VARIANT": CHALLENGER,
                "INSTANCE_TYPE": serving_args.instance_type,
                "CHAMPION_INSTANCES": str(serving_args.min_capacity),
                "RAMP": json.dumps(serving_args.challenger_ramp),
                "EXECUTION_ROLE_ARN": serving.role.arn,
                "BOOTSTRAP_MODEL": serving.model.name,
                "KMS_KEY_ARN": key.arn,
                "DECISIONS_BUCKET": store.artifacts.id,
                "DECISIONS_PREFIX": "experiments",
                "METRIC_NAMESPACE": AB_NAMESPACE,
                "ALERT_TOPIC_ARN": monitoring.topic.arn,
            },
        )
        sagemaker_arn = pulumi.Output.concat("arn:aws:sagemaker:", ctx.region, ":", ctx.account_id, ":")
        self.deployer.role.allow("deploy", [
            {"Effect": "Allow",
             "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
             "Resource": [registry.group.arn, registry.package_arns(ctx)]},
            {"Effect": "Allow",
             "Action": ["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig",
                        "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeEndpoint",
                        "sagemaker:UpdateEndpoint", "sagemaker:AddTags"],
             "Resource": [pulumi.Output.concat(sagemaker_arn, "model/", ctx.prefix, "-*"),
                          pulumi.Output.concat(sagemaker_arn, "endpoint-config/", ctx.prefix, "-*"),
                          pulumi.Output.concat(sagemaker_arn, "endpoint/", serving.endpoint_name)]},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": serving.role.arn,
             "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": monitoring.topic.arn},
        ])
        store.artifacts.grant_read_write(self.deployer.role, "experiments/")

        approved = aws.cloudwatch.EventRule(
            f"{name}-model-approved", name=ctx.name("model-approved", 64),
            description="A model version in this stack's group was approved",
            event_pattern=json.dumps({
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelPackageGroupName": [registry.group_name], "ModelApprovalStatus": ["Approved"]},
            }),
            opts=self.child(),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-model-approved-deployer", rule=approved.name, arn=self.deployer.arn,
            retry_policy={"maximum_retry_attempts": 4, "maximum_event_age_in_seconds": 3600}, opts=self.child(),
        )
        aws.lambda_.Permission(
            f"{name}-deployer-from-events", action="lambda:InvokeFunction", function=self.deployer.name,
            principal="events.amazonaws.com", source_arn=approved.arn, opts=self.child(),
        )

        group = aws.scheduler.ScheduleGroup(f"{name}-schedules", name=ctx.name("automation"), opts=self.child())
        scheduler_role = new_role(ctx, f"{name}-scheduler-role", "automation-scheduler", self,
                                  "scheduler.amazonaws.com")
        scheduler_role.allow("invoke", [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                         "Resource": self.ingestion.arn}])
        training.grant_start(scheduler_role)
        timezone = args.timezone
        aws.scheduler.Schedule(
            f"{name}-daily-ingestion", name=ctx.name("daily-ingestion", 64), group_name=group.name,
            schedule_expression=args.ingestion_schedule, schedule_expression_timezone=timezone,
            flexible_time_window={"mode": "OFF"},
            target={"arn": self.ingestion.arn, "role_arn": scheduler_role.arn,
                    "retry_policy": {"maximum_retry_attempts": 2}},
            opts=self.child(),
        )
        aws.scheduler.Schedule(
            f"{name}-weekly-retraining", name=ctx.name("weekly-retraining", 64), group_name=group.name,
            schedule_expression=args.retraining_schedule, schedule_expression_timezone=timezone,
            flexible_time_window={"mode": "FLEXIBLE", "maximum_window_in_minutes": 60},
            target={
                "arn": training.pipeline.arn, "role_arn": scheduler_role.arn,
                "sagemaker_pipeline_parameters": {"pipeline_parameters": [{
                    "name": "TrainingData",
                    "value": pulumi.Output.concat("s3://", store.data.id, "/curated/"),
                }]},
                "retry_policy": {"maximum_retry_attempts": 2},
            },
            opts=self.child(),
        )
        self.register_outputs({"ingestionFunction": self.ingestion.name, "deployerFunction": self.deployer.name})
