"""Usage scenarios: the workload, the team and the assumptions a cost comparison is made for.

A scenario is to the estimator what Infracost's usage file is to its resources: the graph says what is
provisioned, the scenario says how much it is used. Validated by Pydantic (the single source of truth; JSON
Schema in ``infra/cost/scenario.schema.json``); bad input is reported by file, line and field like a profile.
"""

from __future__ import annotations

import json
from difflib import SequenceMatcher
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infra.errors import UserError
from infra.profiles.loader import Layer, _compose, _problems, builtin_profiles, display_path

# Built-in scenarios (named by name) and their schema ship as package data, like the built-in profiles.
SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
SCENARIO_SCHEMA_FILE = Path(__file__).resolve().with_name("scenario.schema.json")
CLOUDS = ("aws", "gcp")


class Strict(BaseModel):
    # A scenario's numbers end up in Decimal arithmetic: infinity and NaN are rejected here, with the file, line
    # and field, and every number has an upper bound far above any real workload (a typo, not a plan).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class InstanceChoice(Strict):
    """Instance type per cloud; a cloud left out uses what the profile declares."""

    aws: str | None = Field(None, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$", examples=["ml.m5.xlarge"])
    gcp: str | None = Field(None, pattern=r"^[a-z][a-z0-9]*-[a-z]+-\d+$", examples=["n1-standard-4"])


class Training(Strict):
    runs_per_month: float | None = Field(
        None, ge=0, le=10_000, description="Training runs a month (scheduled plus drift-triggered); default: what "
        "the profile's retraining schedule for the model gives, read from the graph",
    )
    hours_per_run: float = Field(1, ge=0, le=744, description="Wall-clock hours of one training run")
    processing_hours_per_run: float = Field(
        0.25, ge=0, le=744, description="Hours of the pipeline's processing steps (baselines, evaluation) per run"
    )
    instance_type: InstanceChoice = Field(default_factory=InstanceChoice)


class Traffic(Strict):
    peak_to_average: float = Field(
        3, ge=1, le=1000,
        description="Peak request rate over the monthly average; sizes real-time capacity for the peak",
    )


class Inference(Strict):
    mode: Literal["real-time", "batch"] = "real-time"
    requests_per_month: float = Field(1_000_000, ge=0, le=1e13)
    payload_kb: float = Field(4, ge=0, le=1_048_576, description="Request plus response size, KB")
    latency_ms: float = Field(
        100, gt=0, le=3_600_000, description="Model compute time per request, ms (serverless billing)")
    traffic: Traffic = Field(default_factory=Traffic)
    replica_requests_per_minute: float = Field(
        200, gt=0, le=1e7, description="Requests a minute one serving replica (instance, node, pod) handles at its "
        "autoscaling target; sizes real-time replicas for every profile, unless the graph states its own target "
        "(SageMaker's invocations per instance). Default: the SageMaker profile's invocations_per_instance",
    )
    instance_type: InstanceChoice = Field(default_factory=InstanceChoice)


class ModelUsage(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}$")
    training: Training = Field(default_factory=Training)
    inference: Inference = Field(default_factory=Inference)


class Data(Strict):
    ingest_gb_per_month: float = Field(50, ge=0, le=1e8, description="New data landed a month, all models")
    retention_months: float = Field(12, ge=0, le=1200, description="How long ingested data is kept")
    artifacts_gb: float = Field(20, ge=0, le=1e8, description="Model artifacts, baselines and captured data kept")

    @property
    def stored_gb(self) -> float:
        """Steady-state dataset storage: each month's ingest kept for the retention period."""
        return self.ingest_gb_per_month * self.retention_months


class Operations(Strict):
    """Usage of the platform's own plumbing, per stack (not per model)."""

    logs_gb_per_log_group: float = Field(0.5, ge=0, le=1e7, description="Log data ingested a month per log group")
    function_seconds_per_run: float = Field(60, ge=0, le=86_400, description="Duration of one scheduled function run")
    nat_gb_per_month: float = Field(10, ge=0, le=1e8, description="Data through NAT gateways (image pulls, updates)")
    endpoint_gb_per_month: float = Field(5, ge=0, le=1e8, description="Data through interface VPC endpoints")
    alb_lcu: float = Field(1, ge=0, le=1e6, description="Average load balancer capacity units in use")
    image_gb_per_repository: float = Field(1, ge=0, le=1e5, description="Container images kept per repository")
    s3_put_requests_per_month: float = Field(100_000, ge=0, le=1e13)
    s3_get_requests_per_month: float = Field(1_000_000, ge=0, le=1e13)


class Assumptions(Strict):
    hours_per_month: float = Field(730, gt=0, le=744, description="Hours billed a month (AWS and Infracost use 730)")
    spot_saving: float = Field(
        0.6, ge=0, lt=1, description="Share of the on-demand price saved by managed spot training "
        "(AWS: 'up to 90%'; billed = training time x (1 - saving))",
    )
    onboarding_amortisation_months: float = Field(
        12, gt=0, le=120, description="Months over which onboarding time is spread in total cost of ownership"
    )


class Weights(Strict):
    """How much each criterion counts in the recommendation (normalised to sum to 1)."""

    cost: float = Field(0.4, ge=0, le=100)
    learning_curve: float = Field(0.2, ge=0, le=100)
    operating_burden: float = Field(0.2, ge=0, le=100)
    scalability: float = Field(0.2, ge=0, le=100)

    @model_validator(mode="after")
    def _some_weight(self) -> Weights:
        if self.cost + self.learning_curve + self.operating_burden + self.scalability <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class RubricOverrides(Strict):
    """Replace a rubric rule's value by its id (see the report's rubric tables)."""

    operating_burden_hours: dict[str, Annotated[float, Field(ge=0, le=10_000)]] = Field(default_factory=dict)
    learning_curve_weeks: dict[str, Annotated[float, Field(ge=0, le=520)]] = Field(default_factory=dict)


class Scenario(Strict):
    schema_: str | None = Field(None, alias="$schema")
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}$")
    description: str = ""
    cloud_today: Literal["aws", "gcp", "none"] = "aws"
    environment: Literal["dev", "staging", "prod"] = Field("prod", description="Environment overlay priced")
    profiles: list[str] = Field(
        ["mlflow-sagemaker", "wandb-kubeflow", "vertex-managed"],
        min_length=1, description="Profiles to compare: built-in names, or profile files (listed as not compared)",
    )
    team_size: int = Field(3, ge=1, le=1000, description="Data scientists using the platform (seats, onboarding)")
    platform_engineers: int = Field(1, ge=0, le=100, description="Engineers who run the platform (onboarding)")
    engineer_hourly_cost: float = Field(100, ge=0, le=10_000, description="Loaded cost of an engineer-hour, USD")
    models: list[ModelUsage] = Field(min_length=1)
    data: Data = Field(default_factory=Data)
    operations: Operations = Field(default_factory=Operations)
    assumptions: Assumptions = Field(default_factory=Assumptions)
    weights: Weights = Field(default_factory=Weights)
    rubrics: RubricOverrides = Field(default_factory=RubricOverrides)

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @field_validator("profiles")
    @classmethod
    def _known_profiles(cls, profiles: list[str]) -> list[str]:
        """A name that is neither a built-in profile nor an existing file is a typo: an error, never dropped."""
        builtin = builtin_profiles()
        unknown = [p for p in profiles if p not in builtin and not Path(p).is_file()]
        if unknown:
            raise ValueError("; ".join(f"unknown profile {p!r} (not built in, not a file){_closest(p, builtin)}"
                                       for p in unknown) + f"; built in: {', '.join(builtin)}")
        return profiles

    @model_validator(mode="after")
    def _unique_models(self) -> Scenario:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique: {', '.join(dupes)}")
        return self


def _closest(name: str, choices: list[str]) -> str:
    """`; did you mean 'x'?` by difflib's ratio over the name and over its hyphen-separated words in order
    (so 'sagemaker-mlfow' finds 'mlflow-sagemaker'), or "" when nothing is close (ratio below 0.6)."""
    def words(s: str) -> str:
        return "-".join(sorted(s.split("-")))

    def ratio(choice: str) -> float:
        return max(SequenceMatcher(None, name, choice).ratio(),
                   SequenceMatcher(None, words(name), words(choice)).ratio())

    best = max(choices, key=ratio, default=None)
    return f"; did you mean {best!r}?" if best is not None and ratio(best) >= 0.6 else ""


def scenario_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return SCENARIOS_DIR / f"{name_or_path}.yaml"


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises UserError with file, line and field for each problem."""
    path = scenario_path(str(name_or_path))
    shown = display_path(path)
    if not path.exists():
        raise UserError.single(shown, "no such scenario file")
    data, lines, raw = _compose(path)
    if not isinstance(data, dict):
        raise UserError.single(shown, "a scenario must be a YAML mapping", line=1)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise UserError(_problems(exc, [Layer(shown, data, lines, raw=raw)], data, Scenario)) from None


def scenario_schema_text() -> str:
    schema: dict[str, Any] = Scenario.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlopsgen usage scenario"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
