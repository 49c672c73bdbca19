"""S3 and KMS controls."""

from __future__ import annotations

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from infra.policy.helpers import allows, as_list, is_public_principal, of_type, referenced, statements
from infra.policy.registry import OWN, Report, StackReport, resource_control, stack_control

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
KEY = "aws:kms/key:Key"
PUBLIC_ACCESS_FIELDS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _each_bucket_has(args: StackValidationArgs, report: StackReport, companion: str, what: str) -> None:
    covered = referenced(of_type(args, companion), "bucket")
    for bucket in of_type(args, BUCKET):
        if bucket.urn not in covered:
            report(f"bucket {bucket.name} has no {what}", bucket.urn)


@resource_control("aws-s3-block-public-access", "S3 buckets block all public access", PUBLIC_ACCESS_BLOCK,
                  service="S3", refs=("FSBP S3.8", "CIS 2.1.4"), loosened_by=("security.block_public_access",))
def s3_block_public_access(args: ResourceValidationArgs, report: Report) -> None:
    off = [f for f in PUBLIC_ACCESS_FIELDS if args.props.get(f) is not True]
    if off:
        report(f"public access is not blocked: {', '.join(off)} not true")


@stack_control("aws-s3-public-access-block-present", "Every S3 bucket has a public access block",
               service="S3", refs=("FSBP S3.8",))
def s3_public_access_block_present(args: StackValidationArgs, report: StackReport) -> None:
    _each_bucket_has(args, report, PUBLIC_ACCESS_BLOCK, "public access block")


@stack_control("aws-s3-default-encryption", "Every S3 bucket encrypts at rest by default (SSE-KMS; SSE-S3 only "
               "where AWS requires it: access-log targets)", service="S3", refs=("FSBP S3.17",))
def s3_default_encryption(args: StackValidationArgs, report: StackReport) -> None:
    log_targets = referenced(of_type(args, LOGGING), "targetBucket")
    configs: dict[str, PolicyResource] = {}
    for config in of_type(args, ENCRYPTION):
        for bucket in config.property_dependencies.get("bucket") or []:
            configs[bucket.urn] = config
    for bucket in of_type(args, BUCKET):
        found = configs.get(bucket.urn)
        if found is None:
            report(f"bucket {bucket.name} has no default encryption", bucket.urn)
            continue
        for rule in as_list(found.props.get("rules")):
            default = (rule or {}).get("applyServerSideEncryptionByDefault") or {}
            algorithm = default.get("sseAlgorithm")
            if algorithm == "AES256" and bucket.urn in log_targets:
                continue  # S3 and ELB log delivery accept only SSE-S3 targets
            if algorithm not in ("aws:kms", "aws:kms:dsse") or not default.get("kmsMasterKeyId"):
                report(f"bucket {bucket.name} is not encrypted with a KMS key ({algorithm})", found.urn)


@resource_control("aws-s3-tls-only", "S3 bucket policies deny requests without TLS", POLICY, service="S3",
                  refs=("FSBP S3.5", "CIS 2.1.1"), loosened_by=("security.tls_only_buckets",))
def s3_tls_only(args: ResourceValidationArgs, report: Report) -> None:
    for s in statements(args.props.get("policy")):
        condition = (s.get("Condition") or {}).get("Bool") or {}
        if s.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false":
            return
    report("the bucket policy does not deny requests made without TLS (aws:SecureTransport)")


@resource_control("aws-s3-policy-not-public", "S3 bucket policies grant nothing to everyone", POLICY,
                  service="S3", refs=("FSBP S3.2", "FSBP S3.3"))
def s3_policy_not_public(args: ResourceValidationArgs, report: Report) -> None:
    for s in statements(args.props.get("policy")):
        if allows(s) and is_public_principal(s.get("Principal")) and not s.get("Condition"):
            report(f"statement {s.get('Sid', '')!r} allows {s.get('Action')} to any principal")


@resource_control("aws-s3-no-acls", "S3 buckets disable ACLs (object ownership: bucket owner enforced)",
                  OWNERSHIP, BUCKET, service="S3", refs=("FSBP S3.12",))
def s3_no_acls(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type == BUCKET:
        if args.props.get("acl") not in (None, "private"):
            report(f"the bucket has the canned ACL {args.props.get('acl')}")
        return
    if ((args.props.get("rule") or {}).get("objectOwnership")) != "BucketOwnerEnforced":
        report("object ownership is not BucketOwnerEnforced, so ACLs still apply")


@resource_control("aws-s3-versioning", "S3 buckets keep object versions", VERSIONING, service="S3",
                  refs=("FSBP S3.14",))
def s3_versioning(args: ResourceValidationArgs, report: Report) -> None:
    if (args.props.get("versioningConfiguration") or {}).get("status") != "Enabled":
        report("versioning is not enabled")


@stack_control("aws-s3-lifecycle", "Every S3 bucket has lifecycle rules", service="S3", refs=("FSBP S3.13",))
def s3_lifecycle(args: StackValidationArgs, report: StackReport) -> None:
    _each_bucket_has(args, report, LIFECYCLE, "lifecycle configuration")


@stack_control("aws-s3-access-logging", "Every S3 bucket but the access-log bucket logs server access",
               service="S3", refs=("FSBP S3.9",), loosened_by=("artifact_store.access_logs",))
def s3_access_logging(args: StackValidationArgs, report: StackReport) -> None:
    logging = of_type(args, LOGGING)
    logged, targets = referenced(logging, "bucket"), referenced(logging, "targetBucket")
    for bucket in of_type(args, BUCKET):
        if bucket.urn not in logged and bucket.urn not in targets:
            report(f"bucket {bucket.name} has no server access logging", bucket.urn)


@resource_control("aws-kms-key-rotation", "Customer-managed KMS keys rotate yearly", KEY, service="KMS",
                  refs=("FSBP KMS.4", "CIS 3.6"), loosened_by=("security.kms_key_rotation",))
def kms_rotation(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("enableKeyRotation") is not True:
        report("key rotation is not enabled")


@resource_control("aws-kms-key-policy-not-public", "KMS key policies grant nothing to everyone", KEY,
                  service="KMS", refs=(), source=OWN + ": AWS KMS developer guide, 'Key policies'")
def kms_policy_not_public(args: ResourceValidationArgs, report: Report) -> None:
    for s in statements(args.props.get("policy")):
        if allows(s) and is_public_principal(s.get("Principal")) and not s.get("Condition"):
            report(f"statement {s.get('Sid', '')!r} lets any principal use the key")


@resource_control("aws-kms-deletion-window", "KMS keys wait 30 days before deletion", KEY, service="KMS",
                  source=OWN + ": AWS KMS developer guide, 'Deleting AWS KMS keys' (maximum waiting period)",
                  loosened_by=("security.kms_deletion_window_days",))
def kms_deletion_window(args: ResourceValidationArgs, report: Report) -> None:
    window = args.props.get("deletionWindowInDays", 30)
    if window is not None and window < 30:
        report(f"a deleted key can be recovered for {window} days only")


@resource_control("aws-data-protected", "Data stores are protected and retained when the stack is destroyed",
                  BUCKET, KEY, "aws:rds/instance:Instance", service="S3, KMS, RDS",
                  source=OWN + ": Pulumi's `protect` resource option; RDS final snapshots",
                  loosened_by=("security.protect_data",))
def data_protected(args: ResourceValidationArgs, report: Report) -> None:
    problems = []
    if not args.opts.protect:
        problems.append("not protected")
    if args.props.get("forceDestroy"):
        problems.append("forceDestroy deletes its objects")
    if args.props.get("skipFinalSnapshot"):
        problems.append("no final snapshot")
    if problems:
        report(", ".join(problems))
