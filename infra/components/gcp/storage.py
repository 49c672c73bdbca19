"""Cloud Storage: uniform access, public access prevention, CMEK, soft delete, lifecycle, and a retention policy
(or, without one, Object Versioning: Cloud Storage allows one or the other on a bucket)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.base import Capability
from infra.components.gcp.context import GcpContext, Workload
from infra.components.gcp.security import DAY_SECONDS, CmekKey
from infra.profiles.model import GcsArtifactStore

# Object roles by access (https://cloud.google.com/storage/docs/access-control/iam-roles).
READ, READ_WRITE = "roles/storage.objectViewer", "roles/storage.objectUser"
ROLE_LABELS = {READ: "read", READ_WRITE: "read-write"}


def prefix_condition(bucket: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """An IAM condition limiting an object role to `prefixes` of `bucket`: objects whose name starts with one,
    and listings asked for within one (the `objectListPrefix` API attribute).
    Source: Cloud Storage "Use IAM Conditions on buckets" (resource.name and objectListPrefix)."""
    objects = [f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{p}")' for p in prefixes]
    listing = [f'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("{p}")'
               for p in prefixes]
    return {"title": "prefixes", "description": ", ".join(prefixes)[:256],
            "expression": " || ".join(objects + listing)}


class GcsBucket:
    """One bucket and what makes it safe; part of the GcsStore component."""

    def __init__(self, name: str, physical: str, ctx: GcpContext, args: GcsArtifactStore, key: CmekKey,
                 parent: Capability):
        self.name = name
        self.physical = physical
        self.parent = parent
        versioned = args.retention_days == 0
        rules: list[Any] = [{"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}}]
        if versioned:
            rules.append({"action": {"type": "Delete"},
                          "condition": {"days_since_noncurrent_time": args.noncurrent_version_expiration_days,
                                        "with_state": "ARCHIVED"}})
        if args.transition_to_nearline_days:
            rules.append({"action": {"type": "SetStorageClass", "storage_class": "NEARLINE"},
                          "condition": {"age": args.transition_to_nearline_days, "with_state": "LIVE",
                                        "matches_storage_classes": ["STANDARD"]}})
        security = ctx.spec.body.security
        retention: Any = None if versioned else {"retention_period": args.retention_days * DAY_SECONDS}
        self.bucket = gcp.storage.Bucket(
            name, name=physical, project=ctx.project, location=ctx.region.upper(), storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced" if security.block_public_access else "inherited",
            versioning={"enabled": versioned},
            retention_policy=retention,
            soft_delete_policy={"retention_duration_seconds": args.soft_delete_days * DAY_SECONDS},
            encryption={"default_kms_key_name": key.id},
            lifecycle_rules=rules,
            force_destroy=not ctx.protect_data,
            opts=key.after_grant(ctx, parent, "storage"),
        )
        self.id = self.bucket.name
        self._grants: set[str] = set()

    def grant(self, workload: Workload, role: str, *prefixes: str) -> gcp.storage.BucketIAMMember:
        """An object role (READ or READ_WRITE) for one workload's service account, limited to `prefixes` when
        given (a model's areas: `curated/<model>/`, ...)."""
        logical = f"{self.name}-{workload.logical}-{ROLE_LABELS[role]}"
        if logical in self._grants:
            raise ValueError(f"{logical}: granted twice; give every prefix in one grant")
        self._grants.add(logical)
        condition: Any = prefix_condition(self.physical, prefixes) if prefixes else None
        return gcp.storage.BucketIAMMember(
            logical, bucket=self.bucket.name, role=role, member=workload.member,
            condition=condition,
            opts=pulumi.ResourceOptions(parent=workload.parent),  # beside the account (e.g. under its model)
        )

    def path(self, *parts: str) -> pulumi.Output[str]:
        return pulumi.Output.concat("gs://", self.bucket.name, "/", "".join(parts))


class GcsStore(Capability):
    """Two buckets: `data` (landing, curated, quarantine) and `artifacts` (models, baselines, reports, pipelines)."""

    capability = "artifact-store"

    def __init__(self, name: str, ctx: GcpContext, args: GcsArtifactStore, key: CmekKey,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:ArtifactStore", name, opts)
        # Bucket names are global: the project id makes them unique; 63 characters at most.
        prefix = args.bucket_prefix or f"{ctx.prefix}-{ctx.project}"[:52].rstrip("-")
        self.data = GcsBucket(f"{name}-data", f"{prefix}-data", ctx, args, key, self)
        self.artifacts = GcsBucket(f"{name}-artifacts", f"{prefix}-artifacts", ctx, args, key, self)
        self.register_outputs({"dataBucket": self.data.id, "artifactBucket": self.artifacts.id})
