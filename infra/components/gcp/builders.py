"""GCP builders: one per (capability, kind) the profile model allows for `cloud: gcp`; per model,
`model.<capability>`; and the cloud around them (context, provider settings, exports)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.base import ModelScope
from infra.components.catalog import Cloud, ModelBuild, Platform, builder, register_cloud
from infra.components.gcp.automation import ModelAutomation
from infra.components.gcp.context import GcpContext
from infra.components.gcp.model import Model
from infra.components.gcp.monitoring import GcpMonitoring, ModelMonitor
from infra.components.gcp.network import GcpNetwork
from infra.components.gcp.registry import ImageRegistry
from infra.components.gcp.security import CmekKey, ProjectServices
from infra.components.gcp.serving import ModelEndpoint
from infra.components.gcp.storage import GcsStore
from infra.components.gcp.tracking import VertexExperiments
from infra.components.gcp.training import ModelTraining
from infra.profiles.loader import StackSpec
from infra.profiles.model import VertexEndpointServing


# ---------------------------------------------------------------- shared platform
@builder("security", "gcp")
def security(ctx: GcpContext, cfg: Any, platform: Platform) -> None:
    platform["services"] = services = ProjectServices("services", ctx)
    ctx.services.extend(services.services)
    platform["security"] = CmekKey("platform", ctx, cfg)


@builder("networking", "gcp-vpc")
def networking(ctx: GcpContext, cfg: Any, platform: Platform) -> None:
    platform["networking"] = GcpNetwork("network", ctx, cfg)


@builder("artifact_store", "gcs")
def artifact_store(ctx: GcpContext, cfg: Any, platform: Platform) -> None:
    platform["artifact_store"] = GcsStore("store", ctx, cfg, platform["security"])


@builder("registry", "vertex-model-registry")
def registry(ctx: GcpContext, cfg: Any, platform: Platform) -> None:
    platform["registry"] = ImageRegistry("registry", ctx, cfg, platform["security"])


@builder("tracking", "vertex-experiments")
def tracking(ctx: GcpContext, cfg: Any, platform: Platform) -> None:
    platform["tracking"] = VertexExperiments("experiments", ctx, cfg, platform["security"])


@builder("monitoring", "cloud-monitoring")
def monitoring(ctx: GcpContext, cfg: Any, platform: Platform) -> None:
    platform["monitoring"] = GcpMonitoring("monitoring", ctx, cfg, key=platform["security"],
                                           network=platform["networking"], registry=platform["registry"])


# ---------------------------------------------------------------- per model
def _scope(model: ModelBuild) -> ModelScope:
    assert model.scope is not None
    return model.scope


@builder("model", "gcp")
def model_component(ctx: GcpContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    model.component = Model(ctx, _scope(model), store=platform["artifact_store"])


@builder("model.training", "vertex-pipeline")
def model_training(ctx: GcpContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    model["training"] = ModelTraining(
        f"{_scope(model).name}-training", ctx, _scope(model), cfg, key=platform["security"],
        store=platform["artifact_store"], registry=platform["registry"], opts=model.component.child(),
    )


@builder("model.serving", "vertex-endpoint")
def model_serving(ctx: GcpContext, cfg: VertexEndpointServing, platform: Platform, model: ModelBuild) -> None:
    # `none`: the model is registered and monitored, nothing serves it.
    model["serving"] = None if cfg.mode == "none" else ModelEndpoint(
        f"{_scope(model).name}-serving", ctx, _scope(model), cfg, key=platform["security"],
        store=platform["artifact_store"], registry=platform["registry"], opts=model.component.child(),
    )


@builder("model.monitoring", "cloud-run-drift")
def model_monitoring(ctx: GcpContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    model["monitoring"] = ModelMonitor(
        f"{_scope(model).name}-monitoring", ctx, _scope(model), cfg, store=platform["artifact_store"],
        shared=platform["monitoring"], training=model["training"], serving=model["serving"],
        opts=model.component.child(),
    )


@builder("model.automation", "gcp")
def model_automation(ctx: GcpContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    model["automation"] = ModelAutomation(
        f"{_scope(model).name}-automation", ctx, _scope(model), store=platform["artifact_store"],
        shared=platform["monitoring"], training=model["training"], serving=model["serving"],
        opts=model.component.child(),
    )


# ---------------------------------------------------------------- the cloud around the builders
def _context(spec: StackSpec) -> GcpContext:
    project = spec.body.project or ""
    number = gcp.organizations.get_project_output(project_id=project).number
    return GcpContext(spec=spec, account_id=number, region=spec.body.region, project=project)


def _exports(platform: Platform) -> dict[str, Any]:
    return {
        "trackingUrl": platform["tracking"].url,
        "dataBucket": platform["artifact_store"].data.id,
        "artifactBucket": platform["artifact_store"].artifacts.id,
        "notificationChannels": pulumi.Output.all(*platform["monitoring"].channel_ids),
    }


def _provider_config(spec: StackSpec) -> dict[str, str]:
    return {"gcp:project": spec.body.project or "", "gcp:region": spec.body.region}


register_cloud(Cloud("gcp", _context, _provider_config, _exports))
