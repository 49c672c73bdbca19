"""Property-based: a usage scenario with any one value replaced, or a key added or removed, is either valid
(exit 0) or reported by file, line and field (exit 2), never a traceback. Derandomized for `make test`."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infra.cli.main import app
from infra.cost.catalog import load_catalog
from infra.cost.costing import price_stack
from infra.cost.scenario import SCENARIOS_DIR, Scenario
from infra.offline.graph import ResourceGraph, ResourceRecord

CATALOG = load_catalog()
# A small graph with usage-priced resources of both clouds (serving sized from traffic, storage from data).
GRAPH = ResourceGraph(stack="prod", profile="p", environment="prod", resources=[
    ResourceRecord(type="gcp:vertex/aiDeploymentResourcePool:AiDeploymentResourcePool", name="recommender-pool",
                   parent="serving", inputs={"dedicatedResources": {
                       "machineSpec": {"machineType": "n1-standard-4"}, "minReplicaCount": 2, "maxReplicaCount": 6}}),
    ResourceRecord(type="gcp:storage/bucket:Bucket", name="store-data", parent="store", inputs={"name": "p-data"}),
])
BASE = yaml.safe_load((SCENARIOS_DIR / "startup.yaml").read_text(encoding="utf-8"))
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                   st.text(max_size=12), st.lists(st.integers(), max_size=3),
                   st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at] if at else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*at, i))
    return out


PATHS = _paths(BASE)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    path = draw(st.sampled_from(PATHS))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(VALUES)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
    return data


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_scenarios_exit_0_or_2_with_file_line_and_field(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scenario.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        result = CliRunner().invoke(app, ["scenario", "validate", str(path)])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 0:  # what validates also prices: finite totals, no decimal.InvalidOperation
        est = price_stack(GRAPH, Scenario.model_validate(data), CATALOG, None).estimate
        assert est.total.is_finite()
    if result.exit_code == 2:
        for line in result.output.strip().splitlines():
            if line.startswith("error"):
                assert re.match(rf"error {re.escape(str(path))}:\d+: ", line), line


STARTUP_TEXT = (SCENARIOS_DIR / "startup.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(("old", "new", "field", "says"), [
    ("hours_per_run: 2,", "hours_per_run: .inf,", "hours_per_run", "finite number"),
    ("hours_per_run: 2,", "hours_per_run: .nan,", "hours_per_run", "finite number"),
    ("retention_months: 12", "retention_months: 1e308", "retention_months", "must be at most 1200"),
    ("requests_per_month: 3000000", "requests_per_month: 1e300", "requests_per_month", "must be at most"),
    ("profiles: [mlflow-sagemaker, wandb-kubeflow, vertex-managed]", "profiles: [mlflow-sagemaker, sagemaker-mlfow]",
     "profiles", "unknown profile 'sagemaker-mlfow' (not built in, not a file); did you mean 'mlflow-sagemaker'?"),
])
def test_bad_scenario_numbers_and_profiles_exit_2_at_file_line_field(
        tmp_path: Path, old: str, new: str, field: str, says: str) -> None:
    assert old in STARTUP_TEXT
    text = STARTUP_TEXT.replace(old, new, 1)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if new.split(":")[0].strip() in t and new in t)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    for command in (["scenario", "validate", str(path)], ["compare", "--scenario", str(path), "-o", str(tmp_path)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        error = next(t for t in result.output.splitlines() if t.startswith("error"))
        assert error.startswith(f"error {path}:{line}: ") and field in error and says in error, error
    assert not list(tmp_path.glob("*.md"))  # nothing half-written
