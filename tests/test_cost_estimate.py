"""The estimator over the synthesized graph: coverage, traceability, the hand-checked scenario, the CLI."""

from __future__ import annotations

import io
import json
import math
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.cost.catalog import load_catalog
from infra.cost.costing import price_stack
from infra.cost.estimate import SHARED, cents, runs_per_month
from infra.cost.scenario import load_scenario
from infra.offline.graph import ResourceGraph

FIXTURES = Path(__file__).parent / "fixtures" / "cost"
CATALOG = load_catalog()
STARTUP = load_scenario("startup")  # built-in: package data


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_resource_is_priced_or_known_free(graphs: dict[str, ResourceGraph], env: str) -> None:
    est = price_stack(graphs[env], STARTUP, CATALOG).estimate
    assert est.unpriced == []
    priced = {line.resource for line in est.lines}
    free = {name for name, _, _ in est.free}
    assert {r.name for r in graphs[env].custom} <= priced | free


def test_every_line_traces_to_a_catalog_entry(graphs: dict[str, ResourceGraph]) -> None:
    est = price_stack(graphs["prod"], STARTUP, CATALOG).estimate
    for line in est.lines:
        if line.category == "people":
            assert line.unit_price == D(str(STARTUP.engineer_hourly_cost))
            continue
        entry = CATALOG.prices[line.price_id]
        assert (line.unit_price, line.source, line.read, line.grade) == (entry.price, entry.source, entry.read,
                                                                         entry.grade)
    assert {line.price_id for line in est.unsourced_lines} == {"aws.vpc.public_ipv4", "aws.cloudwatch.dashboard"}


def test_hand_scenario_matches_the_hand_computation_to_the_cent(graphs: dict[str, ResourceGraph]) -> None:
    """tests/fixtures/cost/hand.yaml on the dev stack, priced by hand from the catalog (730 h a month)."""
    hand = {
        "S3 data 10 GB x 6 months, artifacts 5 GB; 10k PUT, 100k GET": 60 * D("0.023") + 5 * D("0.023")
        + 10 * D("0.005") + 100 * D("0.0004"),
        "dashboard (UNSOURCED $3), KMS key $1": D(3) + D(1),
        "5 interface endpoints x 2 AZs x 730 h x $0.01, 10 GB x $0.01": 5 * 2 * 730 * D("0.01") + 10 * D("0.01"),
        "ALB 730 h x $0.0225 + 730 LCU-h x $0.008": 730 * D("0.0225") + 730 * D("0.008"),
        "7 log groups: 1 GB x $0.50 ingest, 1 GB x 14 days (x 12/365 months) x $0.03": 7 * (D("0.5") + D(14) * 12 / 365
                                                                                             * D("0.03")),
        "4 ECR repositories x 2 GB x $0.10": 4 * 2 * D("0.1"),
        "2 secrets (admin password, RDS-managed) x $0.40": 2 * D("0.4"),
        "RDS db.t4g.micro single-AZ 730 h x $0.016 + 20 GB x $0.115": 730 * D("0.016") + 20 * D("0.115"),
        "16 alarms (6 + errors and dead letters of 5 functions) x $0.10 + 2 custom metrics x $0.30": 16 * D("0.1")
        + 2 * D("0.3"),
        "drift monitor and ingestion: daily (730/24 runs) x 30 s x 2 GB": 2 * (D(730) / 24 * 30 * 2 * D("0.0000166667")
                                                                             + D(730) / 24 / 10**6 * D("0.2")),
        "A/B controller: hourly (730 runs) x 30 s x 0.5 GB": 730 * 30 * D("0.5") * D("0.0000166667")
        + D(730) / 10**6 * D("0.2"),
        "MLflow on Fargate: 0.5 vCPU, 1 GB, 1 task, 730 h": 730 * D("0.5") * D("0.04048") + 730 * D("0.004445"),
        "champion and challenger ml.t2.medium, 1 instance each": 2 * 730 * D("0.056"),
        "training 4 runs x 2 h on spot (1 - 0.5) x $0.115; processing 4 x 0.5 h": 4 * 2 * D("0.5") * D("0.115")
        + 4 * D("0.5") * D("0.115"),
        "people: (4 self-run service + 1 database + 1 network + 2 per model) h x $80": (4 + 1 + 1 + 2) * D(80),
    }
    scenario = load_scenario(FIXTURES / "hand.yaml")
    est = price_stack(graphs["dev"], scenario, CATALOG).estimate
    assert cents(est.total) == cents(sum(hand.values(), D(0))) == D("863.04")
    assert cents(est.by_category["people"]) == D("640.00")
    # the endpoint's 4 health alarms (5xx and p99 latency per variant) belong to its serving component
    assert cents(est.by_category["serving"]) == D("81.76") + 4 * D("0.1")
    # the model's own resources: endpoint and training, and its dashboard, 4 function log groups, 14 alarms (4
    # endpoint health, drift, data quality, errors and dead letters of its 4 functions),
    # 2 custom metrics and its functions (drift monitor and ingestion daily, A/B controller hourly, deployer idle)
    daily = D(730) / 24
    own = (2 * 730 * D("0.056") + D("0.46") + D("0.23") + D(3) + 4 * (D("0.5") + D(14) * 12 / 365 * D("0.03"))
           + 14 * D("0.1") + 2 * D("0.3") + 2 * (daily * 30 * 2 * D("0.0000166667") + daily / 10**6 * D("0.2"))
           + 730 * 30 * D("0.5") * D("0.0000166667") + D(730) / 10**6 * D("0.2"))
    assert cents(est.by_group["recommender"]) == cents(own)


def test_scenario_models_beyond_the_profiles_are_priced_as_copies(graphs: dict[str, ResourceGraph]) -> None:
    est = price_stack(graphs["prod"], STARTUP, CATALOG).estimate
    groups = est.by_group
    assert set(groups) == {SHARED, *(m.name for m in STARTUP.models)}
    assert any("as a copy of the resources of model 'credit-scoring' (the profile's first model by name)" in note
               for note in est.notes)
    # churn and demand-forecast are batch in the scenario: priced on the copied real-time endpoint, and said so
    for model in ("churn", "demand-forecast"):
        assert any(n.startswith(f"{model}: the scenario says batch, but mlflow-sagemaker serves it on a SageMaker "
                                "real-time endpoint") for n in est.notes)
    # Instances for the peak: requests x peak_to_average / (730 h x 3600 s) over 200/60 a second per instance (the
    # profile's target), within [min, max]. The recommender's champion (all traffic, min 2): 3M x 3 -> 3.42/s ->
    # 2; its challenger (weight 0) keeps its 1. credit-scoring's variant (min 2, max 4) and its copies: 0.3M x 3
    # -> 2; fraud-detection 8M x 4 -> 12.18/s -> 4 (its max); churn and demand-forecast -> 2.
    def instances(requests: float, peak: float, low: int, high: int) -> int:
        return min(max(math.ceil(D(requests) * D(peak) / (730 * 3600) / (D(200) / 60)), low), high)

    expected = (instances(3e6, 3, 2, 6) + 1 + instances(3e5, 3, 2, 4) + instances(8e6, 4, 2, 4)
                + instances(2e5, 3, 2, 4) + instances(5e4, 3, 2, 4))
    assert expected == 2 + 1 + 2 + 4 + 2 + 2
    serving = sum((x.monthly for x in est.lines if x.resource.endswith("-serving-config")), D(0))
    assert serving == expected * 730 * D("0.115")


def test_traffic_beyond_max_capacity_is_a_limit_and_scales_instances(graphs: dict[str, ResourceGraph]) -> None:
    busy = STARTUP.model_copy(update={"models": [STARTUP.models[0].model_copy(update={
        "inference": STARTUP.models[0].inference.model_copy(update={"requests_per_month": 50_000_000})})]})
    est = price_stack(graphs["prod"], busy, CATALOG).estimate
    champion = next(x for x in est.lines if x.component.startswith("champion"))
    # 50M x 3 (peak) / (730 x 60) = 3424.7 a minute over 200 per instance: 18 needed, priced at the max, 6; the
    # cost line and the limit name the same 18.
    assert champion.quantity == 6 * 730
    assert "= 18 needed, within 2-6" in champion.component
    assert any("needs 18 instances" in limit and "above its max capacity 6" in limit for limit in est.limits)


@pytest.mark.parametrize(("expression", "runs"), [
    ("rate(1 hour)", D(730)), ("rate(15 minutes)", D(730) * 4), ("cron(0 6 * * ? *)", D(730) / 24),
    ("cron(0 3 ? * SUN *)", D(730) / 24 / 7), ("cron(0,30 8-17 ? * MON-FRI *)", 2 * 10 * D(730) / 24 * 5 / 7),
])
def test_schedule_runs_per_month(expression: str, runs: D) -> None:
    assert abs(runs_per_month(expression, D(730)) - runs) < D("1e-9")


def test_cost_cli_json_and_table() -> None:
    result = CliRunner().invoke(app, ["cost", "--stack", "dev", "--scenario", str(FIXTURES / "hand.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["monthly_total"] == 863.04
    assert {"resource", "component", "quantity", "unit", "unit_price", "monthly_cost", "price"} <= set(data["lines"][0])
    table = CliRunner().invoke(app, ["cost", "--stack", "dev", "--scenario", str(FIXTURES / "hand.yaml")],
                               env={"COLUMNS": "80"})
    flat = "".join(table.output.split())  # notes wrap to the terminal's width
    assert table.exit_code == 0 and "unsourcedpriceaws.cloudwatch.dashboard" in flat and "$863.04amonth" in flat
    rows = table.output.splitlines()
    assert max(map(len, rows)) <= 80
    # A component's numbers on one row, the quantity rounded: 730/24 daily runs x 30 s x 2 GB = 1,825 GB-seconds;
    # the A/B controller's 730 requests a month = 0.00073 of the unit (1M requests).
    assert any(r.split()[-5:] == ["1,825", "GB-second", "$0.0000166667", "$0.03", "B"] for r in rows)
    assert any(r.split()[-6:] == ["<0.001", "1M", "requests", "$0.2", "$0.00", "B"] for r in rows)


def test_cost_diff_between_stacks() -> None:
    result = CliRunner().invoke(app, ["cost", "diff", "--base-stack", "dev", "--stack", "prod", "--scenario",
                                      str(FIXTURES / "hand.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = data["new"]["monthly_total"] - data["base"]["monthly_total"]
    assert data["monthly_delta"] == pytest.approx(expected, abs=0.01)
    nat = [c for c in data["changes"] if c["resource"].startswith("network-nat-us-east-1")]
    # prod adds 3 NAT gateways (the scenario sends no data through them): 730 h x $0.045 each.
    assert [(c["component"], c["base"], c["new"]) for c in nat] == [("NAT gateway", 0, 32.85)] * 3


@pytest.mark.parametrize(("text", "where"), [
    ("name: x\nmodels:\n  - name: a\n    training: {runs_per_month: -1}\n", ":4: models.0.training.runs_per_month"),
    ("name: x\nteam_size: many\nmodels: [{name: a}]\n", ":2: team_size"),
    ("name: x\nmodels: [{name: a}]\nspeed: 3\n", ":3: speed: unknown field"),
    ("name: x\nmodels: []\n", ":2: models"),
    ("name: x\nmodels: [{name: a}]\nweights: {cost: 0, learning_curve: 0, operating_burden: 0, scalability: 0}\n",
     ":3: weights"),
    ("- a\n", ":1: a scenario must be a YAML mapping"),
])
def test_bad_scenario_names_file_line_and_field(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["cost", "--stack", "dev", "--scenario", str(path)])
    assert result.exit_code == 2
    assert where in result.output and "Traceback" not in result.output


def test_scenario_schema_file_is_current() -> None:
    from infra.cost.scenario import SCENARIO_SCHEMA_FILE, scenario_schema_text

    assert SCENARIO_SCHEMA_FILE.read_text(encoding="utf-8") == scenario_schema_text(), \
        "run: mlopsgen scenario schema -o infra/cost/scenario.schema.json"


def test_a_price_nobody_published_is_listed_unpriced_not_zero() -> None:
    from infra.offline.preview import preview
    from infra.profiles.loader import resolve

    graph = preview(resolve(str(Path(__file__).parent / "fixtures" / "managed-mlflow.yaml"), "prod"))
    est = price_stack(graph, STARTUP, CATALOG).estimate
    [tracking] = [u for u in est.unpriced if u.type == "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"]
    assert "hourly price not found" in tracking.reason
    assert not [x for x in est.lines if x.type == tracking.type]


def test_a_price_read_for_another_region_is_noted(graphs: dict[str, ResourceGraph]) -> None:
    same = price_stack(graphs["dev"], STARTUP, CATALOG, "us-east-1").estimate
    other = price_stack(graphs["dev"], STARTUP, CATALOG, "eu-west-1").estimate
    assert not [n for n in same.notes if "list price" in n]
    note = "'aws.kms.key' is the us-east-1 list price; the stack runs in eu-west-1, whose price may differ"
    assert note in other.notes


def test_training_runs_come_from_the_scenario_else_the_retraining_schedule(graphs: dict[str, ResourceGraph]) -> None:
    """credit-scoring retrains monthly (cron(0 4 1 * ? *)): without runs in the scenario, 1 run is priced; the
    recommender's 3 scenario runs win over its weekly schedule (730 / 24 / 7 = 4.35), and both lines say which."""
    from infra.cost.scenario import ModelUsage, Scenario

    scenario = Scenario(name="s", models=[ModelUsage(name="credit-scoring"), ModelUsage(
        name="recommender", training={"runs_per_month": 3})])  # type: ignore[arg-type]
    est = price_stack(graphs["prod"], scenario, CATALOG).estimate
    training = {x.group: x.component for x in est.lines if x.component.startswith("training ")}
    assert "(1 runs x" in training["credit-scoring"] or " 1 runs x" in training["credit-scoring"]
    assert "runs from the retraining schedule (cron(0 4 1 * ? *): 1)" in training["credit-scoring"]
    assert " 3 runs x" in training["recommender"] or "(3 runs x" in training["recommender"]
    assert f"runs from the scenario; retraining schedule cron(0 3 ? * SUN *): {D(730) / 24 / 7:.2f}" \
        in training["recommender"]


def test_cost_table_at_80_columns_breaks_names_only_after_a_hyphen(graphs: dict[str, ResourceGraph],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped at 80 columns: every line fits; a resource name too long for its column breaks after a hyphen, its
    rest on the next line (never 'network-nat-eip-us-e' / 'ast-1a'), and the category totals have a heading."""
    from rich.console import Console

    from infra.cli import cost as cost_cli

    narrow = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    monkeypatch.setattr(cost_cli, "console", narrow)
    stack = price_stack(graphs["prod"], STARTUP, CATALOG)
    cost_cli.render(stack)
    lines = narrow.export_text().splitlines()
    assert max(len(t) for t in lines) <= 80
    cells = [t.split("  ")[0].strip() for t in lines]  # the first column (numbers sit two spaces or more away)
    names = {x.resource for x in stack.estimate.lines}
    whole = set()  # each cell joined with the lines that continue it (a cell ending in '-')
    for i, cell in enumerate(cells):
        j = i
        while cell.endswith("-") and j + 1 < len(cells):
            j += 1
            cell += cells[j]
        whole.add(cell)
    assert names <= whole, sorted(names - whole)
    assert "network-nat-eip-us-east-1a" in names and len("network-nat-eip-us-east-1a") > 20  # the reported case
    heading = lines.index("monthly cost by category")
    assert [t.split()[0] for t in lines[heading + 1:heading + 3]] == ["tracking", "training"]
