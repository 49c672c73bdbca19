"""Secure defaults a resolved stack loosens. Nothing is loosened silently: preview and sandbox print these.

Fields that protect something carry `x-protective` in their JSON Schema (see `protective()`); a value below
the field's default (False for a flag, a smaller number for a count or a duration) is a loosened default.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from infra.profiles.loader import StackSpec

PROTECTIVE = "x-protective"


def _walk(model: BaseModel, path: str) -> list[str]:
    found: list[str] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        dotted = f"{path}.{name}" if path else name
        if isinstance(value, BaseModel):
            found.extend(_walk(value, dotted))
            continue
        if isinstance(value, dict):  # e.g. `models`, keyed by name
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    found.extend(_walk(item, f"{dotted}.{key}"))
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if not extra.get(PROTECTIVE):
            continue
        default: Any = info.get_default(call_default_factory=True)
        if isinstance(default, bool) and default and value is False:
            found.append(f"{dotted} is off (default on): {extra[PROTECTIVE]}")
        elif isinstance(default, int) and not isinstance(default, bool) and value < default:
            found.append(f"{dotted} is {value} (default {default}): {extra[PROTECTIVE]}")
    return found


def loosened_defaults(spec: StackSpec) -> list[str]:
    body = spec.body
    found = _walk(body, "")
    for workload in getattr(body.networking, "internet_https_egress", []):
        found.append(f"networking.internet_https_egress includes {workload}: its containers may open HTTPS "
                     "connections to any internet host through the NAT gateway")
    return found
