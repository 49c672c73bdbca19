"""The shared experiment record: validation, its S3 location, and the load/save round trip (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from infra.runtime.abtest.experiment import (
    DEFAULT_RAMP,
    Experiment,
    ExperimentStatus,
    experiment_key,
    load_experiment,
    save_experiment,
)

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def make(**overrides: Any) -> Experiment:
    fields: dict[str, Any] = {
        "experiment_id": "exp-2026-03-02",
        "endpoint_name": "ranker",
        "challenger_model": "ranker-v7",
        "started_at": START,
    }
    return Experiment(**(fields | overrides))


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="decisions")
        yield client


def test_defaults_follow_the_staged_ramp() -> None:
    experiment = make()
    assert experiment.ramp == list(DEFAULT_RAMP) == [0.01, 0.05, 0.25, 0.5]
    assert experiment.challenger_weight == 0.01 and not experiment.final_stage
    assert experiment.window_start == START
    assert experiment.status is ExperimentStatus.RUNNING and not experiment.concluded
    later = START + timedelta(days=1)
    staged = make(stage=3, stage_started_at=later)
    assert staged.final_stage and staged.challenger_weight == 0.5 and staged.window_start == later


@pytest.mark.parametrize(
    "overrides",
    [
        {"ramp": [0.5, 0.25]},
        {"ramp": [0.0, 0.5]},
        {"ramp": [0.5, 1.0]},
        {"ramp": []},
        {"stage": 4},
        {"started_at": datetime(2026, 3, 2, 9, 30)},  # naive timestamp
        {"stage_started_at": START - timedelta(hours=1)},
        {"experiment_id": "has/slash"},
        {"unknown": 1},
    ],
)
def test_invalid_records_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make(**overrides)


def test_key_layout() -> None:
    assert experiment_key("abtest", "ranker") == "abtest/ranker/experiment.json"
    assert experiment_key("/abtest/", "ranker") == "abtest/ranker/experiment.json"
    assert experiment_key("", "ranker") == "ranker/experiment.json"


def test_round_trip_and_missing_record(s3: Any) -> None:
    assert load_experiment(s3, "decisions", "abtest", "ranker") is None
    experiment = make(ramp=[0.1, 0.5])
    key = save_experiment(s3, "decisions", "abtest", experiment)
    assert key == "abtest/ranker/experiment.json"
    assert s3.head_object(Bucket="decisions", Key=key)["ContentType"] == "application/json"
    assert load_experiment(s3, "decisions", "abtest", "ranker") == experiment


def test_a_record_stored_under_another_endpoint_is_refused(s3: Any) -> None:
    s3.put_object(Bucket="decisions", Key="abtest/other/experiment.json", Body=make().model_dump_json())
    with pytest.raises(ValueError, match="stored under other"):
        load_experiment(s3, "decisions", "abtest", "other")


def test_other_s3_errors_propagate(s3: Any) -> None:
    with pytest.raises(s3.exceptions.NoSuchBucket):
        load_experiment(s3, "no-such-bucket", "abtest", "ranker")
