"""The Pulumi program: a resolved stack spec becomes components: the shared platform, then one per model."""

from __future__ import annotations

import sys
from typing import Any

import pulumi

from infra.components.base import ModelScope, tagging_transformation
from infra.components.catalog import MODEL_ORDER, ORDER, ModelBuild, Platform, cloud_backend, kind_of, lookup
from infra.errors import UserError
from infra.profiles.loader import StackSpec, load_stack


def build(spec: StackSpec) -> Platform:
    """Declare every resource of the stack. Runs inside a Pulumi program (real engine or mock runtime)."""
    pulumi.runtime.register_stack_transformation(tagging_transformation(spec))
    backend = cloud_backend(spec.cloud)
    ctx = backend.context(spec)
    platform = Platform()
    for capability in ORDER:
        config = getattr(spec.body, capability)
        if config is not None:  # an optional capability the profile does not use
            lookup(capability, kind_of(config, spec.cloud))(ctx, config, platform)
    models: dict[str, Any] = {}
    for name, model_spec in spec.body.models.items():
        model = ModelBuild(scope=ModelScope(name, model_spec, ctx))
        lookup("model", spec.cloud)(ctx, model_spec, platform, model)
        for capability in MODEL_ORDER:
            config = getattr(model_spec, capability, None)
            lookup(f"model.{capability}", kind_of(config, spec.cloud))(ctx, config, platform, model)
        models[name] = model.component.finish(model)
    pulumi.export("profile", spec.profile_name)
    pulumi.export("environment", spec.environment)
    for name, value in backend.exports(platform).items():
        pulumi.export(name, value)
    pulumi.export("models", models)
    return platform


def main() -> None:
    """A Pulumi program's entry point: build the selected stack (`pulumi up -s <stack>`) from the project's
    stack file Pulumi.<stack>.yaml. The project is found from the working directory upward to Pulumi.yaml."""
    try:
        spec = load_stack(pulumi.get_stack())
    except UserError as exc:  # a readable message, not a traceback, in `pulumi up` output
        pulumi.log.error(str(exc))
        sys.exit(2)
    build(spec)
