"""The synthesized resource graph: what the program declared, read by preview, sandbox, audit and cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ResourceRecord:
    """One declared resource, with Pulumi's type token and camelCase input names."""

    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    custom: bool = True
    urn: str = ""
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)  # input -> URNs it came from
    ignore_changes: list[str] = field(default_factory=list)
    provider: str = ""  # the logical name of an explicit provider ("" for the default one)

    @property
    def is_component(self) -> bool:
        return not self.custom

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
            "options": {"protect": self.protect, "retainOnDelete": self.retain_on_delete,
                        **({"ignoreChanges": self.ignore_changes} if self.ignore_changes else {}),
                        **({"provider": self.provider} if self.provider else {})},
        }


@dataclass
class ResourceGraph:
    stack: str
    profile: str
    environment: str
    resources: list[ResourceRecord] = field(default_factory=list)
    loosened: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # the stack's exports, secrets masked
    project: str = "mlopsgen"  # the Pulumi project's name: the root stack resource is <project>-<stack>

    @property
    def custom(self) -> list[ResourceRecord]:
        """Cloud resources (component resources are only groupings)."""
        return [r for r in self.resources if r.custom]

    def of_type(self, token: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.type == token]

    def named(self, name: str) -> ResourceRecord:
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "profile": self.profile,
            "environment": self.environment,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
            "loosenedDefaults": self.loosened,
        }
