"""S3: buckets and the v7 per-setting bucket resources, each applied with its Put call and read back."""

from __future__ import annotations

import base64
import json
from typing import Any

import moto
from botocore.exceptions import ClientError
from moto.iam.access_control import IAMPolicy, PermissionResult

from infra.offline.emulators.assets import asset_bytes
from infra.offline.emulators.base import EmulatorContext, NotEmulated, drop_none, emulates, require, tag_list


def _bucket_state(ctx: EmulatorContext, bucket: str) -> dict[str, Any]:
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{ctx.region}.amazonaws.com", "region": ctx.region,
            "hostedZoneId": "Z3AQBSTGFYJSTF"}


@emulates("bucket", "bucketPrefix", "forceDestroy", "objectLockEnabled")  # forceDestroy acts only on delete
def bucket(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = inputs.get("bucket") or (inputs.get("bucketPrefix") or "") + name
    s3 = ctx.client("s3")
    request: dict[str, Any] = {"Bucket": physical}
    if ctx.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    if inputs.get("objectLockEnabled"):
        request["ObjectLockEnabledForBucket"] = True
    s3.create_bucket(**request)
    tags = tag_list(inputs)
    if tags:
        s3.put_bucket_tagging(Bucket=physical, Tagging={"TagSet": tags})
    ctx.check("s3", "head_bucket", Bucket=physical)
    location = ctx.check("s3", "get_bucket_location", Bucket=physical).get("LocationConstraint")
    require((location or "us-east-1") == ctx.region, f"bucket {physical} is in {location}, not {ctx.region}")
    return physical, _bucket_state(ctx, physical)


@emulates("bucket", "rule", "expectedBucketOwner")
def ownership_controls(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = inputs["bucket"]
    wanted = inputs["rule"]["objectOwnership"]
    ctx.client("s3").put_bucket_ownership_controls(
        Bucket=physical, OwnershipControls={"Rules": [{"ObjectOwnership": wanted}]}
    )
    rules = ctx.check("s3", "get_bucket_ownership_controls", Bucket=physical)["OwnershipControls"]["Rules"]
    require(rules and rules[0]["ObjectOwnership"] == wanted, f"ownership of {physical} is not {wanted}")
    return physical, {}


@emulates("bucket", "targetBucket", "targetPrefix", "expectedBucketOwner")
def bucket_logging(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical, target = inputs["bucket"], inputs["targetBucket"]
    try:
        ctx.client("s3").put_bucket_logging(Bucket=physical, BucketLoggingStatus={"LoggingEnabled": {
            "TargetBucket": target, "TargetPrefix": inputs.get("targetPrefix", "")}})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "InvalidTargetBucketForLogging":
            raise
        # moto wants the target's policy to grant log delivery; that policy is not put in moto (see bucket_policy)
        raise NotEmulated(f"moto {moto.__version__} needs the log bucket's policy, which is not put (above)") from None
    got = ctx.check("s3", "get_bucket_logging", Bucket=physical).get("LoggingEnabled", {})
    require(got.get("TargetBucket") == inputs["targetBucket"], f"{physical} logs to {got.get('TargetBucket')}")
    return physical, {}


PUBLIC_ACCESS_FIELDS = {"blockPublicAcls": "BlockPublicAcls", "blockPublicPolicy": "BlockPublicPolicy",
                        "ignorePublicAcls": "IgnorePublicAcls", "restrictPublicBuckets": "RestrictPublicBuckets"}


@emulates("bucket", "skipDestroy", *PUBLIC_ACCESS_FIELDS)
def public_access_block(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = inputs["bucket"]
    config = {boto: bool(inputs.get(key, False)) for key, boto in PUBLIC_ACCESS_FIELDS.items()}
    ctx.client("s3").put_public_access_block(Bucket=physical, PublicAccessBlockConfiguration=config)
    got = ctx.check("s3", "get_public_access_block", Bucket=physical)["PublicAccessBlockConfiguration"]
    require(got == config, f"public access block of {physical} reads back as {got}")
    return physical, {}


@emulates("bucket", "rules", "expectedBucketOwner")
def encryption(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = inputs["bucket"]
    rules = []
    for rule in inputs["rules"]:
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        boto_rule: dict[str, Any] = {}
        if default:
            boto_rule["ApplyServerSideEncryptionByDefault"] = drop_none(
                SSEAlgorithm=default["sseAlgorithm"], KMSMasterKeyID=default.get("kmsMasterKeyId")
            )
        if "bucketKeyEnabled" in rule:
            boto_rule["BucketKeyEnabled"] = bool(rule["bucketKeyEnabled"])
        rules.append(boto_rule)
    ctx.client("s3").put_bucket_encryption(Bucket=physical, ServerSideEncryptionConfiguration={"Rules": rules})
    got = ctx.check("s3", "get_bucket_encryption", Bucket=physical)["ServerSideEncryptionConfiguration"]["Rules"]
    require([r.get("ApplyServerSideEncryptionByDefault") for r in got]
            == [r.get("ApplyServerSideEncryptionByDefault") for r in rules],
            f"encryption of {physical} reads back as {got}")
    return physical, {}


@emulates("bucket", "versioningConfiguration", "expectedBucketOwner")
def versioning(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = inputs["bucket"]
    config = inputs["versioningConfiguration"]
    request = drop_none(Status=config["status"], MFADelete=config.get("mfaDelete"))
    if config["status"] == "Disabled":  # the provider's "never enabled": nothing to put, nothing to read back
        got = ctx.check("s3", "get_bucket_versioning", Bucket=physical)
        require("Status" not in got, f"versioning of {physical} is {got.get('Status')}, declared never enabled")
        return physical, {}
    ctx.client("s3").put_bucket_versioning(Bucket=physical, VersioningConfiguration=request)
    got = ctx.check("s3", "get_bucket_versioning", Bucket=physical)
    require(got.get("Status") == config["status"], f"versioning of {physical} reads back as {got.get('Status')}")
    return physical, {}


def _lifecycle_filter(rule_filter: dict[str, Any] | None) -> dict[str, Any]:
    if not rule_filter:
        return {}
    out = drop_none(Prefix=rule_filter.get("prefix"), ObjectSizeGreaterThan=rule_filter.get("objectSizeGreaterThan"),
                    ObjectSizeLessThan=rule_filter.get("objectSizeLessThan"))
    if rule_filter.get("tag"):
        out["Tag"] = {"Key": rule_filter["tag"]["key"], "Value": rule_filter["tag"]["value"]}
    if rule_filter.get("and"):
        both = rule_filter["and"]
        out["And"] = drop_none(Prefix=both.get("prefix"), ObjectSizeGreaterThan=both.get("objectSizeGreaterThan"),
                               ObjectSizeLessThan=both.get("objectSizeLessThan"),
                               Tags=[{"Key": k, "Value": v} for k, v in (both.get("tags") or {}).items()] or None)
    return out


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ID": rule["id"], "Status": rule["status"], "Filter": _lifecycle_filter(rule.get("filter"))}
    if rule.get("expiration"):
        exp = rule["expiration"]
        out["Expiration"] = drop_none(Days=exp.get("days"), Date=exp.get("date"),
                                      ExpiredObjectDeleteMarker=exp.get("expiredObjectDeleteMarker"))
    if rule.get("noncurrentVersionExpiration"):
        nve = rule["noncurrentVersionExpiration"]
        out["NoncurrentVersionExpiration"] = drop_none(
            NoncurrentDays=nve.get("noncurrentDays"), NewerNoncurrentVersions=nve.get("newerNoncurrentVersions"))
    if rule.get("abortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]}
    if rule.get("transitions"):
        out["Transitions"] = [drop_none(Days=t.get("days"), Date=t.get("date"), StorageClass=t["storageClass"])
                              for t in rule["transitions"]]
    if rule.get("noncurrentVersionTransitions"):
        out["NoncurrentVersionTransitions"] = [
            drop_none(NoncurrentDays=t.get("noncurrentDays"), StorageClass=t["storageClass"],
                      NewerNoncurrentVersions=t.get("newerNoncurrentVersions"))
            for t in rule["noncurrentVersionTransitions"]]
    return out


@emulates("bucket", "rules", "expectedBucketOwner")
def lifecycle(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = inputs["bucket"]
    rules = [_lifecycle_rule(r) for r in inputs["rules"]]
    ctx.client("s3").put_bucket_lifecycle_configuration(Bucket=physical, LifecycleConfiguration={"Rules": rules})
    got = ctx.check("s3", "get_bucket_lifecycle_configuration", Bucket=physical)["Rules"]
    require(sorted(r["ID"] for r in got) == sorted(r["ID"] for r in rules),
            f"lifecycle rules of {physical} read back as {[r['ID'] for r in got]}")
    return physical, {}


# The object requests moto checks against the bucket policy (it names HEAD requests s3:HeadObject).
OBJECT_ACTIONS = ("s3:GetObject", "s3:HeadObject", "s3:PutObject", "s3:DeleteObject")


def _misapplied_actions(bucket: str, policy_json: str) -> list[str]:
    """Object actions moto would deny only because of conditional statements.

    moto evaluates bucket policies without request context: a statement whose Condition it cannot verify
    (aws:SecureTransport, s3:x-amz-server-side-encryption, ...) counts as DENIED whatever its Effect, so a
    TLS-only Deny blocks every object request. moto's own evaluator, run with and without the conditional
    statements, shows which actions that affects.
    """
    document = json.loads(policy_json)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    unconditional = json.dumps({**document, "Statement": [s for s in statements if "Condition" not in s]})
    resource = f"arn:aws:s3:::{bucket}/any-object"
    return [action for action in OBJECT_ACTIONS
            if IAMPolicy(policy_json).is_action_permitted(action, resource) == PermissionResult.DENIED
            and IAMPolicy(unconditional).is_action_permitted(action, resource) != PermissionResult.DENIED]


@emulates("bucket", "policy")
def bucket_policy(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = inputs["bucket"]
    ctx.check("s3", "get_bucket_location", Bucket=physical)  # a missing bucket is an error, whatever the policy
    misapplied = _misapplied_actions(physical, inputs["policy"])
    if misapplied:
        raise NotEmulated(
            f"moto {moto.__version__} applies the policy's conditional statements to every request (it has no "
            f"request context), so it would deny all {', '.join(misapplied)} on the bucket; the policy is not put"
        )
    ctx.client("s3").put_bucket_policy(Bucket=physical, Policy=inputs["policy"])
    got = ctx.check("s3", "get_bucket_policy", Bucket=physical)["Policy"]
    require(json.loads(got) == json.loads(inputs["policy"]), f"policy of {physical} reads back differently")
    return physical, {}


@emulates("bucket", "key", "source", "content", "contentBase64", "contentType", "serverSideEncryption",
          "kmsKeyId", "bucketKeyEnabled", "cacheControl", "contentDisposition", "contentEncoding",
          "contentLanguage", "metadata", "storageClass", "forceDestroy")
def bucket_object(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An object upload: the bytes of the declared source (a local file, a string, or base64 content)."""
    physical, key = inputs["bucket"], inputs["key"]
    if inputs.get("source") is not None:
        body = asset_bytes(inputs["source"])
    elif inputs.get("content") is not None:
        body = str(inputs["content"]).encode()
    elif inputs.get("contentBase64") is not None:
        body = base64.b64decode(inputs["contentBase64"])
    else:
        raise NotEmulated("object declares no source or content")
    tags = inputs.get("tags") or {}
    request = drop_none(
        Bucket=physical, Key=key, Body=body, ContentType=inputs.get("contentType"),
        ServerSideEncryption=inputs.get("serverSideEncryption"), SSEKMSKeyId=inputs.get("kmsKeyId"),
        BucketKeyEnabled=inputs.get("bucketKeyEnabled"), CacheControl=inputs.get("cacheControl"),
        ContentDisposition=inputs.get("contentDisposition"), ContentEncoding=inputs.get("contentEncoding"),
        ContentLanguage=inputs.get("contentLanguage"), Metadata=inputs.get("metadata"),
        StorageClass=inputs.get("storageClass"),
        Tagging="&".join(f"{k}={v}" for k, v in tags.items()) or None,
    )
    put = ctx.client("s3").put_object(**request)
    head = ctx.check("s3", "head_object", Bucket=physical, Key=key)
    require(head["ContentLength"] == len(body), f"s3://{physical}/{key} holds {head['ContentLength']} bytes, "
                                                f"uploaded {len(body)}")
    if inputs.get("serverSideEncryption"):
        require(head.get("ServerSideEncryption") == inputs["serverSideEncryption"],
                f"s3://{physical}/{key} is not encrypted with {inputs['serverSideEncryption']}")
    return key, {"etag": put["ETag"].strip('"'), "versionId": put.get("VersionId", ""),
                 "arn": f"arn:aws:s3:::{physical}/{key}"}
