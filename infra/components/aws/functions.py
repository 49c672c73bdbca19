"""Python Lambda functions that run the project's own runtime code (infra/runtime), each with its own role.

They all run the registry's runtime image (see `RuntimeImage`), each with its own handler.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.components.aws.registry import RuntimeImage
from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, Grantable, StackContext, new_role


class PythonFunction:
    """A Lambda function with a dedicated role, an encrypted log group with retention, and KMS-encrypted env."""

    def __init__(
        self, name: str, ctx: StackContext, parent: Capability, *, handler: str, description: str,
        key: EncryptionKey, image: RuntimeImage, environment: dict[str, pulumi.Input[str]],
        log_retention_days: int, timeout: int = 300, memory_mb: int = 1024, ephemeral_storage_mb: int = 512,
    ):
        self.logical = name
        self.physical = physical = ctx.name(name, 64)
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
