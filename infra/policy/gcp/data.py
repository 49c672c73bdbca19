"""Cloud Storage, Cloud KMS, BigQuery and Vertex AI controls: encryption with the stack's key, access, keeping."""

from __future__ import annotations

from typing import Any

from pulumi_policy import ResourceValidationArgs

from infra.policy.gcp.identity import CIS_GCP
from infra.policy.registry import OWN, Report, resource_control

BUCKET = "gcp:storage/bucket:Bucket"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
DATASET = "gcp:bigquery/dataset:Dataset"
ROTATION_SECONDS = 90 * 86400  # CIS 1.10: within 90 days
# Vertex AI resources that take an `encryptionSpec` (CMEK), and the other stores with their key field.
VERTEX_CMEK = ("gcp:vertex/aiEndpoint:AiEndpoint", "gcp:vertex/aiMetadataStore:AiMetadataStore",
               "gcp:vertex/aiTensorboard:AiTensorboard")


def _seconds(value: Any) -> int | None:
    text = str(value or "")
    return int(text[:-1]) if text.endswith("s") and text[:-1].isdigit() else None


@resource_control("gcp-storage-uniform-access", "Cloud Storage buckets use uniform bucket-level access", BUCKET,
                  service="Cloud Storage", cloud="gcp", refs=("CIS 5.2",), source=CIS_GCP)
def uniform_access(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("uniformBucketLevelAccess") is not True:
        report("uniform bucket-level access is off: object ACLs can grant access IAM does not show")


@resource_control("gcp-storage-public-access-prevention", "Cloud Storage buckets enforce public access prevention",
                  BUCKET, service="Cloud Storage", cloud="gcp", refs=("CIS 5.1",), source=CIS_GCP,
                  loosened_by=("security.block_public_access",))
def public_access_prevention(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("publicAccessPrevention") != "enforced":
        report("public access prevention is not enforced: a binding to allUsers would make the bucket public")


@resource_control("gcp-storage-cmek", "Cloud Storage buckets encrypt with the stack's key (CMEK) by default", BUCKET,
                  service="Cloud Storage", cloud="gcp", source=OWN)
def bucket_cmek(args: ResourceValidationArgs, report: Report) -> None:
    if not (args.props.get("encryption") or {}).get("defaultKmsKeyName"):
        report("no default KMS key: objects are encrypted with Google-managed keys the stack cannot revoke")


@resource_control("gcp-storage-recoverable", "Cloud Storage buckets keep objects recoverable (retention policy "
                  "or versioning, and soft delete)", BUCKET, service="Cloud Storage", cloud="gcp", source=OWN,
                  loosened_by=("artifact_store.retention_days",))
def bucket_recoverable(args: ResourceValidationArgs, report: Report) -> None:
    retention = (args.props.get("retentionPolicy") or {}).get("retentionPeriod")
    versioned = (args.props.get("versioning") or {}).get("enabled") is True
    if not retention and not versioned:
        report("neither a retention policy nor versioning: a deleted or overwritten object is gone")
    if not (args.props.get("softDeletePolicy") or {}).get("retentionDurationSeconds"):
        report("soft delete is off: a deleted object cannot be restored")


@resource_control("gcp-kms-rotation", "Cloud KMS keys rotate within 90 days", CRYPTO_KEY, service="Cloud KMS",
                  cloud="gcp", refs=("CIS 1.10",), source=CIS_GCP, loosened_by=("security.kms_key_rotation",))
def kms_rotation(args: ResourceValidationArgs, report: Report) -> None:
    period = _seconds(args.props.get("rotationPeriod"))
    if period is None or period > ROTATION_SECONDS:
        report(f"rotation period {args.props.get('rotationPeriod')!r}: rotate at least every 90 days")


@resource_control("gcp-bigquery-dataset-cmek", "BigQuery datasets have a default customer-managed key", DATASET,
                  service="BigQuery", cloud="gcp", refs=("CIS 7.2", "CIS 7.3"), source=CIS_GCP)
def dataset_cmek(args: ResourceValidationArgs, report: Report) -> None:
    if not (args.props.get("defaultEncryptionConfiguration") or {}).get("kmsKeyName"):
        report("no default KMS key: new tables are encrypted with Google-managed keys")


@resource_control("gcp-vertex-cmek", "Vertex AI endpoints, metadata stores and TensorBoards use the stack's key",
                  *VERTEX_CMEK, service="Vertex AI", cloud="gcp", source=OWN)
def vertex_cmek(args: ResourceValidationArgs, report: Report) -> None:
    if not (args.props.get("encryptionSpec") or {}).get("kmsKeyName"):
        report("no encryptionSpec.kmsKeyName: Vertex AI encrypts it with a Google-managed key")


@resource_control("gcp-artifactregistry-cmek", "Artifact Registry repositories use the stack's key",
                  "gcp:artifactregistry/repository:Repository", service="Artifact Registry", cloud="gcp", source=OWN)
def registry_cmek(args: ResourceValidationArgs, report: Report) -> None:
    if not args.props.get("kmsKeyName"):
        report("no kmsKeyName: images are encrypted with a Google-managed key")


@resource_control("gcp-artifactregistry-immutable-tags", "Artifact Registry Docker tags are immutable",
                  "gcp:artifactregistry/repository:Repository", service="Artifact Registry", cloud="gcp", source=OWN)
def registry_immutable(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("format") == "DOCKER" and not (args.props.get("dockerConfig") or {}).get("immutableTags"):
        report("tags are mutable: a pushed tag could be replaced by another image")


@resource_control("gcp-logging-bucket-cmek", "Log buckets use the stack's key",
                  "gcp:logging/projectBucketConfig:ProjectBucketConfig", service="Cloud Logging", cloud="gcp",
                  source=OWN)
def log_bucket_cmek(args: ResourceValidationArgs, report: Report) -> None:
    if not (args.props.get("cmekSettings") or {}).get("kmsKeyName"):
        report("no cmekSettings.kmsKeyName: logs are encrypted with a Google-managed key")
