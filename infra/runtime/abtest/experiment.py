"""The experiment record shared by the deployer (writes it) and the A/B controller (reads and advances it).

Stored as JSON in S3 at ``<DECISIONS_PREFIX>/<endpoint>/experiment.json``; one running experiment per
endpoint. The deployer writes a new record (status RUNNING, stage 0) when it puts a challenger on the endpoint
and sets the endpoint weights to ``champion = 1 - ramp[0], challenger = ramp[0]``. The controller then owns
the record: it advances the ramp and sets the terminal status, which is what makes its reruns idempotent.
`started_at` should be when the endpoint is InService with the first stage's weights: requests served with
another split inside the counting window look like a sample-ratio mismatch.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from infra.runtime.adapters.storage import ObjectNotFound, object_store

DEFAULT_RAMP: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5)
"""Challenger share per stage (1% -> 5% -> 25% -> 50%); promotion is the final step to 100%."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class ExperimentStatus(StrEnum):
    """RUNNING until the controller concludes it; every other status is terminal."""

    RUNNING = "running"
    ROLLED_BACK = "rolled_back"
    HALTED = "halted"  # sample-ratio mismatch: rolled back to the champion because the data is broken
    PROMOTED = "promoted"


class Experiment(BaseModel):
    """One champion/challenger experiment on one endpoint.

    Counting window: the guardrail sums metrics from `window_start` (the start of the current ramp stage) to
    now. Restarting the count at every stage keeps the sample-ratio check valid (one configured split per
    window) and avoids Simpson's paradox from pooling periods with different splits.
    """

    model_config = ConfigDict(extra="forbid")

    experiment_id: Annotated[str, Field(pattern=_NAME)]
    endpoint_name: Annotated[str, Field(pattern=_NAME)]
    challenger_model: Annotated[str, Field(min_length=1)]
    champion_model: str | None = None
    started_at: AwareDatetime
    ramp: Annotated[list[float], Field(min_length=1)] = Field(default_factory=lambda: list(DEFAULT_RAMP))
    stage: Annotated[int, Field(ge=0)] = 0
    stage_started_at: AwareDatetime | None = None
    status: ExperimentStatus = ExperimentStatus.RUNNING
    concluded_at: AwareDatetime | None = None
    conclusion: str | None = None
    decision_key: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if any(not 0.0 < w < 1.0 for w in self.ramp):
            raise ValueError("every ramp stage is a challenger share strictly between 0 and 1")
        if any(b <= a for a, b in zip(self.ramp, self.ramp[1:], strict=False)):
            raise ValueError("ramp stages must increase")
        if self.stage >= len(self.ramp):
            raise ValueError(f"stage {self.stage} is beyond the {len(self.ramp)} ramp stages")
        if self.stage_started_at is not None and self.stage_started_at < self.started_at:
            raise ValueError("stage_started_at is before started_at")
        return self

    @property
    def challenger_weight(self) -> float:
        """Configured challenger share in the current stage (what the sample-ratio check expects)."""
        return self.ramp[self.stage]

    @property
    def window_start(self) -> datetime:
        """Start of the counting window: the current stage's start."""
        return self.stage_started_at or self.started_at

    @property
    def final_stage(self) -> bool:
        return self.stage == len(self.ramp) - 1

    @property
    def concluded(self) -> bool:
        return self.status is not ExperimentStatus.RUNNING


def experiment_key(prefix: str, endpoint_name: str) -> str:
    """``<prefix>/<endpoint>/experiment.json`` (no leading slash; an empty prefix is allowed)."""
    return "/".join(p for p in (prefix.strip("/"), endpoint_name, "experiment.json") if p)


def load_experiment(store: Any, bucket: str, prefix: str, endpoint_name: str) -> Experiment | None:
    """The endpoint's experiment, or None when no experiment was ever started on it. `store`: an ObjectStore
    (infra.runtime.adapters.storage) or a boto3 S3 client."""
    try:
        body = object_store(store).get(bucket, experiment_key(prefix, endpoint_name))
    except ObjectNotFound:
        return None
    experiment = Experiment.model_validate_json(body)
    if experiment.endpoint_name != endpoint_name:
        raise ValueError(
            f"experiment {experiment.experiment_id} is for endpoint {experiment.endpoint_name}, "
            f"stored under {endpoint_name}"
        )
    return experiment


def save_experiment(store: Any, bucket: str, prefix: str, experiment: Experiment) -> str:
    """Write the record (overwriting the previous state) and return its key. `store`: an ObjectStore or a boto3
    S3 client."""
    key = experiment_key(prefix, experiment.endpoint_name)
    object_store(store).put(bucket, key, experiment.model_dump_json(indent=2).encode())
    return key
