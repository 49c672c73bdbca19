"""Serving, per model and per mode: a real-time endpoint (`ab`: champion and challenger variants; `single`: one
variant replaced by SageMaker's blue/green deployment with auto-rollback alarms), serverless inference, or a
scheduled batch transform.

First deploy: no model has been trained yet, so the endpoint starts on the bootstrap model (it answers
"no model approved"). Afterwards the model's deployer function (see automation) puts newly approved versions on
the endpoint by swapping endpoint configurations; Pulumi ignores that field so `pulumi up` never reverts it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.functions import PythonFunction
from infra.components.aws.network import Network
from infra.components.aws.registry import ModelGroup, ModelRegistry, RuntimeImage
from infra.components.aws.security import EncryptionKey
from infra.components.aws.storage import ArtifactStore
from infra.components.base import Capability, Grantable, ModelScope, StackContext, new_role
from infra.profiles.model import BlueGreen, ModelMonitoring, SageMakerServing

CHAMPION, CHALLENGER, PRIMARY = "champion", "challenger", "primary"
BOOTSTRAP_SOURCE = Path(__file__).resolve().parents[2] / "runtime" / "bootstrap_model" / "inference.py"


def cache_dir() -> Path:
    """Where generated build inputs go: the user's cache (XDG), never the installed package or the project."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlopsgen"


def bootstrap_archive() -> Path:
    """A reproducible model.tar.gz holding code/inference.py (same bytes for the same source), named by its
    content hash so every project on a machine uses the same file and a changed source gets a new one."""
    payload = BOOTSTRAP_SOURCE.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("code/inference.py")
        info.size, info.mtime, info.mode = len(payload), 0, 0o644
        tar.addfile(info, io.BytesIO(payload))
    data = gzip.compress(buffer.getvalue(), mtime=0)  # a gzip header stamped with the time would change the bytes
    target = cache_dir() / f"bootstrap-model-{hashlib.sha256(data).hexdigest()[:16]}.tar.gz"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target




@dataclass(frozen=True)
class Variant:
    """A production variant the endpoint starts with; `instances` None means serverless."""

    name: str
    weight: float
    instances: int | None


# Each real-time mode's variants (the deployer keeps these names: autoscaling and metrics are keyed by them).
MODE_VARIANTS: dict[str, Callable[[SageMakerServing], list[Variant]]] = {
    "ab": lambda a: [Variant(CHAMPION, 1.0, a.min_capacity), Variant(CHALLENGER, 0.0, 1)],  # challenger: 0
    "single": lambda a: [Variant(PRIMARY, 1.0, a.min_capacity)],
    "serverless": lambda a: [Variant(PRIMARY, 1.0, None)],
}


def _snake(value: Any) -> Any:
    """An AWS API (PascalCase) structure as Pulumi Python inputs (snake_case keys)."""
    if isinstance(value, dict):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): _snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def deployment_config(args: BlueGreen, rollback_alarms: list[str]) -> dict[str, Any]:
    """SageMaker's DeploymentConfig (API shape) for a blue/green update rolled back by `rollback_alarms`.

    Source: SageMaker API reference, DeploymentConfig / BlueGreenUpdatePolicy / TrafficRoutingConfig.
    """
    routing: dict[str, Any] = {"Type": args.traffic, "WaitIntervalInSeconds": args.wait_minutes * 60}
    step = {"Type": "CAPACITY_PERCENT", "Value": round(args.canary_share * 100)}
    if args.traffic == "CANARY":
        routing["CanarySize"] = step
    elif args.traffic == "LINEAR":
        routing["LinearStepSize"] = step
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": args.termination_wait_minutes * 60,
            "MaximumExecutionTimeoutInSeconds": args.max_execution_minutes * 60,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in rollback_alarms]},
    }


class ServingRole:
    """The SageMaker execution role of a model's containers: its own artifacts, the images, the key."""

    def __init__(self, name: str, ctx: StackContext, model: ModelScope, parent: Capability, *, key: EncryptionKey,
                 store: ArtifactStore, registry: ModelRegistry, writes: tuple[str, ...] = ()):
        self.role = new_role(ctx, f"{name}-execution-role", f"{model.name}-serving", parent,
                             "sagemaker.amazonaws.com")
        store.artifacts.grant_read(self.role, model.prefix("models"))
        if writes:
            store.artifacts.grant_read_write(self.role, *writes)
        key.grant_use(self.role)
        registry.grant_pull(self.role)


def bootstrap_model(
    name: str, ctx: StackContext, model: ModelScope, parent: Capability, *, args: SageMakerServing,
    role: Grantable, key: EncryptionKey, store: ArtifactStore, network: Network,
    security_group: Any,
) -> aws.sagemaker.Model:
    """The model that answers "no model approved" until a version is approved (and lends its network to the
    models the deployer creates)."""
    image = args.bootstrap_image or aws.sagemaker.get_prebuilt_ecr_image_output(
        repository_name="sagemaker-scikit-learn", image_tag="1.2-1-cpu-py3", region=ctx.region
    ).registry_path
    artifact = aws.s3.BucketObjectv2(
        f"{name}-bootstrap-model",
        bucket=store.artifacts.id,
        key=f"{model.prefix('models')}bootstrap/model.tar.gz",
        source=pulumi.FileAsset(str(bootstrap_archive())),
        server_side_encryption="aws:kms",
        kms_key_id=key.arn,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return aws.sagemaker.Model(
        f"{name}-bootstrap",
        name=model.physical("bootstrap"),
        execution_role_arn=role.arn,
        primary_container={
            "image": image,
            "model_data_url": pulumi.Output.concat("s3://", store.artifacts.id, "/", artifact.key),
            "environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
        vpc_config={"subnets": network.subnet_ids, "security_group_ids": [security_group.id]},
        enable_network_isolation=True,  # it answers from its own code: no network calls from the container
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[artifact]),
    )


class ModelEndpoint(Capability):
    """A model's real-time or serverless endpoint, its scaling and its health alarms (5xx, p99 latency).

    In `single` mode the 5xx and latency alarms are also the blue/green deployment's auto-rollback alarms.
    """

    capability = "serving"

    def __init__(
        self, name: str, ctx: StackContext, model: ModelScope, args: SageMakerServing, *, key: EncryptionKey,
        store: ArtifactStore, registry: ModelRegistry, network: Network, topic: aws.sns.Topic,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:ModelEndpoint", name, opts)
        self.mode = args.mode
        self.variants = MODE_VARIANTS[args.mode](args)
        capture = model.prefix("datacapture")
        serverless = any(v.instances is None for v in self.variants)
        self.role = ServingRole(name, ctx, model, self, key=key, store=store, registry=registry,
                                writes=() if serverless else (capture,)).role
        self.security_group = network.security_group(f"{name}-sg", f"SageMaker endpoint of {model.name}", self,
                                                     workload="serving")
        self.model = bootstrap_model(name, ctx, model, self, args=args, role=self.role, key=key, store=store,
                                     network=network, security_group=self.security_group)
        self.endpoint_name = model.base
        production_variants: list[Any] = []
        for v in self.variants:
            variant: dict[str, Any] = {"variant_name": v.name, "model_name": self.model.name,
                                       "initial_variant_weight": v.weight}
            if v.instances is None:
                variant["serverless_config"] = {
                    "memory_size_in_mb": args.serverless.memory_size_mb,
                    "max_concurrency": args.serverless.max_concurrency,
                    **({"provisioned_concurrency": args.serverless.provisioned_concurrency}
                       if args.serverless.provisioned_concurrency else {}),
                }
            else:
                variant.update(instance_type=args.instance_type, initial_instance_count=v.instances)
            production_variants.append(variant)
        config_args: dict[str, Any] = {}
        if not serverless:  # Serverless Inference does not support data capture
            config_args["data_capture_config"] = {
                "enable_capture": True,
                "initial_sampling_percentage": 100,
                "destination_s3_uri": pulumi.Output.concat("s3://", store.artifacts.id, "/", capture),
                "kms_key_id": key.arn,
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
            }
        self.config = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            name=model.physical("bootstrap-config"),
            kms_key_arn=None if serverless else key.arn,  # serverless endpoints take no KMS key for volumes
            production_variants=production_variants,
            opts=self.child(),
            **config_args,
        )
        self.alarms = self._health_alarms(name, ctx, model, topic)
        self.deployment: dict[str, Any] | None = None
        endpoint_args: dict[str, Any] = {}
        if args.mode == "single":
            self.deployment = deployment_config(args.blue_green, list(self.alarms))
            endpoint_args["deployment_config"] = _snake(self.deployment)
        self.endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=self.endpoint_name,
            endpoint_config_name=self.config.name,
            # The deployer swaps endpoint configurations when a model is approved; Pulumi must not revert it.
            opts=self.child(ignore_changes=["endpointConfigName"], depends_on=list(self.alarms.values())),
            **endpoint_args,
        )
        for v in self.variants:
            if v.instances is None:
                continue
            floor = args.min_capacity if v.name != CHALLENGER else 1
            target = aws.appautoscaling.Target(
                f"{name}-{v.name}-scaling",
                service_namespace="sagemaker",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                resource_id=pulumi.Output.concat("endpoint/", self.endpoint.name, "/variant/", v.name),
                min_capacity=floor,
                max_capacity=args.max_capacity,
                opts=self.child(),
            )
            aws.appautoscaling.Policy(
                f"{name}-{v.name}-invocations",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={
                    "target_value": float(args.invocations_per_instance),
                    "predefined_metric_specification": {
                        "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
                    },
                    "scale_in_cooldown": 300,
                    "scale_out_cooldown": 60,
                },
                opts=self.child(),
            )
        self.register_outputs({"endpointName": self.endpoint.name, "roleArn": self.role.arn})

    def _health_alarms(self, name: str, ctx: StackContext, model: ModelScope,
                       topic: aws.sns.Topic) -> dict[str, aws.cloudwatch.MetricAlarm]:
        """Alarms by physical name (known before creation, so the deployment config can name them)."""
        monitoring = model.spec.monitoring
        assert isinstance(monitoring, ModelMonitoring)  # the profile model pairs SageMaker serving with it
        alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for v in self.variants:
            dims = {"EndpointName": self.endpoint_name, "VariantName": v.name}
            checks: tuple[tuple[str, dict[str, Any]], ...] = (
                ("5xx", dict(metric_name="Invocation5XXErrors", statistic="Sum", evaluation_periods=1,
                             threshold=monitoring.endpoint_5xx_alarm_threshold,
                             comparison_operator="GreaterThanOrEqualToThreshold",
                             alarm_description=f"{model.name} {v.name} variant returns server errors")),
                ("latency", dict(metric_name="ModelLatency", extended_statistic="p99", evaluation_periods=3,
                                 threshold=monitoring.latency_p99_ms_alarm_threshold * 1000,
                                 comparison_operator="GreaterThanThreshold",
                                 alarm_description=f"{model.name} {v.name} p99 model latency above "
                                 f"{monitoring.latency_p99_ms_alarm_threshold} ms")),
            )
            for suffix, kwargs in checks:
                physical = model.physical(f"{v.name}-{suffix}", 255)
                alarms[physical] = aws.cloudwatch.MetricAlarm(
                    f"{name}-{v.name}-{suffix}", name=physical, namespace="AWS/SageMaker", dimensions=dims,
                    period=300, alarm_actions=[topic.arn], ok_actions=[topic.arn], treat_missing_data="notBreaching",
                    opts=self.child(), **kwargs,
                )
        return alarms


class BatchScoring(Capability):
    """`batch` mode: a scheduled SageMaker Batch Transform with the model's latest approved version.

    The model's batch-transform function (scheduled; the schedule passes the model name) creates the SageMaker
    model of the latest approved package and starts a transform job over `scoring/<model>/input/`, results to
    `scoring/<model>/output/<date>/`; the job runs as the model's serving role.
    """

    capability = "serving"
    mode = "batch"
    variants: list[Variant] = []
    endpoint_name = None
    deployment = None

    def __init__(
        self, name: str, ctx: StackContext, model: ModelScope, args: SageMakerServing, *, key: EncryptionKey,
        store: ArtifactStore, registry: ModelRegistry, network: Network, group: ModelGroup, image: RuntimeImage,
        log_retention_days: int, opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:BatchScoring", name, opts)
        batch = args.batch
        self.input_prefix, self.output_prefix = model.prefix("scoring") + "input/", model.prefix("scoring") + "output/"
        self.role = ServingRole(name, ctx, model, self, key=key, store=store, registry=registry).role
        store.data.grant_read(self.role, self.input_prefix, grant="scoring-input")
        store.data.grant_read_write(self.role, self.output_prefix, grant="scoring-output")
        self.security_group = network.security_group(f"{name}-sg", f"Batch transform jobs of {model.name}", self,
                                                     workload="serving")
        self.model = bootstrap_model(name, ctx, model, self, args=args, role=self.role, key=key, store=store,
                                     network=network, security_group=self.security_group)
        self.function = PythonFunction(
            f"{model.name}-batch-transform", ctx, self, handler="infra.runtime.handlers.batch_transform.handler",
            description=f"Scores scoring/{model.name}/input/ with the latest approved {model.name} version",
            key=key, image=image, log_retention_days=log_retention_days, timeout=300, memory_mb=512,
            environment={
                "MODEL": model.name,
                "MODEL_PACKAGE_GROUP": group.name,
                "NAME_BASE": model.base,
                "EXECUTION_ROLE_ARN": self.role.arn,
                "NETWORK_FROM_MODEL": self.model.name,
                "KMS_KEY_ARN": key.arn,
                "INPUT_URI": pulumi.Output.concat("s3://", store.data.id, "/", self.input_prefix),
                "OUTPUT_URI": pulumi.Output.concat("s3://", store.data.id, "/", self.output_prefix),
                "INSTANCE_TYPE": batch.instance_type,
                "INSTANCE_COUNT": str(batch.instance_count),
                "CONTENT_TYPE": batch.content_type,
                "SPLIT_TYPE": batch.split_type,
                "MAX_PAYLOAD_MB": str(batch.max_payload_mb),
            },
        )
        group.grant_read(self.function.role)
        sagemaker_arn = pulumi.Output.concat("arn:aws:sagemaker:", ctx.region, ":", ctx.account_id, ":")
        self.function.role.allow("transform", [
            {"Effect": "Allow",
             "Action": ["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateTransformJob",
                        "sagemaker:DescribeTransformJob", "sagemaker:AddTags"],
             "Resource": [pulumi.Output.concat(sagemaker_arn, "model/", model.base, "-*"),
                          pulumi.Output.concat(sagemaker_arn, "transform-job/", model.base, "-*")]},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": self.role.arn,
             "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        ])
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        self.register_outputs({"functionName": self.function.name, "roleArn": self.role.arn})

