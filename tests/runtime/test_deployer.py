"""The deployer on moto: an approved model package lands on the challenger; ramp advance and promotion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.offline.emulators import sagemaker_update_endpoint
from infra.runtime import deploy
from infra.runtime.abtest.experiment import Experiment, ExperimentStatus, load_experiment, save_experiment
from infra.runtime.adapters.traffic import SageMakerVariantTraffic
from infra.runtime.deploy import DeployDependencies, DeploymentError, DeploySettings
from infra.runtime.handlers import deployer

ACCOUNT, REGION = "123456789012", "us-east-1"
PREFIX = "shop-dev"
ENDPOINT = f"{PREFIX}-endpoint"
BOOTSTRAP = f"{PREFIX}-bootstrap-model"
GROUP = f"{PREFIX}-models"
BUCKET = "shop-dev-artifacts"
KMS = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-serving"
VPC = {"Subnets": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]}
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": f"s3://{BUCKET}/datacapture/",
    "KmsKeyId": KMS,
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}
ENV = {
    "ENDPOINT_NAME": ENDPOINT,
    "CHAMPION_VARIANT": "champion",
    "CHALLENGER_VARIANT": "challenger",
    "INSTANCE_TYPE": "ml.c5.xlarge",
    "CHAMPION_INSTANCES": "2",
    "RAMP": "[0.05, 0.25, 0.5]",
    "EXECUTION_ROLE_ARN": ROLE,
    "KMS_KEY_ARN": KMS,
    "DECISIONS_BUCKET": BUCKET,
    "DECISIONS_PREFIX": "experiments",
    "METRIC_NAMESPACE": "MLOpsGen/ABTest",
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += timedelta(hours=hours)


@dataclass
class World:
    sagemaker: Any
    s3: Any
    sqs: Any
    queue_url: str
    settings: DeploySettings
    deps: DeployDependencies
    clock: Clock

    def package(self, version_tag: str, *, approve: bool = True) -> str:
        arn = self.sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop-model:{version_tag}",
                        "ModelDataUrl": f"s3://{BUCKET}/models/{version_tag}/model.tar.gz",
                        "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
            },
        )["ModelPackageArn"]
        if approve:
            self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        return str(arn)

    def event(self, arn: str, status: str = "Approved") -> dict[str, Any]:
        """What EventBridge delivers for a model package approval (shape of the AWS sample event)."""
        version = int(arn.rsplit("/", 1)[1])
        return {
            "version": "0",
            "id": "8c1e3c5b-0d3c-4b1e-9a36-2f2a1d7d9f10",
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT,
            "time": "2026-06-01T09:00:00Z",
            "region": REGION,
            "resources": [arn],
            "detail": {
                "ModelPackageGroupName": GROUP,
                "ModelPackageVersion": version,
                "ModelPackageArn": arn,
                "ModelPackageName": f"{GROUP}/{version}",
                "CreationTime": 1780300800000,
                "ModelPackageStatus": "Completed",
                "ModelApprovalStatus": status,
                "ApprovalDescription": "offline evaluation passed",
            },
        }

    def endpoint(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """(endpoint description, config variants by name, live variants by name)."""
        described = self.sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        return (
            described,
            {v["VariantName"]: v for v in config["ProductionVariants"]},
            {v["VariantName"]: v for v in described["ProductionVariants"]},
        )

    def experiment(self) -> Experiment | None:
        return load_experiment(self.s3, BUCKET, "experiments", ENDPOINT)

    def alerts(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for m in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        return deployer.handle_event(event, self.settings, self.deps)


@pytest.fixture
def world() -> Iterator[World]:
    sagemaker_update_endpoint.install()
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        topic = sns.create_topic(Name=f"{PREFIX}-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

        # What the stack deploys first (serving.py): both variants on the bootstrap model, challenger at 0.
        sagemaker.create_model(
            ModelName=BOOTSTRAP,
            ExecutionRoleArn=ROLE,
            VpcConfig=VPC,
            PrimaryContainer={"Image": "bootstrap:1", "ModelDataUrl": f"s3://{BUCKET}/bootstrap/model.tar.gz"},
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"{PREFIX}-endpoint-bootstrap",
            KmsKeyId=KMS,
            DataCaptureConfig=CAPTURE,
            ProductionVariants=[
                {
                    "VariantName": "champion",
                    "ModelName": BOOTSTRAP,
                    "InstanceType": "ml.c5.xlarge",
                    "InitialInstanceCount": 2,
                    "InitialVariantWeight": 1.0,
                },
                {
                    "VariantName": "challenger",
                    "ModelName": BOOTSTRAP,
                    "InstanceType": "ml.c5.xlarge",
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": 0.0,
                },
            ],
        )
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{PREFIX}-endpoint-bootstrap")
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)

        clock = Clock()
        settings = DeploySettings.from_env({**ENV, "ALERT_TOPIC_ARN": topic})
        deps = DeployDependencies(
            sagemaker=sagemaker,
            s3=s3,
            sns=sns,
            clock=clock,
            traffic=SageMakerVariantTraffic(sagemaker, sleep=lambda _: None),
        )
        yield World(sagemaker, s3, sqs, queue_url, settings, deps, clock)


def test_an_approved_package_goes_on_the_challenger_at_the_first_ramp_stage(world: World) -> None:
    arn = world.package("v1")

    result = world.handle(world.event(arn))

    assert result["status"] == "deployed" and result["changed"] is True
    model = result["model_name"]
    assert model.startswith(f"{PREFIX}-")  # inside the deployer's IAM grant on model/<prefix>-*
    described, config, live = world.endpoint()
    assert described["EndpointConfigName"] == result["endpoint_config"] != f"{PREFIX}-endpoint-bootstrap"
    assert described["EndpointConfigName"].startswith(f"{PREFIX}-")
    assert described["EndpointStatus"] == "InService"
    # Champion unchanged, new model on the challenger at ramp[0].
    assert config["champion"]["ModelName"] == BOOTSTRAP
    assert config["champion"]["InitialVariantWeight"] == pytest.approx(0.95)
    assert config["champion"]["InitialInstanceCount"] == 2
    assert config["challenger"]["ModelName"] == model
    assert config["challenger"]["InitialVariantWeight"] == pytest.approx(0.05)
    assert {v["InstanceType"] for v in config.values()} == {"ml.c5.xlarge"}
    assert live["champion"]["DesiredWeight"] == pytest.approx(0.95)
    assert live["challenger"]["DesiredWeight"] == pytest.approx(0.05)
    # KMS key and data capture carried over.
    new_config = world.sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    assert new_config["KmsKeyId"] == KMS
    assert new_config["DataCaptureConfig"] == CAPTURE
    # The model is built from the package's container, in the champion's network.
    created = world.sagemaker.describe_model(ModelName=model)
    assert created["PrimaryContainer"]["Image"].endswith("shop-model:v1")
    assert created["PrimaryContainer"]["ModelDataUrl"] == f"s3://{BUCKET}/models/v1/model.tar.gz"
    assert created["ExecutionRoleArn"] == ROLE
    assert created["VpcConfig"] == VPC
    # The experiment record for the A/B controller.
    experiment = world.experiment()
    assert experiment is not None
    assert experiment.status is ExperimentStatus.RUNNING and experiment.stage == 0
    assert experiment.challenger_model == model and experiment.champion_model == BOOTSTRAP
    assert experiment.ramp == [0.05, 0.25, 0.5] and experiment.challenger_weight == 0.05
    assert experiment.started_at == world.clock.now
    assert experiment.experiment_id == result["experiment_id"]
    assert result["experiment_key"] == f"experiments/{ENDPOINT}/experiment.json"
    [alert] = world.alerts()
    assert alert["status"] == "deployed" and alert["model_name"] == model


def test_the_same_approval_twice_deploys_once(world: World) -> None:
    arn = world.package("v1")
    first = world.handle(world.event(arn))
    world.alerts()
    configs = world.sagemaker.list_endpoint_configs()["EndpointConfigs"]
    models = world.sagemaker.list_models()["Models"]
    world.clock.advance(1)

    second = world.handle(world.event(arn))

    assert second["status"] == "already_deployed" and second["changed"] is False
    assert second["record_written"] is False
    assert world.endpoint()[0]["EndpointConfigName"] == first["endpoint_config"]
    assert world.sagemaker.list_endpoint_configs()["EndpointConfigs"] == configs
    assert world.sagemaker.list_models()["Models"] == models
    experiment = world.experiment()
    assert experiment is not None and experiment.experiment_id == first["experiment_id"]
    assert world.alerts() == []


def test_a_record_lost_after_the_endpoint_update_is_written_by_the_retry(world: World) -> None:
    arn = world.package("v1")
    first = world.handle(world.event(arn))
    world.s3.delete_object(Bucket=BUCKET, Key=f"experiments/{ENDPOINT}/experiment.json")

    retry = world.handle(world.event(arn))

    assert retry["status"] == "already_deployed" and retry["record_written"] is True
    experiment = world.experiment()
    assert experiment is not None and experiment.challenger_model == first["model_name"]
    assert experiment.champion_model == BOOTSTRAP


def test_events_that_are_not_approvals_change_nothing(world: World) -> None:
    pending = world.package("v1", approve=False)
    config_before = world.endpoint()[0]["EndpointConfigName"]

    assert world.handle(world.event(pending, status="PendingManualApproval"))["status"] == "ignored"
    assert world.handle({"detail-type": "Scheduled Event", "detail": {}})["status"] == "ignored"
    # The event says Approved, but the package was not (or no longer is): the registry wins.
    stale = world.handle(world.event(pending))
    assert stale["status"] == "not_approved" and stale["approval_status"] == "PendingManualApproval"

    assert world.endpoint()[0]["EndpointConfigName"] == config_before
    assert world.experiment() is None


def test_the_ramp_advances_one_stage_per_call_and_stops_at_the_last(world: World) -> None:
    world.handle(world.event(world.package("v1")))
    world.alerts()
    world.clock.advance(24)

    advanced = deploy.advance_ramp(world.settings, world.deps, expected_stage=0)

    assert advanced["status"] == "advanced" and advanced["stage"] == 1
    live = world.endpoint()[2]
    assert live["challenger"]["DesiredWeight"] == pytest.approx(0.25)
    assert live["champion"]["DesiredWeight"] == pytest.approx(0.75)
    experiment = world.experiment()
    assert experiment is not None and experiment.stage == 1 and experiment.stage_started_at == world.clock.now
    assert world.alerts()[0]["weights"] == {"champion": 0.75, "challenger": 0.25}

    # A retried call for stage 0 does not skip stage 1.
    assert deploy.advance_ramp(world.settings, world.deps, expected_stage=0)["status"] == "stage_mismatch"
    assert world.endpoint()[2]["challenger"]["DesiredWeight"] == pytest.approx(0.25)

    assert deploy.advance_ramp(world.settings, world.deps)["stage"] == 2
    assert world.endpoint()[2]["challenger"]["DesiredWeight"] == pytest.approx(0.5)
    final = deploy.advance_ramp(world.settings, world.deps)
    assert final["status"] == "final_stage" and final["changed"] is False


def test_promotion_makes_the_challenger_model_the_champion_once(world: World) -> None:
    deployed = world.handle(world.event(world.package("v1")))
    model = deployed["model_name"]
    world.clock.advance(72)

    promoted = deploy.promote(world.settings, world.deps)

    assert promoted["status"] == "promoted" and promoted["previous_champion"] == BOOTSTRAP
    described, config, live = world.endpoint()
    assert described["EndpointConfigName"] == promoted["endpoint_config"]
    assert config["champion"]["ModelName"] == model and config["challenger"]["ModelName"] == model
    assert live["champion"]["DesiredWeight"] == 1.0 and live["challenger"]["DesiredWeight"] == 0.0
    assert config["champion"]["InitialInstanceCount"] == 2
    experiment = world.experiment()
    assert experiment is not None and experiment.status is ExperimentStatus.PROMOTED
    assert experiment.concluded_at == world.clock.now and model in (experiment.conclusion or "")

    again = deploy.promote(world.settings, world.deps)
    assert again["status"] == "already_promoted" and again["changed"] is False
    assert world.endpoint()[0]["EndpointConfigName"] == promoted["endpoint_config"]
    # Approving the promoted package again changes nothing either.
    assert world.handle(world.event(deployed["model_package_arn"]))["status"] == "already_champion"


def test_the_next_approval_challenges_the_promoted_model_and_keeps_the_old_record(world: World) -> None:
    first = world.handle(world.event(world.package("v1")))
    deploy.promote(world.settings, world.deps)
    old = world.experiment()
    world.clock.advance(24)

    second = world.handle(world.event(world.package("v2")))

    assert second["status"] == "deployed" and second["model_name"] != first["model_name"]
    config = world.endpoint()[1]
    assert config["champion"]["ModelName"] == first["model_name"]
    assert config["challenger"]["ModelName"] == second["model_name"]
    experiment = world.experiment()
    assert experiment is not None and experiment.champion_model == first["model_name"]
    assert old is not None and second["replaced_experiment"] == old.experiment_id
    archived = world.s3.get_object(Bucket=BUCKET, Key=f"experiments/{ENDPOINT}/{old.experiment_id}/experiment.json")
    assert Experiment.model_validate_json(archived["Body"].read()).status is ExperimentStatus.PROMOTED


def test_a_weights_only_promotion_by_the_controller_is_respected_by_the_next_deploy(world: World) -> None:
    first = world.handle(world.event(world.package("v1")))
    # The A/B controller promotes by weights only and concludes the record; the config still says champion=bootstrap.
    world.deps.traffic.set_weights(ENDPOINT, {"champion": 0.0, "challenger": 1.0})
    experiment = world.experiment()
    assert experiment is not None
    experiment.status, experiment.concluded_at = ExperimentStatus.PROMOTED, world.clock.now
    save_experiment(world.s3, BUCKET, "experiments", experiment)

    second = world.handle(world.event(world.package("v2")))

    config = world.endpoint()[1]
    assert config["champion"]["ModelName"] == first["model_name"]  # the winner, not the bootstrap model
    assert config["challenger"]["ModelName"] == second["model_name"]


def test_a_rolled_back_challenger_cannot_be_promoted(world: World) -> None:
    world.handle(world.event(world.package("v1")))
    experiment = world.experiment()
    assert experiment is not None
    experiment.status, experiment.concluded_at = ExperimentStatus.ROLLED_BACK, world.clock.now
    save_experiment(world.s3, BUCKET, "experiments", experiment)

    with pytest.raises(DeploymentError, match="rolled_back"):
        deploy.promote(world.settings, world.deps)
    assert deploy.advance_ramp(world.settings, world.deps)["status"] == "already_rolled_back"


def test_promote_runs_from_the_ab_controllers_environment(world: World) -> None:
    """The controller's env has no role, key or instance type: they come from the current config, never defaults."""
    deployed = world.handle(world.event(world.package("v1")))
    controller_env = {"ENDPOINT_NAME": ENDPOINT, "DECISIONS_BUCKET": BUCKET, "DECISIONS_PREFIX": "experiments"}
    settings = DeploySettings.from_env(controller_env)

    promoted = deploy.promote(settings, world.deps)

    config = world.sagemaker.describe_endpoint_config(EndpointConfigName=promoted["endpoint_config"])
    assert config["KmsKeyId"] == KMS and config["DataCaptureConfig"] == CAPTURE
    assert {v["InstanceType"] for v in config["ProductionVariants"]} == {"ml.c5.xlarge"}
    assert {v["ModelName"] for v in config["ProductionVariants"]} == {deployed["model_name"]}
    # Creating a model does need the execution role.
    with pytest.raises(DeploymentError, match="EXECUTION_ROLE_ARN"):
        deploy.deploy_approved_model(settings, world.deps, world.package("v2"))


def test_settings_reject_a_bad_ramp_and_missing_variables() -> None:
    with pytest.raises(ValueError, match="increase"):
        DeploySettings.from_env({**ENV, "RAMP": "[0.25, 0.05]"})
    with pytest.raises(ValueError, match="between 0 and 1"):
        DeploySettings.from_env({**ENV, "RAMP": "[0.05, 1.0]"})
    with pytest.raises(ValueError, match="JSON list"):
        DeploySettings.from_env({**ENV, "RAMP": "five percent"})
    with pytest.raises(ValueError, match="ENDPOINT_NAME"):
        DeploySettings.from_env({k: v for k, v in ENV.items() if k != "ENDPOINT_NAME"})
    settings = DeploySettings.from_env(ENV)
    assert settings.ramp == (0.05, 0.25, 0.5) and settings.champion_instances == 2


def test_names_fit_sagemaker_limits_and_keep_the_stack_prefix() -> None:
    long_endpoint = ("x" * 40) + "-endpoint"
    name = deploy.sagemaker_name(long_endpoint, "v123", "abcdef12")
    assert len(name) <= 63 and name.startswith("x" * 40 + "-") and name.endswith("-v123-abcdef12")
