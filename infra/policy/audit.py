"""`mlopsgen audit`: the policy pack's own policies, run offline over the preview graph.

Each control's CrossGuard policy is called the way the Pulumi engine's analyzer calls it (`policy.validate`
with `ResourceValidationArgs` per resource, `StackValidationArgs` once per stack), with the props the program
declared (camelCase inputs: what `pulumi preview` hands a policy pack) and the property dependencies the
program's resource registrations carry. No `PolicyPack` is built here (that starts a gRPC server): only the
pack's `__main__.py` builds one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.offline.graph import ResourceGraph, ResourceRecord
from infra.policy.registry import Control, controls, enforcement


@dataclass(frozen=True)
class Violation:
    """One control failed for one resource. `loosened`: the reported loosened default that explains it."""

    control: str
    refs: tuple[str, ...]
    resource_type: str
    resource: str
    message: str
    loosened: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"control": self.control, "refs": list(self.refs), "type": self.resource_type,
                "resource": self.resource, "message": self.message, "loosenedDefault": self.loosened}


@dataclass
class AuditReport:
    stack: str
    environment: str
    enforcement: EnforcementLevel
    controls: list[Control]
    violations: list[Violation] = field(default_factory=list)
    loosened: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return bool(self.violations) and self.enforcement == EnforcementLevel.MANDATORY

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack, "environment": self.environment, "enforcement": self.enforcement.value,
            "controls": len(self.controls), "violations": [v.to_json() for v in self.violations],
            "loosenedDefaults": self.loosened,
            "catalog": [{"id": c.id, "title": c.title, "service": c.service, "refs": list(c.refs),
                         "source": c.source, "loosenedBy": list(c.loosened_by)} for c in self.controls],
        }


def _options(record: ResourceRecord, urns: dict[str, str]) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=record.protect, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
        parent=urns.get(record.parent) if record.parent else None,
    )


def _stack_resources(records: list[ResourceRecord], urns: dict[str, str]) -> list[PolicyResource]:
    by_urn: dict[str, PolicyResource] = {}
    for r in records:
        by_urn[r.urn] = PolicyResource(r.type, r.inputs, r.urn, r.name, _options(r, urns), None, None, [], {})
    for r in records:
        resource = by_urn[r.urn]
        resource.property_dependencies = {
            prop: [by_urn[u] for u in deps if u in by_urn] for prop, deps in r.property_dependencies.items()
        }
        resource.dependencies = list({d.urn: d for ds in resource.property_dependencies.values() for d in ds}
                                     .values())
    return list(by_urn.values())


def _loosened_default(control: Control, loosened: list[str]) -> str | None:
    for line in loosened:
        for field_name in control.loosened_by:
            if line.startswith(f"{field_name} "):
                return field_name
    return None


def audit(graph: ResourceGraph, selected: list[Control] | None = None) -> AuditReport:
    """Run every control (or `selected`) over the stack's declared resources."""
    chosen = selected if selected is not None else controls()
    report = AuditReport(stack=graph.stack, environment=graph.environment,
                         enforcement=enforcement(graph.environment), controls=chosen, loosened=list(graph.loosened))
    records = graph.custom
    urns = {r.name: r.urn for r in graph.resources}
    by_urn = {r.urn: r for r in records}
    stack_resources: list[PolicyResource] | None = None
    for control in chosen:
        policy = control.policy()
        explained = _loosened_default(control, graph.loosened)

        def add(record: ResourceRecord | None, message: str, control: Control = control,
                explained: str | None = explained) -> None:
            report.violations.append(Violation(
                control.id, control.refs, record.type if record else "stack", record.name if record else graph.stack,
                message, explained))

        if isinstance(policy, ResourceValidationPolicy):
            for record in records:
                args = ResourceValidationArgs(record.type, record.inputs, record.urn, record.name,
                                              _options(record, urns), None)

                def on_resource(message: str, _urn: str | None = None, record: ResourceRecord = record) -> None:
                    add(record, message)

                policy.validate(args, on_resource)
        elif isinstance(policy, StackValidationPolicy):
            if stack_resources is None:
                stack_resources = _stack_resources(records, urns)

            def on_stack(message: str, urn: str | None = None) -> None:
                add(by_urn.get(urn) if urn else None, message)

            policy.validate(StackValidationArgs(stack_resources), on_stack)
    return report
