"""Vertex AI Experiments: the metadata store and a TensorBoard instance, CMEK-encrypted."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.base import Capability
from infra.components.gcp.context import GcpContext
from infra.components.gcp.security import CmekKey
from infra.profiles.model import VertexExperimentsTracking


class VertexExperiments(Capability):
    """Experiment runs, parameters and metrics go to the region's `default` metadata store (what Vertex AI
    Experiments uses), created here first so it is CMEK-encrypted; curves go to the TensorBoard."""

    capability = "tracking"

    def __init__(self, name: str, ctx: GcpContext, args: VertexExperimentsTracking, key: CmekKey,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:Experiments", name, opts)
        encryption: Any = {"kms_key_name": key.id}
        self.metadata_store = gcp.vertex.AiMetadataStore(
            f"{name}-metadata", name="default", project=ctx.project, region=ctx.region,
            description=f"{ctx.prefix}: experiment and lineage metadata", encryption_spec=encryption,
            opts=key.after_grant(ctx, self, "aiplatform"),
        )
        self.tensorboard = gcp.vertex.AiTensorboard(
            f"{name}-tensorboard", display_name=ctx.name("tensorboard", 128), project=ctx.project,
            region=ctx.region, description=f"{ctx.prefix}: training curves", encryption_spec=encryption,
            opts=key.after_grant(ctx, self, "aiplatform"),
        ) if args.tensorboard else None
        self.url = pulumi.Output.concat(
            "https://console.cloud.google.com/vertex-ai/experiments?project=", ctx.project
        )
        self.register_outputs({"metadataStore": self.metadata_store.id,
                               "tensorboard": self.tensorboard.id if self.tensorboard else None})
