"""Python Lambda functions that run the project's own runtime code (infra/runtime), each with its own role.

They all run the registry's runtime image (see `RuntimeImage`), each with its own handler. Every function is
traced (X-Ray), capped by reserved concurrency, sends events it could not process to an encrypted dead-letter
queue, and raises an alarm on errors and on dead letters: a failed scheduled run is never silently dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.registry import RuntimeImage
from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, Grantable, StackContext, new_role

if TYPE_CHECKING:
    from infra.components.aws.network import Network

# Events Lambda could not deliver after its retries wait here for 14 days (SQS's maximum) for someone to look.
DLQ_RETENTION_S = 14 * 24 * 3600


class PythonFunction:
    """A Lambda function with a dedicated role, an encrypted log group with retention, KMS-encrypted env, a
    dead-letter queue, X-Ray tracing, reserved concurrency and error alarms to `alarm_topic`."""

    def __init__(
        self, name: str, ctx: StackContext, parent: Capability, *, handler: str, description: str,
        key: EncryptionKey, image: RuntimeImage, environment: dict[str, pulumi.Input[str]],
        log_retention_days: int, alarm_topic: pulumi.Input[str] | None = None, timeout: int = 300,
        memory_mb: int = 1024,
        ephemeral_storage_mb: int = 512, reserved_concurrency: int = 1,
        network: Network | None = None, security_group: aws.ec2.SecurityGroup | None = None,
    ):
        self.logical = name
        self._parent = parent
        self.physical = physical = ctx.name(name, 64)
        child = pulumi.ResourceOptions(parent=parent)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{physical}", retention_in_days=log_retention_days,
            kms_key_id=key.arn, opts=child,
        )
        self.dead_letters = aws.sqs.Queue(
            f"{name}-dlq", name=f"{physical}-dlq"[:80], kms_master_key_id=key.arn,
            kms_data_key_reuse_period_seconds=300, message_retention_seconds=DLQ_RETENTION_S, opts=child,
        )
        self.role: Grantable = new_role(ctx, f"{name}-role", name, parent, "lambda.amazonaws.com")
        self.role.allow("logs", [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": pulumi.Output.concat(self.log_group.arn, ":*"),
        }])
        self.role.allow("dead-letters-and-tracing", [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": self.dead_letters.arn},
            # X-Ray's write calls have no resource-level permissions in IAM.
            {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"},
        ])
        key.grant_use(self.role)
        vpc: Any = None
        if network is not None and security_group is not None:
            self.role.allow("vpc", network.network_interface_statements("lambda.amazonaws.com"))
            vpc = {"subnet_ids": network.subnet_ids, "security_group_ids": [security_group.id]}
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
            dead_letter_config={"target_arn": self.dead_letters.arn},
            tracing_config={"mode": "Active"},
            # Scheduled runs must not overlap (and a runaway caller cannot use the account's concurrency).
            reserved_concurrent_executions=reserved_concurrency,
            vpc_config=vpc,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[self.log_group]),
        )
        self.arn = self.function.arn
        self.name = self.function.name
        if alarm_topic is not None:
            self.add_alarms(alarm_topic)

    def add_alarms(self, topic: pulumi.Input[str]) -> None:
        """Alarms to `topic` on errors and on dead letters (for functions built before the alert topic exists)."""
        name = self.logical
        alarm: dict[str, Any] = {
            "alarm_actions": [topic], "ok_actions": [topic], "treat_missing_data": "notBreaching", "period": 3600,
            "evaluation_periods": 1, "threshold": 1, "comparison_operator": "GreaterThanOrEqualToThreshold",
            "opts": pulumi.ResourceOptions(parent=self._parent),
        }
        aws.cloudwatch.MetricAlarm(
            f"{name}-errors", name=f"{self.physical}-errors"[:255], namespace="AWS/Lambda", metric_name="Errors",
            dimensions={"FunctionName": self.name}, statistic="Sum",
            alarm_description=f"The {name} function failed", **alarm,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-dead-letters", name=f"{self.physical}-dead-letters"[:255], namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible", dimensions={"QueueName": self.dead_letters.name},
            statistic="Maximum", alarm_description=f"Events the {name} function could not process", **alarm,
        )

    def grant_dead_letters(self, role: Grantable) -> aws.iam.RolePolicy:
        """Let a scheduler role put what it could not deliver into this function's dead-letter queue."""
        return role.allow(f"{self.logical}-dead-letters", [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": self.dead_letters.arn},
        ])
