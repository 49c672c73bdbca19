"""Entry points of the runtime jobs (Lambda handlers and scheduled tasks) the generated stacks deploy.

Each model of a stack has its own functions (same image, its own settings and role). A model's schedules pass
`{"model": "<name>"}`; `for_model` makes a function ignore an event meant for another model, so a misrouted
schedule or a copied target can never act with one model's settings on another model's data.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[..., dict[str, Any]]


def foreign_model(event: Any, own: str | None) -> str | None:
    """Why `event` is not for the model `own` (None when it is, or when either side names no model)."""
    asked = event.get("model") if isinstance(event, Mapping) else None
    if own and asked is not None and asked != own:
        return f"event for model {asked!r}; this function serves {own!r}"
    return None


def for_model(handler: Handler) -> Handler:
    """Lambda entry point decorator: the function's model is its `MODEL` environment variable."""

    @functools.wraps(handler)
    def wrapped(event: Any, context: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        reason = foreign_model(event, os.environ.get("MODEL"))
        if reason is not None:
            log.warning("ignored: %s", reason)
            return {"status": "ignored", "changed": False, "reason": reason}
        return handler(event, context, *args, **kwargs)

    return wrapped
