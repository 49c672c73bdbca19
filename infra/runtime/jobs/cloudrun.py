"""Cloud Run job entry point: `python -m infra.runtime.jobs.cloudrun TASK` runs one runtime task with its
settings from the environment the stack sets on the job (the same handlers the AWS stack runs as Lambda
functions, reaching GCP through the adapters its STORAGE, METRICS and NOTIFICATIONS settings name). TASK_EVENT
(optional JSON) is the handler's event. The result is printed as JSON; an exception fails the execution (Cloud
Run retries it as the job is configured to)."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infra.runtime.adapters.retraining import RetrainingRequest, get_retraining_trigger
from infra.runtime.clients import utc_now

TASKS = {
    "ingestion": "infra.runtime.handlers.ingestion:handler",
    "drift": "infra.runtime.handlers.drift_monitor:handler",
    "ab-controller": "infra.runtime.handlers.ab_controller:handler",
    "retraining": "infra.runtime.jobs.cloudrun:scheduled_retraining",
    "deployer": "infra.runtime.handlers.vertex_deployer:handler",
}


def scheduled_request(model: str, now: datetime) -> RetrainingRequest:
    """The scheduled retraining of `model` on `now`'s UTC date: one run per model and day, so a retried
    execution (Cloud Run retries a failed task; Cloud Scheduler retries a failed start) starts no second run."""
    day = now.date().isoformat()
    return RetrainingRequest(model_name=model, reason=f"Scheduled retraining ({day}).",
                             idempotency_key=RetrainingRequest.key_for(model, "scheduled", day), trigger="schedule")


def scheduled_retraining(event: Mapping[str, Any] | None, context: Any) -> dict[str, str]:
    """Environment: MODEL_NAME, RETRAINING_TRIGGER and that trigger's settings."""
    model = os.environ["MODEL_NAME"]
    trigger = get_retraining_trigger(os.environ["RETRAINING_TRIGGER"], os.environ)
    return {"model": model, "run": trigger.trigger(scheduled_request(model, utc_now()))}


def task_handler(task: str) -> Any:
    try:
        module, _, attribute = TASKS[task].partition(":")
    except KeyError:
        raise SystemExit(f"unknown task {task!r}; expected one of {', '.join(TASKS)}") from None
    return getattr(importlib.import_module(module), attribute)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit(f"usage: python -m infra.runtime.jobs.cloudrun {{{','.join(TASKS)}}}")
    handler = task_handler(args[0])
    event = json.loads(os.environ.get("TASK_EVENT") or "{}")
    print(json.dumps(handler(event, None), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
