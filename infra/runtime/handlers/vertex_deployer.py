"""Vertex AI deployer: puts a model's approved version live on its endpoint, by the model's serving mode.

Why a scheduled job: the AWS stack deploys on SageMaker's model-approval event; the Vertex AI Model Registry
emits no such event, so this job looks every few minutes (Cloud Scheduler -> Cloud Run). Approval is the version
alias `approved` (set by the pipeline when the profile's `training.approval` is automatic, else by a reviewer:
`gcloud ai models update ... --version-aliases`); an alias names one version, so it is always the latest
approved one. Deploying is run-time work because pulumi-gcp has no deployed-model resource.

What one run does (infra.runtime.adapters.gcp: VertexModelRegistry, VertexEndpointTraffic):
- nothing approved: `no_approved_version` (a new stack: the endpoint stays empty, as on a first deploy);
- no champion deployed: the approved version is deployed as `champion` with all traffic (`first_model`);
- `ab`: a newer approved version is deployed as `challenger` at the first ramp stage and an experiment record
  is written for the A/B controller (`deployed`); while an experiment runs, newer versions wait (`held`). After
  a rollback the old challenger is undeployed first; after a promotion the promoted version is redeployed as
  `champion` (Vertex cannot rename a deployed model) and the old deployments are undeployed (`promoted`);
- `single`: the approved version replaces the champion: deployed as `v<version>` with all traffic, then every
  other deployment is undeployed (`deployed`).
Order is traffic first, then the record and the aliases, then the alert, so a crash is healed by the rerun.

Environment: GCP_PROJECT, GCP_REGION, MODEL (the stack's model), VERTEX_MODEL (the registry model id),
ENDPOINT_NAME (endpoint id), SERVING_MODE (`ab` or `single`), RAMP (JSON list), DECISIONS_BUCKET,
DECISIONS_PREFIX, RESOURCE_POOL (deployment resource pool name), SERVING_SERVICE_ACCOUNT; STORAGE and
NOTIFICATIONS as the other jobs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.runtime.abtest.experiment import Experiment, ExperimentStatus, load_experiment, save_experiment
from infra.runtime.adapters.gcp import Deployment, VertexEndpointTraffic, VertexModelRegistry, default_location
from infra.runtime.clients import Adapters
from infra.runtime.handlers import for_model

log = logging.getLogger(__name__)

APPROVED, CHAMPION, CHALLENGER = "approved", "champion", "challenger"


@dataclass(frozen=True)
class VertexDeploySettings:
    """The environment contract, parsed once."""

    model: str  # projects/<p>/locations/<r>/models/<id>
    endpoint: str  # projects/<p>/locations/<r>/endpoints/<id>
    decisions_bucket: str
    decisions_prefix: str = "experiments"
    mode: str = "ab"
    ramp: tuple[float, ...] = (0.05, 0.25, 0.5)
    resources: Deployment = field(default_factory=Deployment)
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VertexDeploySettings:
        e = dict(os.environ if env is None else env)
        missing = [k for k in ("VERTEX_MODEL", "ENDPOINT_NAME", "DECISIONS_BUCKET") if not e.get(k)]
        if missing:
            raise ValueError(f"vertex deployer: missing environment variables: {', '.join(missing)}")
        location = default_location(e)
        mode = e.get("SERVING_MODE") or "ab"
        if mode not in ("ab", "single"):
            raise ValueError(f"vertex deployer: SERVING_MODE {mode!r} is not ab or single")
        return cls(
            model=f"{location}/models/{e['VERTEX_MODEL']}", endpoint=f"{location}/endpoints/{e['ENDPOINT_NAME']}",
            decisions_bucket=e["DECISIONS_BUCKET"], decisions_prefix=e.get("DECISIONS_PREFIX") or "experiments",
            mode=mode, ramp=tuple(float(w) for w in json.loads(e.get("RAMP") or "[0.05, 0.25, 0.5]")),
            resources=Deployment(service_account=e.get("SERVING_SERVICE_ACCOUNT", ""),
                                 resource_pool=e.get("RESOURCE_POOL", "")),
            env=e,
        )

    @property
    def endpoint_id(self) -> str:
        return self.endpoint.rsplit("/", 1)[1]


class Dependencies(Adapters):
    """Object store, notifier, the Vertex registry and endpoint adapters and the clock; injectable."""

    def __init__(self, *, registry: Any = None, traffic: Any = None, **clients: Any) -> None:
        super().__init__(**clients)
        self.registry = registry or VertexModelRegistry()
        self.traffic = traffic or VertexEndpointTraffic()


def run(settings: VertexDeploySettings, deps: Dependencies) -> dict[str, Any]:
    approved = deps.registry.version_with_alias(settings.model, APPROVED)
    if approved is None:
        return {"status": "no_approved_version"}
    deployed = deps.traffic.get_weights(settings.endpoint)
    champion = deps.registry.version_with_alias(settings.model, CHAMPION)
    store = deps.store(settings.env)
    if champion is None or not deployed or (settings.mode == "ab" and CHAMPION not in deployed):
        return _first(settings, deps, approved, deployed)
    if settings.mode == "single":
        return _replace(settings, deps, approved, champion, deployed)
    experiment = load_experiment(store, settings.decisions_bucket, settings.decisions_prefix, settings.endpoint_id)
    if experiment is not None and experiment.status is ExperimentStatus.PROMOTED \
            and experiment.challenger_model == approved.resource_name and champion.version_id != approved.version_id:
        return _finish_promotion(settings, deps, approved)
    if approved.version_id == champion.version_id:
        return {"status": "up_to_date", "version": approved.version_id}
    if experiment is not None and experiment.challenger_model == approved.resource_name:
        return {"status": "already_challenger", "version": approved.version_id}
    if experiment is not None and not experiment.concluded:
        return {"status": "held", "version": approved.version_id, "experiment": experiment.experiment_id}
    if CHALLENGER in deployed:  # the last experiment's challenger, rolled back to 0
        deps.traffic.undeploy(settings.endpoint, CHALLENGER)
    deps.traffic.deploy(settings.endpoint, approved.resource_name, CHALLENGER, settings.ramp[0], settings.resources)
    now = deps.clock()
    record = Experiment(
        experiment_id=f"v{approved.version_id}-{now:%Y%m%dT%H%M%S}", endpoint_name=settings.endpoint_id,
        challenger_model=approved.resource_name, champion_model=champion.resource_name, started_at=now,
        ramp=list(settings.ramp),
    )
    save_experiment(store, settings.decisions_bucket, settings.decisions_prefix, record)
    deps.registry.set_alias(settings.model, approved.version_id, CHALLENGER)
    _tell(settings, deps, f"Challenger: version {approved.version_id} at {settings.ramp[0]:.0%}", record.model_dump())
    return {"status": "deployed", "version": approved.version_id, "experiment": record.experiment_id,
            "weights": {CHAMPION: 1.0 - settings.ramp[0], CHALLENGER: settings.ramp[0]}}


def _first(settings: VertexDeploySettings, deps: Dependencies, approved: Any,
           deployed: dict[str, float]) -> dict[str, Any]:
    variant = CHAMPION if settings.mode == "ab" else f"v{approved.version_id}"
    if variant not in deployed:
        deps.traffic.deploy(settings.endpoint, approved.resource_name, variant, 1.0, settings.resources)
    deps.registry.set_alias(settings.model, approved.version_id, CHAMPION)
    _tell(settings, deps, f"First model: version {approved.version_id} takes all traffic", {"variant": variant})
    return {"status": "first_model", "version": approved.version_id, "weights": {variant: 1.0}}


def _replace(settings: VertexDeploySettings, deps: Dependencies, approved: Any, champion: Any,
             deployed: dict[str, float]) -> dict[str, Any]:
    variant = f"v{approved.version_id}"
    if approved.version_id == champion.version_id and set(deployed) == {variant}:
        return {"status": "up_to_date", "version": approved.version_id}
    if variant not in deployed:
        deps.traffic.deploy(settings.endpoint, approved.resource_name, variant, 1.0, settings.resources)
    deps.traffic.set_weights(settings.endpoint, {variant: 1.0})
    for old in sorted(set(deployed) - {variant}):
        deps.traffic.undeploy(settings.endpoint, old)
    deps.registry.set_alias(settings.model, approved.version_id, CHAMPION)
    _tell(settings, deps, f"Deployed: version {approved.version_id} replaces version {champion.version_id}",
          {"variant": variant})
    return {"status": "deployed", "version": approved.version_id, "weights": {variant: 1.0}}


def _finish_promotion(settings: VertexDeploySettings, deps: Dependencies, approved: Any) -> dict[str, Any]:
    """The A/B controller promoted the challenger (champion at 0): make it the `champion` deployment."""
    deps.traffic.undeploy(settings.endpoint, CHAMPION)
    deps.traffic.deploy(settings.endpoint, approved.resource_name, CHAMPION, 1.0, settings.resources)
    deps.traffic.undeploy(settings.endpoint, CHALLENGER)
    deps.registry.set_alias(settings.model, approved.version_id, CHAMPION)
    _tell(settings, deps, f"Promoted: version {approved.version_id} is the champion", {})
    return {"status": "promoted", "version": approved.version_id, "weights": {CHAMPION: 1.0}}


def _tell(settings: VertexDeploySettings, deps: Dependencies, subject: str, details: Mapping[str, Any]) -> None:
    notifier = deps.notifier(settings.env)
    if notifier is not None:
        notifier.publish(f"{subject} ({settings.endpoint_id})", json.dumps(dict(details), indent=2, default=str))
    log.info("vertex deployer %s: %s", settings.endpoint_id, subject)


@for_model
def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Cloud Run task entry point: settings from the environment, clients created on first use."""
    return run(VertexDeploySettings.from_env(), Dependencies())
