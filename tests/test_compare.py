"""`mlopsgen compare`: figures per profile, crossovers, sensitivity, the committed report's freshness, and the
HTML report in headless Chromium (the Debian `chromium` package; the test says so when it cannot run)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.cost.catalog import Catalog, load_catalog
from infra.cost.compare import (
    Comparison,
    Sweep,
    Synthesized,
    _caveats,
    _crossovers,
    compare,
    score,
    synthesize,
    with_model_count,
)
from infra.cost.costing import StackCost, price_stack
from infra.cost.estimate import CATEGORIES, SHARED, Estimate, Unpriced
from infra.cost.report import render
from infra.cost.scenario import Scenario, load_scenario
from infra.offline.graph import ResourceGraph, ResourceRecord
from infra.profiles.loader import builtin_profiles

STARTUP = load_scenario("startup")
REPO_ROOT = Path(__file__).resolve().parents[1]
COMMITTED = REPO_ROOT / "comparisons"  # the reports committed with the repository
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def synthesized() -> Synthesized:
    return synthesize(STARTUP)


@pytest.fixture(scope="module")
def comparison(synthesized: Synthesized) -> Comparison:
    return compare(synthesized, STARTUP, load_catalog())


def test_compare_json_gives_every_figure_per_profile(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["compare", "--scenario", "startup", "--json",
                                      "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert set(data["compared"]) | set(data["not_compared"]) == set(STARTUP.profiles)
    assert set(data["compared"]) == set(STARTUP.profiles) & set(builtin_profiles())
    for name, p in data["profiles"].items():
        assert list(p["by_category"]) == list(CATEGORIES)
        assert sum(p["by_category"].values()) == pytest.approx(p["monthly_total"], abs=0.05), name
        for figure in ("resources", "distinct_services", "self_run_components", "kubernetes_required", "iam_roles",
                       "iam_policies", "operating_burden_hours_per_month", "onboarding_person_weeks"):
            assert figure in p["complexity"]
        assert set(p["scalability"]) == {"models", "requests", "team"}
        assert p["limits"]
    assert set(data["crossovers"]) == {"models", "requests", "team"}
    assert data["recommendation"]["profile"] in data["compared"]
    assert (tmp_path / "startup.md").exists() and (tmp_path / "startup.html").exists()


def test_every_profile_is_priced_line_by_line_from_the_catalog(comparison: Comparison,
                                                                synthesized: Synthesized) -> None:
    """Each compared profile (whatever is built in): every cloud resource is priced, free with a reason, or listed
    unpriced with a reason; every priced line carries its catalog entry's price, source, date and grade."""
    catalog = load_catalog()
    for name, cost in comparison.costs.items():
        est = cost.estimate
        accounted = {x.resource for x in est.lines} | {r for r, _, _ in est.free} | {u.resource for u in est.unpriced}
        assert {r.name for r in synthesized.graphs[name].custom} <= accounted, name
        assert all(u.reason for u in est.unpriced) and all(why for _, _, why in est.free), name
        for line in est.lines:
            if line.category == "people":
                continue
            entry = catalog.prices[line.price_id]
            assert (line.unit_price, line.source, line.read, line.grade) == (entry.price, entry.source, entry.read,
                                                                             entry.grade), (name, line)


def test_models_sweep_is_the_scenario_repriced(comparison: Comparison) -> None:
    """The sweep's point at the scenario's own model count is the scenario's total; more models cost more."""
    sweep = next(s for s in comparison.sweeps if s.name == "models")
    for name, cost in comparison.costs.items():
        at_five = sweep.series[name][sweep.xs.index(float(len(STARTUP.models)))]
        assert at_five == pytest.approx(float(cost.estimate.total), abs=0.01)
        assert sweep.series[name] == sorted(sweep.series[name])
    assert [m.name for m in with_model_count(STARTUP, 7).models][-2:] == ["recommender-2", "credit-scoring-2"]


def test_crossover_is_where_the_cheapest_changes() -> None:
    # a: 100 + 10x, b: 160 + 4x; they meet at x = 10.
    xs = [0.0, 5.0, 15.0, 20.0]
    sweep = Sweep("models", "models", xs, {"a": [100 + 10 * x for x in xs], "b": [160 + 4 * x for x in xs]})
    assert _crossovers(sweep) == [{"at": 10.0, "between": [5.0, 15.0], "from": "a", "to": "b"}]
    assert _crossovers(Sweep("m", "m", xs, {"a": [1.0] * 4})) == []


def test_verdict_names_where_it_stops_holding_and_what_it_leaves_out(comparison: Comparison) -> None:
    xs = [1.0, 5.0, 8.0]
    models = Sweep("models", "models in production", xs, {"a": [1.0, 5.0, 9.0], "b": [3.0, 6.0, 8.0]})
    requests = Sweep("requests", "inference requests a month (all models)", [1e8, 3e8],
                     {"a": [10.0, 30.0], "b": [20.0, 25.0]})
    for sweep in (models, requests):
        sweep.crossovers = _crossovers(sweep)
    cost = comparison.costs["mlflow-sagemaker"]
    gaps = StackCost(Estimate("a", "prod", unpriced=[Unpriced("tb", "gcp:vertex/aiTensorboard:AiTensorboard", SHARED,
                                                              "tensorboard", "no price")]), cost.complexity)
    # a: 1 + x... meets b between 5 and 8 at 5 + 3 x 1/2 = 6.5; traffic: at 1e8 + 2e8 x 10/15 = 233 million
    scores = {"a": {"total": 0.9}, "b": {"total": 0.7}}
    assert _caveats(["a", "b"], scores, {"a": gaps}, [models, requests]) == [
        "models in production: from about 6.5, b costs less than a",
        "inference requests a month: from about 233 million, b costs less than a",
        "a's total leaves out 1 unpriced component(s) (AiTensorboard): no price could be sourced, so its cost is a "
        "lower bound"]
    assert _caveats(["b", "a"], {"b": {"total": 0.9}, "a": {"total": 0.7}}, {"b": cost}, [models, requests]) == []
    assert _caveats(["b", "a"], {"a": {"total": 0.86}, "b": {"total": 0.9}}, {"b": cost}, [models]) == [
        "a close call: a scores 0.860 against 0.900; the sensitivity table shows which single assumption turns it"]


def test_score_is_weighted_best_over_value() -> None:
    values = {"a": {"cost": Decimal(100), "learning_curve": Decimal(2), "operating_burden": Decimal(10),
                    "scalability": Decimal(1000)},
              "b": {"cost": Decimal(200), "learning_curve": Decimal(1), "operating_burden": Decimal(10),
                    "scalability": Decimal(500)}}
    s = score(values, {"cost": 0.5, "learning_curve": 0.25, "operating_burden": 0.25, "scalability": 0.0})
    assert s["a"]["total"] == pytest.approx(0.5 * 1 + 0.25 * 0.5 + 0.25 * 1)
    assert s["b"]["total"] == pytest.approx(0.5 * 0.5 + 0.25 * 1 + 0.25 * 1)


def test_sensitivity_moves_the_total_the_right_way(comparison: Comparison) -> None:
    best = comparison.recommended
    by_name = {s.variable: s for s in comparison.sensitivity}
    low, high = by_name["engineer_hourly_cost"].totals[best]
    hours = float(comparison.costs[best].complexity.burden_hours)
    # People's time is burden hours x the rate: halving and doubling $100/h moves the total by hours x 50 and x 100.
    base = float(comparison.costs[best].estimate.total)
    assert (low, high) == (pytest.approx(base - hours * 50, abs=0.01), pytest.approx(base + hours * 100, abs=0.01))
    if len(comparison.costs) == 1:
        assert all(s.flip is None for s in comparison.sensitivity)


def _winner_from_scratch(graphs: dict[str, ResourceGraph], scenario: Scenario, catalog: Catalog) -> str:
    """Every criterion priced afresh (the scenario, and at 50 models), then the weighted score."""
    values = {}
    for name, graph in graphs.items():
        cost = price_stack(graph, scenario, catalog, "us-east-1")
        top = price_stack(graph, with_model_count(scenario, 50), catalog, "us-east-1").estimate.total
        values[name] = {"cost": cost.estimate.total, "learning_curve": cost.complexity.person_weeks,
                        "operating_burden": cost.complexity.burden_hours, "scalability": top}
    scores = score(values, scenario.weights.model_dump())
    return max(scores, key=lambda p: (scores[p]["total"], p))


def test_sensitivity_flips_where_pricing_afresh_flips(synthesized: Synthesized) -> None:
    """Against a bare EKS cluster (little to pay, much to run), the recommendation turns at an engineer cost and
    at an instance price; at each reported value, pricing from scratch gives the new winner, and 1% of the way
    back towards the base still the old one (every criterion re-evaluated, the cost at 50 models included)."""
    eks = ResourceGraph(stack="prod", profile="eks", environment="prod", resources=[ResourceRecord(
        type="aws:eks/cluster:Cluster", name="eks-cluster", parent="cluster", inputs={"tags": {"capability": "x"}})])
    # The AWS profile against the bare cluster: an instance price of the one can turn the recommendation.
    graphs = {"mlflow-sagemaker": synthesized.graphs["mlflow-sagemaker"], "eks": eks}
    catalog = load_catalog()
    result = compare(Synthesized(graphs, {p: "us-east-1" for p in graphs}, {}), STARTUP, catalog)
    by_name = {s.variable: s for s in result.sensitivity}
    m5 = "aws.sagemaker.hosting.ml.m5.large"
    probes = {
        "engineer_hourly_cost": (STARTUP.engineer_hourly_cost,
                                 lambda v: (STARTUP.model_copy(update={"engineer_hourly_cost": v}), catalog)),
        f"price {m5}": (float(catalog.prices[m5].price or 0),
                        lambda v: (STARTUP, catalog.with_price(m5, Decimal(str(v))))),
    }
    for variable, (base, apply) in probes.items():
        flip = by_name[variable]
        assert flip.flip_value is not None, variable
        assert _winner_from_scratch(graphs, *apply(base)) == result.recommended
        assert _winner_from_scratch(graphs, *apply(flip.flip_value)) != result.recommended
        assert flip.flip and flip.flip.endswith(_winner_from_scratch(graphs, *apply(flip.flip_value)))
        back = flip.flip_value - (flip.flip_value - base) * 0.01
        assert _winner_from_scratch(graphs, *apply(back)) == result.recommended, variable


def test_committed_reports_are_current(comparison: Comparison) -> None:
    files = render(comparison)
    stale = [rel for rel, text in files.items()
             if not (COMMITTED / rel).exists() or (COMMITTED / rel).read_text(encoding="utf-8") != text]
    assert not stale, f"stale: {stale}; run: mlopsgen compare --scenario startup"


CHECK = """<script>
const figures = [...document.querySelectorAll("figure.chart")];
const result = figures.map(f => {
  const svg = f.querySelector("svg"); const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {chart: f.dataset.chart, width: box.width, height: box.height,
          marks: svg ? svg.querySelectorAll("path, use, rect, text").length : 0};
});
const out = document.createElement("pre"); out.id = "chart-check"; out.textContent = JSON.stringify(result);
document.body.appendChild(out);
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="browser test did not run: the chromium package is not installed")
def test_html_report_renders_its_charts_in_headless_chromium(tmp_path: Path) -> None:
    report = COMMITTED / "startup.html"
    html = report.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="chart-check">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    charts = json.loads(found.group(1).replace("&quot;", '"'))
    assert {c["chart"] for c in charts} == {"categories", "models", "requests", "team", "sensitivity"}
    for c in charts:
        assert c["width"] > 200 and c["height"] > 100 and c["marks"] > 20, c
    # The report as shipped: nothing written to the console (errors, warnings, logs), and a screenshot kept
    # in build/screenshots (not committed) for a reader to look at.
    screenshot = REPO_ROOT / "build" / "screenshots" / "startup-report.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    run = _chromium("--enable-logging=stderr", "--v=0", "--window-size=1280,4000", f"--screenshot={screenshot}",
                    report.as_uri())
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []
    assert screenshot.stat().st_size > 50_000
