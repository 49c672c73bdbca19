"""Scheduled retraining: start one run of the model's retraining pipeline through the configured trigger.

Environment: MODEL_NAME, RETRAINING_TRIGGER (e.g. `kubeflow-pipeline`) and that trigger's settings. The
request key is the model and the UTC date, so a Job retried on the same day starts no second run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from infra.runtime.adapters.retraining import RetrainingRequest, RetrainingTrigger, get_retraining_trigger


def handler(event: Mapping[str, Any] | None, context: Any, env: Mapping[str, str] | None = None,
            now: datetime | None = None, trigger: RetrainingTrigger | None = None) -> dict[str, Any]:
    """`trigger`: the one to use instead of the one RETRAINING_TRIGGER names (tests, the simulation)."""
    settings = dict(os.environ if env is None else env)
    model, trigger_name = settings.get("MODEL_NAME", ""), settings.get("RETRAINING_TRIGGER", "")
    if not model or not trigger_name:
        raise ValueError("retrain: MODEL_NAME and RETRAINING_TRIGGER are required")
    day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    request = RetrainingRequest(model_name=model, reason=f"scheduled retraining of {model} ({day})",
                                idempotency_key=RetrainingRequest.key_for(model, "scheduled", day))
    run = (trigger or get_retraining_trigger(trigger_name, settings)).trigger(request)
    return {"model": model, "run": run, "day": day}
