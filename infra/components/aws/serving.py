"""Serving: a SageMaker endpoint with champion and challenger variants, autoscaling and data capture.

First deploy: no model has been trained yet, so both variants start on the bootstrap model (it answers
"no model approved"). Afterwards the deployer function (see automation) moves newly approved versions onto
the challenger by swapping endpoint configurations; Pulumi ignores that field so `pulumi up` never reverts it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.components.aws.network import Network
from infra.components.aws.registry import ModelRegistry
from infra.components.aws.security import EncryptionKey
from infra.components.aws.storage import ArtifactStore
from infra.components.base import Capability, StackContext, new_role
from infra.profiles.model import SageMakerEndpointServing

CHAMPION, CHALLENGER = "champion", "challenger"
BOOTSTRAP_KEY = "bootstrap/model.tar.gz"
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


class ModelEndpoint(Capability):
    """The real-time endpoint and its scaling; variant weights are moved at run time by the A/B controller."""

    capability = "serving"

    def __init__(
        self, name: str, ctx: StackContext, args: SageMakerEndpointServing, *, key: EncryptionKey,
        store: ArtifactStore, registry: ModelRegistry, network: Network,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:ModelEndpoint", name, opts)
        self.role = new_role(ctx, f"{name}-execution-role", "serving", self, "sagemaker.amazonaws.com")
        store.artifacts.grant_read_write(self.role)
        key.grant_use(self.role)
        registry.grant_pull(self.role)
        self.security_group = network.security_group(f"{name}-sg", "SageMaker endpoint containers")

        image = args.bootstrap_image or aws.sagemaker.get_prebuilt_ecr_image_output(
            repository_name="sagemaker-scikit-learn", image_tag="1.2-1-cpu-py3", region=ctx.region
        ).registry_path
        artifact = aws.s3.BucketObjectv2(
            f"{name}-bootstrap-model",
            bucket=store.artifacts.id,
            key=BOOTSTRAP_KEY,
            source=pulumi.FileAsset(str(bootstrap_archive())),
            server_side_encryption="aws:kms",
            kms_key_id=key.arn,
            opts=self.child(),
        )
        self.model = aws.sagemaker.Model(
            f"{name}-bootstrap",
            name=ctx.name("bootstrap-model"),
            execution_role_arn=self.role.arn,
            primary_container={
                "image": image,
                "model_data_url": pulumi.Output.concat("s3://", store.artifacts.id, "/", artifact.key),
                "environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                },
            },
            vpc_config={"subnets": network.subnet_ids, "security_group_ids": [self.security_group.id]},
            enable_network_isolation=False,
            opts=self.child(depends_on=[artifact]),
        )
        self.endpoint_name = ctx.name("endpoint")
        self.config = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            name=ctx.name("endpoint-bootstrap"),
            kms_key_arn=key.arn,
            production_variants=[
                {
                    "variant_name": CHAMPION, "model_name": self.model.name, "instance_type": args.instance_type,
                    "initial_instance_count": args.min_capacity, "initial_variant_weight": 1.0,
                },
                {  # weight 0 until the deployer puts an approved version here
                    "variant_name": CHALLENGER, "model_name": self.model.name, "instance_type": args.instance_type,
                    "initial_instance_count": 1, "initial_variant_weight": 0.0,
                },
            ],
            data_capture_config={
                "enable_capture": True,
                "initial_sampling_percentage": 100,
                "destination_s3_uri": pulumi.Output.concat("s3://", store.artifacts.id, "/datacapture/"),
                "kms_key_id": key.arn,
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
            },
            opts=self.child(),
        )
        self.endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=self.endpoint_name,
            endpoint_config_name=self.config.name,
            # The deployer swaps endpoint configurations when a model is approved; Pulumi must not revert it.
            opts=self.child(ignore_changes=["endpointConfigName"]),
        )
        for variant, floor in ((CHAMPION, args.min_capacity), (CHALLENGER, 1)):
            target = aws.appautoscaling.Target(
                f"{name}-{variant}-scaling",
                service_namespace="sagemaker",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                resource_id=pulumi.Output.concat("endpoint/", self.endpoint.name, "/variant/", variant),
                min_capacity=floor,
                max_capacity=args.max_capacity,
                opts=self.child(),
            )
            aws.appautoscaling.Policy(
                f"{name}-{variant}-invocations",
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
