"""One stack priced for one scenario: cloud resources, SaaS seats and people's time, with its complexity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.cost.catalog import Catalog
from infra.cost.complexity import Complexity, burden_lines, measure, saas_lines
from infra.cost.estimate import Estimate, Layout, estimate_resources, people_and_saas, split_models
from infra.cost.scenario import ModelUsage, Scenario
from infra.offline.graph import ResourceGraph


@dataclass
class StackCost:
    estimate: Estimate
    complexity: Complexity

    def to_json(self) -> dict[str, Any]:
        return {**self.estimate.to_json(), "complexity": self.complexity.to_json()}


def price_stack(graph: ResourceGraph | Layout, scenario: Scenario, catalog: Catalog,
                region: str | None = None) -> StackCost:
    """Price `graph` (a stack in `region`; or its `layout`, made once) for `scenario`: no synthesis here, so a
    comparison prices one graph many times."""
    est = estimate_resources(graph, scenario, catalog, region)
    complexity = measure(est.records, scenario, len(scenario.models))
    people_and_saas(est, scenario, catalog, burden_lines(complexity), saas_lines(complexity))
    return StackCost(est, complexity)


def default_scenario(graph: ResourceGraph) -> Scenario:
    """Usage when none is given: the scenario defaults, one model usage per model the graph declares."""
    _, models = split_models(graph)
    names = list(models) or ["model"]
    return Scenario(name="default", description="scenario defaults", environment=graph.environment,  # type: ignore[arg-type]
                    models=[ModelUsage(name=n) for n in names])
