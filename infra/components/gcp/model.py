"""A model of a GCP stack: one component holding everything that exists for that model only.

Its dataset schema is a direct child; training, serving, monitoring and automation are child components built
by the builders registered for them. Every labellable resource under it carries the `model` label, its service
accounts are its own, and its names start with `<stack prefix>-<model>`.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.base import Capability, ModelScope
from infra.components.gcp.context import GcpContext
from infra.components.gcp.storage import GcsStore


class Model(Capability):
    """One model's resources (`mlopsgen:gcp:Model`), named after the model and parented to the stack.

    Its versions are a Vertex AI Model Registry model named `ModelScope.base` (uploaded by its pipeline at run
    time: pulumi-gcp has no model resource); `champion` and `challenger` are version aliases."""

    capability = "model"

    def __init__(self, ctx: GcpContext, model: ModelScope, *, store: GcsStore,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:Model", model.name, opts)
        self.model_name = model.name  # read by the tagging transformation: the `model` label of every child
        self.scope = model
        schema = ctx.spec.schemas.get(model.name)
        if schema is not None:  # what ingestion checks every landed file against
            gcp.storage.BucketObject(
                f"{model.name}-schema", bucket=store.artifacts.id, name=model.schema_key,
                content=json.dumps(schema, sort_keys=True), content_type="application/json", opts=self.child(),
            )

    def finish(self, parts: Any) -> dict[str, Any]:
        """Register the model's outputs once its capabilities are built (`parts`: its ModelBuild)."""
        serving = parts["serving"]
        outputs = {
            "vertexModel": self.scope.base,
            "pipelineTemplate": parts["training"].template_uri,
            "servingMode": self.scope.spec.serving.mode,
            "endpoint": serving.endpoint_name if serving is not None else None,
        }
        self.register_outputs(outputs)
        return outputs
