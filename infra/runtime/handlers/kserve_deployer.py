"""KServe deployer: puts the model's latest approved version on its InferenceServices (a scheduled job).

The model's versions come from the registry the profile's `registry.kind` names (env MODEL_REGISTRY, through
`infra.runtime.adapters.registry`: a SageMaker model package group, or W&B artifacts with aliases).

Why polling: an approval (a SageMaker status change, a W&B alias) cannot reach a job inside the cluster without
a webhook or a Lambda that can, so the job runs every few minutes (a Kubernetes CronJob) and acts only when the
latest approved version of its model is not yet deployed: reruns change nothing.

What it does with the latest approved version (its archive URI, an S3 archive that KServe's storage initializer
downloads and unpacks, becomes the InferenceService's `storageUri`; the version gets the registry alias of the
variant it now serves, `champion` or `challenger`):
- the champion still serves the bootstrap URI (no version deployed yet), or the model is in `single` mode: the
  champion serves it (`first_model` / `deployed`);
- `ab` mode: while an experiment runs, the version waits (`held`); after a promotion the winner first becomes the
  champion; then the version goes on the challenger, the graph's split becomes the first ramp stage and a new
  experiment record starts (the A/B controller owns it from there), and an alert is sent.

Environment: MODEL_REGISTRY (default sagemaker-model-registry) and that registry's settings (MODEL_PACKAGE_GROUP;
or REGISTERED_MODEL with the W&B settings and key), KSERVE_NAMESPACE, ENDPOINT_NAME (the InferenceGraph),
SERVING_MODE (`ab` or `single`), BOOTSTRAP_URI, DECISIONS_BUCKET, DECISIONS_PREFIX, RAMP (JSON list),
ALERT_TOPIC_ARN (optional), CHAMPION_VARIANT / CHALLENGER_VARIANT (default champion / challenger).
RBAC: get and patch its own InferenceServices and InferenceGraph. Registry access: IAM
sagemaker:ListModelPackages / DescribeModelPackage on its group (SageMaker), or the W&B API key in its
environment (W&B).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.runtime.abtest.experiment import Experiment, ExperimentStatus, load_experiment, save_experiment
from infra.runtime.adapters.kserve import KServeGraphTraffic, custom_objects_api
from infra.runtime.adapters.registry import CHALLENGER, CHAMPION, ModelRegistry, get_model_registry
from infra.runtime.clients import AwsClients

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"


@dataclass(frozen=True)
class KServeDeploySettings:
    namespace: str
    endpoint_name: str
    bootstrap_uri: str
    decisions_bucket: str
    decisions_prefix: str = "experiments"
    mode: str = "ab"
    ramp: tuple[float, ...] = (0.05, 0.25, 0.5)
    alert_topic_arn: str | None = None
    champion_variant: str = "champion"
    challenger_variant: str = "challenger"
    # The environment the registry adapter reads (MODEL_REGISTRY and its settings; may hold an API key).
    registry_settings: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KServeDeploySettings:
        env = os.environ if env is None else env
        required = ("KSERVE_NAMESPACE", "ENDPOINT_NAME", "BOOTSTRAP_URI", "DECISIONS_BUCKET")
        missing = [k for k in required if not env.get(k)]
        if missing:
            raise ValueError(f"missing required environment variable(s): {', '.join(missing)}")
        mode = env.get("SERVING_MODE") or "ab"
        if mode not in ("ab", "single"):
            raise ValueError(f"SERVING_MODE must be ab or single on KServe, not {mode!r}")
        return cls(
            namespace=env["KSERVE_NAMESPACE"],
            endpoint_name=env["ENDPOINT_NAME"], bootstrap_uri=env["BOOTSTRAP_URI"],
            decisions_bucket=env["DECISIONS_BUCKET"], decisions_prefix=env.get("DECISIONS_PREFIX") or "experiments",
            mode=mode, ramp=tuple(float(w) for w in json.loads(env.get("RAMP") or "[0.05, 0.25, 0.5]")),
            alert_topic_arn=env.get("ALERT_TOPIC_ARN") or None,
            champion_variant=env.get("CHAMPION_VARIANT") or "champion",
            challenger_variant=env.get("CHALLENGER_VARIANT") or "challenger",
            registry_settings=dict(env),
        )

    def service(self, variant: str) -> str:
        """The InferenceService of a variant (`<endpoint>-<variant>`, as the program names them)."""
        return f"{self.endpoint_name}-{variant}"


class Dependencies(AwsClients):
    """AWS clients, the Kubernetes CustomObjectsApi, the model registry and the clock; injectable, created on
    first use (the registry from the settings' registry environment)."""

    def __init__(self, *, api: Any | None = None, registry: ModelRegistry | None = None,
                 wandb: Any | None = None, **clients: Any) -> None:
        super().__init__(**clients)
        self._api = api
        self._registry = registry
        self._wandb = wandb  # a requests-style session for the W&B registry (tests, the simulation)

    def registry_for(self, settings: KServeDeploySettings) -> ModelRegistry:
        if self._registry is None:
            self._registry = get_model_registry(settings.registry_settings, sagemaker=self.sagemaker,
                                                wandb=self._wandb)
        return self._registry

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = custom_objects_api()
        return self._api


def served_uri(api: Any, settings: KServeDeploySettings, variant: str) -> str:
    isvc = api.get_namespaced_custom_object(GROUP, VERSION, settings.namespace, PLURAL, settings.service(variant))
    return str(isvc["spec"]["predictor"]["model"]["storageUri"])


def serve(api: Any, settings: KServeDeploySettings, variant: str, uri: str) -> None:
    """Point a variant's InferenceService at `uri` (a merge patch of that one field; KServe rolls it out)."""
    patch = {"spec": {"predictor": {"model": {"storageUri": uri}}}}
    api.patch_namespaced_custom_object(GROUP, VERSION, settings.namespace, PLURAL, settings.service(variant), patch)


def run(settings: KServeDeploySettings, deps: Dependencies) -> dict[str, Any]:
    registry = deps.registry_for(settings)
    version = registry.latest_approved()
    if version is None:
        return {"status": "no_approved_version", "changed": False}
    uri, label = version.uri, version.label
    base: dict[str, Any] = {"endpoint_name": settings.endpoint_name, "model_name": label, "storage_uri": uri}
    api = deps.api
    champion = served_uri(api, settings, settings.champion_variant)
    if uri == champion:
        return {**base, "status": "already_champion", "changed": False}
    if champion == settings.bootstrap_uri or settings.mode == "single":
        serve(api, settings, settings.champion_variant, uri)
        registry.mark(version, CHAMPION)
        status = "first_model" if champion == settings.bootstrap_uri else "deployed"
        _alert(settings, deps, f"Model deployed: {settings.endpoint_name} serves {label}", {**base, "status": status})
        return {**base, "status": status, "changed": True}
    experiment = load_experiment(deps.s3, settings.decisions_bucket, settings.decisions_prefix,
                                 settings.endpoint_name)
    challenger = served_uri(api, settings, settings.challenger_variant)
    if challenger == uri:
        return {**base, "status": "already_deployed", "changed": False}
    if experiment is not None and not experiment.concluded:
        return {**base, "status": "held", "changed": False, "experiment_id": experiment.experiment_id}
    traffic = KServeGraphTraffic(settings.namespace, api=api)
    if experiment is not None and experiment.status is ExperimentStatus.PROMOTED:
        serve(api, settings, settings.champion_variant, challenger)  # the winner becomes the champion
        winner = registry.version_with_alias(CHALLENGER)
        if winner is not None:
            registry.mark(winner, CHAMPION)
        traffic.set_weights(settings.endpoint_name, {settings.champion_variant: 1.0, settings.challenger_variant: 0.0})
        champion_label: str | None = experiment.challenger_model
    else:
        champion_label = experiment.champion_model if experiment is not None else None
    serve(api, settings, settings.challenger_variant, uri)
    registry.mark(version, CHALLENGER)
    share = settings.ramp[0]
    traffic.set_weights(settings.endpoint_name, {settings.champion_variant: 1.0 - share,
                                                 settings.challenger_variant: share})
    now = deps.clock()
    started = Experiment(experiment_id=f"{label}-{now:%Y%m%dT%H%M%SZ}", endpoint_name=settings.endpoint_name,
                         challenger_model=label, champion_model=champion_label, started_at=now, stage_started_at=now,
                         ramp=list(settings.ramp))
    save_experiment(deps.s3, settings.decisions_bucket, settings.decisions_prefix, started)
    weights = {settings.champion_variant: 1.0 - share, settings.challenger_variant: share}
    result = {**base, "status": "deployed", "changed": True, "weights": weights,
              "experiment_id": started.experiment_id}
    _alert(settings, deps, f"Model deployed: {settings.endpoint_name} challenger at {share:.0%}", result)
    return result


def _alert(settings: KServeDeploySettings, deps: Dependencies, subject: str, body: Mapping[str, Any]) -> None:
    if settings.alert_topic_arn:
        deps.sns.publish(TopicArn=settings.alert_topic_arn, Subject=subject[:100],
                         Message=json.dumps(body, default=str, sort_keys=True))


def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Entry point (`python -m infra.runtime.jobs.run kserve-deployer`): settings from the environment."""
    result = run(KServeDeploySettings.from_env(), Dependencies())
    log.info("kserve deployer: %s", result.get("status"))
    return result
