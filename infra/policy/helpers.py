"""Small readers of resource properties shared by the controls (props are the program's camelCase inputs)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def document(value: Any) -> Mapping[str, Any]:
    """A JSON policy document given as a string or a mapping ({} when absent or not JSON)."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, Mapping) else {}
    return {}


def statements(value: Any) -> list[Mapping[str, Any]]:
    return [s for s in as_list(document(value).get("Statement")) if isinstance(s, Mapping)]


def allows(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def is_public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any(v == "*" or "*" in as_list(v) for v in principal.values())
    return False


def of_type(args: StackValidationArgs, *types: str) -> list[PolicyResource]:
    return [r for r in args.resources if r.resource_type in types]


def sources(resource: PolicyResource, prop: str) -> list[PolicyResource]:
    """The resources an input of `resource` was computed from (CrossGuard's property dependencies)."""
    return list((resource.property_dependencies or {}).get(prop) or [])


def referenced(resources: Iterable[PolicyResource], prop: str) -> set[str]:
    """URNs of the resources that the `prop` input of any of `resources` refers to."""
    return {source.urn for r in resources for source in sources(r, prop)}


def name_of(resource: PolicyResource) -> str:
    return resource.name
