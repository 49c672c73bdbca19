"""Python Lambda functions that run the project's own runtime code (infra/runtime), each with its own role."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, Grantable, StackContext, new_role

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the `infra` package
LAMBDA_RUNTIME = "python3.11"
# numpy, scipy and pyarrow for the runtime code, built for Lambda by `make lambda-deps`.
DEPS_LAYER_ZIP = PACKAGE_ROOT.parent / "build" / "lambda" / "runtime-deps.zip"


def runtime_code() -> pulumi.AssetArchive:
    """The `infra.runtime` package as Lambda code; the Pulumi program itself is not shipped."""
    return pulumi.AssetArchive({
        "infra/__init__.py": pulumi.FileAsset(str(PACKAGE_ROOT / "__init__.py")),
        "infra/runtime": pulumi.FileArchive(str(PACKAGE_ROOT / "runtime")),
    })


class RuntimeLayer:
    """The dependency layer every runtime function uses."""

    def __init__(self, ctx: StackContext, parent: Capability):
        self.layer = aws.lambda_.LayerVersion(
            "runtime-deps-layer",
            layer_name=ctx.name("runtime-deps"),
            code=pulumi.FileArchive(str(DEPS_LAYER_ZIP)),
            compatible_runtimes=[LAMBDA_RUNTIME],
            description="numpy, scipy and pyarrow for mlopsgen runtime functions",
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.arn = self.layer.arn


class PythonFunction:
    """A Lambda function with a dedicated role, an encrypted log group with retention, and KMS-encrypted env."""

    def __init__(
        self, name: str, ctx: StackContext, parent: Capability, *, handler: str, description: str,
        key: EncryptionKey, layer: RuntimeLayer, environment: dict[str, pulumi.Input[str]],
        log_retention_days: int, timeout: int = 300, memory_mb: int = 1024,
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
            runtime=LAMBDA_RUNTIME,
            handler=handler,
            code=runtime_code(),
            layers=[layer.arn],
            role=self.role.arn,
            timeout=timeout,
            memory_size=memory_mb,
            kms_key_arn=key.arn,
            environment={"variables": environment},
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[self.log_group]),
        )
        self.arn = self.function.arn
        self.name = self.function.name
