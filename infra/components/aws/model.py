"""A model of the stack: one component holding everything that exists for that model only.

Its package group, model card, dataset schema and schedules are direct children; training, serving (by mode),
monitoring and automation are child components built by the builders registered for them. Every AWS resource
under it carries the `model` tag, and its names start with `<stack prefix>-<model>`.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.registry import ModelGroup, ModelRegistry
from infra.components.aws.schedules import ModelSchedules
from infra.components.aws.security import EncryptionKey
from infra.components.aws.storage import ArtifactStore
from infra.components.base import Capability, ModelScope, StackContext
from infra.profiles.model import ModelCardSpec

RISK_RATINGS = {"low": "Low", "medium": "Medium", "high": "High", "unknown": "Unknown"}


def card_content(model: ModelScope, card: ModelCardSpec) -> dict[str, Any]:
    """SageMaker Model Card content (model card JSON schema 0.1.0 sections) from the profile's `card`.

    Source: SageMaker "Model card JSON schema": model_overview, intended_uses, business_details,
    additional_information. Evaluation details are added per approved version by the deployer.
    """
    content: dict[str, Any] = {
        "model_overview": {
            "model_name": model.base,
            "model_description": card.description or model.spec.description,
            "model_owner": card.owner,
        },
        "intended_uses": {
            "intended_uses": "; ".join(card.intended_uses),
            "risk_rating": RISK_RATINGS[card.risk_rating],
        },
        "additional_information": {"caveats_and_recommendations": "; ".join(card.limitations)},
    }
    if card.risk_explanation:
        content["intended_uses"]["explanations_for_risk_rating"] = card.risk_explanation
    return content


class Model(Capability):
    """One model's resources (`mlopsgen:aws:Model`), named after the model and parented to the stack."""

    capability = "model"

    def __init__(self, ctx: StackContext, model: ModelScope, *, key: EncryptionKey, store: ArtifactStore,
                 registry: ModelRegistry, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:aws:Model", model.name, opts)
        self.model_name = model.name  # read by the tagging transformation: the `model` tag of every child
        self.scope = model
        self.versions = registry.model_versions(ctx, model, self)
        self.schedules = ModelSchedules(ctx, model, self, key)
        self.card_name = model.base
        self.card = aws.sagemaker.ModelCard(
            f"{model.name}-model-card",
            model_card_name=self.card_name,
            model_card_status="Draft",
            content=json.dumps(card_content(model, model.spec.card), sort_keys=True),
            security_config={"kms_key_id": key.arn},
            tags={"capability": "registry"},
            opts=self.child(retain_on_delete=ctx.protect_data),  # kept when the model is removed
        )
        schema = ctx.spec.schemas.get(model.name)
        if schema is not None:  # what ingestion checks every landed file against
            aws.s3.BucketObjectv2(
                f"{model.name}-schema", bucket=store.artifacts.id, key=model.schema_key,
                content=json.dumps(schema, sort_keys=True), content_type="application/json",
                server_side_encryption="aws:kms", kms_key_id=key.arn, opts=self.child(),
            )

    @property
    def group(self) -> ModelGroup:
        """The model package group the SageMaker pipeline, endpoint and Lambda jobs work with."""
        if not isinstance(self.versions, ModelGroup):
            raise ValueError(f"model {self.scope.name}: its SageMaker jobs need registry kind "
                             "sagemaker-model-registry")
        return self.versions

    def finish(self, parts: Any) -> dict[str, Any]:
        """Register the model's outputs once its capabilities are built (`parts`: its ModelBuild)."""
        serving = parts["serving"]
        outputs = {
            self.versions.output_key: self.versions.name,
            # What a pipeline's register step (infra.runtime.jobs.register) needs to find the model's registry.
            "registry": self.versions.settings,
            "pipeline": parts["training"].pipeline_name,
            "servingMode": self.scope.spec.serving.mode,
            "endpoint": getattr(serving, "endpoint_name", None),
            "modelCard": self.card_name,
        }
        self.register_outputs(outputs)
        return outputs
