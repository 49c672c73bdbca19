"""Python Lambda functions that run the project's own runtime code (infra/runtime), each with its own role.

The functions share one container image: numpy, scipy and pyarrow together exceed Lambda's 250 MB limit for
zip packages, images may be 10 GB. `pulumi up` builds the image from infra/runtime/Dockerfile and pushes it to
the stack's `runtime` ECR repository (Docker with buildx is needed on the deploying machine).
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from infra.components.aws.registry import ModelRegistry
from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, Grantable, StackContext, new_role

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = "infra/runtime/Dockerfile"


class RuntimeImage:
    """The runtime functions' image, built from this repository and pushed to ECR by `pulumi up`."""

    def __init__(self, ctx: StackContext, registry: ModelRegistry, parent: Capability):
        repository = registry.repositories["runtime"]
        auth = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        self.image = docker_build.Image(
            "runtime-image",
            context={"location": str(REPO_ROOT)},
            dockerfile={"location": str(REPO_ROOT / DOCKERFILE)},
            platforms=[docker_build.Platform.LINUX_AMD64],
            push=True,
            tags=[pulumi.Output.concat(repository.repository_url, ":latest")],
            registries=[{
                "address": repository.repository_url,
                "username": auth.user_name,
                "password": pulumi.Output.secret(auth.password),
            }],
            opts=pulumi.ResourceOptions(parent=parent),
        )
        # The digest-qualified reference: a rebuilt image changes it, so the functions are updated.
        self.uri = self.image.ref


class PythonFunction:
    """A Lambda function with a dedicated role, an encrypted log group with retention, and KMS-encrypted env."""

    def __init__(
        self, name: str, ctx: StackContext, parent: Capability, *, handler: str, description: str,
        key: EncryptionKey, image: RuntimeImage, environment: dict[str, pulumi.Input[str]],
        log_retention_days: int, timeout: int = 300, memory_mb: int = 1024, ephemeral_storage_mb: int = 512,
    ):
        self.logical = name
        physical = ctx.name(name, 64)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{physical}", retention_in_days=log_retention_days,
            kms_key_id=key.arn, opts=pulumi.ResourceOptions(parent=parent),
        )
        self.role: Grantable = new_role(ctx, f"{name}-role", name, parent, "lambda.amazonaws.com")
        self.role.allow("logs", [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": pulumi.Output.concat(self.log_group.arn, ":*"),
        }])
        key.grant_use(self.role)
        self.function = aws.lambda_.Function(
            name,
            name=physical,
            description=description,
            package_type="Image",
            image_uri=image.uri,
            image_config={"commands": [handler]},
            architectures=["x86_64"],
            role=self.role.arn,
            timeout=timeout,
            memory_size=memory_mb,
            ephemeral_storage={"size": ephemeral_storage_mb},
            kms_key_arn=key.arn,
            environment={"variables": environment},
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[self.log_group]),
        )
        self.arn = self.function.arn
        self.name = self.function.name
