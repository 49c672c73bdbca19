"""Complexity measured from the graph, and the rubrics (operating burden, learning curve, SaaS) applied to it.

Measured: cloud resources, distinct cloud services (provider:module of each type token), components the team
runs itself, whether Kubernetes is required, IAM roles and policies, and the policy-pack controls a stack must
keep green (those of ``infra.policy`` that check its resource types). Rubrics are data (``rubrics.yaml``): each
rule says what it counts, its value, its grade and its source, and a scenario can override any value by rule id.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from infra.cost.estimate import SHARED, dec
from infra.cost.scenario import CLOUDS, Scenario
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
    per: Literal["resource", "any", "model", "new-cloud"]
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


Key = tuple[str, str]  # (type token, logical name): all a rule looks at


def apply_rule(rule: Rule, hits: int, models: int, overrides: dict[str, float], new_cloud: bool = False) -> RuleResult:
    """`hits`: resources the rule's match hits (copies of a per-model resource counted once per model);
    `new_cloud`: the stack runs on a cloud other than the one the team runs today (scenario's cloud_today)."""
    count = {"model": models, "resource": hits, "any": int(hits > 0), "new-cloud": int(new_cloud)}[rule.per]
    value = dec(overrides[rule.id]) if rule.id in overrides else dec(rule.value)
    return RuleResult(rule, value, count, rule.id in overrides)


@lru_cache(maxsize=4096)
def _rule_hits(key: Key) -> tuple[bool, ...]:
    """Whether each rule (operating burden, learning curve, then SaaS, in file order) matches a resource."""
    rubrics = load_rubrics()
    record = ResourceRecord(type=key[0], name=key[1], parent=None, inputs={})
    matches = [rule.match for rule in (*rubrics.operating_burden, *rubrics.learning_curve)]
    return tuple(m.hits(record) for m in (*matches, *(rule.match for rule in rubrics.saas)))


def _hit_counts(counts: Counter[Key]) -> list[int]:
    """Per rule (the order of `_rule_hits`), the resources it matches."""
    rubrics = load_rubrics()
    totals = [0] * (len(rubrics.operating_burden) + len(rubrics.learning_curve) + len(rubrics.saas))
    for key, n in counts.items():
        for i, hit in enumerate(_rule_hits(key)):
            if hit:
                totals[i] += n
    return totals


@dataclass(frozen=True)
class Complexity:
    resources: int
    services: list[str]
    self_run: int
    kubernetes: bool
    iam_roles: int
    iam_policies: int
    policy_controls: int
    burden: list[RuleResult]
    learning: list[RuleResult]
    team_size: int
    platform_engineers: int
    saas: list[SaasRule]  # subscriptions the resources imply

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


@lru_cache(maxsize=64)
def policy_controls(types: frozenset[str]) -> int:
    """Controls of the policy pack (``infra.policy``) a stack of these resource types must keep green: those
    checking one of its types, and the stack-wide ones of its clouds."""
    from infra.policy.registry import controls  # the pack's checks import pulumi_policy: only when measured

    clouds = {t.partition(":")[0] for t in types}
    return sum(1 for c in controls()
               if (c.kind == "resource" and types.intersection(c.resource_types))
               or (c.kind == "stack" and c.cloud in clouds))


def measure(records: list[ResourceRecord], scenario: Scenario, models: int) -> Complexity:
    """Complexity of the resources a stack has for the scenario (per-model resources once per model)."""
    rubrics = load_rubrics()
    counts = Counter((r.type, r.name) for r in records)
    types = Counter[str]()
    for (type_token, _), n in counts.items():
        types[type_token] += n
    hits = _hit_counts(counts)
    n_burden, n_learning = len(rubrics.operating_burden), len(rubrics.learning_curve)
    self_run_types = {t for rule in rubrics.operating_burden if rule.id in ("self-run-service", "database")
                      for t in rule.match.types}
    burden_over = scenario.rubrics.operating_burden_hours
    learn_over = scenario.rubrics.learning_curve_weeks
    clouds = {t.partition(":")[0] for t in types} & set(CLOUDS)
    new_cloud = bool(clouds) and scenario.cloud_today not in clouds
    return Complexity(
        resources=len(records),
        services=sorted({service_of(t) for t in types}),
        self_run=sum(n for t, n in types.items() if t in self_run_types),
        kubernetes=any(t.startswith(KUBERNETES_PREFIXES) for t in types),
        iam_roles=sum(n for t, n in types.items() if t in IAM_ROLE_TYPES),
        iam_policies=sum(n for t, n in types.items() if t in IAM_POLICY_TYPES),
        policy_controls=policy_controls(frozenset(types)),
        burden=[apply_rule(rule, hits[i], models, burden_over) for i, rule in enumerate(rubrics.operating_burden)],
        learning=[apply_rule(rule, hits[n_burden + i], models, learn_over, new_cloud)
                  for i, rule in enumerate(rubrics.learning_curve)],
        team_size=scenario.team_size, platform_engineers=scenario.platform_engineers,
        saas=[rule for i, rule in enumerate(rubrics.saas) if hits[n_burden + n_learning + i]],
    )


def burden_lines(c: Complexity) -> list[tuple[str, str, Decimal]]:
    """(rule id, group, hours a month) for the people lines of an estimate; per-model hours go to SHARED too
    (the rubric counts models, not resources)."""
    return [(r.rule.id, SHARED, r.total) for r in c.burden if r.total]


def saas_lines(c: Complexity) -> list[tuple[str, str, Decimal]]:
    """(product, price id, seats) of the subscriptions the stack implies; seats = team plus platform engineers."""
    seats = Decimal(c.team_size + c.platform_engineers)
    return [(rule.product, rule.price, seats) for rule in c.saas]
