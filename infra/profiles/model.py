"""Pydantic models of a stack profile.

A profile declares capabilities (artifact store, tracking, registry, training, serving, monitoring, automation,
networking, security). Each capability has a discriminated ``kind`` so other backends plug in beside the first
one: a new kind is a new model here plus a builder registered in ``infra.components``. Defaults are the secure,
production-grade ones; an environment overlay may loosen them only explicitly (see ``infra.profiles.exceptions``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from infra.profiles.validators import (
    ENVIRONMENTS,
    check_bucket_prefix,
    check_cidr,
    check_rds_instance_class,
    check_region,
    check_sagemaker_instance_type,
    check_schedule_expression,
    check_timezone,
)
from infra.profiles.wording import did_you_mean
from infra.runtime.abtest.policy import GuardrailPolicy
from infra.runtime.drift.config import DriftConfig


def protective(default: Any, loosened: str, **kwargs: Any) -> Any:
    """A field whose default protects something; a smaller value is reported as a loosened default."""
    return Field(default, json_schema_extra={"x-protective": loosened}, description=f"Below default: {loosened}",
                 **kwargs)


class Strict(BaseModel):
    """Every profile model rejects unknown fields: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


Schedule = Annotated[str, Field(description="EventBridge Scheduler expression: rate(...), cron(...) or at(...)")]


# ---------------------------------------------------------------- artifact store
class LifecycleRules(Strict):
    transition_to_infrequent_access_days: int | None = Field(
        30, ge=30, description="Move current objects to S3 Standard-IA after this many days (null: never)"
    )
    noncurrent_version_expiration_days: int = Field(
        90, ge=1, description="Delete superseded object versions after this many days"
    )
    abort_incomplete_multipart_days: int = Field(7, ge=1)


class S3ArtifactStore(Strict):
    kind: Literal["s3"] = "s3"
    bucket_prefix: str | None = Field(
        None,
        description="Physical bucket name prefix; buckets are named <prefix>-data and <prefix>-artifacts. "
        "Default: <project>-<environment>-<account id>",
    )
    versioning: bool = Field(True, description="Keep object versions (needed to recover overwritten models)")
    lifecycle: LifecycleRules = Field(default_factory=LifecycleRules)

    _check_prefix = field_validator("bucket_prefix")(check_bucket_prefix)


ArtifactStore = Annotated[S3ArtifactStore, Field(discriminator="kind")]


# ---------------------------------------------------------------- tracking
class TrackingDatabase(Strict):
    engine_version: str = Field("16.4", description="PostgreSQL version")
    instance_class: str = Field("db.t4g.small", description="RDS instance class")
    allocated_storage_gb: int = Field(20, ge=20, le=65536)
    multi_az: bool = protective(True, "a single database instance: no standby in a second zone")
    deletion_protection: bool = protective(True, "the tracking database can be deleted")
    backup_retention_days: int = protective(14, "fewer days of database backups", ge=0, le=35)

    _check_class = field_validator("instance_class")(check_rds_instance_class)


class MlflowOnEcs(Strict):
    """Self-hosted MLflow: ECS Fargate behind an internal ALB, PostgreSQL on RDS, artifacts in S3."""

    kind: Literal["mlflow-ecs"] = "mlflow-ecs"
    mlflow_version: str = Field("2.22.0", pattern=r"^\d+\.\d+\.\d+$")
    image: str | None = Field(
        None, description="Container image; default: the stack's ECR repository 'mlflow' at mlflow_version"
    )
    cpu: Literal[256, 512, 1024, 2048, 4096] = 1024
    memory_mib: int = Field(2048, ge=512, le=30720)
    desired_count: int = Field(2, ge=0, le=10)
    certificate_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
        description="ACM certificate for an HTTPS listener. Without it the internal ALB serves HTTP inside "
        "the VPC, which is reported as a loosened default",
    )
    database: TrackingDatabase = Field(default_factory=TrackingDatabase)


class SageMakerManagedMlflow(Strict):
    """SageMaker managed MLflow tracking server."""

    kind: Literal["sagemaker-mlflow"] = "sagemaker-mlflow"
    mlflow_version: str = Field("2.16", pattern=r"^\d+\.\d+(\.\d+)?$")
    size: Literal["Small", "Medium", "Large"] = "Small"
    weekly_maintenance_window: str = Field("Sun:03:00", pattern=r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):\d{2}:\d{2}$")


Tracking = Annotated[MlflowOnEcs | SageMakerManagedMlflow, Field(discriminator="kind")]


# ---------------------------------------------------------------- registry
class SageMakerModelRegistry(Strict):
    kind: Literal["sagemaker-model-registry"] = "sagemaker-model-registry"
    model_package_group: str = Field(
        "default-model", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", description="Model package group name"
    )


Registry = Annotated[SageMakerModelRegistry, Field(discriminator="kind")]


# ---------------------------------------------------------------- training
class SageMakerPipelineTraining(Strict):
    kind: Literal["sagemaker-pipeline"] = "sagemaker-pipeline"
    instance_type: str = Field("ml.m5.xlarge", description="Training instance type")
    instance_count: int = Field(1, ge=1, le=20)
    use_spot: bool = Field(True, description="Managed spot training (checkpointed to S3)")
    max_runtime_hours: int = Field(4, ge=1, le=120)
    volume_size_gb: int = Field(30, ge=1, le=16384)
    approval: Literal["manual", "automatic"] = Field(
        "manual", description="Whether a trained model is registered PendingManualApproval or Approved"
    )

    _check_type = field_validator("instance_type")(check_sagemaker_instance_type)


Training = Annotated[SageMakerPipelineTraining, Field(discriminator="kind")]


# ---------------------------------------------------------------- serving
class SageMakerEndpointServing(Strict):
    """Real-time endpoint with a champion and a challenger production variant."""

    kind: Literal["sagemaker-endpoint"] = "sagemaker-endpoint"
    instance_type: str = "ml.m5.large"
    min_capacity: int = protective(2, "the champion variant can run on one instance (no zone redundancy)", ge=1, le=100)
    max_capacity: int = Field(4, ge=1, le=100)
    invocations_per_instance: int = Field(
        200, ge=1, description="Target-tracking goal: invocations per instance per minute"
    )
    challenger_ramp: list[float] = Field(
        [0.05, 0.25, 0.5],
        min_length=1,
        description="Challenger traffic share at each ramp stage; the first is used when a new model is approved",
    )
    bootstrap_image: str | None = Field(
        None,
        description="Serving image for the bootstrap model that answers until a model is approved; "
        "default: SageMaker's scikit-learn inference image for the region",
    )

    _check_type = field_validator("instance_type")(check_sagemaker_instance_type)

    @field_validator("challenger_ramp")
    @classmethod
    def _ramp(cls, ramp: list[float]) -> list[float]:
        if any(not 0 < w < 1 for w in ramp) or ramp != sorted(set(ramp)):
            raise ValueError("challenger_ramp must be increasing shares strictly between 0 and 1")
        return ramp

    @model_validator(mode="after")
    def _capacity(self) -> SageMakerEndpointServing:
        if self.max_capacity < self.min_capacity:
            raise ValueError("max_capacity must be at least min_capacity")
        return self


Serving = Annotated[SageMakerEndpointServing, Field(discriminator="kind")]


# ---------------------------------------------------------------- monitoring
class LambdaDriftMonitoring(Strict):
    """The project's own drift monitor and A/B controller, run on schedules as Lambda functions."""

    kind: Literal["lambda-drift"] = "lambda-drift"
    drift_schedule: Schedule = "cron(0 6 * * ? *)"
    drift: DriftConfig = Field(
        default_factory=DriftConfig,
        description="Drift tests, thresholds and rules (per-feature overrides, multiple-testing correction)",
    )
    retrain_on_drift: bool = True
    alert_emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(default_factory=list)
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827] = (
        protective(90, "logs are kept for less than 90 days")
    )
    endpoint_5xx_alarm_threshold: int = Field(5, ge=1)
    latency_p99_ms_alarm_threshold: int = Field(1000, ge=1)
    ab_guardrail: GuardrailPolicy = Field(
        default_factory=GuardrailPolicy, description="When the A/B controller rolls back, advances or promotes"
    )
    ab_guardrail_schedule: Schedule = "rate(1 hour)"

    _check_schedule = field_validator("drift_schedule", "ab_guardrail_schedule")(check_schedule_expression)


Monitoring = Annotated[LambdaDriftMonitoring, Field(discriminator="kind")]


# ---------------------------------------------------------------- automation
class Automation(Strict):
    ingestion_schedule: Schedule = Field("cron(0 2 * * ? *)", description="Daily data ingestion")
    retraining_schedule: Schedule = Field("cron(0 3 ? * SUN *)", description="Weekly retraining")
    timezone: str = Field("UTC", description="IANA time zone in which the cron(...) and at(...) schedules run")
    ingestion_source_prefix: str = Field("landing/", pattern=r"^[a-zA-Z0-9!_.*'()/-]*/$")

    _check_schedules = field_validator("ingestion_schedule", "retraining_schedule")(check_schedule_expression)
    _check_timezone = field_validator("timezone")(check_timezone)


# ---------------------------------------------------------------- networking
class VpcNetworking(Strict):
    kind: Literal["vpc"] = "vpc"
    cidr: str = Field("10.42.0.0/16", description="Private IPv4 network of the VPC, /16 to /24")
    availability_zones: int = Field(2, ge=2, le=3)
    nat_gateways: int = Field(1, ge=0, le=3, description="0: no internet egress from private subnets")
    interface_endpoints: list[str] = Field(
        ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts"],
        description="VPC interface endpoints so private subnets reach AWS APIs without a NAT gateway",
    )
    flow_logs: bool = protective(True, "no VPC flow logs")

    _check_cidr = field_validator("cidr")(check_cidr)

    @model_validator(mode="after")
    def _nat_fits(self) -> VpcNetworking:
        if self.nat_gateways > self.availability_zones:
            raise ValueError("nat_gateways cannot exceed availability_zones")
        return self


Networking = Annotated[VpcNetworking, Field(discriminator="kind")]


# ---------------------------------------------------------------- security
class Security(Strict):
    kms_key_rotation: bool = protective(True, "the KMS key is not rotated")
    kms_deletion_window_days: int = protective(30, "a deleted key can be recovered for fewer days", ge=7, le=30)
    protect_data: bool = protective(
        True, "buckets, database and key are neither protected nor retained when the stack is destroyed"
    )
    tls_only_buckets: bool = protective(True, "buckets accept requests without TLS")
    block_public_access: bool = protective(True, "buckets do not block public access")


# ---------------------------------------------------------------- profile
class ProfileBody(Strict):
    """Everything an environment overlay may change."""

    region: str = Field("us-east-1", description="AWS region, such as us-east-1")
    artifact_store: ArtifactStore = Field(default_factory=S3ArtifactStore)
    tracking: Tracking = Field(default_factory=MlflowOnEcs)
    registry: Registry = Field(default_factory=SageMakerModelRegistry)
    training: Training = Field(default_factory=SageMakerPipelineTraining)
    serving: Serving = Field(default_factory=SageMakerEndpointServing)
    monitoring: Monitoring = Field(default_factory=LambdaDriftMonitoring)
    automation: Automation = Field(default_factory=Automation)
    networking: Networking = Field(default_factory=VpcNetworking)
    security: Security = Field(default_factory=Security)

    _check_region = field_validator("region")(check_region)


class Profile(ProfileBody):
    """A stack profile. ``environments`` holds overlays merged over the body for dev, staging and prod."""

    schema_: str | None = Field(None, alias="$schema", description="JSON Schema location, for editors")
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$", description="Profile name, used in tags")
    description: str = ""
    cloud: Literal["aws"] = "aws"
    environments: dict[str, dict[str, object]] = Field(
        default_factory=dict,
        description="Per-environment overlays (dev, staging, prod): partial profile bodies merged over this one",
        json_schema_extra={"propertyNames": {"enum": list(ENVIRONMENTS)}},
    )

    @field_validator("environments")
    @classmethod
    def _known_environments(cls, value: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
        unknown = sorted(set(value) - set(ENVIRONMENTS))
        if unknown:
            raise ValueError(f"unknown environment {unknown[0]!r}; expected one of {', '.join(ENVIRONMENTS)}"
                             f"{did_you_mean(unknown[0], ENVIRONMENTS)}")
        return value

    @field_validator("environments")
    @classmethod
    def _distinct_bucket_names(cls, value: dict[str, dict[str, object]], info: ValidationInfo) -> dict[str, Any]:
        """Environments must not share buckets: a bucket_prefix set in the body needs one per environment."""
        body_store = info.data.get("artifact_store")
        body_prefix = getattr(body_store, "bucket_prefix", None)
        prefixes: dict[str, list[str]] = {}
        for env in ENVIRONMENTS:
            store = (value.get(env) or {}).get("artifact_store")
            prefix = store.get("bucket_prefix", body_prefix) if isinstance(store, dict) else body_prefix
            if isinstance(prefix, str):
                prefixes.setdefault(prefix, []).append(env)
        shared = {p: envs for p, envs in prefixes.items() if len(envs) > 1}
        if shared:
            prefix, envs = next(iter(shared.items()))
            raise ValueError(f"artifact_store.bucket_prefix {prefix!r} is used by {' and '.join(envs)}: bucket names "
                             "are global, so set a different bucket_prefix in each environment's overlay")
        return value

