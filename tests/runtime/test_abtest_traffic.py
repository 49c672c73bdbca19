"""SageMaker variant traffic adapter against moto: weights, retries on throttling / busy endpoint, registry."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.runtime.adapters.traffic import (
    TRAFFIC_CONTROLLERS,
    RetryPolicy,
    SageMakerVariantTraffic,
    TrafficController,
    TrafficUpdateError,
    get_traffic_controller,
    register_traffic_controller,
)

ENDPOINT = "ab-endpoint"


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def throttled(operation: str = "UpdateEndpointWeightsAndCapacities") -> ClientError:
    return client_error("ThrottlingException", "Rate exceeded", operation)


class Flaky:
    """Wraps a real (moto) client; scripted failures per operation are consumed first, then it delegates."""

    def __init__(self, real: Any, script: dict[str, list[Any]]) -> None:
        self._real = real
        self._script = script
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        real_method = getattr(self._real, name)

        def call(**kwargs: Any) -> Any:
            self.calls[name] += 1
            pending = self._script.get(name)
            if pending:
                step = pending.pop(0)
                if isinstance(step, BaseException):
                    raise step
                return step(real_method(**kwargs))
            return real_method(**kwargs)

        return call


def create_endpoint(client: Any, name: str, weights: dict[str, float]) -> None:
    client.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"},
    )
    client.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for variant, weight in weights.items()
        ],
    )
    client.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


@pytest.fixture
def sagemaker() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        create_endpoint(client, ENDPOINT, {"champion": 0.9, "challenger": 0.1})
        yield client


def described_weights(client: Any) -> dict[str, tuple[float, float]]:
    variants = client.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    return {v["VariantName"]: (v["CurrentWeight"], v["DesiredWeight"]) for v in variants}


ROLLBACK = {"champion": 1.0, "challenger": 0.0}


def adapter(client: Any, sleeps: list[float], **retry: Any) -> SageMakerVariantTraffic:
    return SageMakerVariantTraffic(client, retry=RetryPolicy(**retry), sleep=sleeps.append)


def test_reads_and_sets_weights(sagemaker: Any) -> None:
    sleeps: list[float] = []
    traffic = adapter(sagemaker, sleeps)
    assert traffic.get_weights(ENDPOINT) == {"champion": 0.9, "challenger": 0.1}
    traffic.set_weights(ENDPOINT, ROLLBACK)
    assert described_weights(sagemaker) == {"champion": (1.0, 1.0), "challenger": (0.0, 0.0)}
    assert traffic.get_weights(ENDPOINT) == ROLLBACK
    assert sleeps == [] and traffic.retries == 0


def test_throttled_update_is_retried_and_lands_the_requested_split(sagemaker: Any) -> None:
    flaky = Flaky(sagemaker, {"update_endpoint_weights_and_capacities": [throttled()]})
    sleeps: list[float] = []
    traffic = adapter(flaky, sleeps)
    traffic.set_weights(ENDPOINT, ROLLBACK)
    assert flaky.calls["update_endpoint_weights_and_capacities"] == 2
    assert sleeps == [2.0] and traffic.retries == 1
    assert described_weights(sagemaker)["challenger"] == (0.0, 0.0)


def test_throttled_describe_is_retried(sagemaker: Any) -> None:
    flaky = Flaky(sagemaker, {"describe_endpoint": [throttled("DescribeEndpoint"), throttled("DescribeEndpoint")]})
    sleeps: list[float] = []
    assert adapter(flaky, sleeps).get_weights(ENDPOINT) == {"champion": 0.9, "challenger": 0.1}
    assert sleeps == [2.0, 4.0]


def test_waits_while_the_endpoint_is_updating(sagemaker: Any) -> None:
    def updating(response: dict[str, Any]) -> dict[str, Any]:
        return {**response, "EndpointStatus": "Updating"}

    flaky = Flaky(sagemaker, {"describe_endpoint": [updating, updating]})
    sleeps: list[float] = []
    adapter(flaky, sleeps).set_weights(ENDPOINT, ROLLBACK)
    assert sleeps == [2.0, 4.0]
    assert flaky.calls["update_endpoint_weights_and_capacities"] == 1
    assert described_weights(sagemaker)["challenger"] == (0.0, 0.0)


def test_in_progress_validation_error_is_retried(sagemaker: Any) -> None:
    busy = client_error(
        "ValidationException",
        f'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}".',
        "UpdateEndpointWeightsAndCapacities",
    )
    flaky = Flaky(sagemaker, {"update_endpoint_weights_and_capacities": [busy]})
    sleeps: list[float] = []
    adapter(flaky, sleeps).set_weights(ENDPOINT, ROLLBACK)
    assert sleeps == [2.0]
    assert described_weights(sagemaker)["challenger"] == (0.0, 0.0)


def test_persistent_throttling_gives_up_after_bounded_backoff_without_changing_anything(sagemaker: Any) -> None:
    flaky = Flaky(sagemaker, {"update_endpoint_weights_and_capacities": [throttled() for _ in range(10)]})
    sleeps: list[float] = []
    traffic = adapter(flaky, sleeps, max_attempts=4, base_delay=1.0, max_delay=3.0)
    with pytest.raises(TrafficUpdateError, match="after 4 attempts"):
        traffic.set_weights(ENDPOINT, ROLLBACK)
    assert sleeps == [1.0, 2.0, 3.0]
    assert flaky.calls["update_endpoint_weights_and_capacities"] == 4
    assert described_weights(sagemaker) == {"champion": (0.9, 0.9), "challenger": (0.1, 0.1)}


def test_other_errors_are_not_retried(sagemaker: Any) -> None:
    denied = client_error("AccessDeniedException", "not allowed", "UpdateEndpointWeightsAndCapacities")
    flaky = Flaky(sagemaker, {"update_endpoint_weights_and_capacities": [denied]})
    sleeps: list[float] = []
    with pytest.raises(ClientError, match="not allowed"):
        adapter(flaky, sleeps).set_weights(ENDPOINT, ROLLBACK)
    assert sleeps == []


def test_no_update_call_when_the_split_is_already_there(sagemaker: Any) -> None:
    flaky = Flaky(sagemaker, {})
    adapter(flaky, []).set_weights(ENDPOINT, {"champion": 0.9, "challenger": 0.1})
    assert flaky.calls["update_endpoint_weights_and_capacities"] == 0


def test_failed_endpoint_and_bad_requests_are_refused(sagemaker: Any) -> None:
    def failed(response: dict[str, Any]) -> dict[str, Any]:
        return {**response, "EndpointStatus": "Failed"}

    with pytest.raises(TrafficUpdateError, match="Failed"):
        adapter(Flaky(sagemaker, {"describe_endpoint": [failed]}), []).set_weights(ENDPOINT, ROLLBACK)
    flaky = Flaky(sagemaker, {})
    with pytest.raises(ValueError, match="no variant"):
        adapter(flaky, []).set_weights(ENDPOINT, {"champion": 1.0, "shadow": 0.0})
    for bad in ({}, {"champion": -1.0}, {"champion": 0.0, "challenger": 0.0}, {"champion": float("nan")}):
        with pytest.raises(ValueError):
            adapter(flaky, []).set_weights(ENDPOINT, bad)
    assert flaky.calls["update_endpoint_weights_and_capacities"] == 0


def test_client_is_created_lazily() -> None:
    traffic = SageMakerVariantTraffic()
    assert traffic._client is None  # nothing touched AWS (or needed credentials) yet


def test_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    controller = get_traffic_controller("sagemaker-variants")
    assert isinstance(controller, SageMakerVariantTraffic)
    assert isinstance(controller, TrafficController)
    with pytest.raises(ValueError, match="unknown traffic controller"):
        get_traffic_controller("kserve-canary")

    class Fake:
        def get_weights(self, endpoint: str) -> dict[str, float]:
            return {}

        def set_weights(self, endpoint: str, weights: Any) -> None:
            return None

    monkeypatch.setattr("infra.runtime.adapters.traffic.TRAFFIC_CONTROLLERS", dict(TRAFFIC_CONTROLLERS))
    register_traffic_controller("fake", Fake)
    assert isinstance(get_traffic_controller("fake"), Fake)
    with pytest.raises(ValueError, match="already registered"):
        register_traffic_controller("sagemaker-variants", Fake)
    register_traffic_controller("sagemaker-variants", Fake, replace=True)
    assert isinstance(get_traffic_controller("sagemaker-variants"), Fake)


def test_retry_policy_delays_are_bounded() -> None:
    policy = RetryPolicy()
    assert [policy.delay(n) for n in range(7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
