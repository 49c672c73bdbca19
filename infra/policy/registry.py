"""The control registry: every control of the policy pack, whatever cloud it checks, registered in one table.

A control is one rule with a stable id, its source (AWS Foundational Security Best Practices, the CIS AWS
Foundations Benchmark, or this project's own rule where no framework has one) and a check written against
CrossGuard's own argument types (`pulumi_policy.ResourceValidationArgs` / `StackValidationArgs`). The same
checks run in `pulumi preview/up --policy-pack infra/policy` (the pack's `__main__.py` turns them into
`ResourceValidationPolicy` / `StackValidationPolicy` objects) and offline in `mlopsgen audit` (which calls each
policy's `validate` over the preview graph). Clouds register their controls beside each other: a module per
cloud under `infra.policy` (`aws`, `kubernetes`, `gcp`), listed in `CLOUD_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

# Modules whose import registers a cloud's controls (each registers with `resource_control` / `stack_control`).
CLOUD_MODULES = ("infra.policy.aws", "infra.policy.kubernetes", "infra.policy.gcp")

FSBP = "AWS Foundational Security Best Practices (Security Hub controls reference)"
CIS = "CIS Amazon Web Services Foundations Benchmark v3.0.0"
OWN = "mlopsgen (no framework control exists for this; the source is named in the control's rationale)"

Report = Callable[[str], None]
StackReport = Callable[[str, str | None], None]
ResourceCheck = Callable[[ResourceValidationArgs, Report], None]
StackCheck = Callable[[StackValidationArgs, StackReport], None]


@dataclass(frozen=True)
class Control:
    """One rule of the pack.

    `id`: stable name, also the CrossGuard policy name (`<cloud>-<service>-<rule>`). `refs`: framework control
    IDs (e.g. "FSBP S3.8", "CIS 2.1.4"); empty for the project's own rules. `source`: where the rule comes from.
    `loosened_by`: profile fields whose explicit loosening (reported by preview) this control flags, so a
    violation in dev can be traced to the loosened default that causes it.
    """

    id: str
    title: str
    cloud: str
    service: str
    refs: tuple[str, ...]
    source: str
    kind: Literal["resource", "stack"]
    check: Any
    resource_types: tuple[str, ...] = ()
    loosened_by: tuple[str, ...] = ()

    def policy(self) -> Policy:
        """The CrossGuard policy object for this control (enforcement comes from the pack or its config)."""
        description = f"{self.title} [{', '.join(self.refs) or 'mlopsgen'}]"
        if self.kind == "resource":
            types = set(self.resource_types)

            def validate(args: ResourceValidationArgs, report_violation: Callable[[str, str | None], None]) -> None:
                if args.resource_type in types:
                    self.check(args, lambda message: report_violation(message, None))

            return ResourceValidationPolicy(self.id, description, validate=validate)
        return StackValidationPolicy(self.id, description, validate=self.check)


CONTROLS: dict[str, Control] = {}


def _register(control: Control) -> None:
    if control.id in CONTROLS:
        raise ValueError(f"two controls named {control.id}")
    CONTROLS[control.id] = control


def resource_control(
    id: str, title: str, *types: str, service: str, refs: tuple[str, ...] = (), source: str = FSBP,
    loosened_by: tuple[str, ...] = (), cloud: str = "aws",
) -> Callable[[ResourceCheck], ResourceCheck]:
    """Register a check that runs once per resource of the given Pulumi types."""

    def register(check: ResourceCheck) -> ResourceCheck:
        _register(Control(id, title, cloud, service, refs, source, "resource", check, types, loosened_by))
        return check

    return register


def stack_control(
    id: str, title: str, *, service: str, refs: tuple[str, ...] = (), source: str = FSBP,
    loosened_by: tuple[str, ...] = (), cloud: str = "aws",
) -> Callable[[StackCheck], StackCheck]:
    """Register a check that sees every resource of the stack at once (relations between resources)."""

    def register(check: StackCheck) -> StackCheck:
        _register(Control(id, title, cloud, service, refs, source, "stack", check, (), loosened_by))
        return check

    return register


def controls() -> list[Control]:
    """Every registered control, in registration order."""
    for module in CLOUD_MODULES:
        importlib.import_module(module)
    return list(CONTROLS.values())


def policies() -> list[Policy]:
    return [c.policy() for c in controls()]


def enforcement(environment: str) -> EnforcementLevel:
    """Mandatory in staging and prod; advisory in dev, whose loosened defaults the profile states openly."""
    return EnforcementLevel.ADVISORY if environment == "dev" else EnforcementLevel.MANDATORY
