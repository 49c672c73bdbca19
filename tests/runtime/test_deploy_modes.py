"""The deployer per serving mode on moto (`single` blue/green, `serverless`, `batch`), version model cards, the
batch transform handler, and functions ignoring events meant for another model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.offline.emulators import sagemaker_update_endpoint
from infra.runtime.deploy import DeployDependencies, DeploySettings, version_card_content
from infra.runtime.handlers import batch_transform, deployer, foreign_model

ACCOUNT, REGION = "123456789012", "us-east-1"
BASE = "shop-prod-credit"
BOOTSTRAP = f"{BASE}-bootstrap"
GROUP = BASE
CARD = BASE
BUCKET = "shop-prod-artifacts"
KMS = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{BASE}-serving"
VPC = {"Subnets": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]}
BLUE_GREEN = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 600,
                                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
        "TerminationWaitInSeconds": 300, "MaximumExecutionTimeoutInSeconds": 3600,
    },
    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": f"{BASE}-primary-5xx"},
                                             {"AlarmName": f"{BASE}-primary-latency"}]},
}
BASE_CARD = {"model_overview": {"model_name": BASE, "model_owner": "credit-risk-team"},
             "intended_uses": {"risk_rating": "High", "intended_uses": "decision support"}}


def env(mode: str) -> dict[str, str]:
    values = {
        "MODEL": "credit", "SERVING_MODE": mode, "EXECUTION_ROLE_ARN": ROLE, "BOOTSTRAP_MODEL": BOOTSTRAP,
        "KMS_KEY_ARN": KMS, "DECISIONS_BUCKET": BUCKET, "DECISIONS_PREFIX": "experiments/credit",
        "MODEL_CARD": CARD, "NAME_BASE": BASE,
    }
    if mode != "batch":
        values.update(ENDPOINT_NAME=BASE, CHAMPION_VARIANT="primary", INSTANCE_TYPE="ml.m5.large",
                      CHAMPION_INSTANCES="2")
    if mode == "single":
        values["DEPLOYMENT_CONFIG"] = json.dumps(BLUE_GREEN)
    return values


@dataclass
class World:
    sagemaker: Any
    deps: DeployDependencies

    def package(self, tag: str, *, approve: bool = True, auc: str = "0.81") -> str:
        properties = {"baseline": f"s3://{BUCKET}/baselines/credit/{tag}/baseline.json",
                      "metric:validation_auc": auc, "metric:broken": "n/a"}
        arn = str(self.sagemaker.create_model_package(
            ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/credit:{tag}",
                                "ModelDataUrl": f"s3://{BUCKET}/models/credit/{tag}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties=properties,
        )["ModelPackageArn"])
        if approve:  # moto 5.2.5 clears the properties on an update that does not repeat them
            self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved",
                                                CustomerMetadataProperties=properties)
        return arn

    def deploy(self, mode: str, arn: str) -> dict[str, Any]:
        event = {"detail-type": "SageMaker Model Package State Change",
                 "detail": {"ModelPackageArn": arn, "ModelApprovalStatus": "Approved"}}
        return deployer.handle_event(event, DeploySettings.from_env(env(mode)), self.deps)

    def live(self) -> tuple[dict[str, Any], dict[str, Any]]:
        endpoint = self.sagemaker.describe_endpoint(EndpointName=BASE)
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        return endpoint, config


@pytest.fixture
def world() -> Iterator[World]:
    sagemaker_update_endpoint.install()
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model(ModelName=BOOTSTRAP, ExecutionRoleArn=ROLE, VpcConfig=VPC,
                               PrimaryContainer={"Image": "bootstrap:1",
                                                 "ModelDataUrl": f"s3://{BUCKET}/models/credit/bootstrap.tar.gz"})
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        sagemaker.create_model_card(ModelCardName=CARD, ModelCardStatus="Draft", Content=json.dumps(BASE_CARD))
        clock = lambda: datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # noqa: E731
        yield World(sagemaker, DeployDependencies(sagemaker=sagemaker, clock=clock))


def endpoint_on_bootstrap(world: World, variant: dict[str, Any], kms: bool = True) -> None:
    extra = {"KmsKeyId": KMS} if kms else {}
    world.sagemaker.create_endpoint_config(EndpointConfigName=f"{BASE}-bootstrap-config", **extra, ProductionVariants=[
        {"VariantName": "primary", "ModelName": BOOTSTRAP, "InitialVariantWeight": 1.0, **variant}])
    world.sagemaker.create_endpoint(EndpointName=BASE, EndpointConfigName=f"{BASE}-bootstrap-config")


def test_single_mode_replaces_the_variant_with_a_blue_green_deployment(world: World) -> None:
    endpoint_on_bootstrap(world, {"InstanceType": "ml.m5.large", "InitialInstanceCount": 2})
    arn = world.package("v1")
    result = world.deploy("single", arn)
    assert result["status"] == "deployed" and result["blue_green"] and result["previous_model"] == BOOTSTRAP
    endpoint, config = world.live()
    (variant,) = config["ProductionVariants"]
    assert variant["VariantName"] == "primary" and variant["ModelName"] == result["model_name"]
    assert variant["InitialInstanceCount"] == 2 and variant["InstanceType"] == "ml.m5.large"
    assert config["KmsKeyId"] == KMS
    # SageMaker runs the blue/green shift with the auto-rollback alarms the stack declared
    assert endpoint["LastDeploymentConfig"] == BLUE_GREEN
    model = world.sagemaker.describe_model(ModelName=result["model_name"])
    assert model["VpcConfig"] == VPC and model["ExecutionRoleArn"] == ROLE
    assert world.deploy("single", arn)["status"] == "already_deployed"  # a repeated event changes nothing


def test_serverless_mode_keeps_the_serverless_config(world: World) -> None:
    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    endpoint_on_bootstrap(world, {"ServerlessConfig": serverless}, kms=False)
    result = world.deploy("serverless", world.package("v1"))
    assert result["status"] == "deployed" and not result["blue_green"]
    endpoint, config = world.live()
    (variant,) = config["ProductionVariants"]
    assert variant["ServerlessConfig"] == serverless and "InstanceType" not in variant
    assert "KmsKeyId" not in config and "LastDeploymentConfig" not in endpoint
    second = world.deploy("serverless", world.package("v2"))
    assert second["previous_model"] == result["model_name"]


def test_each_approved_version_gets_its_card_with_metrics_and_baseline(world: World) -> None:
    endpoint_on_bootstrap(world, {"InstanceType": "ml.m5.large", "InitialInstanceCount": 2})
    arn = world.package("v1", auc="0.83")
    result = world.deploy("single", arn)
    assert result["model_card"] == f"{CARD}-v1"
    card = world.sagemaker.describe_model_card(ModelCardName=f"{CARD}-v1")
    content = json.loads(card["Content"])
    overview = content["model_overview"]
    assert overview["model_id"] == arn and overview["model_owner"] == "credit-risk-team"
    assert content["intended_uses"]["risk_rating"] == "High"
    metrics = content["evaluation_details"][0]["metric_groups"][0]["metric_data"]
    assert metrics == [{"name": "validation_auc", "type": "number", "value": 0.83}]  # "n/a" is not a number
    assert content["additional_information"]["custom_details"]["drift_baseline"].endswith("/v1/baseline.json")
    assert card["ModelCardStatus"] == "PendingReview"
    world.deploy("single", arn)
    versions = world.sagemaker.list_model_card_versions(ModelCardName=f"{CARD}-v1")["ModelCardVersionSummaryList"]
    assert len(versions) == 1  # written once per version
    # the model's own card is left as Pulumi declared it
    assert json.loads(world.sagemaker.describe_model_card(ModelCardName=CARD)["Content"]) == BASE_CARD


def test_version_card_content_keeps_the_base_sections() -> None:
    package = {"ModelPackageArn": "arn:pkg/7", "ModelPackageVersion": 7, "CustomerMetadataProperties": {}}
    content = version_card_content(BASE_CARD, package)
    assert content["model_overview"]["model_version"] == 7.0 and "evaluation_details" not in content
    assert BASE_CARD["model_overview"] == {"model_name": BASE, "model_owner": "credit-risk-team"}  # not mutated


def test_batch_mode_scores_with_the_latest_approved_version(world: World) -> None:
    settings = batch_transform.BatchSettings.from_env({
        "MODEL": "credit", "MODEL_PACKAGE_GROUP": GROUP, "NAME_BASE": BASE, "EXECUTION_ROLE_ARN": ROLE,
        "NETWORK_FROM_MODEL": BOOTSTRAP, "KMS_KEY_ARN": KMS, "INPUT_URI": "s3://data/scoring/credit/input/",
        "OUTPUT_URI": "s3://data/scoring/credit/output/", "INSTANCE_TYPE": "ml.m5.xlarge", "INSTANCE_COUNT": "2",
    })
    assert batch_transform.run(settings, world.deps, {"date": "2026-06-01"})["status"] == "no_approved_version"
    world.package("v1")
    latest = world.package("v2")
    world.package("v3", approve=False)  # pending: not used
    ready = world.deploy("batch", latest)
    assert ready["status"] == "batch_ready" and ready["model_card"] == f"{CARD}-v2"
    started = batch_transform.run(settings, world.deps, {"date": "2026-06-01"})
    assert started["status"] == "started" and started["transform_job"] == f"{BASE}-v2-20260601"
    assert started["model_name"] == ready["model_name"]
    job = world.sagemaker.describe_transform_job(TransformJobName=started["transform_job"])
    assert job["TransformOutput"]["S3OutputPath"] == "s3://data/scoring/credit/output/2026-06-01/"
    assert job["TransformResources"]["InstanceCount"] == 2
    assert world.sagemaker.describe_model(ModelName=job["ModelName"])["VpcConfig"] == VPC
    assert batch_transform.run(settings, world.deps, {"date": "2026-06-01"})["status"] == "already_started"


def test_a_function_ignores_an_event_for_another_model(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = foreign_model({"model": "recommender"}, "credit")
    assert reason == "event for model 'recommender'; this function serves 'credit'"
    assert foreign_model({"model": "credit"}, "credit") is None and foreign_model({}, "credit") is None
    monkeypatch.setenv("MODEL", "credit")
    for handler in (batch_transform.handler, deployer.handler):
        result = handler({"model": "recommender"}, None)  # never reaches settings or AWS
        assert result["status"] == "ignored" and "recommender" in result["reason"]
