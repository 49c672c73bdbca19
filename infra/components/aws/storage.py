"""S3 storage: private, KMS-encrypted, TLS-only, versioned buckets with lifecycle rules."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, Grantable, StackContext
from infra.profiles.model import S3ArtifactStore


class SecureBucket:
    """One bucket and the resources that make it safe; part of the ArtifactStore component."""

    def __init__(
        self, name: str, physical: pulumi.Input[str], ctx: StackContext, args: S3ArtifactStore,
        key: EncryptionKey, parent: Capability,
    ):
        child = pulumi.ResourceOptions(parent=parent)
        self.name = name
        self.bucket = aws.s3.Bucket(
            name, bucket=physical, force_destroy=not ctx.protect_data, opts=ctx.data_options(parent)
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=self.bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        )
        security = ctx.spec.body.security
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=self.bucket.id,
            block_public_acls=security.block_public_access, block_public_policy=security.block_public_access,
            ignore_public_acls=security.block_public_access, restrict_public_buckets=security.block_public_access,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=self.bucket.id,
            rules=[{
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms", "kms_master_key_id": key.arn,
                },
                "bucket_key_enabled": True,
            }],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled" if args.versioning else "Suspended"}, opts=child,
        )
        rules: list[Any] = [
            {
                "id": "expire-old-versions", "status": "Enabled", "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": args.lifecycle.noncurrent_version_expiration_days},
            },
            {
                "id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
                "abort_incomplete_multipart_upload": {
                    "days_after_initiation": args.lifecycle.abort_incomplete_multipart_days
                },
            },
        ]
        if args.lifecycle.transition_to_infrequent_access_days:
            rules.append({
                "id": "infrequent-access", "status": "Enabled", "filter": {},
                "transitions": [{
                    "days": args.lifecycle.transition_to_infrequent_access_days, "storage_class": "STANDARD_IA",
                }],
            })
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=self.bucket.id, rules=rules, opts=child)
        statements: list[dict[str, Any]] = []
        if security.tls_only_buckets:
            statements.append({
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            })
        statements.append({
            "Sid": "DenyUnencryptedUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        })
        aws.s3.BucketPolicy(
            f"{name}-policy", bucket=self.bucket.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
            # S3 rejects a bucket policy while public access settings are still being applied.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[self.public_access_block]),
        )
        self.arn = self.bucket.arn
        self.id = self.bucket.id

    def objects(self, prefix: str = "") -> pulumi.Output[str]:
        return pulumi.Output.concat(self.bucket.arn, "/", prefix, "*")

    def grant_read(self, role: Grantable, *prefixes: str, grant: str = "read") -> aws.iam.RolePolicy:
        """Read objects under `prefixes` (all objects when none), and list only those prefixes."""
        return role.allow(f"{self.name}-{grant}",
                          self._statements(["s3:GetObject", "s3:GetObjectVersion"], prefixes))

    def grant_read_write(self, role: Grantable, *prefixes: str, grant: str = "read-write") -> aws.iam.RolePolicy:
        return role.allow(f"{self.name}-{grant}", self._statements(
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"], prefixes))

    def _statements(self, actions: list[str], prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
        listing: dict[str, Any] = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": self.bucket.arn}
        if prefixes:  # listing is scoped too: another model's keys are not even visible
            listing["Condition"] = {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}
        return [
            {"Effect": "Allow", "Action": actions,
             "Resource": [self.objects(p) for p in prefixes] if prefixes else self.objects()},
            listing,
            {"Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": self.bucket.arn},
        ]


class ArtifactStore(Capability):
    """Two buckets: `data` (landing, curated, quarantine) and `artifacts` (models, baselines, reports)."""

    capability = "artifact-store"

    def __init__(
        self, name: str, ctx: StackContext, args: S3ArtifactStore, key: EncryptionKey,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:ArtifactStore", name, opts)
        prefix: pulumi.Input[str] = args.bucket_prefix or pulumi.Output.concat(ctx.prefix, "-", ctx.account_id)
        self.data = SecureBucket(
            f"{name}-data", pulumi.Output.concat(prefix, "-data"), ctx, args, key, self
        )
        self.artifacts = SecureBucket(
            f"{name}-artifacts", pulumi.Output.concat(prefix, "-artifacts"), ctx, args, key, self
        )
        self.register_outputs({"dataBucket": self.data.id, "artifactBucket": self.artifacts.id})
