"""The A/B controller handler end to end on moto: CloudWatch counts -> decision -> weights, S3 record, SNS."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.runtime.abtest.experiment import Experiment, ExperimentStatus, load_experiment, save_experiment
from infra.runtime.abtest.policy import GuardrailPolicy, RollbackRule
from infra.runtime.adapters.traffic import RetryPolicy, SageMakerVariantTraffic, TrafficUpdateError
from infra.runtime.handlers import ab_controller
from infra.runtime.handlers.ab_controller import ControllerSettings, Dependencies, metric_period, read_counts

ENDPOINT = "ab-endpoint"
BUCKET = "mlops-decisions"
PREFIX = "abtest"
NAMESPACE = "MLOpsGen/ABTest"
# A fixed instant: the test must not depend on the wall clock (moto keeps any timestamp it is given).
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class FlakySageMaker:
    """Delegates to the moto client; the first `failures` weight updates raise ThrottlingException."""

    def __init__(self, real: Any, failures: int) -> None:
        self._real = real
        self._failures = failures
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._real, name)

        def call(**kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "update_endpoint_weights_and_capacities" and self._failures > 0:
                self._failures -= 1
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                    "UpdateEndpointWeightsAndCapacities",
                )
            return method(**kwargs)

        return call


@dataclass
class World:
    s3: Any
    sns: Any
    sqs: Any
    sagemaker: Any
    cloudwatch: Any
    queue_url: str
    settings: ControllerSettings

    def start(self, *, ramp: list[float], hours_ago: float = 26.0) -> Experiment:
        experiment = Experiment(
            experiment_id="exp-001",
            endpoint_name=ENDPOINT,
            challenger_model="model-v2",
            champion_model="model-v1",
            started_at=NOW - timedelta(hours=hours_ago),
            ramp=ramp,
        )
        save_experiment(self.s3, BUCKET, PREFIX, experiment)
        return experiment

    def counts(
        self, variant: str, visitors: int, conversions: int, *, hours_ago: tuple[float, ...] = (20, 8, 1)
    ) -> None:
        """Publish the totals split over a few timestamps inside the window."""
        share = len(hours_ago)
        data = []
        for i, hours in enumerate(hours_ago):
            part_v = visitors // share + (visitors % share if i == 0 else 0)
            part_c = conversions // share + (conversions % share if i == 0 else 0)
            for name, value in (("Visitors", part_v), ("Conversions", part_c)):
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": [
                            {"Name": "EndpointName", "Value": ENDPOINT},
                            {"Name": "VariantName", "Value": variant},
                        ],
                        "Timestamp": NOW - timedelta(hours=hours),
                        "Value": float(value),
                        "Unit": "Count",
                    }
                )
        self.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)

    def weights(self) -> dict[str, tuple[float, float]]:
        variants = self.sagemaker.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
        return {v["VariantName"]: (v["CurrentWeight"], v["DesiredWeight"]) for v in variants}

    def objects(self) -> dict[str, bytes]:
        listing = self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {o["Key"]: self.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing}

    def decisions(self) -> list[dict[str, Any]]:
        return [json.loads(body) for key, body in sorted(self.objects().items()) if "/decisions/" in key]

    def alerts(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for m in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    def deps(self, sagemaker: Any | None = None, sleeps: list[float] | None = None) -> Dependencies:
        traffic = SageMakerVariantTraffic(
            sagemaker or self.sagemaker,
            retry=RetryPolicy(max_attempts=3, base_delay=1.0),
            sleep=(sleeps if sleeps is not None else []).append,
        )
        return Dependencies(s3=self.s3, cloudwatch=self.cloudwatch, sns=self.sns, traffic=traffic, clock=lambda: NOW)

    def run(self, **kwargs: Any) -> dict[str, Any]:
        return ab_controller.run(self.settings, self.deps(**kwargs))


def make_endpoint(sagemaker: Any, weights: dict[str, float]) -> None:
    sagemaker.create_model(
        ModelName="model-v1",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-config",
        ProductionVariants=[
            {
                "VariantName": name,
                "ModelName": "model-v1",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for name, weight in weights.items()
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config")


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def build_world(weights: dict[str, float], policy: GuardrailPolicy | None = None) -> World:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sns = boto3.client("sns")
    topic_arn = sns.create_topic(Name="ab-alerts")["TopicArn"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="ab-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    sagemaker = boto3.client("sagemaker")
    make_endpoint(sagemaker, weights)
    settings = ControllerSettings(
        endpoint_name=ENDPOINT,
        decisions_bucket=BUCKET,
        decisions_prefix=PREFIX,
        alert_topic_arn=topic_arn,
        policy=policy or GuardrailPolicy(),
    )
    return World(s3, sns, sqs, sagemaker, boto3.client("cloudwatch"), queue_url, settings)


@pytest.fixture
def world(aws: None) -> World:
    return build_world({"champion": 0.9, "challenger": 0.1})


def test_rollback_through_the_lambda_entry_point_then_rerun_changes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.start(ramp=[0.1])
    world.counts("champion", 108_000, 5_400)  # 5.0%
    world.counts("challenger", 12_000, 480)  # 4.0%: a 20% relative drop
    # Traffic from before the experiment started must not be counted.
    world.counts("challenger", 50_000, 5_000, hours_ago=(30,))
    for key, value in {
        "ENDPOINT_NAME": ENDPOINT,
        "DECISIONS_BUCKET": BUCKET,
        "DECISIONS_PREFIX": PREFIX,
        "ALERT_TOPIC_ARN": world.settings.alert_topic_arn or "",
    }.items():
        monkeypatch.setenv(key, value)

    result = ab_controller.handler({"source": "aws.scheduler"}, None)

    assert result["status"] == "rollback" and result["changed"] is True
    assert world.weights() == {"champion": (1.0, 1.0), "challenger": (0.0, 0.0)}
    [record] = world.decisions()
    assert record["action"] == "rollback" and record["experiment_id"] == "exp-001"
    assert result["decision_key"].startswith(f"{PREFIX}/{ENDPOINT}/exp-001/decisions/")
    assert result["decision_key"].endswith("-rollback.json")
    decision = record["decision"]
    assert decision["control_visitors"] == 108_000 and decision["treatment_visitors"] == 12_000
    assert decision["estimate"] == pytest.approx(-0.20)
    assert decision["interval"][1] < 0
    assert record["weights_before"] == {"champion": 0.9, "challenger": 0.1}
    assert record["weights_after"] == {"champion": 1.0, "challenger": 0.0}
    experiment = load_experiment(world.s3, BUCKET, PREFIX, ENDPOINT)
    assert experiment is not None and experiment.status is ExperimentStatus.ROLLED_BACK
    assert experiment.decision_key == result["decision_key"]
    [alert] = world.alerts()
    assert "rollback" in alert["Subject"] and ENDPOINT in alert["Subject"]
    assert json.loads(alert["Message"])["action"] == "rollback"

    before = world.objects()
    again = ab_controller.handler({}, None)
    assert again["status"] == "already_rolled_back" and again["changed"] is False
    assert again["weights_match_conclusion"] is True
    assert world.objects() == before
    assert world.alerts() == []
    assert world.weights() == {"champion": (1.0, 1.0), "challenger": (0.0, 0.0)}


def test_throttled_weight_update_is_retried_and_the_rollback_still_happens(world: World) -> None:
    world.start(ramp=[0.1])
    world.counts("champion", 108_000, 5_400)
    world.counts("challenger", 12_000, 480)
    flaky = FlakySageMaker(world.sagemaker, failures=1)
    sleeps: list[float] = []

    result = world.run(sagemaker=flaky, sleeps=sleeps)

    assert result["status"] == "rollback"
    assert flaky.calls["update_endpoint_weights_and_capacities"] == 2
    assert sleeps == [1.0]
    assert world.weights()["challenger"] == (0.0, 0.0)
    assert [d["action"] for d in world.decisions()] == ["rollback"]


def test_persistent_throttling_fails_the_run_without_recording_a_wrong_decision(world: World) -> None:
    world.start(ramp=[0.1])
    world.counts("champion", 108_000, 5_400)
    world.counts("challenger", 12_000, 480)

    with pytest.raises(TrafficUpdateError):
        world.run(sagemaker=FlakySageMaker(world.sagemaker, failures=10))

    assert world.decisions() == []
    assert world.alerts() == []
    assert world.weights() == {"champion": (0.9, 0.9), "challenger": (0.1, 0.1)}
    experiment = load_experiment(world.s3, BUCKET, PREFIX, ENDPOINT)
    assert experiment is not None and experiment.status is ExperimentStatus.RUNNING
    # The next scheduled run, with the throttling gone, completes the rollback.
    assert world.run()["status"] == "rollback"
    assert world.weights()["challenger"] == (0.0, 0.0)


def test_healthy_challenger_below_the_minimum_sample_changes_nothing(world: World) -> None:
    world.start(ramp=[0.1])
    world.counts("champion", 45_000, 2_250)
    world.counts("challenger", 5_000, 250)

    result = world.run()

    assert result["status"] == "continue" and result["changed"] is False
    assert "minimum sample" in result["reason"]
    assert world.weights() == {"champion": (0.9, 0.9), "challenger": (0.1, 0.1)}
    [record] = world.decisions()
    assert record["action"] == "continue"
    assert world.alerts() == []
    experiment = load_experiment(world.s3, BUCKET, PREFIX, ENDPOINT)
    assert experiment is not None and experiment.status is ExperimentStatus.RUNNING


def test_sample_ratio_mismatch_halts_and_rolls_back(world: World) -> None:
    world.start(ramp=[0.1])
    world.counts("champion", 100_000, 5_000)
    world.counts("challenger", 14_000, 700)  # 12.3% of visitors for a configured 10%

    result = world.run()

    assert result["status"] == "srm_halt"
    assert world.weights()["challenger"] == (0.0, 0.0)
    experiment = load_experiment(world.s3, BUCKET, PREFIX, ENDPOINT)
    assert experiment is not None and experiment.status is ExperimentStatus.HALTED
    [alert] = world.alerts()
    assert "srm_halt" in alert["Subject"]
    assert world.run()["status"] == "already_halted"


def test_ramp_advances_after_a_clean_stage_and_restarts_the_count(world: World) -> None:
    world.start(ramp=[0.1, 0.5])
    world.counts("champion", 108_000, 5_400)
    world.counts("challenger", 12_000, 600)

    result = world.run()

    assert result["status"] == "advance"
    assert world.weights() == {"champion": (0.5, 0.5), "challenger": (0.5, 0.5)}
    experiment = load_experiment(world.s3, BUCKET, PREFIX, ENDPOINT)
    assert experiment is not None
    assert experiment.stage == 1 and experiment.challenger_weight == 0.5
    assert experiment.window_start == NOW + timedelta(minutes=30)  # settle time before counting again
    assert experiment.status is ExperimentStatus.RUNNING
    [alert] = world.alerts()
    assert "advance" in alert["Subject"]
    # Right after the step the new window has not opened: nothing to decide, nothing changes.
    again = world.run()
    assert again["status"] == "continue" and again["changed"] is False
    assert world.weights() == {"champion": (0.5, 0.5), "challenger": (0.5, 0.5)}


def test_a_stage_does_not_advance_before_its_minimum_duration(world: World) -> None:
    world.start(ramp=[0.1, 0.5], hours_ago=12)
    world.counts("champion", 108_000, 5_400, hours_ago=(10, 2))
    world.counts("challenger", 12_000, 600, hours_ago=(10, 2))
    assert world.run()["status"] == "continue"
    assert world.weights()["challenger"] == (0.1, 0.1)


def test_promotion_on_the_last_stage_moves_all_traffic_to_the_challenger(aws: None) -> None:
    world = build_world({"champion": 0.5, "challenger": 0.5})
    world.start(ramp=[0.5])
    world.counts("champion", 150_000, 7_500)
    world.counts("challenger", 150_000, 7_560)

    result = world.run()

    assert result["status"] == "promote"
    assert world.weights() == {"champion": (0.0, 0.0), "challenger": (1.0, 1.0)}
    experiment = load_experiment(world.s3, BUCKET, PREFIX, ENDPOINT)
    assert experiment is not None and experiment.status is ExperimentStatus.PROMOTED
    assert len(world.alerts()) == 1
    again = world.run()
    assert again["status"] == "already_promoted" and again["weights_match_conclusion"] is True


def test_strict_policy_from_the_environment_keeps_a_moderate_drop_running(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_json = GuardrailPolicy(rollback_rule=RollbackRule.STRICT).model_dump_json()
    settings = ControllerSettings.from_env(
        {"ENDPOINT_NAME": ENDPOINT, "DECISIONS_BUCKET": BUCKET, "GUARDRAIL_POLICY": policy_json}
    )
    assert settings.policy.rollback_rule is RollbackRule.STRICT
    assert settings.decisions_prefix == "abtest" and settings.metric_namespace == NAMESPACE
    world = build_world({"champion": 0.5, "challenger": 0.5})
    world.settings = replace(world.settings, policy=settings.policy)
    world.start(ramp=[0.5])
    world.counts("champion", 60_000, 3_000)
    world.counts("challenger", 60_000, 2_760)  # -8%: harm-first would roll back, strict needs more data
    assert world.run()["status"] == "continue"
    world.settings = replace(world.settings, policy=GuardrailPolicy())
    assert world.run()["status"] == "rollback"


def test_no_experiment_is_a_no_op(world: World) -> None:
    assert world.run() == {"status": "no_experiment", "endpoint_name": ENDPOINT, "changed": False}
    assert world.objects() == {}


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="ENDPOINT_NAME"):
        ControllerSettings.from_env({"DECISIONS_BUCKET": BUCKET})
    with pytest.raises(ValueError):
        ControllerSettings.from_env({"ENDPOINT_NAME": ENDPOINT, "DECISIONS_BUCKET": BUCKET, "GUARDRAIL_POLICY": "{"})
    with pytest.raises(ValueError, match="must differ"):
        ControllerSettings(
            endpoint_name=ENDPOINT, decisions_bucket=BUCKET, champion_variant="a", challenger_variant="a"
        )


def test_metric_period_follows_cloudwatch_retention() -> None:
    assert metric_period(NOW - timedelta(days=3), NOW) == 60
    assert metric_period(NOW - timedelta(days=20), NOW) == 300
    assert metric_period(NOW - timedelta(days=90), NOW) == 3600


def test_inconsistent_metrics_are_refused(world: World) -> None:
    world.counts("champion", 1_000, 50)
    world.counts("challenger", 100, 150)
    with pytest.raises(ValueError, match="not counted over the same requests"):
        read_counts(world.cloudwatch, world.settings, NOW - timedelta(days=1), NOW)
