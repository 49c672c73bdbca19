"""Moving models through the endpoint: approved version -> challenger, ramp stages, challenger -> champion.

Why a library and not just the deployer handler: the deployer (on model approval), the A/B controller and the
`simulate` command all change the same endpoint, and must do it the same way.

The endpoint always keeps two production variants, `champion` and `challenger` (autoscaling targets and
metrics are keyed by variant name, so the names never change); what changes is the model behind each:

- `deploy_approved_model`: a SageMaker Model is created from the approved model package's containers (VPC
  settings copied from the champion's model, so the challenger runs in the same network), then a new endpoint
  config with the champion's model unchanged at weight ``1 - ramp[0]`` and the new model on the challenger at
  ``ramp[0]``, the stack's KMS key (else the current config's) and the current config's data capture, and
  UpdateEndpoint. Then the experiment record (stage 0) is written and SNS is told.
- `advance_ramp`: the challenger share moves to the next stage with UpdateEndpointWeightsAndCapacities.
- `promote`: a new config makes the challenger's model the champion (weight 1; the challenger variant keeps
  it at weight 0) and the experiment is concluded as promoted.

Idempotency: model and endpoint-config names are derived from what they contain (the package ARN; a hash of
the config request), existing ones are reused, and each step first looks at the endpoint: a model package that
is already on the challenger (or already champion) is not deployed again, only a missing experiment record
is written. Order is traffic first, then the record, then the alert, as in the A/B controller, so a crash is
healed by the rerun. The champion's instance count never shrinks (the larger of CHAMPION_INSTANCES and what
it runs now, which autoscaling may have raised; on promotion, of what either variant runs); a new challenger
starts on one instance, as it takes only ramp[0] of the traffic, and autoscaling grows it from there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from botocore.exceptions import ClientError

from infra.runtime.abtest.experiment import (
    Experiment,
    ExperimentStatus,
    experiment_key,
    load_experiment,
    save_experiment,
)
from infra.runtime.adapters.traffic import SageMakerVariantTraffic, TrafficController
from infra.runtime.clients import AwsClients

log = logging.getLogger(__name__)

APPROVED = "Approved"
MODEL_PACKAGE_TAG = "mlopsgen:model-package"
DEFAULT_NAMESPACE = "MLOpsGen/ABTest"
NAME_LIMIT = 63  # SageMaker model / endpoint-config names
# Keys of a model package container that CreateModel's ContainerDefinition accepts as they are.
CONTAINER_KEYS = ("ContainerHostname", "Image", "ModelDataUrl", "ModelDataSource", "Environment")


class DeploymentError(RuntimeError):
    """The endpoint, the model package or the experiment record is not in a state this step can act on."""


@dataclass(frozen=True)
class DeploySettings:
    """The deployer's environment contract (see `infra.components.aws.automation`), parsed once.

    Only the endpoint and the decisions bucket are always needed: `advance_ramp` and `promote` also run from
    the A/B controller's or a `simulate` command's environment. Unset, the execution role is required only to
    create a model, and the KMS key and instance type fall back to what the endpoint's current config uses
    (never to a default that would silently drop encryption or change the instance type).
    """

    endpoint_name: str
    decisions_bucket: str
    execution_role_arn: str | None = None
    kms_key_arn: str | None = None
    champion_variant: str = "champion"
    challenger_variant: str = "challenger"
    instance_type: str | None = None
    champion_instances: int = 1
    challenger_instances: int = 1
    ramp: tuple[float, ...] = (0.05, 0.25, 0.5)
    decisions_prefix: str = "experiments"
    metric_namespace: str = DEFAULT_NAMESPACE
    alert_topic_arn: str | None = None
    bootstrap_model: str | None = None  # what the endpoint serves before any model was approved
    mode: str = "ab"  # the model's serving mode: ab, single, serverless or batch (see DEPLOY_MODES)
    deployment_config: dict[str, Any] | None = None  # `single`: blue/green with auto-rollback alarms
    model_card: str | None = None  # the model's card; each approved version gets `<card>-v<version>`

    def __post_init__(self) -> None:
        if self.champion_variant == self.challenger_variant:
            raise ValueError("CHAMPION_VARIANT and CHALLENGER_VARIANT must differ")
        if not self.ramp or any(not 0.0 < w < 1.0 for w in self.ramp):
            raise ValueError(f"RAMP must be challenger shares strictly between 0 and 1: {list(self.ramp)}")
        if any(b <= a for a, b in zip(self.ramp, self.ramp[1:], strict=False)):
            raise ValueError(f"RAMP stages must increase: {list(self.ramp)}")
        if self.champion_instances < 1 or self.challenger_instances < 1:
            raise ValueError("instance counts must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeploySettings:
        env = os.environ if env is None else env
        mode = env.get("SERVING_MODE") or "ab"
        # A batch model has no endpoint: its SageMaker models are named after NAME_BASE instead.
        endpoint_key = "NAME_BASE" if mode == "batch" else "ENDPOINT_NAME"
        missing = [k for k in (endpoint_key, "DECISIONS_BUCKET") if not env.get(k)]
        if missing:
            raise ValueError(f"missing required environment variable(s): {', '.join(missing)}")
        deployment_json = env.get("DEPLOYMENT_CONFIG", "").strip()
        try:
            deployment = json.loads(deployment_json) if deployment_json else None
        except ValueError as exc:
            raise ValueError(f"DEPLOYMENT_CONFIG must be JSON, got {deployment_json!r}") from exc
        ramp_json = env.get("RAMP", "").strip()
        try:
            ramp = tuple(float(w) for w in json.loads(ramp_json)) if ramp_json else cls.ramp
        except (ValueError, TypeError) as exc:
            raise ValueError(f"RAMP must be a JSON list of numbers, got {ramp_json!r}") from exc
        return cls(
            endpoint_name=env[endpoint_key],
            execution_role_arn=env.get("EXECUTION_ROLE_ARN") or None,
            decisions_bucket=env["DECISIONS_BUCKET"],
            kms_key_arn=env.get("KMS_KEY_ARN") or None,
            champion_variant=env.get("CHAMPION_VARIANT") or "champion",
            challenger_variant=env.get("CHALLENGER_VARIANT") or "challenger",
            instance_type=env.get("INSTANCE_TYPE") or None,
            champion_instances=int(env.get("CHAMPION_INSTANCES") or 1),
            ramp=ramp,
            decisions_prefix=env.get("DECISIONS_PREFIX", "experiments"),
            metric_namespace=env.get("METRIC_NAMESPACE") or DEFAULT_NAMESPACE,
            alert_topic_arn=env.get("ALERT_TOPIC_ARN") or None,
            bootstrap_model=env.get("BOOTSTRAP_MODEL") or None,
            mode=mode,
            deployment_config=deployment,
            model_card=env.get("MODEL_CARD") or None,
        )

    def split(self, challenger_share: float) -> dict[str, float]:
        return {self.champion_variant: 1.0 - challenger_share, self.challenger_variant: challenger_share}


class DeployDependencies(AwsClients):
    """AWS clients, the traffic controller and the clock; injectable, created on first use (never at import)."""

    def __init__(self, *, traffic: TrafficController | None = None, **clients: Any) -> None:
        super().__init__(**clients)
        self._traffic = traffic

    @property
    def traffic(self) -> TrafficController:
        """Weight changes go through the A/B controller's adapter (it waits out `Updating` endpoints)."""
        if self._traffic is None:
            self._traffic = SageMakerVariantTraffic(self.sagemaker)
        return self._traffic


# ------------------------------------------------------------------------------------------------- naming
def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def sagemaker_name(base: str, *parts: str) -> str:
    """`<base>-<parts>` within SageMaker's 63 characters; `base` is cut, never the distinguishing parts.

    The base is the endpoint name (`<stack prefix>-endpoint`), so the names stay inside the deployer's IAM
    grant on `model/<prefix>-*` and `endpoint-config/<prefix>-*`.
    """
    suffix = "-" + "-".join(p for p in parts if p)
    return base[: NAME_LIMIT - len(suffix)] + suffix


def model_name_for(settings: DeploySettings, package: Mapping[str, Any]) -> str:
    """One SageMaker Model per model package: `<endpoint>-v<version>-<hash of the package ARN>`."""
    arn = str(package["ModelPackageArn"])
    version = package.get("ModelPackageVersion")
    label = f"v{version}" if version is not None else "pkg"
    return sagemaker_name(settings.endpoint_name, label, _digest(arn, 8))


# ------------------------------------------------------------------------------------------ endpoint state
@dataclass(frozen=True)
class EndpointState:
    """What the endpoint runs now: its config's variant specs and the live variant summaries."""

    endpoint_name: str
    status: str
    config_name: str
    variants: dict[str, dict[str, Any]]  # ProductionVariant specs of the current config, by name
    live: dict[str, dict[str, Any]]  # DescribeEndpoint ProductionVariantSummary, by name
    data_capture: dict[str, Any] | None
    kms_key: str | None

    def model_of(self, variant: str) -> str:
        try:
            return str(self.variants[variant]["ModelName"])
        except KeyError:
            raise DeploymentError(
                f"endpoint {self.endpoint_name} (config {self.config_name}) has no variant {variant!r}; "
                f"it has {sorted(self.variants)}"
            ) from None

    def instances(self, variant: str) -> int:
        """Instances the variant runs now (0 if unknown)."""
        live = self.live.get(variant, {})
        spec = self.variants.get(variant, {})
        counts = [live.get("CurrentInstanceCount"), live.get("DesiredInstanceCount"), spec.get("InitialInstanceCount")]
        return max((int(c) for c in counts if c is not None), default=0)


def read_endpoint(sagemaker: Any, endpoint_name: str) -> EndpointState:
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    config_name = endpoint["EndpointConfigName"]
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    return EndpointState(
        endpoint_name=endpoint_name,
        status=str(endpoint.get("EndpointStatus", "")),
        config_name=config_name,
        variants={v["VariantName"]: dict(v) for v in config.get("ProductionVariants", [])},
        live={v["VariantName"]: dict(v) for v in endpoint.get("ProductionVariants", [])},
        data_capture=config.get("DataCaptureConfig") or None,
        kms_key=config.get("KmsKeyId") or None,
    )


def _not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationException" and "could not find" in str(error.get("Message", "")).lower()


# ------------------------------------------------------------------------------------- models and configs
def ensure_model(
    settings: DeploySettings, deps: DeployDependencies, package: Mapping[str, Any], network_from: str
) -> str:
    """Create the Model of a model package (reused if it exists); VPC settings from model `network_from`."""
    name = model_name_for(settings, package)
    try:
        deps.sagemaker.describe_model(ModelName=name)
        return name
    except ClientError as exc:
        if not _not_found(exc):
            raise
    if not settings.execution_role_arn:
        raise DeploymentError("EXECUTION_ROLE_ARN is needed to create a model")
    containers = [
        {k: c[k] for k in CONTAINER_KEYS if c.get(k) is not None}
        for c in package.get("InferenceSpecification", {}).get("Containers", [])
    ]
    if not containers or any("Image" not in c for c in containers):
        raise DeploymentError(f"model package {package['ModelPackageArn']} has no containers with an image")
    reference = deps.sagemaker.describe_model(ModelName=network_from)
    request: dict[str, Any] = {
        "ModelName": name,
        "ExecutionRoleArn": settings.execution_role_arn,
        "Tags": [{"Key": MODEL_PACKAGE_TAG, "Value": str(package["ModelPackageArn"])}],
    }
    if len(containers) == 1:
        request["PrimaryContainer"] = containers[0]
    else:
        request["Containers"] = containers  # an inference pipeline, containers run in order
    if reference.get("VpcConfig"):
        request["VpcConfig"] = reference["VpcConfig"]
    if reference.get("EnableNetworkIsolation") is not None:
        request["EnableNetworkIsolation"] = bool(reference["EnableNetworkIsolation"])
    deps.sagemaker.create_model(**request)
    log.info("created model %s from %s", name, package["ModelPackageArn"])
    return name


def _variant(
    base: Mapping[str, Any], name: str, model: str, instance_type: str | None, count: int, weight: float
) -> dict[str, Any]:
    """A ProductionVariant: the current spec's other settings kept, model, type, count and weight replaced."""
    instance_type = instance_type or base.get("InstanceType")
    if not instance_type:
        raise DeploymentError(f"no instance type for variant {name}: set INSTANCE_TYPE")
    spec = {k: v for k, v in base.items() if k != "ServerlessConfig"}
    spec.update(
        VariantName=name,
        ModelName=model,
        InstanceType=instance_type,
        InitialInstanceCount=count,
        InitialVariantWeight=float(weight),
    )
    return spec


def ensure_config(
    settings: DeploySettings,
    deps: DeployDependencies,
    state: EndpointState,
    *,
    champion: tuple[str, int],
    challenger: tuple[str, int],
    challenger_weight: float,
    label: str,
    tags: Sequence[Mapping[str, str]] = (),
) -> str:
    """Create (or reuse) the endpoint config for this split; its name is a hash of its content.

    `champion` / `challenger` are (model name, instance count). Each variant keeps the other settings of its
    current spec; the KMS key is the stack's (else the current config's), data capture the current config's.
    """
    variants = [
        _variant(
            state.variants.get(settings.champion_variant, {}),
            settings.champion_variant,
            champion[0],
            settings.instance_type,
            champion[1],
            1.0 - challenger_weight,
        ),
        _variant(
            state.variants.get(settings.challenger_variant, {}),
            settings.challenger_variant,
            challenger[0],
            settings.instance_type,
            challenger[1],
            challenger_weight,
        ),
    ]
    request: dict[str, Any] = {"ProductionVariants": variants}
    kms_key = settings.kms_key_arn or state.kms_key
    if kms_key:
        request["KmsKeyId"] = kms_key
    if state.data_capture:
        request["DataCaptureConfig"] = state.data_capture
    return _create_config(settings, deps, request, label, tags)


def _create_config(
    settings: DeploySettings, deps: DeployDependencies, request: dict[str, Any], label: str,
    tags: Sequence[Mapping[str, str]],
) -> str:
    """Create (or reuse) an endpoint config from `request`; its name is a hash of the request."""
    name = sagemaker_name(settings.endpoint_name, label, _digest(json.dumps(request, sort_keys=True), 10))
    try:
        deps.sagemaker.describe_endpoint_config(EndpointConfigName=name)
        return name  # same name, same content: an earlier run created it
    except ClientError as exc:
        if not _not_found(exc):
            raise
    deps.sagemaker.create_endpoint_config(EndpointConfigName=name, Tags=list(tags), **request)
    log.info("created endpoint config %s", name)
    return name


# ------------------------------------------------------------------------------------------------- steps
def _alert(settings: DeploySettings, deps: DeployDependencies, subject: str, body: Mapping[str, Any]) -> bool:
    if not settings.alert_topic_arn:
        return False
    deps.sns.publish(
        TopicArn=settings.alert_topic_arn, Subject=subject[:100], Message=json.dumps(body, indent=2, default=str)
    )
    return True


def _archive(settings: DeploySettings, deps: DeployDependencies, previous: Experiment) -> str:
    """Keep a replaced record next to its decisions: `<prefix>/<endpoint>/<experiment_id>/experiment.json`."""
    key = "/".join(
        p
        for p in (
            settings.decisions_prefix.strip("/"),
            settings.endpoint_name,
            previous.experiment_id,
            "experiment.json",
        )
        if p
    )
    deps.s3.put_object(
        Bucket=settings.decisions_bucket,
        Key=key,
        Body=previous.model_dump_json(indent=2).encode(),
        ContentType="application/json",
    )
    return key


def _load(settings: DeploySettings, deps: DeployDependencies) -> Experiment | None:
    return load_experiment(deps.s3, settings.decisions_bucket, settings.decisions_prefix, settings.endpoint_name)


def _start_experiment(
    settings: DeploySettings,
    deps: DeployDependencies,
    *,
    challenger: str,
    champion: str,
    previous: Experiment | None,
) -> Experiment:
    """Write a new RUNNING record at stage 0; a record it replaces is archived first, never lost."""
    now = deps.clock()
    if previous is not None:
        archived = _archive(settings, deps, previous)
        log.info("experiment %s (%s) replaced; archived at %s", previous.experiment_id, previous.status.value, archived)
    experiment = Experiment(
        experiment_id=f"{challenger}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        endpoint_name=settings.endpoint_name,
        challenger_model=challenger,
        champion_model=champion,
        started_at=now,
        stage_started_at=now,
        ramp=list(settings.ramp),
    )
    save_experiment(deps.s3, settings.decisions_bucket, settings.decisions_prefix, experiment)
    return experiment


def deploy_approved_model(settings: DeploySettings, deps: DeployDependencies, model_package_arn: str) -> dict[str, Any]:
    """Put an approved model package on the challenger at the first ramp stage (at most once per package)."""
    package = deps.sagemaker.describe_model_package(ModelPackageName=model_package_arn)
    approval = package.get("ModelApprovalStatus")
    base: dict[str, Any] = {"endpoint_name": settings.endpoint_name, "model_package_arn": model_package_arn}
    if approval != APPROVED:  # the event may be stale: approved, then rejected before this ran
        return {**base, "status": "not_approved", "changed": False, "approval_status": approval}

    model = model_name_for(settings, package)
    base["model_name"] = model
    state = read_endpoint(deps.sagemaker, settings.endpoint_name)
    current = _load(settings, deps)
    on_champion = state.model_of(settings.champion_variant)
    on_challenger = state.model_of(settings.challenger_variant)

    if on_champion == model:
        return {**base, "status": "already_champion", "changed": False, "endpoint_config": state.config_name}
    if on_challenger == model:
        # Deployed before (a repeated or retried event). Heal a record lost to a crash after UpdateEndpoint.
        record_written = current is None or current.challenger_model != model
        if current is None or current.challenger_model != model:
            current = _start_experiment(settings, deps, challenger=model, champion=on_champion, previous=current)
        return {
            **base,
            "status": "already_deployed",
            "changed": False,
            "endpoint_config": state.config_name,
            "experiment_id": current.experiment_id,
            "record_written": record_written,
        }

    if state.status != "InService":
        raise DeploymentError(f"endpoint {settings.endpoint_name} is {state.status}; retry when InService")
    champion = on_champion
    promoted = current is not None and current.status is ExperimentStatus.PROMOTED
    if promoted and current is not None and current.challenger_model == on_challenger:
        champion = on_challenger  # promoted by weights only (the A/B controller): the winner is champion now

    ensure_model(settings, deps, package, network_from=champion)
    if settings.bootstrap_model is not None and champion == settings.bootstrap_model:
        return _replace_bootstrap(settings, deps, state, model, model_package_arn, base)
    share = settings.ramp[0]
    config = ensure_config(
        settings,
        deps,
        state,
        champion=(champion, max(settings.champion_instances, state.instances(settings.champion_variant))),
        challenger=(model, settings.challenger_instances),
        challenger_weight=share,
        label="ab",
        tags=[{"Key": MODEL_PACKAGE_TAG, "Value": model_package_arn}],
    )
    deps.sagemaker.update_endpoint(EndpointName=settings.endpoint_name, EndpointConfigName=config)
    experiment = _start_experiment(settings, deps, challenger=model, champion=champion, previous=current)
    result = {
        **base,
        "status": "deployed",
        "changed": True,
        "champion_model": champion,
        "endpoint_config": config,
        "previous_endpoint_config": state.config_name,
        "weights": settings.split(share),
        "experiment_id": experiment.experiment_id,
        "experiment_key": experiment_key(settings.decisions_prefix, settings.endpoint_name),
        "metric_namespace": settings.metric_namespace,
        "replaced_experiment": current.experiment_id if current is not None else None,
    }
    result["notified"] = _alert(
        settings, deps, f"Model deployed: {settings.endpoint_name} challenger at {share:.0%}", result
    )
    log.info("deployed %s on %s (config %s)", model, settings.endpoint_name, config)
    return result


def _replace_bootstrap(
    settings: DeploySettings, deps: DeployDependencies, state: EndpointState, model: str, package_arn: str,
    base: dict[str, Any],
) -> dict[str, Any]:
    """The first approved model takes all traffic: there is nothing to A/B test the bootstrap model against
    (it only answers that no model is approved). The challenger variant stays, at weight 0, for the next one."""
    config = ensure_config(
        settings,
        deps,
        state,
        champion=(model, max(settings.champion_instances, state.instances(settings.champion_variant))),
        challenger=(model, settings.challenger_instances),
        challenger_weight=0.0,
        label="first",
        tags=[{"Key": MODEL_PACKAGE_TAG, "Value": package_arn}],
    )
    deps.sagemaker.update_endpoint(EndpointName=settings.endpoint_name, EndpointConfigName=config)
    result = {
        **base,
        "status": "first_model",
        "changed": True,
        "champion_model": model,
        "endpoint_config": config,
        "previous_endpoint_config": state.config_name,
        "weights": settings.split(0.0),
    }
    result["notified"] = _alert(settings, deps, f"First model live: {settings.endpoint_name}", result)
    log.info("first model %s replaces the bootstrap model on %s", model, settings.endpoint_name)
    return result


def advance_ramp(
    settings: DeploySettings, deps: DeployDependencies, *, expected_stage: int | None = None
) -> dict[str, Any]:
    """Move the running experiment's challenger to its next ramp stage's share (the record's ramp).

    `expected_stage`: act only if the experiment is at that stage, so a retried call does not skip a stage.
    """
    experiment = _load(settings, deps)
    if experiment is None:
        raise DeploymentError(f"no experiment on endpoint {settings.endpoint_name}")
    base = {
        "endpoint_name": settings.endpoint_name,
        "experiment_id": experiment.experiment_id,
        "stage": experiment.stage,
    }
    if experiment.concluded:
        return {**base, "status": f"already_{experiment.status.value}", "changed": False}
    if expected_stage is not None and experiment.stage != expected_stage:
        return {**base, "status": "stage_mismatch", "changed": False, "expected_stage": expected_stage}
    if experiment.final_stage:
        return {**base, "status": "final_stage", "changed": False}
    state = read_endpoint(deps.sagemaker, settings.endpoint_name)
    _check_challenger(settings, state, experiment)
    share = experiment.ramp[experiment.stage + 1]
    weights = settings.split(share)
    deps.traffic.set_weights(settings.endpoint_name, weights)
    experiment.stage += 1
    experiment.stage_started_at = deps.clock()
    experiment = Experiment.model_validate(experiment.model_dump())
    save_experiment(deps.s3, settings.decisions_bucket, settings.decisions_prefix, experiment)
    result = {**base, "status": "advanced", "changed": True, "stage": experiment.stage, "weights": weights}
    result["notified"] = _alert(settings, deps, f"A/B ramp: {settings.endpoint_name} challenger at {share:.0%}", result)
    return result


def promote(settings: DeploySettings, deps: DeployDependencies) -> dict[str, Any]:
    """Make the challenger's model the champion of a new endpoint config and conclude the experiment.

    The challenger variant keeps the same model at weight 0, so both variants (and their autoscaling
    targets) stay, and the next approved model only has to replace the challenger's model.
    """
    experiment = _load(settings, deps)
    if experiment is None:
        raise DeploymentError(f"no experiment on endpoint {settings.endpoint_name}")
    if experiment.status in (ExperimentStatus.ROLLED_BACK, ExperimentStatus.HALTED):
        raise DeploymentError(
            f"experiment {experiment.experiment_id} was {experiment.status.value}; its challenger is not promoted"
        )
    winner = experiment.challenger_model
    base = {"endpoint_name": settings.endpoint_name, "experiment_id": experiment.experiment_id, "model_name": winner}
    state = read_endpoint(deps.sagemaker, settings.endpoint_name)
    previous = state.model_of(settings.champion_variant)
    if previous == winner:
        if experiment.status is not ExperimentStatus.PROMOTED:  # crash after UpdateEndpoint: finish the record
            _conclude(settings, deps, experiment, f"{winner} is the champion (config {state.config_name})")
        return {**base, "status": "already_promoted", "changed": False, "endpoint_config": state.config_name}
    _check_challenger(settings, state, experiment)
    if state.status != "InService":
        raise DeploymentError(f"endpoint {settings.endpoint_name} is {state.status}; retry when InService")
    # The champion variant takes all traffic: at least the instances either variant runs now.
    champion_count = max(
        settings.champion_instances,
        state.instances(settings.champion_variant),
        state.instances(settings.challenger_variant),
    )
    config = ensure_config(
        settings,
        deps,
        state,
        champion=(winner, champion_count),
        challenger=(winner, settings.challenger_instances),
        challenger_weight=0.0,
        label="champion",
    )
    deps.sagemaker.update_endpoint(EndpointName=settings.endpoint_name, EndpointConfigName=config)
    _conclude(settings, deps, experiment, f"{winner} promoted to champion (config {config}), replacing {previous}")
    result = {
        **base,
        "status": "promoted",
        "changed": True,
        "endpoint_config": config,
        "previous_champion": previous,
        "weights": {settings.champion_variant: 1.0, settings.challenger_variant: 0.0},
    }
    result["notified"] = _alert(settings, deps, f"Model promoted: {settings.endpoint_name}", result)
    return result


def _check_challenger(settings: DeploySettings, state: EndpointState, experiment: Experiment) -> None:
    running = state.model_of(settings.challenger_variant)
    if running != experiment.challenger_model:
        raise DeploymentError(
            f"experiment {experiment.experiment_id} is for {experiment.challenger_model} but the challenger "
            f"variant of {settings.endpoint_name} runs {running}"
        )


def _conclude(settings: DeploySettings, deps: DeployDependencies, experiment: Experiment, reason: str) -> None:
    """Mark the record promoted; a conclusion the A/B controller already wrote (its statistics) is kept."""
    experiment.status = ExperimentStatus.PROMOTED
    experiment.concluded_at = experiment.concluded_at or deps.clock()
    experiment.conclusion = experiment.conclusion or reason
    save_experiment(
        deps.s3,
        settings.decisions_bucket,
        settings.decisions_prefix,
        Experiment.model_validate(experiment.model_dump()),
    )


# ------------------------------------------------------------------------------ single, serverless, batch
def deploy_replacing(settings: DeploySettings, deps: DeployDependencies, model_package_arn: str) -> dict[str, Any]:
    """`single` and `serverless` modes: the approved version replaces the model of the endpoint's one variant.

    The variant keeps its other settings (instance type and count, or its ServerlessConfig). With a
    deployment config (`single`), UpdateEndpoint runs SageMaker's blue/green deployment, which shifts traffic
    to the new fleet and rolls back by itself if one of the config's alarms fires.
    """
    package = deps.sagemaker.describe_model_package(ModelPackageName=model_package_arn)
    base: dict[str, Any] = {"endpoint_name": settings.endpoint_name, "model_package_arn": model_package_arn}
    if package.get("ModelApprovalStatus") != APPROVED:
        return {**base, "status": "not_approved", "changed": False,
                "approval_status": package.get("ModelApprovalStatus")}
    model = model_name_for(settings, package)
    base["model_name"] = model
    state = read_endpoint(deps.sagemaker, settings.endpoint_name)
    variant = settings.champion_variant
    current = state.model_of(variant)
    if current == model:
        return {**base, "status": "already_deployed", "changed": False, "endpoint_config": state.config_name}
    if state.status != "InService":
        raise DeploymentError(f"endpoint {settings.endpoint_name} is {state.status}; retry when InService")
    ensure_model(settings, deps, package, network_from=current)
    spec = dict(state.variants[variant], ModelName=model)
    if "ServerlessConfig" not in spec:  # the champion's instance count never shrinks
        spec["InitialInstanceCount"] = max(settings.champion_instances, state.instances(variant))
        if settings.instance_type:
            spec["InstanceType"] = settings.instance_type
    request: dict[str, Any] = {"ProductionVariants": [spec]}
    kms_key = None if "ServerlessConfig" in spec else settings.kms_key_arn or state.kms_key
    if kms_key:
        request["KmsKeyId"] = kms_key
    if state.data_capture:
        request["DataCaptureConfig"] = state.data_capture
    config = _create_config(settings, deps, request, "live", [{"Key": MODEL_PACKAGE_TAG, "Value": model_package_arn}])
    update: dict[str, Any] = {"EndpointName": settings.endpoint_name, "EndpointConfigName": config}
    if settings.deployment_config:
        update["DeploymentConfig"] = settings.deployment_config
    deps.sagemaker.update_endpoint(**update)
    blue_green = bool(settings.deployment_config)
    result = {
        **base, "status": "deployed", "changed": True, "mode": settings.mode, "endpoint_config": config,
        "previous_endpoint_config": state.config_name, "previous_model": current, "weights": {variant: 1.0},
        "blue_green": blue_green,
    }
    how = "blue/green with auto-rollback alarms" if blue_green else "replaced"
    result["notified"] = _alert(settings, deps, f"Model deployed: {settings.endpoint_name} ({how})", result)
    log.info("deployed %s on %s (%s)", model, settings.endpoint_name, how)
    return result


def prepare_batch(settings: DeploySettings, deps: DeployDependencies, model_package_arn: str) -> dict[str, Any]:
    """`batch` mode: create the SageMaker model of the approved version now (so a broken package fails here,
    not at night); the next scheduled batch transform scores with the latest approved version."""
    package = deps.sagemaker.describe_model_package(ModelPackageName=model_package_arn)
    base: dict[str, Any] = {"model_package_arn": model_package_arn}
    if package.get("ModelApprovalStatus") != APPROVED:
        return {**base, "status": "not_approved", "changed": False,
                "approval_status": package.get("ModelApprovalStatus")}
    if not settings.bootstrap_model:
        raise DeploymentError("BOOTSTRAP_MODEL (the network reference of batch models) is not set")
    model = ensure_model(settings, deps, package, network_from=settings.bootstrap_model)
    return {**base, "status": "batch_ready", "changed": True, "model_name": model, "mode": "batch"}


# Serving mode -> how an approved version goes live.
DEPLOY_MODES: dict[str, Callable[[DeploySettings, DeployDependencies, str], dict[str, Any]]] = {
    "ab": deploy_approved_model,
    "single": deploy_replacing,
    "serverless": deploy_replacing,
    "batch": prepare_batch,
}


def deploy(settings: DeploySettings, deps: DeployDependencies, model_package_arn: str) -> dict[str, Any]:
    """Deploy an approved version by the model's serving mode, then write the version's model card."""
    try:
        step = DEPLOY_MODES[settings.mode]
    except KeyError:
        raise DeploymentError(
            f"unknown SERVING_MODE {settings.mode!r}; expected one of {sorted(DEPLOY_MODES)}") from None
    result = step(settings, deps, model_package_arn)
    if settings.model_card and result.get("status") not in ("not_approved",):
        result["model_card"] = write_version_card(settings, deps, model_package_arn)
    return result


# ------------------------------------------------------------------------------------------ model cards
METRIC_PROPERTY = "metric:"  # CustomerMetadataProperties `metric:<name>` = value: the version's evaluation


def version_card_content(base: Mapping[str, Any], package: Mapping[str, Any]) -> dict[str, Any]:
    """The model's card content plus this version: its id, evaluation metrics and drift baseline reference.

    Metrics are the package's `metric:<name>` customer metadata (numbers); the baseline is its `baseline`
    property (written by the pipeline's RegisterModel step). Sections follow SageMaker's model card schema.
    """
    content = json.loads(json.dumps(base))
    properties = package.get("CustomerMetadataProperties") or {}
    overview = content.setdefault("model_overview", {})
    overview["model_id"] = str(package["ModelPackageArn"])
    if package.get("ModelPackageVersion") is not None:
        overview["model_version"] = float(package["ModelPackageVersion"])
    metrics = []
    for key, value in sorted(properties.items()):
        if key.startswith(METRIC_PROPERTY):
            try:
                metrics.append({"name": key.removeprefix(METRIC_PROPERTY), "type": "number", "value": float(value)})
            except ValueError:
                continue
    if metrics:
        content["evaluation_details"] = [{"name": "registration", "metric_groups": [
            {"name": "evaluation", "metric_data": metrics}]}]
    if properties.get("baseline"):
        info = content.setdefault("additional_information", {})
        info["custom_details"] = {**info.get("custom_details", {}), "drift_baseline": properties["baseline"]}
    return content


def write_version_card(settings: DeploySettings, deps: DeployDependencies, model_package_arn: str) -> str:
    """Create `<card>-v<version>` (once per version) from the model's card; returns its name."""
    assert settings.model_card is not None
    package = deps.sagemaker.describe_model_package(ModelPackageName=model_package_arn)
    label = f"v{package.get('ModelPackageVersion', _digest(model_package_arn, 8))}"
    name = f"{settings.model_card[: NAME_LIMIT - len(label) - 1]}-{label}"
    try:
        deps.sagemaker.describe_model_card(ModelCardName=name)
        return name  # written by an earlier (retried) invocation
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("ResourceNotFound", "ValidationException"):
            raise
    base = json.loads(deps.sagemaker.describe_model_card(ModelCardName=settings.model_card)["Content"])
    request: dict[str, Any] = {
        "ModelCardName": name, "ModelCardStatus": "PendingReview",
        "Content": json.dumps(version_card_content(base, package), sort_keys=True),
        "Tags": [{"Key": MODEL_PACKAGE_TAG, "Value": model_package_arn}],
    }
    if settings.kms_key_arn:
        request["SecurityConfig"] = {"KmsKeyId": settings.kms_key_arn}
    deps.sagemaker.create_model_card(**request)
    return name
