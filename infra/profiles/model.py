"""Pydantic models of a stack profile.

A profile declares capabilities (artifact store, tracking, registry, training, serving, monitoring, automation,
networking, security). Each capability has a discriminated ``kind`` so other backends plug in beside the first
one: a new kind is a new model here plus a builder registered in ``infra.components``. Defaults are the secure,
production-grade ones; an environment overlay may loosen them only explicitly (see ``infra.profiles.exceptions``).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from infra.profiles.validators import (
    ENVIRONMENTS,
    REGION_CHECKS,
    check_bucket_prefix,
    check_cidr,
    check_ec2_instance_type,
    check_fargate_size,
    check_gce_machine_type,
    check_rds_instance_class,
    check_region,
    check_sagemaker_instance_type,
    check_schedule_expression,
    check_timezone,
    check_training_instance_type,
    check_unix_cron,
)
from infra.profiles.wording import _kind_tag, _members, _models, did_you_mean
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


def kind_or(default: str) -> Discriminator:
    """Discriminates a union of capability kinds by `kind`; a section without `kind` is `default`.

    Per-model sections use it, so a profile with many models need not repeat `kind` in each. Members are
    tagged with their kind: `Annotated[Union[Annotated[SageMakerServing, Tag("sagemaker-endpoint")],
    Annotated[KServeServing, Tag("kserve")]], kind_or("sagemaker-endpoint")]`.
    """

    def tag(value: Any) -> str:
        return str(value.get("kind", default) if isinstance(value, dict) else getattr(value, "kind", default))

    return Discriminator(tag)


def check_pinned_tag(tag: str) -> str:
    if tag == "latest":
        raise ValueError("'latest' is a moving tag: name the image version (repositories are immutable)")
    return tag


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
    access_logs: bool = protective(
        True, "no S3 server access logs for the data and artifact buckets, no load balancer access logs"
    )
    access_log_retention_days: int = Field(365, ge=1, description="Days the access-log bucket keeps each log")
    replication_region: str | None = Field(
        None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$",
        description="Replicate the data and artifacts buckets to this region (off by default). Cost: every "
        "replicated GB is stored a second time ($0.023/GB-month, S3 Standard, us-east-1), crosses regions once "
        "($0.02/GB inter-region transfer) and costs a PUT per object ($0.005 per 1,000); plus a KMS key in the "
        "replica region ($1/month)",
    )

    _check_prefix = field_validator("bucket_prefix")(check_bucket_prefix)


class GcsArtifactStore(Strict):
    """Cloud Storage buckets: uniform access, public access prevention, CMEK, soft delete, and either a retention
    policy (objects cannot be deleted or replaced younger than `retention_days`) or, with `retention_days: 0`,
    Object Versioning: Cloud Storage allows only one of the two on a bucket (cloud: gcp)."""

    cloud: ClassVar[str] = "gcp"
    kind: Literal["gcs"] = "gcs"
    bucket_prefix: str | None = Field(
        None,
        description="Bucket name prefix; buckets are named <prefix>-data and <prefix>-artifacts. "
        "Default: <profile>-<environment>-<project>",
    )
    retention_days: int = protective(
        30, "objects can be deleted or replaced sooner (0: no bucket retention policy)", ge=0, le=3650,
        # Cloud Storage refuses Object Versioning on a bucket with a retention policy: one or the other.
    )
    noncurrent_version_expiration_days: int = Field(
        90, ge=1, description="Buckets without a retention policy keep object versions; superseded versions are "
        "deleted this many days after they became noncurrent",
    )
    soft_delete_days: int = Field(7, ge=7, le=90, description="Deleted objects stay restorable this many days")
    transition_to_nearline_days: int | None = Field(
        30, ge=30, description="Move objects to the Nearline class after this many days (null: never)"
    )

    _check_prefix = field_validator("bucket_prefix")(check_bucket_prefix)


ArtifactStore = Annotated[S3ArtifactStore | GcsArtifactStore, Field(discriminator="kind")]


# ---------------------------------------------------------------- tracking
class TrackingDatabase(Strict):
    engine_version: str = Field("16.4", description="PostgreSQL version")
    instance_class: str = Field("db.t4g.small", description="RDS instance class")
    allocated_storage_gb: int = Field(20, ge=20, le=65536)
    multi_az: bool = protective(True, "a single database instance: no standby in a second zone")
    deletion_protection: bool = protective(True, "the tracking database can be deleted")
    backup_retention_days: int = protective(14, "fewer days of database backups", ge=0, le=35)
    log_exports: bool = protective(
        True, "the database exports no PostgreSQL or upgrade logs (and no slow-query log) to CloudWatch Logs"
    )
    slow_query_ms: int = Field(
        1000, ge=0, description="log_min_duration_statement: statements slower than this are logged (0: all)"
    )
    enhanced_monitoring: bool = protective(True, "no RDS enhanced monitoring (OS metrics every 60 s)")
    performance_insights: bool = protective(True, "no Performance Insights on the tracking database")

    _check_class = field_validator("instance_class")(check_rds_instance_class)


class MlflowOnEcs(Strict):
    """Self-hosted MLflow: ECS Fargate behind an internal ALB, PostgreSQL on RDS, artifacts in S3."""

    kind: Literal["mlflow-ecs"] = "mlflow-ecs"
    mlflow_version: str = Field("2.22.0", pattern=r"^\d+\.\d+\.\d+$")
    image: str | None = Field(
        None, description="Container image; default: the stack's ECR repository 'mlflow' at mlflow_version"
    )
    cpu: Literal[256, 512, 1024, 2048, 4096] = 1024
    memory_mib: int = Field(2048, ge=512, le=30720, description="Task memory; Fargate allows per cpu value: "
                            "256: 512, 1024, 2048; 512: 1024-4096; 1024: 2048-8192; 2048: 4096-16384; "
                            "4096: 8192-30720 (steps of 1024)")
    desired_count: int = Field(2, ge=0, le=10)
    certificate_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
        description="ACM certificate (in the stack's region) of the internal load balancer's HTTPS listener",
    )
    hostname: str | None = Field(
        None, pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$",
        description="DNS name the certificate covers, pointed at the load balancer by your DNS; the tracking "
        "URL and the password rotator use it. Default: the load balancer's own DNS name",
    )
    require_https: bool = protective(
        True, "the internal MLflow load balancer serves plain HTTP: credentials and artifacts cross the VPC in "
        "clear text (allowed in dev only)",
    )
    rotate_admin_password: bool = protective(True, "the MLflow admin password is never rotated")
    admin_password_rotation_days: int = Field(30, ge=1, le=365, description="Days between rotations")
    database: TrackingDatabase = Field(default_factory=TrackingDatabase)

    @field_validator("memory_mib")
    @classmethod
    def _fargate_size(cls, memory_mib: int, info: ValidationInfo) -> int:
        if "cpu" in info.data:
            check_fargate_size(info.data["cpu"], memory_mib)
        return memory_mib

    @model_validator(mode="after")
    def _tls(self, info: ValidationInfo) -> MlflowOnEcs:
        environment = (info.context or {}).get("environment")
        if environment is None:  # a profile checked on its own: the rule applies to each resolved environment
            return self
        if not self.require_https and environment != "dev":
            raise ValueError(f"require_https: false is allowed in dev only, not in {environment}")
        if self.require_https and not self.certificate_arn:
            raise ValueError(
                "HTTPS needs a certificate: set tracking.certificate_arn (an ACM certificate in the stack's "
                "region), or choose managed MLflow (tracking.kind: sagemaker-mlflow)"
                + ("; in dev you may instead set tracking.require_https: false" if environment == "dev" else "")
            )
        return self


class SageMakerManagedMlflow(Strict):
    """SageMaker managed MLflow tracking server."""

    kind: Literal["sagemaker-mlflow"] = "sagemaker-mlflow"
    mlflow_version: str = Field("2.16", pattern=r"^\d+\.\d+(\.\d+)?$")
    size: Literal["Small", "Medium", "Large"] = "Small"
    weekly_maintenance_window: str = Field("Sun:03:00", pattern=r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):\d{2}:\d{2}$")


class WandbClient(Strict):
    """What the stack's pods log runs to: entity and project; the API key is the Pulumi secret config
    `wandbApiKey`."""

    entity: str = Field(min_length=1, description="W&B entity (team) the runs and artifacts belong to")
    project: str | None = Field(None, description="W&B project; default: <profile>-<environment>")


class WandbSaas(WandbClient):
    """Weights & Biases SaaS (or dedicated cloud)."""

    kind: Literal["wandb"] = "wandb"
    base_url: str = Field("https://api.wandb.ai", pattern=r"^https://", description="W&B API (TLS only)")

    secret_config: ClassVar[tuple[str, ...]] = ("wandbApiKey",)


class VertexExperimentsTracking(Strict):
    """Vertex AI Experiments: the region's metadata store and a TensorBoard instance, both CMEK-encrypted."""

    cloud: ClassVar[str] = "gcp"
    kind: Literal["vertex-experiments"] = "vertex-experiments"
    tensorboard: bool = Field(True, description="A Vertex AI TensorBoard instance for experiment curves")



class WandbServerDatabase(Strict):
    """Aurora MySQL 8.0 (W&B's requirement): encrypted with the stack's key, binlog in ROW format, TLS only."""

    engine_version: str = Field("8.0.mysql_aurora.3.08.2", pattern=r"^8\.0\.mysql_aurora\.\d+\.\d+\.\d+$")
    instance_class: str = Field("db.r6g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    instances: int = protective(2, "a single Aurora instance for W&B: no replica to fail over to", ge=1, le=15)
    deletion_protection: bool = protective(True, "the W&B database can be deleted")
    backup_retention_days: int = protective(14, "fewer days of W&B database backups", ge=1, le=35)


class WandbServerCache(Strict):
    """ElastiCache Redis 7.1 with in-transit (required) and at-rest encryption (the stack's key)."""

    node_type: str = Field("cache.r7g.large", pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
    replicas: int = protective(1, "no Redis replica for W&B: no automatic failover", ge=0, le=5)


class WandbServer(WandbClient):
    """Self-managed W&B server on the stack's cluster through W&B's Kubernetes operator (chart pinned), with
    Aurora MySQL, ElastiCache Redis and the artifacts bucket (under `wandb/`, KMS). Needs a W&B server license:
    the Pulumi secret config `wandbLicense`; clients still use an API key (`wandbApiKey`) issued by the server."""

    kind: Literal["wandb-server"] = "wandb-server"
    hostname: str = Field(pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$",
                          description="DNS name of the server (its URL is https://<hostname>)")
    database: WandbServerDatabase = Field(default_factory=WandbServerDatabase)
    cache: WandbServerCache = Field(default_factory=WandbServerCache)

    secret_config: ClassVar[tuple[str, ...]] = ("wandbApiKey", "wandbLicense")

    @property
    def base_url(self) -> str:
        return f"https://{self.hostname}"



Tracking = Annotated[MlflowOnEcs | SageMakerManagedMlflow | WandbSaas | WandbServer | VertexExperimentsTracking,
                     Field(discriminator="kind")]


# ---------------------------------------------------------------- registry
class SageMakerModelRegistry(Strict):
    """The stack's image repositories and runtime image; each model gets its own model package group."""

    kind: Literal["sagemaker-model-registry"] = "sagemaker-model-registry"


class VertexModelRegistry(Strict):
    """An Artifact Registry repository for the stack's images; each model's versions and aliases live in the
    Vertex AI Model Registry (managed at run time: pulumi-gcp has no resource for an uploaded model)."""

    cloud: ClassVar[str] = "gcp"
    kind: Literal["vertex-model-registry"] = "vertex-model-registry"
    keep_images: int = Field(30, ge=1, le=1000, description="Artifact Registry cleanup: keep the newest N images")


class WandbArtifactsRegistry(Strict):
    """The stack's image repositories and runtime image (as `sagemaker-model-registry`); each model's versions are
    W&B artifacts of type `model` in a collection named after the model, in the tracking project, with the aliases
    `approved`, `champion` and `challenger`. Needs W&B tracking (`wandb` or `wandb-server`): its API key chain."""

    kind: Literal["wandb-artifacts"] = "wandb-artifacts"
    tracking_kinds: ClassVar[tuple[str, ...]] = ("wandb", "wandb-server")
    # Its versions are reached by the Kubernetes jobs (the KServe deployer, a KFP register step); the SageMaker
    # pipeline, endpoint and Lambda jobs work with a model package group.
    kubernetes_models_only: ClassVar[bool] = True


Registry = Annotated[SageMakerModelRegistry | VertexModelRegistry | WandbArtifactsRegistry,
                     Field(discriminator="kind")]


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
    schedule: Schedule = Field("cron(0 3 ? * SUN *)", description="Scheduled retraining (default: weekly)")
    image_tag: str = Field(
        "1.0.0", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
        description="Tag of the training and serving images in the stack's ECR repositories. Tags are immutable: "
        "a new image is a new tag, never 'latest'",
    )

    _check_type = field_validator("instance_type")(check_training_instance_type)
    _check_schedule = field_validator("schedule")(check_schedule_expression)
    _pinned = field_validator("image_tag")(check_pinned_tag)


class KubeflowTraining(Strict):
    """Retraining as runs of the model's Kubeflow pipeline (uploaded to KFP as `<model>-retraining`)."""

    kind: Literal["kubeflow-pipelines"] = "kubeflow-pipelines"
    schedule: Schedule = Field("cron(0 3 ? * SUN *)", description="Scheduled retraining (default: weekly)")
    pipeline_parameters: dict[str, str] = Field(default_factory=dict, description="Run parameters of the pipeline")

    _check_schedule = field_validator("schedule")(check_schedule_expression)


class VertexPipelineTraining(Strict):
    """Vertex AI Pipelines: the model's retraining pipeline (KFP IR in the artifacts bucket), submitted by its
    weekly schedule and by its drift monitor (cloud: gcp)."""

    cloud: ClassVar[str] = "gcp"
    kind: Literal["vertex-pipeline"] = "vertex-pipeline"
    machine_type: str = Field("n1-standard-4", description="Compute Engine machine type of the training step")
    approval: Literal["manual", "automatic"] = Field(
        "manual", description="Whether a trained version gets the alias `approved` (which the deployer puts live) "
        "from the pipeline or from a reviewer"
    )
    schedule: Schedule = Field("cron(0 3 ? * SUN *)", description="Scheduled retraining (default: weekly); "
                               "Cloud Scheduler runs it, so it must translate to unix cron")
    image_tag: str = Field(
        "1.0.0", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
        description="Tag of the training image in the stack's Artifact Registry repository; never 'latest'",
    )

    _check_type = field_validator("machine_type")(check_gce_machine_type)
    _check_schedule = field_validator("schedule")(check_unix_cron)
    _pinned = field_validator("image_tag")(check_pinned_tag)


ModelTraining = Annotated[
    Annotated[SageMakerPipelineTraining, Tag("sagemaker-pipeline")]
    | Annotated[KubeflowTraining, Tag("kubeflow-pipelines")]
    | Annotated[VertexPipelineTraining, Tag("vertex-pipeline")],
    kind_or("sagemaker-pipeline"),
]


# ---------------------------------------------------------------- serving
class AbTest(Strict):
    """`ab` mode: a champion and a challenger variant; the A/B controller ramps, rolls back or promotes."""

    challenger_ramp: list[float] = Field(
        [0.05, 0.25, 0.5],
        min_length=1,
        description="Challenger traffic share at each ramp stage; the first is used when a new model is approved",
    )
    guardrail: GuardrailPolicy = Field(
        default_factory=GuardrailPolicy, description="When the A/B controller rolls back, advances or promotes"
    )
    guardrail_schedule: Schedule = "rate(1 hour)"

    _check_schedule = field_validator("guardrail_schedule")(check_schedule_expression)

    @field_validator("challenger_ramp")
    @classmethod
    def _ramp(cls, ramp: list[float]) -> list[float]:
        if any(not 0 < w < 1 for w in ramp) or ramp != sorted(set(ramp)):
            raise ValueError("challenger_ramp must be increasing shares strictly between 0 and 1")
        return ramp


class BlueGreen(Strict):
    """`single` mode: SageMaker's blue/green deployment of a new version, rolled back when an alarm fires.

    Source: SageMaker "Deployment guardrails" (blue/green traffic shifting with auto-rollback alarms).
    """

    traffic: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"] = "CANARY"
    canary_share: float = Field(0.1, gt=0, lt=1, description="Share of capacity the new fleet takes first "
                                "(CANARY), or per step (LINEAR)")
    wait_minutes: int = Field(10, ge=0, le=60, description="Baking period between traffic shifts")
    termination_wait_minutes: int = Field(5, ge=0, le=60, description="The old fleet is kept this long after")
    max_execution_minutes: int = Field(60, ge=10, le=240)


class Serverless(Strict):
    """`serverless` mode: SageMaker Serverless Inference."""

    memory_size_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    max_concurrency: int = Field(5, ge=1, le=200)
    provisioned_concurrency: int | None = Field(None, ge=1, le=200)

    @model_validator(mode="after")
    def _provisioned(self) -> Serverless:
        if self.provisioned_concurrency is not None and self.provisioned_concurrency > self.max_concurrency:
            raise ValueError("provisioned_concurrency cannot exceed max_concurrency")
        return self


class BatchScoring(Strict):
    """`batch` mode: a scheduled SageMaker Batch Transform of `scoring/<model>/input/` with the latest approved
    version; results go to `scoring/<model>/output/<date>/` in the data bucket."""

    schedule: Schedule = "cron(0 4 * * ? *)"
    instance_type: str = "ml.m5.large"
    instance_count: int = Field(1, ge=1, le=20)
    content_type: Literal["text/csv", "application/json", "application/jsonlines"] = "text/csv"
    split_type: Literal["None", "Line"] = "Line"
    max_payload_mb: int = Field(6, ge=1, le=100)

    _check_type = field_validator("instance_type")(check_sagemaker_instance_type)
    _check_schedule = field_validator("schedule")(check_schedule_expression)


ServingMode = Literal["ab", "single", "serverless", "batch", "none"]


class SageMakerServing(Strict):
    """How a model answers: a real-time endpoint (`ab`, `single`), serverless inference, batch transform, none.

    Each mode's settings have their own section; only the section of the chosen mode is used, so an
    environment overlay may switch the mode alone (e.g. `serverless` in dev).
    """

    kind: Literal["sagemaker-endpoint"] = "sagemaker-endpoint"
    mode: ServingMode = "single"
    instance_type: str = Field("ml.m5.large", description="Real-time modes (ab, single)")
    min_capacity: int = protective(2, "the serving variant can run on one instance (no zone redundancy)",
                                   ge=1, le=100)
    max_capacity: int = Field(4, ge=1, le=100)
    invocations_per_instance: int = Field(
        200, ge=1, description="Target-tracking goal: invocations per instance per minute"
    )
    bootstrap_image: str | None = Field(
        None,
        description="Serving image for the bootstrap model that answers until a model is approved; "
        "default: SageMaker's scikit-learn inference image for the region",
    )
    ab: AbTest = Field(default_factory=AbTest)
    blue_green: BlueGreen = Field(default_factory=BlueGreen)
    serverless: Serverless = Field(default_factory=Serverless)
    batch: BatchScoring = Field(default_factory=BatchScoring)

    _check_type = field_validator("instance_type")(check_sagemaker_instance_type)

    @model_validator(mode="after")
    def _capacity(self) -> SageMakerServing:
        if self.max_capacity < self.min_capacity:
            raise ValueError("max_capacity must be at least min_capacity")
        return self


class KServeServing(Strict):
    """KServe InferenceServices (Standard mode) behind an InferenceGraph Splitter (see README)."""

    kind: Literal["kserve"] = "kserve"
    mode: Literal["ab", "single", "none"] = "single"
    model_format: Literal["sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "onnx"] = "sklearn"
    min_replicas: int = protective(2, "the model can run on one replica (no redundancy)", ge=1, le=100)
    max_replicas: int = Field(4, ge=1, le=100)
    cpu: str = Field("500m", pattern=r"^\d+(\.\d+)?m?$", description="CPU request per replica")
    memory: str = Field("1Gi", pattern=r"^\d+(Mi|Gi)$", description="Memory request per replica")
    cpu_limit: str = Field("1", pattern=r"^\d+(\.\d+)?m?$")
    memory_limit: str = Field("2Gi", pattern=r"^\d+(Mi|Gi)$")
    ab: AbTest = Field(default_factory=AbTest)

    @model_validator(mode="after")
    def _replicas(self) -> KServeServing:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be at least min_replicas")
        return self


class VertexEndpointServing(Strict):
    """A Vertex AI endpoint per served model (`ab`: champion and challenger deployed models, weighted by the A/B
    controller; `single`: one deployed model; `none`: registered and monitored only). Deployed models and the
    traffic split are run-time state (the endpoint ignores `trafficSplit`); the capacity is a deployment
    resource pool declared here. Predictions are logged to a BigQuery dataset of the model (cloud: gcp)."""

    cloud: ClassVar[str] = "gcp"
    kind: Literal["vertex-endpoint"] = "vertex-endpoint"
    mode: Literal["ab", "single", "none"] = "single"
    machine_type: str = Field("n1-standard-4", description="Compute Engine machine type of the replicas")
    min_replicas: int = protective(2, "the model can run on one replica (no zone redundancy)", ge=1, le=100)
    max_replicas: int = Field(4, ge=1, le=1000)
    ab: AbTest = Field(default_factory=AbTest)
    prediction_log_sampling_rate: float = Field(
        1.0, gt=0, le=1, description="Share of requests and responses logged to the BigQuery prediction log"
    )
    prediction_log_retention_days: int = protective(
        365, "prediction logs are deleted sooner", ge=1, le=3650
    )
    deploy_schedule: Schedule = Field(
        "rate(15 minutes)", description="How often the deployer looks for a newly approved version (the Vertex AI "
        "Model Registry emits no approval event)",
    )

    _check_type = field_validator("machine_type")(check_gce_machine_type)
    _check_deploy = field_validator("deploy_schedule")(check_unix_cron)

    @field_validator("ab")
    @classmethod
    def _guardrail_on_cloud_scheduler(cls, ab: AbTest) -> AbTest:
        check_unix_cron(ab.guardrail_schedule)
        return ab

    @model_validator(mode="after")
    def _replicas(self) -> VertexEndpointServing:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be at least min_replicas")
        return self


ModelServing = Annotated[
    Annotated[SageMakerServing, Tag("sagemaker-endpoint")] | Annotated[KServeServing, Tag("kserve")]
    | Annotated[VertexEndpointServing, Tag("vertex-endpoint")],
    kind_or("sagemaker-endpoint"),
]


# ---------------------------------------------------------------- monitoring
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
LogRetention = Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827]


class LambdaDriftMonitoring(Strict):
    """The stack's alert topic and the logs of the project's own functions (drift monitor, A/B controller)."""

    kind: Literal["lambda-drift"] = "lambda-drift"
    alert_emails: list[Email] = Field(default_factory=list, description="Subscribed to every alert of the stack")
    log_retention_days: LogRetention = protective(90, "logs are kept for less than 90 days")


class CloudMonitoring(Strict):
    """Cloud Monitoring: an email notification channel per address, alert policies, and a log bucket keeping
    the runtime jobs' logs (cloud: gcp)."""

    cloud: ClassVar[str] = "gcp"
    kind: Literal["cloud-monitoring"] = "cloud-monitoring"
    alert_emails: list[Email] = Field(default_factory=list, description="Notified of every alert of the stack")
    log_retention_days: int = protective(90, "logs are kept for less than 90 days", ge=1, le=3650)


Monitoring = Annotated[LambdaDriftMonitoring | CloudMonitoring, Field(discriminator="kind")]


class ModelMonitoring(Strict):
    """A model's drift monitor (scheduled) and its alarms; alerts go to the stack's alert topic."""

    kind: Literal["lambda-drift"] = "lambda-drift"
    drift_schedule: Schedule = "cron(0 6 * * ? *)"
    drift: DriftConfig = Field(
        default_factory=DriftConfig,
        description="Drift tests, thresholds and rules (per-feature overrides, multiple-testing correction)",
    )
    retrain_on_drift: bool = True
    endpoint_5xx_alarm_threshold: int = Field(5, ge=1)
    latency_p99_ms_alarm_threshold: int = Field(1000, ge=1)

    _check_schedule = field_validator("drift_schedule")(check_schedule_expression)


class KubernetesMonitoring(Strict):
    """The model's drift monitor (and A/B controller, in `ab` mode) as Kubernetes CronJobs."""

    kind: Literal["kubernetes-cronjob"] = "kubernetes-cronjob"
    drift_schedule: Schedule = "cron(0 6 * * ? *)"
    drift: DriftConfig = Field(default_factory=DriftConfig,
                               description="Drift tests, thresholds and rules (per-feature overrides, corrections)")
    retrain_on_drift: bool = True

    _check_schedule = field_validator("drift_schedule")(check_schedule_expression)


class CloudRunDriftMonitoring(Strict):
    """A model's drift monitor as a Cloud Run job on a Cloud Scheduler schedule, and its alert policies (errors,
    p99 latency of its endpoint) on the stack's notification channels (cloud: gcp)."""

    cloud: ClassVar[str] = "gcp"
    kind: Literal["cloud-run-drift"] = "cloud-run-drift"
    drift_schedule: Schedule = "cron(0 6 * * ? *)"
    drift: DriftConfig = Field(
        default_factory=DriftConfig,
        description="Drift tests, thresholds and rules (per-feature overrides, multiple-testing correction)",
    )
    retrain_on_drift: bool = True
    endpoint_5xx_alarm_threshold: int = Field(5, ge=1, description="Prediction errors per 5 minutes")
    latency_p99_ms_alarm_threshold: int = Field(1000, ge=1)

    _check_schedule = field_validator("drift_schedule")(check_unix_cron)


ModelMonitor = Annotated[
    Annotated[ModelMonitoring, Tag("lambda-drift")] | Annotated[KubernetesMonitoring, Tag("kubernetes-cronjob")]
    | Annotated[CloudRunDriftMonitoring, Tag("cloud-run-drift")],
    kind_or("lambda-drift"),
]


# ---------------------------------------------------------------- automation
class Automation(Strict):
    timezone: str = Field("UTC", description="IANA time zone in which the cron(...) and at(...) schedules run")

    _check_timezone = field_validator("timezone")(check_timezone)


class KubernetesAutomation(Strict):
    """The model's daily ingestion as a Kubernetes CronJob (default for a model without this section: Lambda)."""

    kind: Literal["kubernetes-cronjob"] = "kubernetes-cronjob"


ModelAutomation = Annotated[KubernetesAutomation, Field(discriminator="kind")]


# ---------------------------------------------------------------- cluster (Kubernetes platforms)
class Taint(Strict):
    key: str = Field(pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9._-]{1,63}$")
    value: str = ""
    effect: Literal["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"] = "NO_SCHEDULE"


class NodeGroup(Strict):
    """A managed node group: on-demand or spot, CPU or GPU (NVIDIA AMI), scaled between min and max."""

    instance_types: list[str] = Field(["m6i.large"], min_length=1)
    capacity: Literal["on-demand", "spot"] = "on-demand"
    gpu: bool = Field(False, description="NVIDIA GPU nodes (EKS-optimized AL2023 NVIDIA AMI)")
    min_size: int = Field(2, ge=0, le=100)
    desired_size: int = Field(2, ge=0, le=100, description="Initial size; the autoscaler owns it afterwards")
    max_size: int = Field(4, ge=1, le=100)
    disk_size_gb: int = Field(50, ge=20, le=16384)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)

    @field_validator("instance_types")
    @classmethod
    def _ec2_types(cls, types: list[str]) -> list[str]:
        for value in types:
            check_ec2_instance_type(value)
        return types

    @model_validator(mode="after")
    def _sizes(self) -> NodeGroup:
        if self.gpu:
            for value in self.instance_types:
                check_ec2_instance_type(value, gpu=True)
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError("node group sizes must satisfy min_size <= desired_size <= max_size")
        return self


def _default_node_groups() -> dict[str, NodeGroup]:
    return {
        "system": NodeGroup(),
        "training": NodeGroup(instance_types=["g5.xlarge", "g6.xlarge"], capacity="spot", gpu=True, min_size=0,
                              desired_size=0, max_size=4, disk_size_gb=100,
                              taints=[Taint(key="nvidia.com/gpu", value="true")]),
    }


class KfpDatabase(Strict):
    engine_version: str = Field("8.4.5", description="RDS MySQL version (KFP's metadata and run store)")
    instance_class: str = Field("db.t4g.small", description="RDS instance class")
    allocated_storage_gb: int = Field(20, ge=20, le=65536)
    multi_az: bool = protective(True, "a single Kubeflow Pipelines database instance: no standby in a second zone")
    deletion_protection: bool = protective(True, "the Kubeflow Pipelines database can be deleted")
    backup_retention_days: int = protective(14, "fewer days of Kubeflow Pipelines database backups", ge=0, le=35)
    log_exports: bool = protective(
        True, "the Kubeflow Pipelines database exports no error or slow-query log to CloudWatch Logs")
    slow_query_seconds: float = Field(1.0, ge=0, le=3600, description="long_query_time: slower statements are "
                                      "logged to the slow-query log")
    enhanced_monitoring: bool = protective(True, "no RDS enhanced monitoring on the Kubeflow Pipelines database")
    performance_insights: bool = protective(True, "no Performance Insights on the Kubeflow Pipelines database")

    _check_class = field_validator("instance_class")(check_rds_instance_class)


class KubeflowPipelinesInstall(Strict):
    """Standalone Kubeflow Pipelines (pinned release) on the cluster: S3 artifacts, encrypted RDS MySQL."""

    database: KfpDatabase = Field(default_factory=KfpDatabase)


KUBERNETES_MODELS_MINOR = 36  # the pinned `kubernetes` client 36.x is generated from Kubernetes release-1.36


class EksCluster(Strict):
    """An EKS cluster with managed node groups, and what runs on it for the whole stack (KFP, KServe, ESO)."""

    kind: Literal["eks"] = "eks"
    kubernetes_version: str = Field("1.33", pattern=r"^1\.\d{2}$", description="Pinned EKS Kubernetes version")
    private_endpoint_only: bool = protective(
        True, "the cluster's API endpoint is also public (limited to public_access_cidrs)")
    public_access_cidrs: list[str] = Field(
        default_factory=list, description="CIDRs allowed to reach a public API endpoint (required when public)")
    control_plane_logs: list[Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]] = Field(
        ["api", "audit", "authenticator", "controllerManager", "scheduler"], min_length=1)
    node_groups: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")], NodeGroup] = Field(
        default_factory=_default_node_groups, min_length=1)
    kubeflow_pipelines: KubeflowPipelinesInstall = Field(default_factory=KubeflowPipelinesInstall)

    @field_validator("kubernetes_version")
    @classmethod
    def _known_version(cls, version: str) -> str:
        # Manifests are checked against the pinned Kubernetes client's OpenAPI models (kubernetes 36 = release-1.36):
        # a newer cluster could serve APIs those models do not know.
        minor = int(version.split(".")[1])
        if minor > KUBERNETES_MODELS_MINOR:
            raise ValueError(f"Kubernetes {version} is newer than the 1.{KUBERNETES_MODELS_MINOR} API the project's "
                             "manifests are checked against; pin 1.33 (the default) or at most "
                             f"1.{KUBERNETES_MODELS_MINOR}")
        return version

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            network = ipaddress.ip_network(cidr, strict=False)
            if network.prefixlen == 0:
                raise ValueError(f"{cidr} opens the cluster API to the whole internet; allow-list your networks")
        return cidrs

    @model_validator(mode="after")
    def _public(self) -> EksCluster:
        if not self.private_endpoint_only and not self.public_access_cidrs:
            raise ValueError("a public cluster endpoint needs public_access_cidrs (the allow-list)")
        return self


Cluster = Annotated[EksCluster, Field(discriminator="kind")]


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
    internet_https_egress: list[Literal["tracking", "training", "serving"]] = Field(
        default_factory=list,
        description="Workloads that may open HTTPS connections to the internet through the NAT gateway (e.g. to "
        "download packages). Default: none; every workload reaches only the VPC endpoints and its own peers",
    )

    _check_cidr = field_validator("cidr")(check_cidr)

    @model_validator(mode="after")
    def _nat_fits(self) -> VpcNetworking:
        if self.nat_gateways > self.availability_zones:
            raise ValueError("nat_gateways cannot exceed availability_zones")
        if self.internet_https_egress and not self.nat_gateways:
            raise ValueError("internet_https_egress needs at least one NAT gateway")
        return self


class GcpVpcNetworking(Strict):
    """A custom-mode VPC with one private subnetwork (Private Google Access): the jobs reach Google APIs without
    external IPs or NAT (cloud: gcp)."""

    cloud: ClassVar[str] = "gcp"
    kind: Literal["gcp-vpc"] = "gcp-vpc"
    cidr: str = Field("10.42.0.0/20", description="Private IPv4 range of the jobs' subnetwork, /16 to /24")
    flow_logs: bool = protective(True, "no VPC flow logs")

    _check_cidr = field_validator("cidr")(check_cidr)


Networking = Annotated[VpcNetworking | GcpVpcNetworking, Field(discriminator="kind")]


# ---------------------------------------------------------------- security
class Security(Strict):
    kms_key_rotation: bool = protective(True, "the KMS key is not rotated")
    kms_deletion_window_days: int = protective(30, "a deleted key can be recovered for fewer days", ge=7, le=30)
    protect_data: bool = protective(
        True, "buckets, database and key are neither protected nor retained when the stack is destroyed"
    )
    tls_only_buckets: bool = protective(True, "buckets accept requests without TLS")
    block_public_access: bool = protective(True, "buckets do not block public access")


# ---------------------------------------------------------------- models
ModelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$", description="Model name (2-20 "
                                 "characters: a-z, 0-9, -); part of every physical name of the model's resources")]
Prefix = Annotated[str, Field(pattern=r"^[a-zA-Z0-9!_.*'()/-]*/$")]


class Dataset(Strict):
    """The model's input data: where it lands, when it is ingested, and the schema it must satisfy."""

    schema_file: str | None = Field(
        None, description="Dataset schema (YAML or JSON: columns with name, type, nullable), relative to the "
        "profile file or else to the built-in profiles' directory (schemas/ shipped with mlopsgen); uploaded to "
        "schemas/<model>/schema.json, which ingestion checks every file against",
    )
    source_prefix: Prefix | None = Field(None, description="Where exports land in the data bucket; "
                                         "default: landing/<model>/")
    ingestion_schedule: Schedule = Field("cron(0 2 * * ? *)", description="Daily data ingestion")

    _check_schedule = field_validator("ingestion_schedule")(check_schedule_expression)


RiskRating = Literal["low", "medium", "high", "unknown"]


class ModelCardSpec(Strict):
    """What the model's SageMaker Model Card says; each approved version's card adds its evaluation metrics
    and drift baseline."""

    owner: str = Field(min_length=1, description="Accountable owner (person or team)")
    description: str = ""
    intended_uses: list[str] = Field(default_factory=list)
    risk_rating: RiskRating = "unknown"
    risk_explanation: str = ""
    limitations: list[str] = Field(default_factory=list)


class ModelSpec(Strict):
    """One model: its data, training, serving mode, monitoring and model card."""

    description: str = ""
    dataset: Dataset = Field(default_factory=Dataset)
    training: ModelTraining = Field(default_factory=SageMakerPipelineTraining)
    serving: ModelServing = Field(default_factory=SageMakerServing)
    monitoring: ModelMonitor = Field(default_factory=ModelMonitoring)
    automation: ModelAutomation | None = Field(
        None, description="Where ingestion runs: absent, Lambda on a schedule; `kubernetes-cronjob`, a CronJob")
    card: ModelCardSpec

    def source_prefix(self, name: str) -> str:
        return self.dataset.source_prefix or f"landing/{name}/"

    @field_validator("training", "serving", "monitoring", mode="before")
    @classmethod
    def _model_kind_of_cloud(cls, value: Any, info: ValidationInfo) -> Any:
        return kind_of_cloud(cls, value, info)

    @model_validator(mode="after")
    def _kinds_go_together(self) -> ModelSpec:
        # A model runs either on SageMaker with Lambda jobs or on Kubernetes with CronJobs, not a mix.
        on_kubernetes = {isinstance(self.training, KubeflowTraining), isinstance(self.serving, KServeServing),
                         isinstance(self.monitoring, KubernetesMonitoring), self.automation is not None}
        if len(on_kubernetes) > 1:
            raise ValueError("training kubeflow-pipelines, serving kserve, monitoring and automation "
                             "kubernetes-cronjob go together (a model runs on SageMaker or on Kubernetes)")
        return self


# ---------------------------------------------------------------- clouds
PLATFORM_CAPABILITIES = ("artifact_store", "tracking", "cluster", "registry", "monitoring", "networking")
MODEL_CAPABILITIES = ("training", "serving", "monitoring")
# The kinds a profile of another cloud gets for the capabilities it leaves out (AWS's are the field defaults).
CLOUD_DEFAULT_KINDS: dict[str, dict[str, str]] = {
    "gcp": {"artifact_store": "gcs", "tracking": "vertex-experiments", "registry": "vertex-model-registry",
            "monitoring": "cloud-monitoring", "networking": "gcp-vpc"},
}
CLOUD_DEFAULT_MODEL_KINDS: dict[str, dict[str, str]] = {
    "gcp": {"training": "vertex-pipeline", "serving": "vertex-endpoint", "monitoring": "cloud-run-drift"},
}


def cloud_of(info: ValidationInfo) -> str:
    """The profile's cloud, which the loader passes as validation context (overlays cannot change it); an
    unknown one is reported by the `cloud` field itself, so the rest validates as AWS."""
    cloud = str((info.context or {}).get("cloud", "aws"))
    return cloud if cloud in REGION_CHECKS else "aws"


def _with_kinds(section: Any, defaults: dict[str, str]) -> Any:
    if not isinstance(section, dict):
        return section
    filled = dict(section)
    for capability, kind in defaults.items():
        current = filled.get(capability)
        if current is None:
            filled[capability] = {"kind": kind}
        elif isinstance(current, dict) and "kind" not in current:
            filled[capability] = {"kind": kind, **current}
    return filled


OTHER_CLOUD_KIND = "kind_of_other_cloud"  # the error type; the loader reports it at the `kind` line


def kind_of_cloud(model: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """Before a capability is parsed: its `kind` must run on the profile's cloud. Checked first, so a kind of
    another cloud is named as such (not reported as unknown fields of a kind it was not meant to be).

    Raises PydanticCustomError `kind_of_other_cloud`."""
    if not isinstance(value, dict) or info.field_name is None:
        return value
    kind, cloud = value.get("kind"), cloud_of(info)
    for member in _models(_members(model.model_fields[info.field_name].annotation)):
        own = getattr(member, "cloud", "aws")
        if _kind_tag(member) == kind and own != cloud:
            raise PydanticCustomError(OTHER_CLOUD_KIND, "kind '{kind}' runs on {own}; this profile's cloud is "
                                      "{cloud}", {"kind": kind, "own": own, "cloud": cloud})
    return value


# ---------------------------------------------------------------- profile
class ProfileBody(Strict):
    """Everything an environment overlay may change: the shared platform once, and each model.

    Validate with context `{"cloud": ...}` (default aws): capabilities left out get that cloud's kinds, and
    every kind must run on it."""

    region: str = Field(
        "us-east-1", validate_default=True,
        description="AWS region (us-east-1) or GCP region (europe-west4), matching the profile's cloud",
    )
    project: str | None = Field(
        None, validate_default=True, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
        description="GCP project id (cloud: gcp only)",
    )
    artifact_store: ArtifactStore = Field(default_factory=S3ArtifactStore)
    tracking: Tracking = Field(default_factory=MlflowOnEcs)
    cluster: Cluster | None = Field(None, description="A Kubernetes cluster for the stack's workloads (kind `eks`)")
    registry: Registry = Field(default_factory=SageMakerModelRegistry)
    monitoring: Monitoring = Field(default_factory=LambdaDriftMonitoring)
    automation: Automation = Field(default_factory=Automation)
    networking: Networking = Field(default_factory=VpcNetworking)
    security: Security = Field(default_factory=Security)
    models: dict[ModelName, ModelSpec] = Field(
        default_factory=dict, description="The models of the stack, by name; each gets its own resources"
    )

    @field_validator("models")
    @classmethod
    def _models_reach_registry(cls, models: dict[str, ModelSpec], info: ValidationInfo) -> dict[str, ModelSpec]:
        registry = info.data.get("registry")
        if getattr(registry, "kubernetes_models_only", False):
            on_sagemaker = sorted(n for n, m in models.items() if not isinstance(m.training, KubeflowTraining))
            if on_sagemaker:
                raise ValueError(f"registry kind {getattr(registry, 'kind', '')!r} serves models on Kubernetes "
                                 f"(training kubeflow-pipelines); model {on_sagemaker[0]!r} runs on SageMaker")
        return models

    @field_validator("models")
    @classmethod
    def _models_apart(cls, models: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
        for a in models:
            for b in models:
                # IAM grants use `<prefix>-<model>-*`: a name extending another would fall inside its grants.
                if a != b and b.startswith(f"{a}-"):
                    raise ValueError(f"model name {b!r} extends {a!r}: one model's grants would cover the other")
        prefixes = {name: spec.source_prefix(name) for name, spec in models.items()}
        for a, pa in prefixes.items():
            for b, pb in prefixes.items():
                if a < b and (pa.startswith(pb) or pb.startswith(pa)):
                    raise ValueError(f"models {a!r} and {b!r} share the data source prefix {min(pa, pb)!r}")
        return models

    @model_validator(mode="before")
    @classmethod
    def _cloud_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        """Capabilities (shared and per model) left out, or written without `kind`, get the cloud's kinds."""
        cloud = cloud_of(info)
        if not isinstance(data, dict) or cloud not in CLOUD_DEFAULT_KINDS:
            return data
        data = _with_kinds(data, CLOUD_DEFAULT_KINDS[cloud])
        models = data.get("models")
        if isinstance(models, dict):
            data["models"] = {name: _with_kinds(model, CLOUD_DEFAULT_MODEL_KINDS[cloud])
                              for name, model in models.items()}
        return data

    @field_validator("region")
    @classmethod
    def _region_of_cloud(cls, value: str, info: ValidationInfo) -> str:
        return check_region(value, cloud_of(info))

    @field_validator("project")
    @classmethod
    def _project_of_cloud(cls, value: str | None, info: ValidationInfo) -> str | None:
        cloud = cloud_of(info)
        if cloud == "gcp" and not value:
            raise ValueError("required when cloud is gcp: the GCP project id")
        if cloud != "gcp" and value:
            raise ValueError(f"only for cloud gcp (this profile's cloud is {cloud})")
        return value

    @field_validator(*PLATFORM_CAPABILITIES, mode="before")
    @classmethod
    def _kind_of_cloud(cls, value: Any, info: ValidationInfo) -> Any:
        return kind_of_cloud(cls, value, info)

    @field_validator("models")
    @classmethod
    def _model_kinds_of_cloud(cls, models: dict[str, ModelSpec], info: ValidationInfo) -> dict[str, ModelSpec]:
        cloud = cloud_of(info)
        for name, model in models.items():
            if cloud == "gcp":  # Cloud Scheduler takes unix cron
                try:
                    check_unix_cron(model.dataset.ingestion_schedule)
                except ValueError as exc:
                    raise ValueError(f"models.{name}.dataset.ingestion_schedule: {exc}") from None
        return models

    # Field validators see the fields declared before them (info.data): an error points at the field's line.
    @field_validator("artifact_store")
    @classmethod
    def _replica_elsewhere(cls, store: Any, info: ValidationInfo) -> Any:
        replica = getattr(store, "replication_region", None)
        if replica and replica == info.data.get("region"):
            raise ValueError("artifact_store.replication_region must differ from the stack's region")
        return store

    @field_validator("registry")
    @classmethod
    def _registry_tracking(cls, registry: Any, info: ValidationInfo) -> Any:
        """A registry that lives in the tracking service (W&B artifacts) needs that tracking kind."""
        kinds = getattr(registry, "tracking_kinds", ())
        tracking = getattr(info.data.get("tracking"), "kind", None)
        if kinds and tracking is not None and tracking not in kinds:
            raise ValueError(f"registry kind {registry.kind!r} keeps versions in W&B: it needs tracking.kind "
                             f"{' or '.join(kinds)}, not {tracking!r}")
        return registry

    @field_validator("tracking")
    @classmethod
    def _certificate_region(cls, tracking: Any, info: ValidationInfo) -> Any:
        arn = getattr(tracking, "certificate_arn", None)
        region = info.data.get("region")
        if arn and region and arn.split(":")[3] != region:
            raise ValueError(f"tracking.certificate_arn is in {arn.split(':')[3]}; a load balancer in {region} "
                             "needs a certificate from the same region")
        return tracking


class Profile(ProfileBody):
    """A stack profile. ``environments`` holds overlays merged over the body for dev, staging and prod."""

    schema_: str | None = Field(None, alias="$schema", description="JSON Schema location, for editors")
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$", description="Profile name, used in tags")
    description: str = ""
    cloud: Literal["aws", "gcp"] = Field(
        "aws", description="The cloud every capability runs on; set once per profile (overlays cannot change it)"
    )
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

