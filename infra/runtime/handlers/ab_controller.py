"""A/B controller: a scheduled job that applies the conversion guardrail to a live champion/challenger split.

Why its own controller: SageMaker deployment guardrails watch alarms for at most 8 hours, while a conversion
guardrail needs days of traffic. This job runs on a schedule (e.g. hourly, EventBridge Scheduler -> Lambda),
reads cumulative counts, calls `decide`, and moves traffic through a `TrafficController`.

Environment contract (the event payload is ignored, so any scheduler can trigger it):
- ENDPOINT_NAME (required); CHAMPION_VARIANT (default `champion`); CHALLENGER_VARIANT (default `challenger`)
- DECISIONS_BUCKET (required); DECISIONS_PREFIX (default `abtest`): the experiment record lives at
  ``<prefix>/<endpoint>/experiment.json``; every decision is written to
  ``<prefix>/<endpoint>/<experiment_id>/decisions/<UTC timestamp>-<action>.json``
- ALERT_TOPIC_ARN (optional): SNS topic notified on every traffic change (rollback, SRM halt, ramp, promote)
- METRIC_NAMESPACE (default `MLOpsGen/ABTest`): metrics `Visitors` and each policy metric (`Conversions`),
  dimensions `EndpointName`, `VariantName`, summed over the current stage's window. The application emits
  them: one Visitor per unit randomised to a variant, one Conversion per such unit that converted, so each
  metric is a proportion of Visitors (the binomial model `decide` relies on).
- TRAFFIC_CONTROLLER (default `sagemaker-variants`); GUARDRAIL_POLICY (optional JSON of `GuardrailPolicy`)
- STORAGE (default `s3`), METRICS (default `cloudwatch`), NOTIFICATIONS (default `sns`): the adapters the
  controller reaches its cloud through (GCP: `gcs`, `cloud-monitoring`, `cloud-logging`; infra.runtime.adapters)
IAM: s3:GetObject/PutObject on the prefix, cloudwatch:GetMetricData, sns:Publish, sagemaker:DescribeEndpoint
and sagemaker:UpdateEndpointWeightsAndCapacities. Run it with reserved concurrency 1 and a timeout of 5
minutes (the traffic adapter may back off for about two).

What each decision does:
- ROLLBACK / SRM_HALT: champion weight 1, challenger 0; experiment concluded (rolled_back / halted); alert.
- CONTINUE on a ramp stage that had the minimum sample, no harm and `ramp_min_hours_per_stage`: ADVANCE to the
  next stage's split; counting restarts `ramp_settle_minutes` later; alert. A PROMOTE before the last stage
  also just advances: every stage is walked.
- PROMOTE on the last stage: challenger weight 1, champion 0, experiment concluded (promoted); alert. The
  champion variant stays deployed at weight 0, so undoing it is one weight change; replacing the endpoint
  config is the deployer's job.
- Order: traffic first, then the decision record, then the experiment state, then the alert. A crash after
  the traffic change is healed by the next run (same counts, same decision, the adapter sees the target split
  and does nothing). Once concluded, reruns read the record and the weights, write nothing and return
  ``already_<status>``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from infra.runtime.abtest.experiment import Experiment, ExperimentStatus, load_experiment, save_experiment
from infra.runtime.abtest.guardrail import Action, ArmCounts, Decision, decide_all
from infra.runtime.abtest.policy import GuardrailPolicy
from infra.runtime.adapters.metrics import metric_period, metrics_backend
from infra.runtime.adapters.traffic import TrafficController, get_traffic_controller
from infra.runtime.clients import Adapters
from infra.runtime.handlers import for_model

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "MLOpsGen/ABTest"
VISITORS_METRIC = "Visitors"


class ControllerAction(StrEnum):
    """What one run did; the first four mirror `Action`, ADVANCE is a ramp step."""

    CONTINUE = "continue"
    ROLLBACK = "rollback"
    SRM_HALT = "srm_halt"
    PROMOTE = "promote"
    ADVANCE = "advance"


_TERMINAL = {
    ControllerAction.ROLLBACK: ExperimentStatus.ROLLED_BACK,
    ControllerAction.SRM_HALT: ExperimentStatus.HALTED,
    ControllerAction.PROMOTE: ExperimentStatus.PROMOTED,
}


@dataclass(frozen=True)
class ControllerSettings:
    """The environment contract, parsed once."""

    endpoint_name: str
    decisions_bucket: str
    decisions_prefix: str = "abtest"
    alert_topic_arn: str | None = None
    metric_namespace: str = DEFAULT_NAMESPACE
    champion_variant: str = "champion"
    challenger_variant: str = "challenger"
    traffic_controller: str = "sagemaker-variants"
    policy: GuardrailPolicy = field(default_factory=GuardrailPolicy)
    env: Mapping[str, str] = field(default_factory=dict)  # adapter choices and their settings (STORAGE, ...)

    def __post_init__(self) -> None:
        if self.champion_variant == self.challenger_variant:
            raise ValueError("CHAMPION_VARIANT and CHALLENGER_VARIANT must differ")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ControllerSettings:
        env = os.environ if env is None else env
        missing = [k for k in ("ENDPOINT_NAME", "DECISIONS_BUCKET") if not env.get(k)]
        if missing:
            raise ValueError(f"missing required environment variable(s): {', '.join(missing)}")
        policy_json = env.get("GUARDRAIL_POLICY", "").strip()
        return cls(
            endpoint_name=env["ENDPOINT_NAME"],
            decisions_bucket=env["DECISIONS_BUCKET"],
            decisions_prefix=env.get("DECISIONS_PREFIX", "abtest"),
            alert_topic_arn=env.get("ALERT_TOPIC_ARN") or None,
            metric_namespace=env.get("METRIC_NAMESPACE") or DEFAULT_NAMESPACE,
            champion_variant=env.get("CHAMPION_VARIANT") or "champion",
            challenger_variant=env.get("CHALLENGER_VARIANT") or "challenger",
            traffic_controller=env.get("TRAFFIC_CONTROLLER") or "sagemaker-variants",
            policy=GuardrailPolicy.model_validate_json(policy_json) if policy_json else GuardrailPolicy(),
            env=dict(env),
        )

    def adapters(self) -> dict[str, str]:
        """The settings the cloud adapters read (STORAGE, METRICS, NOTIFICATIONS, GCP_PROJECT, ALERT_TOPIC_ARN)."""
        return {**self.env, "ALERT_TOPIC_ARN": self.alert_topic_arn or ""}

    def rollback_weights(self) -> dict[str, float]:
        return {self.champion_variant: 1.0, self.challenger_variant: 0.0}

    def promote_weights(self) -> dict[str, float]:
        return {self.champion_variant: 0.0, self.challenger_variant: 1.0}

    def split_weights(self, challenger_share: float) -> dict[str, float]:
        return {self.champion_variant: 1.0 - challenger_share, self.challenger_variant: challenger_share}


class Dependencies(Adapters):
    """The cloud's clients and adapters, the traffic controller and the clock; injectable for tests and created
    lazily (never at import)."""

    def __init__(self, *, traffic: TrafficController | None = None, **clients: Any) -> None:
        super().__init__(**clients)
        self._traffic = traffic

    def traffic(self, name: str) -> TrafficController:
        if self._traffic is None:
            self._traffic = get_traffic_controller(name)
        return self._traffic


__all__ = ["ControllerSettings", "Dependencies", "handler", "metric_period", "read_counts", "run"]


def read_counts(
    metrics: Any, settings: ControllerSettings, start: datetime, end: datetime
) -> dict[str, tuple[ArmCounts, ArmCounts]]:
    """Sum Visitors and every policy metric per variant over [start, end). `metrics`: a Metrics backend
    (infra.runtime.adapters.metrics: CloudWatch GetMetricData, Cloud Monitoring ListTimeSeries) or a boto3
    CloudWatch client."""
    names = [VISITORS_METRIC, *settings.policy.metrics]
    variants = [settings.champion_variant, settings.challenger_variant]
    queries: dict[str, tuple[str, str]] = {}
    for v_index, variant in enumerate(variants):
        for m_index, metric in enumerate(names):
            queries[f"v{v_index}m{m_index}"] = (variant, metric)
    series = {query_id: (metric, {"EndpointName": settings.endpoint_name, "VariantName": variant})
              for query_id, (variant, metric) in queries.items()}
    totals = metrics_backend(metrics).sums(settings.metric_namespace, series, start, end)

    def arm(v_index: int, metric: str) -> ArmCounts:
        visitors = round(totals[f"v{v_index}m0"])
        conversions = round(totals[f"v{v_index}m{names.index(metric)}"])
        if conversions > visitors:
            raise ValueError(
                f"{metric} ({conversions}) exceed {VISITORS_METRIC} ({visitors}) for variant "
                f"{variants[v_index]} of {settings.endpoint_name}: not counted over the same requests"
            )
        return ArmCounts(visitors=visitors, conversions=conversions)

    return {metric: (arm(0, metric), arm(1, metric)) for metric in settings.policy.metrics}


def decision_key(settings: ControllerSettings, experiment: Experiment, at: datetime, action: str) -> str:
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    parts = (
        settings.decisions_prefix.strip("/"),
        settings.endpoint_name,
        experiment.experiment_id,
        "decisions",
        f"{stamp}-{action}.json",
    )
    return "/".join(p for p in parts if p)


def run(settings: ControllerSettings, deps: Dependencies) -> dict[str, Any]:
    """One look at the experiment on `settings.endpoint_name`; returns a JSON-serialisable summary."""
    bucket, prefix = settings.decisions_bucket, settings.decisions_prefix
    store = deps.store(settings.adapters())
    experiment = load_experiment(store, bucket, prefix, settings.endpoint_name)
    if experiment is None:
        return {"status": "no_experiment", "endpoint_name": settings.endpoint_name, "changed": False}
    traffic = deps.traffic(settings.traffic_controller)

    if experiment.concluded:
        return _already_concluded(settings, experiment, traffic.get_weights(settings.endpoint_name))

    now = deps.clock()
    weights_before = traffic.get_weights(settings.endpoint_name)
    counts = read_counts(deps.metrics(settings.adapters()), settings, experiment.window_start, now)
    decision = decide_all(counts, settings.policy, treatment_share=experiment.challenger_weight)
    action, target, reason = _plan(settings, experiment, decision, now)

    if target is not None:
        traffic.set_weights(settings.endpoint_name, target)
    weights_after = target if target is not None else weights_before

    key = decision_key(settings, experiment, now, action.value)
    record = {
        "experiment_id": experiment.experiment_id,
        "endpoint_name": settings.endpoint_name,
        "challenger_model": experiment.challenger_model,
        "decided_at": now.isoformat(),
        "action": action.value,
        "reason": reason,
        "stage": experiment.stage,
        "challenger_weight": experiment.challenger_weight,
        "window_start": experiment.window_start.isoformat(),
        "weights_before": weights_before,
        "weights_after": weights_after,
        "decision": decision.model_dump(mode="json"),
        "policy": settings.policy.model_dump(mode="json"),
    }
    store.put(bucket, key, json.dumps(record, indent=2).encode())

    if action in _TERMINAL:
        experiment.status = _TERMINAL[action]
        experiment.concluded_at = now
        experiment.conclusion = reason
        experiment.decision_key = key
        save_experiment(store, bucket, prefix, experiment)
    elif action is ControllerAction.ADVANCE:
        experiment.stage += 1
        experiment.stage_started_at = now + timedelta(minutes=settings.policy.ramp_settle_minutes)
        save_experiment(store, bucket, prefix, Experiment.model_validate(experiment.model_dump()))

    notifier = deps.notifier(settings.adapters()) if target is not None else None
    if notifier is not None:
        notifier.publish(f"A/B {action.value}: {settings.endpoint_name}",
                         json.dumps({k: record[k] for k in record if k != "policy"}, indent=2))
    log.info("ab-controller %s %s: %s (%s)", settings.endpoint_name, experiment.experiment_id, action, reason)
    return {
        "status": action.value,
        "endpoint_name": settings.endpoint_name,
        "experiment_id": experiment.experiment_id,
        "changed": target is not None,
        "reason": reason,
        "weights": weights_after,
        "decision_key": key,
    }


def _plan(
    settings: ControllerSettings, experiment: Experiment, decision: Decision, now: datetime
) -> tuple[ControllerAction, dict[str, float] | None, str]:
    """Map the statistical decision to a traffic action for this experiment's ramp stage."""
    if decision.action is Action.ROLLBACK:
        return ControllerAction.ROLLBACK, settings.rollback_weights(), decision.reason
    if decision.action is Action.SRM_HALT:
        return ControllerAction.SRM_HALT, settings.rollback_weights(), decision.reason
    if decision.action is Action.PROMOTE and experiment.final_stage:
        return ControllerAction.PROMOTE, settings.promote_weights(), decision.reason
    if not experiment.final_stage and decision.sample_ready:
        elapsed_hours = (now - experiment.window_start).total_seconds() / 3600.0
        if elapsed_hours >= settings.policy.ramp_min_hours_per_stage:
            share = experiment.ramp[experiment.stage + 1]
            reason = (
                f"stage {experiment.stage} ({experiment.challenger_weight:.0%}) passed after "
                f"{elapsed_hours:.1f} h ({decision.reason}); challenger share -> {share:.0%}"
            )
            return ControllerAction.ADVANCE, settings.split_weights(share), reason
    return ControllerAction.CONTINUE, None, decision.reason


def _already_concluded(
    settings: ControllerSettings, experiment: Experiment, weights: dict[str, float]
) -> dict[str, Any]:
    expected = (
        settings.promote_weights() if experiment.status is ExperimentStatus.PROMOTED else settings.rollback_weights()
    )
    matches = all(abs(weights.get(name, -1.0) - w) < 1e-9 for name, w in expected.items())
    if not matches:
        # Someone changed the split by hand after the controller concluded: report it, do not fight it.
        log.warning(
            "experiment %s on %s is %s but the weights are %s",
            experiment.experiment_id,
            settings.endpoint_name,
            experiment.status.value,
            weights,
        )
    return {
        "status": f"already_{experiment.status.value}",
        "endpoint_name": settings.endpoint_name,
        "experiment_id": experiment.experiment_id,
        "changed": False,
        "reason": experiment.conclusion,
        "weights": weights,
        "weights_match_conclusion": matches,
        "decision_key": experiment.decision_key,
    }


@for_model
def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Lambda entry point: settings from the environment, real clients created on first use."""
    return run(ControllerSettings.from_env(), Dependencies())
