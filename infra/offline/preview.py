"""`mlopsgen preview`: run the program under the mock runtime and list what it declares."""

from __future__ import annotations

from typing import Any

from infra.offline.graph import ResourceGraph
from infra.offline.runtime import GraphMocks, run_program
from infra.offline.synth import synthesize
from infra.profiles.loader import StackSpec


class PreviewMocks(GraphMocks):
    """Nothing is created: every resource gets synthesized, AWS-shaped outputs."""

    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return synthesize(typ, name, inputs, self.account_id, self.region)


def preview(spec: StackSpec, secrets: dict[str, str] | None = None) -> ResourceGraph:
    """`secrets`: values for the profile's secret config keys (offline placeholders otherwise)."""
    return run_program(spec, PreviewMocks(region=spec.body.region), secrets=secrets)
