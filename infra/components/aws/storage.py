"""S3 storage: private, KMS-encrypted, TLS-only, versioned buckets with lifecycle rules."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, Grantable, StackContext, new_role, policy_json
from infra.profiles.model import S3ArtifactStore

# Accounts that deliver Application Load Balancer access logs in the regions that predate the log-delivery
# service principal (Elastic Load Balancing user guide, "Enable access logs for your Application Load Balancer").
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "eu-west-1": "156460612806", "eu-west-2": "652711504416",
    "eu-west-3": "009996457667", "eu-central-1": "054676820928", "eu-north-1": "897822967062",
    "ap-northeast-1": "582318560864", "ap-northeast-2": "600734575887", "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266", "ap-south-1": "718504428378", "ca-central-1": "985666609251",
    "sa-east-1": "507241528517",
}
ALB_LOG_PREFIX = "alb"


class SecureBucket:
    """One bucket and the resources that make it safe; part of the ArtifactStore component.

    `log_to`: the bucket that receives this bucket's S3 server access logs. `log_delivery`: this bucket receives
    access logs itself; S3 and Elastic Load Balancing deliver only to SSE-S3 buckets, so it is encrypted with
    S3-managed keys instead of the stack's KMS key and admits the two delivery services.
    """

    def __init__(
        self, name: str, physical: pulumi.Input[str], ctx: StackContext, args: S3ArtifactStore,
        key: EncryptionKey | aws.kms.Key, parent: Capability, *, log_to: SecureBucket | None = None,
        log_delivery: bool = False, provider: aws.Provider | None = None,
    ):
        child = pulumi.ResourceOptions(parent=parent, provider=provider)
        self.name = name
        self.bucket = aws.s3.Bucket(
            name, bucket=physical, force_destroy=not ctx.protect_data,
            opts=pulumi.ResourceOptions.merge(ctx.data_options(parent), pulumi.ResourceOptions(provider=provider)),
        )
        self.arn: pulumi.Output[str] = self.bucket.arn
        self.id: pulumi.Output[str] = self.bucket.id
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
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}} if log_delivery else {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms", "kms_master_key_id": key.arn,
                },
                "bucket_key_enabled": True,
            }],
            opts=child,
        )
        self.versioning = aws.s3.BucketVersioning(
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
        if log_delivery:
            rules.append({"id": "expire-access-logs", "status": "Enabled", "filter": {},
                          "expiration": {"days": args.access_log_retention_days}})
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=self.bucket.id, rules=rules, opts=child)
        if log_to is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logs", bucket=self.bucket.id, target_bucket=log_to.id,
                target_prefix=pulumi.Output.concat("s3/", self.bucket.id, "/"),
                # S3 checks that the target's policy admits log delivery
                opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[log_to.policy]),
            )
        statements: list[dict[str, Any]] = []
        if security.tls_only_buckets:
            statements.append({
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            })
        if log_delivery:
            statements += self._log_delivery_statements(ctx, provider is None)
        else:
            statements.append({
                "Sid": "DenyUnencryptedUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            })
        self.policy: aws.s3.BucketPolicy = aws.s3.BucketPolicy(
            f"{name}-policy", bucket=self.bucket.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
            # S3 rejects a bucket policy while public access settings are still being applied.
            opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[self.public_access_block]),
        )

    def _log_delivery_statements(self, ctx: StackContext, load_balancer: bool) -> list[dict[str, Any]]:
        """S3 server access logging (and ALB access logging in the stack's region) may write here, for this
        account only."""
        s3_logs: dict[str, Any] = {
            "Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": pulumi.Output.concat(self.bucket.arn, "/s3/*"),
            "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
        }
        if not load_balancer:
            return [s3_logs]
        elb_account = ELB_LOG_ACCOUNTS.get(ctx.region)
        elb: dict[str, Any] = (
            {"AWS": f"arn:aws:iam::{elb_account}:root"} if elb_account
            else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        )
        return [
            s3_logs,
            {"Sid": "LoadBalancerAccessLogs", "Effect": "Allow", "Principal": elb, "Action": "s3:PutObject",
             "Resource": pulumi.Output.concat(self.bucket.arn, f"/{ALB_LOG_PREFIX}/AWSLogs/", ctx.account_id, "/*")},
        ]

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
        self.logs: SecureBucket | None = None
        if args.access_logs:
            self.logs = SecureBucket(
                f"{name}-access-logs", pulumi.Output.concat(prefix, "-logs"), ctx, args, key, self,
                log_delivery=True,
            )
        self.data = SecureBucket(
            f"{name}-data", pulumi.Output.concat(prefix, "-data"), ctx, args, key, self, log_to=self.logs
        )
        self.artifacts = SecureBucket(
            f"{name}-artifacts", pulumi.Output.concat(prefix, "-artifacts"), ctx, args, key, self, log_to=self.logs
        )
        if args.replication_region:
            self._replicate(name, ctx, args, key, prefix)
        self.register_outputs({"dataBucket": self.data.id, "artifactBucket": self.artifacts.id})

    def _replicate(self, name: str, ctx: StackContext, args: S3ArtifactStore, key: EncryptionKey,
                   prefix: pulumi.Input[str]) -> None:
        """Cross-region replicas of the data and artifacts buckets (`artifact_store.replication_region`).

        Same protection as the sources (KMS with a key of the replica region, versioning, public access block,
        TLS-only, access logs to a log bucket there). Cost: see the profile field's description.
        Permissions: Amazon S3 user guide, "Setting up permissions for live replication".
        """
        region = str(args.replication_region)
        provider = aws.Provider(f"{name}-replica-region", region=region, opts=self.child())
        root = pulumi.Output.concat("arn:aws:iam::", ctx.account_id, ":root")
        replica_key = aws.kms.Key(
            f"{name}-replica-key", description=f"{ctx.prefix}: bucket replicas in {region}",
            enable_key_rotation=True, deletion_window_in_days=ctx.spec.body.security.kms_deletion_window_days,
            policy=policy_json([{"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": root},
                                 "Action": "kms:*", "Resource": "*"}]),
            opts=pulumi.ResourceOptions.merge(ctx.data_options(self), pulumi.ResourceOptions(provider=provider)),
        )
        logs = SecureBucket(
            f"{name}-replica-access-logs",
            pulumi.Output.from_input(prefix).apply(lambda p: f"{p}-replica-logs"[:63].rstrip("-")), ctx, args,
            replica_key, self, log_delivery=True, provider=provider,
        )
        role = new_role(ctx, f"{name}-replication-role", "s3-replication", self, "s3.amazonaws.com")
        for source in (self.data, self.artifacts):
            replica = SecureBucket(
                f"{source.name}-replica", source.id.apply(lambda n: f"{n}-replica"[:63].rstrip("-")), ctx, args,
                replica_key, self, log_to=logs, provider=provider,
            )
            role.allow(f"replicate-{source.name}", [
                {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                 "Resource": source.arn},
                {"Effect": "Allow", "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                               "s3:GetObjectVersionTagging"], "Resource": source.objects()},
                {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                 "Resource": replica.objects()},
            ])
            aws.s3.BucketReplicationConfig(
                f"{source.name}-replication", bucket=source.id, role=role.arn,
                rules=[{
                    "id": "replicate-everything", "status": "Enabled", "priority": 1, "filter": {},
                    "delete_marker_replication": {"status": "Enabled"},
                    "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                    "destination": {"bucket": replica.arn, "storage_class": "STANDARD",
                                    "encryption_configuration": {"replica_kms_key_id": replica_key.arn}},
                }],
                # S3 requires versioning on both sides before it accepts a replication configuration.
                opts=self.child(depends_on=[source.versioning, replica.versioning]),
            )
        role.allow("replication-keys", [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key.arn},
            {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": replica_key.arn},
        ])
