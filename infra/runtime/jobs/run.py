"""Run one runtime handler once, as a Kubernetes CronJob (or any scheduler) does: the same code as the Lambdas.

`python -m infra.runtime.jobs.run <handler>` with <handler> one of HANDLERS; settings come from the
environment exactly as for the Lambda function, the event is `{}` (scheduled run) or the JSON in `$EVENT`.
The result is printed as one JSON line; an exception exits with status 1 so Kubernetes records a failed Job
and retries it within the Job's backoff limit.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import sys

HANDLERS = {
    "drift-monitor": "infra.runtime.handlers.drift_monitor",
    "ab-controller": "infra.runtime.handlers.ab_controller",
    "ingestion": "infra.runtime.handlers.ingestion",
    "retrain": "infra.runtime.jobs.retrain",
    "kserve-deployer": "infra.runtime.handlers.kserve_deployer",
    "register-model": "infra.runtime.jobs.register",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in HANDLERS:
        print(f"usage: python -m infra.runtime.jobs.run {{{','.join(HANDLERS)}}}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    event = json.loads(os.environ.get("EVENT") or "{}")
    handler = importlib.import_module(HANDLERS[args[0]]).handler
    try:
        result = handler(event, None)
    except Exception:
        logging.getLogger("infra.runtime.jobs.run").exception("%s failed", args[0])
        return 1
    print(json.dumps(result, default=_jsonable))
    return 0


def _jsonable(value: object) -> object:
    """Dataclass results (a registered ModelVersion) as objects; anything else unknown as its string."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
