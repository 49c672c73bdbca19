"""The stack's customer-managed KMS key: everything at rest is encrypted with it."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.base import Capability, Grantable, StackContext, policy_json
from infra.profiles.model import Security


class EncryptionKey(Capability):
    """A rotating KMS key with an alias; services that write logs, alarms and messages may use it."""

    capability = "security"

    def __init__(self, name: str, ctx: StackContext, args: Security, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:aws:EncryptionKey", name, opts)
        account = ctx.account_id
        root = pulumi.Output.concat("arn:aws:iam::", account, ":root")
        statements: list[dict[str, Any]] = [
            {  # the account administers the key through IAM, as in AWS's default key policy
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{ctx.region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": pulumi.Output.concat(
                            "arn:aws:logs:", ctx.region, ":", account, ":*"
                        )
                    }
                },
            },
            {  # CloudWatch alarms and EventBridge publish to the encrypted alert topic
                "Sid": "AlarmsPublishToEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
        ]
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{ctx.prefix}: encryption at rest for the MLOps platform",
            enable_key_rotation=args.kms_key_rotation,
            deletion_window_in_days=args.kms_deletion_window_days,
            policy=policy_json(statements),
            opts=ctx.data_options(self),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias", name=f"alias/{ctx.prefix}", target_key_id=self.key.key_id, opts=self.child()
        )
        self.arn = self.key.arn
        self.register_outputs({"keyArn": self.key.arn})

    def grant_use(self, role: Grantable) -> aws.iam.RolePolicy:
        """Encrypt and decrypt data with this key, nothing else."""
        return role.allow(
            "kms",
            [{
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                "Resource": self.key.arn,
            }],
        )
