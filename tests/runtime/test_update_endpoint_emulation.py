"""The moto extension for SageMaker UpdateEndpoint: boto3 calls it under mock_aws with AWS's semantics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from infra.offline.emulators import sagemaker_update_endpoint as emulation

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/serving"
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://artifacts/datacapture/",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}


def variants(weights: dict[str, float], counts: dict[str, int], model: str = "m1") -> list[dict[str, Any]]:
    return [
        {
            "VariantName": name,
            "ModelName": model,
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": counts[name],
            "InitialVariantWeight": weight,
        }
        for name, weight in weights.items()
    ]


@pytest.fixture
def sagemaker() -> Iterator[Any]:
    emulation.install()
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        for model in ("m1", "m2"):
            client.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})
        client.create_endpoint_config(
            EndpointConfigName="cfg-1",
            ProductionVariants=variants({"champion": 1.0, "challenger": 0.5}, {"champion": 2, "challenger": 1}),
        )
        client.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-1")
        yield client


def summaries(client: Any) -> dict[str, dict[str, Any]]:
    return {v["VariantName"]: v for v in client.describe_endpoint(EndpointName="ep")["ProductionVariants"]}


def test_update_endpoint_swaps_config_variants_and_data_capture(sagemaker: Any) -> None:
    sagemaker.create_endpoint_config(
        EndpointConfigName="cfg-2",
        ProductionVariants=variants({"champion": 0.95, "challenger": 0.05}, {"champion": 3, "challenger": 1}, "m2"),
        DataCaptureConfig=CAPTURE,
    )
    before = sagemaker.describe_endpoint(EndpointName="ep")

    response = sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2")

    after = sagemaker.describe_endpoint(EndpointName="ep")
    assert response["EndpointArn"] == after["EndpointArn"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep"
    assert after["EndpointConfigName"] == "cfg-2"
    assert after["EndpointStatus"] == "InService"
    assert after["LastModifiedTime"] >= before["LastModifiedTime"]
    live = summaries(sagemaker)
    assert (live["champion"]["CurrentWeight"], live["champion"]["DesiredWeight"]) == (0.95, 0.95)
    assert (live["challenger"]["CurrentWeight"], live["challenger"]["DesiredWeight"]) == (0.05, 0.05)
    assert live["champion"]["CurrentInstanceCount"] == live["champion"]["DesiredInstanceCount"] == 3
    assert after["DataCaptureConfig"]["DestinationS3Uri"] == CAPTURE["DestinationS3Uri"]
    assert after["DataCaptureConfig"]["EnableCapture"] is True


def test_a_zero_weight_and_an_unset_weight_are_reported_like_aws(sagemaker: Any) -> None:
    sagemaker.create_endpoint_config(
        EndpointConfigName="cfg-2",
        ProductionVariants=[
            {"VariantName": "champion", "ModelName": "m1", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1},
            {
                "VariantName": "challenger",
                "ModelName": "m2",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 0.0,
            },
        ],
    )
    sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2")
    live = summaries(sagemaker)
    assert live["champion"]["DesiredWeight"] == 1.0  # AWS's default InitialVariantWeight
    assert live["challenger"]["CurrentWeight"] == live["challenger"]["DesiredWeight"] == 0.0


def test_missing_endpoint_config_is_a_validation_error_and_changes_nothing(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="nope")
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        f'Could not find endpoint configuration "arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/nope".'
    )
    assert sagemaker.describe_endpoint(EndpointName="ep")["EndpointConfigName"] == "cfg-1"


def test_missing_endpoint_is_a_validation_error(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.update_endpoint(EndpointName="ghost", EndpointConfigName="cfg-1")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find endpoint" in raised.value.response["Error"]["Message"]
    assert "endpoint/ghost" in raised.value.response["Error"]["Message"]


def test_an_endpoint_mid_update_is_rejected_as_in_progress(sagemaker: Any) -> None:
    sagemaker_backends[ACCOUNT][REGION].endpoints["ep"].endpoint_status = "Updating"
    with pytest.raises(ClientError) as raised:
        sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-1")
    assert "Cannot update in-progress endpoint" in raised.value.response["Error"]["Message"]


def test_retain_all_variant_properties_keeps_live_weights_unless_excluded(sagemaker: Any) -> None:
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="ep",
        DesiredWeightsAndCapacities=[{"VariantName": "champion", "DesiredWeight": 0.7, "DesiredInstanceCount": 4}],
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="cfg-2",
        ProductionVariants=variants({"champion": 0.9, "challenger": 0.1}, {"champion": 2, "challenger": 1}, "m2"),
    )
    sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2", RetainAllVariantProperties=True)
    live = summaries(sagemaker)
    assert live["champion"]["DesiredWeight"] == 0.7 and live["champion"]["DesiredInstanceCount"] == 4

    sagemaker.create_endpoint_config(
        EndpointConfigName="cfg-3",
        ProductionVariants=variants({"champion": 0.8, "challenger": 0.2}, {"champion": 2, "challenger": 1}, "m2"),
    )
    sagemaker.update_endpoint(
        EndpointName="ep",
        EndpointConfigName="cfg-3",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}],
    )
    live = summaries(sagemaker)
    assert live["champion"]["DesiredWeight"] == 0.8  # weight from the config
    assert live["champion"]["DesiredInstanceCount"] == 4  # count still retained


def test_weights_can_be_moved_after_an_update(sagemaker: Any) -> None:
    sagemaker.create_endpoint_config(
        EndpointConfigName="cfg-2",
        ProductionVariants=variants({"champion": 0.95, "challenger": 0.05}, {"champion": 2, "challenger": 1}, "m2"),
    )
    sagemaker.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2")
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "challenger", "DesiredWeight": 0.25}]
    )
    assert summaries(sagemaker)["challenger"]["DesiredWeight"] == 0.25


def test_install_is_idempotent() -> None:
    emulation.install()
    assert emulation.installed()
    assert emulation.install() is False
    assert emulation.installed()
