"""Automation, per model: daily ingestion, scheduled retraining, and the deployer that puts each approved version
on the model's serving by its mode."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.functions import PythonFunction
from infra.components.aws.monitoring import AB_NAMESPACE, Monitoring, experiments_prefix
from infra.components.aws.registry import ModelGroup
from infra.components.aws.schedules import ModelSchedules
from infra.components.aws.security import EncryptionKey
from infra.components.aws.serving import CHALLENGER, CHAMPION, PRIMARY
from infra.components.aws.storage import ArtifactStore
from infra.components.aws.training import TrainingPipeline
from infra.components.base import Capability, ModelScope, StackContext
from infra.profiles.model import SageMakerServing


class ModelAutomation(Capability):
    """Schedules and event rules that keep a model's data, versions and traffic moving without anyone editing
    code. Every role reaches only this model's prefixes, package group, endpoint and model card."""

    capability = "automation"

    def __init__(
        self, name: str, ctx: StackContext, model: ModelScope, *, key: EncryptionKey, store: ArtifactStore,
        group: ModelGroup, training: TrainingPipeline, serving: Any, shared: Monitoring,
        schedules: ModelSchedules, card_name: str, log_retention_days: int,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:ModelAutomation", name, opts)
        dataset = model.spec.dataset
        curated, quarantine = model.prefix("curated"), model.prefix("quarantine")
        self.ingestion = PythonFunction(
            f"{model.name}-ingestion", ctx, self, handler="infra.runtime.handlers.ingestion.handler",
            description=f"Daily: moves landed {model.name} files to date-partitioned curated data after a "
                        "schema check",
            key=key, image=shared.image, log_retention_days=log_retention_days, alarm_topic=shared.topic.arn,
            timeout=900, memory_mb=2048,
            ephemeral_storage_mb=10240,
            environment={
                "MODEL": model.name,
                "DATA_BUCKET": store.data.id,
                "LANDING_PREFIX": model.landing,
                "CURATED_PREFIX": curated,
                "QUARANTINE_PREFIX": quarantine,
                "SCHEMA_KEY": model.schema_key,
                "ARTIFACT_BUCKET": store.artifacts.id,
                "ALERT_TOPIC_ARN": shared.topic.arn,
            },
        )
        store.data.grant_read_write(self.ingestion.role, model.landing, curated, quarantine)
        store.artifacts.grant_read(self.ingestion.role, model.prefix("schemas"))
        self.ingestion.role.allow("landing-cleanup", [{
            "Effect": "Allow", "Action": "s3:DeleteObject", "Resource": store.data.objects(model.landing),
        }])
        shared.grant_publish(self.ingestion.role)
        schedules.add(f"{model.name}-daily-ingestion", "daily-ingestion", dataset.ingestion_schedule,
                      self.ingestion)
        training.grant_start(schedules.role)
        # a retraining start that failed after its retries lands with the ingestion run's dead letters
        schedules.add_pipeline(f"{model.name}-retraining", "retraining", model.spec.training.schedule,
                               training.pipeline.arn, {"TrainingData": training.data_uri}, self.ingestion)

        self.deployer: PythonFunction | None = None
        if serving is not None:
            self.deployer = self._deployer(ctx, model, key=key, store=store, group=group, serving=serving,
                                           shared=shared, card_name=card_name,
                                           log_retention_days=log_retention_days)
        self.register_outputs({"ingestionFunction": self.ingestion.name})

    def _deployer(self, ctx: StackContext, model: ModelScope, *, key: EncryptionKey, store: ArtifactStore,
                  group: ModelGroup, serving: Any, shared: Monitoring, card_name: str,
                  log_retention_days: int) -> PythonFunction:
        args = model.spec.serving
        assert isinstance(args, SageMakerServing)  # the profile model keeps KServe models off Lambda automation
        ab = serving.mode == "ab"
        environment: dict[str, Any] = {
            "MODEL": model.name,
            "SERVING_MODE": serving.mode,
            "EXECUTION_ROLE_ARN": serving.role.arn,
            "BOOTSTRAP_MODEL": serving.model.name,
            "KMS_KEY_ARN": key.arn,
            "DECISIONS_BUCKET": store.artifacts.id,
            "DECISIONS_PREFIX": experiments_prefix(model),
            "METRIC_NAMESPACE": AB_NAMESPACE,
            "ALERT_TOPIC_ARN": shared.topic.arn,
            "MODEL_CARD": card_name,
            "NAME_BASE": model.base,
        }
        if serving.endpoint_name is not None:
            environment.update({
                "ENDPOINT_NAME": serving.endpoint_name,
                "CHAMPION_VARIANT": CHAMPION if ab else PRIMARY,
                "CHALLENGER_VARIANT": CHALLENGER,
                "INSTANCE_TYPE": args.instance_type,
                "CHAMPION_INSTANCES": str(args.min_capacity),
                "RAMP": json.dumps(args.ab.challenger_ramp),
            })
        if serving.deployment is not None:
            environment["DEPLOYMENT_CONFIG"] = json.dumps(serving.deployment)
        deployer = PythonFunction(
            f"{model.name}-deployer", ctx, self, handler="infra.runtime.handlers.deployer.handler",
            description=f"On approval of a {model.name} version: deploys it by the serving mode "
                        f"({serving.mode}) and writes the version's model card",
            key=key, image=shared.image, log_retention_days=log_retention_days, alarm_topic=shared.topic.arn,
            timeout=300, memory_mb=512, environment=environment,
        )
        sagemaker_arn = pulumi.Output.concat("arn:aws:sagemaker:", ctx.region, ":", ctx.account_id, ":")
        resources = [pulumi.Output.concat(sagemaker_arn, "model/", model.base, "-*"),
                     pulumi.Output.concat(sagemaker_arn, "endpoint-config/", model.base, "-*")]
        if serving.endpoint_name is not None:
            resources.append(pulumi.Output.concat(sagemaker_arn, "endpoint/", serving.endpoint_name))
        deployer.role.allow("deploy", [
            {"Effect": "Allow",
             "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
             "Resource": [group.arn, group.package_arns()]},
            {"Effect": "Allow",
             "Action": ["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig",
                        "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeEndpoint",
                        "sagemaker:UpdateEndpoint", "sagemaker:AddTags"],
             "Resource": resources},
            {"Effect": "Allow",  # the version cards: `<card>-v<N>`, next to the model's card
             "Action": ["sagemaker:DescribeModelCard", "sagemaker:CreateModelCard", "sagemaker:UpdateModelCard"],
             "Resource": [pulumi.Output.concat(sagemaker_arn, "model-card/", card_name),
                          pulumi.Output.concat(sagemaker_arn, "model-card/", card_name, "-*")]},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": serving.role.arn,
             "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        ])
        shared.grant_publish(deployer.role)
        store.artifacts.grant_read_write(deployer.role, model.prefix("experiments"))

        approved = aws.cloudwatch.EventRule(
            f"{model.name}-model-approved", name=model.physical("approved", 64),
            description=f"A {model.name} version was approved",
            event_pattern=json.dumps({
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelPackageGroupName": [group.name], "ModelApprovalStatus": ["Approved"]},
            }),
            opts=self.child(),
        )
        aws.cloudwatch.EventTarget(
            f"{model.name}-model-approved-deployer", rule=approved.name, arn=deployer.arn,
            retry_policy={"maximum_retry_attempts": 4, "maximum_event_age_in_seconds": 3600},
            dead_letter_config={"arn": deployer.dead_letters.arn}, opts=self.child(),
        )
        aws.sqs.QueuePolicy(  # EventBridge puts approvals it could not deliver into the deployer's queue
            f"{model.name}-deployer-dlq-from-events", queue_url=deployer.dead_letters.url,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
                "Sid": "ApprovalRuleDeadLetters", "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": deployer.dead_letters.arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": approved.arn}},
            }]}),
            opts=self.child(),
        )
        aws.lambda_.Permission(
            f"{model.name}-deployer-from-events", action="lambda:InvokeFunction", function=deployer.name,
            principal="events.amazonaws.com", source_arn=approved.arn, opts=self.child(),
        )
        return deployer
