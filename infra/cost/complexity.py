"""Complexity measured from the graph, and the rubrics (operating burden, learning curve, SaaS) applied to it.

Measured: cloud resources, distinct cloud services (provider:module of each type token), components the team
runs itself, whether Kubernetes is required, IAM roles and policies, and the policy-pack controls a stack must
keep green (when a policy pack is on the platform). Rubrics are data (``rubrics.yaml``): each rule says what it
counts, its value, its grade and its source, and a scenario can override any value by rule id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from infra.cost.estimate import SHARED, dec
from infra.cost.scenario import Scenario
from infra.offline.graph import ResourceRecord

RUBRICS_FILE = Path(__file__).with_name("rubrics.yaml")
IAM_ROLE_TYPES = {"aws:iam/role:Role", "gcp:serviceaccount/account:Account"}
IAM_POLICY_TYPES = {"aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy",
                    "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "gcp:projects/iAMMember:IAMMember"}
KUBERNETES_PREFIXES = ("kubernetes:", "aws:eks/", "gcp:container/")


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid")
    types: list[str] = Field(default_factory=list)
    type_prefixes: list[str] = Field(default_factory=list)
    name_regex: str | None = None

    def hits(self, record: ResourceRecord) -> bool:
        if record.type in self.types or any(record.type.startswith(p) for p in self.type_prefixes):
            return True
        return bool(self.name_regex and re.search(self.name_regex, f"{record.type} {record.name}"))


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    description: str
    per: Literal["resource", "any", "model"]
    value: float
    grade: str
    source: str
    match: Match
    role: Literal["data_scientist", "platform_engineer"] | None = None


class SaasRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    product: str
    price: str
    match: Match


class Rubrics(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operating_burden: list[Rule]
    learning_curve: list[Rule]
    saas: list[SaasRule]


@lru_cache(maxsize=1)
def load_rubrics() -> Rubrics:
    return Rubrics.model_validate(yaml.safe_load(RUBRICS_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    value: Decimal  # after the scenario's override
    count: int
    overridden: bool

    @property
    def total(self) -> Decimal:
        return self.value * self.count

    def to_json(self) -> dict[str, Any]:
        return {"id": self.rule.id, "description": self.rule.description, "per": self.rule.per,
                "role": self.rule.role, "value": float(self.value), "count": self.count,
                "total": float(self.total), "overridden": self.overridden, "grade": self.rule.grade,
                "source": self.rule.source}


def apply_rule(rule: Rule, records: list[ResourceRecord], models: int, overrides: dict[str, float]) -> RuleResult:
    if rule.per == "model":
        count = models
    else:
        hits = sum(1 for r in records if rule.match.hits(r))
        count = hits if rule.per == "resource" else int(hits > 0)
    value = dec(overrides[rule.id]) if rule.id in overrides else dec(rule.value)
    return RuleResult(rule, value, count, rule.id in overrides)


@dataclass(frozen=True)
class Complexity:
    resources: int
    services: list[str]
    self_run: int
    kubernetes: bool
    iam_roles: int
    iam_policies: int
    policy_controls: int | None
    burden: list[RuleResult]
    learning: list[RuleResult]
    team_size: int
    platform_engineers: int

    @property
    def burden_hours(self) -> Decimal:
        return sum((r.total for r in self.burden), Decimal(0))

    def onboarding_weeks(self, role: str) -> Decimal:
        return sum((r.total for r in self.learning if r.rule.role == role), Decimal(0))

    @property
    def person_weeks(self) -> Decimal:
        """Onboarding person-weeks for the whole team: weeks per role x people in the role."""
        return (self.onboarding_weeks("data_scientist") * self.team_size
                + self.onboarding_weeks("platform_engineer") * self.platform_engineers)

    def to_json(self) -> dict[str, Any]:
        return {
            "resources": self.resources, "distinct_services": len(self.services), "services": self.services,
            "self_run_components": self.self_run, "kubernetes_required": self.kubernetes,
            "iam_roles": self.iam_roles, "iam_policies": self.iam_policies,
            "policy_controls": self.policy_controls,
            "operating_burden_hours_per_month": float(self.burden_hours),
            "onboarding_weeks": {"data_scientist": float(self.onboarding_weeks("data_scientist")),
                                 "platform_engineer": float(self.onboarding_weeks("platform_engineer"))},
            "onboarding_person_weeks": float(self.person_weeks),
            "operating_burden_rules": [r.to_json() for r in self.burden],
            "learning_curve_rules": [r.to_json() for r in self.learning],
        }


def service_of(type_token: str) -> str:
    """'aws:sagemaker/endpoint:Endpoint' -> 'aws:sagemaker'; 'kubernetes:apps/v1:Deployment' -> 'kubernetes:apps'."""
    provider, _, rest = type_token.partition(":")
    return f"{provider}:{rest.split('/')[0].split(':')[0]}"


def policy_controls() -> int | None:
    """Controls of the platform's policy pack, when one is installed (``infra.policy``); None otherwise."""
    try:
        from infra import policy  # type: ignore[attr-defined]
    except ImportError:
        return None
    controls = getattr(policy, "CONTROLS", None)
    return len(controls) if controls is not None else None


def measure(records: list[ResourceRecord], scenario: Scenario, models: int) -> Complexity:
    """Complexity of the resources a stack has for the scenario (per-model resources once per model)."""
    rubrics = load_rubrics()
    self_run_types = {t for rule in rubrics.operating_burden if rule.id in ("self-run-service", "database")
                      for t in rule.match.types}
    burden_over = scenario.rubrics.operating_burden_hours
    learn_over = scenario.rubrics.learning_curve_weeks
    return Complexity(
        resources=len(records),
        services=sorted({service_of(r.type) for r in records}),
        self_run=sum(1 for r in records if r.type in self_run_types),
        kubernetes=any(r.type.startswith(KUBERNETES_PREFIXES) for r in records),
        iam_roles=sum(1 for r in records if r.type in IAM_ROLE_TYPES),
        iam_policies=sum(1 for r in records if r.type in IAM_POLICY_TYPES),
        policy_controls=policy_controls(),
        burden=[apply_rule(rule, records, models, burden_over) for rule in rubrics.operating_burden],
        learning=[apply_rule(rule, records, models, learn_over) for rule in rubrics.learning_curve],
        team_size=scenario.team_size, platform_engineers=scenario.platform_engineers,
    )


def burden_lines(c: Complexity) -> list[tuple[str, str, Decimal]]:
    """(rule id, group, hours a month) for the people lines of an estimate; per-model hours go to SHARED too
    (the rubric counts models, not resources)."""
    return [(r.rule.id, SHARED, r.total) for r in c.burden if r.total]


def saas_lines(records: list[ResourceRecord], scenario: Scenario) -> list[tuple[str, str, Decimal]]:
    seats = Decimal(scenario.team_size + scenario.platform_engineers)
    return [(rule.product, rule.price, seats) for rule in load_rubrics().saas
            if any(rule.match.hits(r) for r in records)]
