"""Artifact Registry for the stack's images (runtime, training, serving) and the runtime image built there."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
import pulumi_docker_build as docker_build
import pulumi_gcp as gcp

from infra.components.base import Capability
from infra.components.gcp.context import GcpContext, Workload
from infra.components.gcp.security import CmekKey
from infra.components.images import RUNTIME_DIR, context_tag
from infra.profiles.model import VertexModelRegistry

DOCKERFILE = "Dockerfile.cloudrun"


class ImageRegistry(Capability):
    """A CMEK-encrypted Docker repository with a keep-newest cleanup policy, and the runtime image `pulumi up`
    builds from the installed infra.runtime package's Dockerfile.cloudrun and pushes there (needs Docker with
    buildx).

    Model versions live in the Vertex AI Model Registry, one model per stack model (`ModelScope.base`);
    pulumi-gcp has no resource for an uploaded model, so versions and their `approved` / `champion` / `challenger`
    aliases are managed at run time (infra.runtime.adapters.gcp.VertexModelRegistry). An empty project deploys with
    no model.
    """

    capability = "registry"

    def __init__(self, name: str, ctx: GcpContext, args: VertexModelRegistry, key: CmekKey,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:ImageRegistry", name, opts)
        self.logical = name
        self.repository = gcp.artifactregistry.Repository(
            f"{name}-images", repository_id=ctx.name("images"), project=ctx.project, location=ctx.region,
            format="DOCKER", description=f"{ctx.prefix}: runtime, training and serving images",
            kms_key_name=key.id, docker_config={"immutable_tags": True},
            cleanup_policies=[{"id": "keep-newest", "action": "KEEP",
                               "most_recent_versions": {"keep_count": args.keep_images}}],
            cleanup_policy_dry_run=False,
            vulnerability_scanning_config={"enablement_config": "INHERITED"},
            opts=key.after_grant(ctx, self, "artifactregistry", data=False),
        )
        self.host = f"{ctx.region}-docker.pkg.dev"
        self.path = pulumi.Output.concat(self.host, "/", ctx.project, "/", self.repository.repository_id)
        token = gcp.organizations.get_client_config_output().access_token
        # Relative to the project root (where Pulumi runs the program), as the AWS runtime image: the same inputs
        # on every machine, and `pulumi preview` needs no Docker.
        runtime_dir = os.path.relpath(RUNTIME_DIR, Path.cwd())
        self.runtime_image = docker_build.Image(
            "runtime-image",
            context={"location": runtime_dir},
            dockerfile={"location": f"{runtime_dir}/{DOCKERFILE}"},
            build_on_preview=False,
            platforms=[docker_build.Platform.LINUX_AMD64],
            push=True,
            tags=[pulumi.Output.concat(self.path, "/runtime:", context_tag())],
            registries=[{"address": self.host, "username": "oauth2accesstoken",
                         "password": pulumi.Output.secret(token)}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.repository]),
        )
        # The digest-qualified reference: a rebuilt image changes it, so the jobs are updated.
        self.runtime_uri = self.runtime_image.ref
        self.register_outputs({"repository": self.path})

    def image(self, name: str, tag: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.path, "/", name, ":", tag)

    def grant_pull(self, workload: Workload) -> gcp.artifactregistry.RepositoryIamMember:
        return gcp.artifactregistry.RepositoryIamMember(
            f"{self.logical}-{workload.logical}-pull", project=self.repository.project,
            location=self.repository.location, repository=self.repository.name,
            role="roles/artifactregistry.reader", member=workload.member,
            opts=pulumi.ResourceOptions(parent=workload.parent),
        )
