"""Deployer: on "SageMaker Model Package State Change" (Approved), the new version goes live by the model's
serving mode (`ab`: the challenger at the first ramp stage; `single`: blue/green replacement with auto-rollback
alarms; `serverless`: replacement; `batch`: its SageMaker model, used by the next batch transform), and gets
its version model card (evaluation metrics, drift baseline).

The EventBridge rule of the stack only forwards approvals of its own model package group; the handler still
checks the event (and `deploy_approved_model` re-reads the package's approval status, since the event can be
stale) and ignores anything else, so a misrouted event changes nothing. EventBridge delivers at least once and
retries failed invocations: a repeated event finds the package already on the challenger and changes nothing.

Environment contract: see `infra.runtime.deploy.DeploySettings.from_env` (ENDPOINT_NAME, CHAMPION_VARIANT,
CHALLENGER_VARIANT, INSTANCE_TYPE, CHAMPION_INSTANCES, RAMP, EXECUTION_ROLE_ARN, KMS_KEY_ARN,
DECISIONS_BUCKET, DECISIONS_PREFIX, METRIC_NAMESPACE, ALERT_TOPIC_ARN, SERVING_MODE, DEPLOYMENT_CONFIG,
MODEL_CARD, NAME_BASE).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from infra.runtime.deploy import APPROVED, DeployDependencies, DeploySettings, deploy
from infra.runtime.handlers import for_model

log = logging.getLogger(__name__)

DETAIL_TYPE = "SageMaker Model Package State Change"


def handle_event(event: Mapping[str, Any] | None, settings: DeploySettings, deps: DeployDependencies) -> dict[str, Any]:
    """Deploy the package an approval event names; anything else is ignored with the reason."""
    event = event or {}
    detail_type = event.get("detail-type")
    if detail_type is not None and detail_type != DETAIL_TYPE:
        return {"status": "ignored", "changed": False, "reason": f"detail-type {detail_type!r}"}
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return {"status": "ignored", "changed": False, "reason": "the event has no detail"}
    approval = detail.get("ModelApprovalStatus")
    if approval != APPROVED:
        return {"status": "ignored", "changed": False, "reason": f"ModelApprovalStatus {approval!r}"}
    arn = detail.get("ModelPackageArn")
    if not isinstance(arn, str) or not arn:
        return {"status": "ignored", "changed": False, "reason": "the event names no ModelPackageArn"}
    result = deploy(settings, deps, arn)
    log.info("deployer %s: %s", arn, result["status"])
    return result


@for_model
def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Lambda entry point: settings from the environment, real clients created on first use."""
    return handle_event(event, DeploySettings.from_env(), DeployDependencies())
