"""AWS builders: one per (capability, kind) the profile model allows."""

from __future__ import annotations

from typing import Any

from infra.components.aws.automation import MlopsAutomation
from infra.components.aws.monitoring import Monitoring
from infra.components.aws.network import Network
from infra.components.aws.registry import ModelRegistry
from infra.components.aws.security import EncryptionKey
from infra.components.aws.serving import ModelEndpoint
from infra.components.aws.storage import ArtifactStore
from infra.components.aws.tracking import ManagedMlflow, MlflowTracking
from infra.components.aws.training import TrainingPipeline
from infra.components.base import StackContext
from infra.components.catalog import Platform, builder


def _log_retention(ctx: StackContext) -> int:
    return ctx.spec.body.monitoring.log_retention_days


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
        network=platform["networking"], image=image, log_retention_days=_log_retention(ctx),
    )


@builder("tracking", "sagemaker-mlflow")
def sagemaker_mlflow(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["tracking"] = ManagedMlflow("mlflow", ctx, cfg, key=platform["security"],
                                         store=platform["artifact_store"])


@builder("training", "sagemaker-pipeline")
def sagemaker_pipeline(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["training"] = TrainingPipeline(
        "training", ctx, cfg, key=platform["security"], store=platform["artifact_store"],
        registry=platform["registry"], network=platform["networking"],
    )


@builder("serving", "sagemaker-endpoint")
def sagemaker_endpoint(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["serving"] = ModelEndpoint(
        "serving", ctx, cfg, key=platform["security"], store=platform["artifact_store"],
        registry=platform["registry"], network=platform["networking"],
    )


@builder("monitoring", "lambda-drift")
def lambda_drift(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["monitoring"] = Monitoring(
        "monitoring", ctx, cfg, key=platform["security"], store=platform["artifact_store"],
        registry=platform["registry"], training=platform["training"], serving=platform["serving"],
    )


@builder("automation", "aws")
def automation(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["automation"] = MlopsAutomation(
        "automation", ctx, cfg, key=platform["security"], store=platform["artifact_store"],
        registry=platform["registry"], training=platform["training"], serving=platform["serving"],
        serving_args=ctx.spec.body.serving, monitoring=platform["monitoring"],
        log_retention_days=_log_retention(ctx),
    )
