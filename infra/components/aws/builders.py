"""AWS builders: one per (capability, kind) the profile model allows; per model, `model.<capability>`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi_aws as aws

from infra.components.aws.automation import ModelAutomation
from infra.components.aws.model import Model
from infra.components.aws.monitoring import ModelMonitor, Monitoring
from infra.components.aws.network import Network
from infra.components.aws.registry import ModelRegistry
from infra.components.aws.security import EncryptionKey
from infra.components.aws.serving import BatchScoring, ModelEndpoint
from infra.components.aws.storage import ArtifactStore
from infra.components.aws.tracking import ManagedMlflow, MlflowTracking
from infra.components.aws.training import TrainingPipeline
from infra.components.base import ModelScope, StackContext
from infra.components.catalog import Cloud, ModelBuild, Platform, builder, register_cloud
from infra.profiles.loader import StackSpec
from infra.profiles.model import SageMakerServing


def _log_retention(ctx: StackContext) -> int:
    return ctx.spec.body.monitoring.log_retention_days


# ---------------------------------------------------------------- shared platform
@builder("security", "aws")
def security(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["security"] = EncryptionKey("platform", ctx, cfg)


@builder("networking", "vpc")
def networking(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["networking"] = Network("network", ctx, cfg, platform["security"], _log_retention(ctx))


@builder("artifact_store", "s3")
def artifact_store(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["artifact_store"] = ArtifactStore("store", ctx, cfg, platform["security"])


@builder("registry", "sagemaker-model-registry")
def registry(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["registry"] = ModelRegistry("registry", ctx, cfg, platform["security"])


@builder("tracking", "mlflow-ecs")
def mlflow_ecs(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    image = cfg.image or platform["registry"].image("mlflow", cfg.mlflow_version)
    platform["tracking"] = MlflowTracking(
        "mlflow", ctx, cfg, key=platform["security"], store=platform["artifact_store"],
        network=platform["networking"], image=image, runtime_image=platform["registry"].runtime_image,
        log_retention_days=_log_retention(ctx),
    )


@builder("tracking", "sagemaker-mlflow")
def sagemaker_mlflow(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["tracking"] = ManagedMlflow("mlflow", ctx, cfg, key=platform["security"],
                                         store=platform["artifact_store"])


@builder("monitoring", "lambda-drift")
def lambda_drift(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["monitoring"] = Monitoring("monitoring", ctx, cfg, key=platform["security"],
                                        registry=platform["registry"])
    for function in getattr(platform["tracking"], "functions", []):  # built before the alert topic existed
        function.add_alarms(platform["monitoring"].topic.arn)  # once per stack, not per model


# ---------------------------------------------------------------- per model
def _scope(model: ModelBuild) -> ModelScope:
    assert model.scope is not None
    return model.scope


@builder("model", "aws")
def model_component(ctx: StackContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    model.component = Model(ctx, _scope(model), key=platform["security"], store=platform["artifact_store"],
                            registry=platform["registry"])


@builder("model.training", "sagemaker-pipeline")
def model_training(ctx: StackContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    model["training"] = TrainingPipeline(
        f"{_scope(model).name}-training", ctx, _scope(model), cfg, key=platform["security"],
        store=platform["artifact_store"], registry=platform["registry"], group=model.component.group,
        network=platform["networking"], opts=model.component.child(),
    )


def _endpoint(ctx: StackContext, cfg: SageMakerServing, platform: Platform, model: ModelBuild) -> Any:
    return ModelEndpoint(
        f"{_scope(model).name}-serving", ctx, _scope(model), cfg, key=platform["security"],
        store=platform["artifact_store"], registry=platform["registry"], network=platform["networking"],
        topic=platform["monitoring"].topic, opts=model.component.child(),
    )


def _batch(ctx: StackContext, cfg: SageMakerServing, platform: Platform, model: ModelBuild) -> Any:
    batch = BatchScoring(
        f"{_scope(model).name}-serving", ctx, _scope(model), cfg, key=platform["security"],
        store=platform["artifact_store"], registry=platform["registry"], network=platform["networking"],
        group=model.component.group, image=platform["monitoring"].image, log_retention_days=_log_retention(ctx),
        opts=model.component.child(),
    )
    model.component.schedules.add(f"{_scope(model).name}-batch-scoring", "batch-scoring", cfg.batch.schedule,
                                  batch.function)
    return batch


# Serving mode -> what provides it (`none`: the model is registered and monitored, nothing serves it).
SERVING_MODES: dict[str, Callable[[StackContext, SageMakerServing, Platform, ModelBuild], Any]] = {
    "ab": _endpoint,
    "single": _endpoint,
    "serverless": _endpoint,
    "batch": _batch,
    "none": lambda ctx, cfg, platform, model: None,
}


@builder("model.serving", "sagemaker-endpoint")
def model_serving(ctx: StackContext, cfg: SageMakerServing, platform: Platform, model: ModelBuild) -> None:
    model["serving"] = SERVING_MODES[cfg.mode](ctx, cfg, platform, model)


@builder("model.monitoring", "lambda-drift")
def model_monitoring(ctx: StackContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    model["monitoring"] = ModelMonitor(
        f"{_scope(model).name}-monitoring", ctx, _scope(model), cfg, key=platform["security"],
        store=platform["artifact_store"], shared=platform["monitoring"], training=model["training"],
        serving=model["serving"], schedules=model.component.schedules, log_retention_days=_log_retention(ctx),
        opts=model.component.child(),
    )


@builder("model.automation", "aws")
def model_automation(ctx: StackContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    scope = _scope(model)
    automation = ModelAutomation(
        f"{scope.name}-automation", ctx, scope, key=platform["security"], store=platform["artifact_store"],
        group=model.component.group, training=model["training"], serving=model["serving"],
        shared=platform["monitoring"], schedules=model.component.schedules, card_name=model.component.card_name,
        log_retention_days=_log_retention(ctx), opts=model.component.child(),
    )
    model["automation"] = automation


# ---------------------------------------------------------------- the cloud around the builders
def _context(spec: StackSpec) -> StackContext:
    return StackContext(spec=spec, account_id=aws.get_caller_identity_output().account_id, region=spec.body.region)


def _exports(platform: Platform) -> dict[str, Any]:
    return {
        "trackingUrl": platform["tracking"].url,
        "dataBucket": platform["artifact_store"].data.id,
        "artifactBucket": platform["artifact_store"].artifacts.id,
        "alertTopicArn": platform["monitoring"].topic.arn,
    }


register_cloud(Cloud("aws", _context, lambda spec: {"aws:region": spec.body.region}, _exports))
