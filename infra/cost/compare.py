"""Compare profiles for one scenario: cost, complexity, scalability sweeps, crossovers, sensitivity, a verdict.

Each profile's graph is synthesized once (the real program under the mock runtime); every sweep point and
sensitivity probe re-prices that graph with a changed scenario or catalog. A profile the scenario names that is
not built in is listed as not compared, with the reason: no number is invented for it.

Recommendation: for each criterion (monthly cost, onboarding person-weeks, operating hours a month, monthly
cost at the models sweep's top), a profile scores best/value in [0, 1]; the weighted sum of scores (the
scenario's weights, normalised) ranks the profiles.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from infra.cost.catalog import Catalog
from infra.cost.costing import StackCost, price_stack
from infra.cost.estimate import CATEGORIES, cents, dec, layout
from infra.cost.scenario import ModelUsage, Scenario
from infra.errors import UserError
from infra.offline.graph import ResourceGraph
from infra.offline.runtime import gc_paused

MODEL_COUNTS = (1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50)
REQUEST_TOTALS = tuple(int(10 ** (e / 2)) for e in range(8, 19))  # 1e4 .. 1e9 a month, half decades
TEAM_SIZES = (1, 2, 3, 5, 8, 10, 15, 20, 25, 30)
CRITERIA = ("cost", "learning_curve", "operating_burden", "scalability")
Progress = Callable[[str], None]


# ---------------------------------------------------------------------------------------------- scenario edits
def with_model_count(scenario: Scenario, n: int) -> Scenario:
    """n models: the scenario's own, repeated in order (copies renamed name-2, name-3...) or the first n."""
    base = scenario.models
    models = []
    for i in range(n):
        m = base[i % len(base)]
        models.append(m if i < len(base) else m.model_copy(update={"name": f"{m.name}-{i // len(base) + 1}"}))
    return scenario.model_copy(update={"models": models})


def with_requests(scenario: Scenario, total: float) -> Scenario:
    """The same models with their requests scaled so the month's total is `total` (shares kept)."""
    current = sum(m.inference.requests_per_month for m in scenario.models)
    shares = [m.inference.requests_per_month / current if current else 1 / len(scenario.models)
              for m in scenario.models]
    return scenario.model_copy(update={"models": [
        _model_requests(m, total * share) for m, share in zip(scenario.models, shares, strict=True)]})


def _model_requests(m: ModelUsage, requests: float) -> ModelUsage:
    return m.model_copy(update={"inference": m.inference.model_copy(update={"requests_per_month": requests})})


def onboarding_monthly(cost: StackCost, scenario: Scenario) -> Decimal:
    """Onboarding person-weeks x 40 h x the engineer cost, spread over the amortisation months."""
    months = dec(scenario.assumptions.onboarding_amortisation_months)
    return cost.complexity.person_weeks * 40 * dec(scenario.engineer_hourly_cost) / months


# ---------------------------------------------------------------------------------------------- results
@dataclass
class Sweep:
    name: str
    axis: str
    xs: list[float]
    series: dict[str, list[float]]  # profile -> monthly USD per x
    crossovers: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"axis": self.axis, "x": self.xs, "monthly_usd": self.series, "crossovers": self.crossovers}


@dataclass
class Sensitivity:
    variable: str
    base: str
    low: str
    high: str
    totals: dict[str, tuple[float, float]]  # profile -> (total at low, total at high)
    flip: str | None  # e.g. "$180.00: vertex-managed"
    flip_value: float | None = None  # the value shown in `flip`

    def to_json(self) -> dict[str, Any]:
        return {"variable": self.variable, "base": self.base, "low": self.low, "high": self.high,
                "monthly_usd_at_low_high": {k: list(v) for k, v in self.totals.items()}, "flips_at": self.flip,
                "flip_value": self.flip_value}


@dataclass
class Comparison:
    scenario: Scenario
    costs: dict[str, StackCost]
    missing: dict[str, str]
    scores: dict[str, dict[str, float]]
    ranking: list[str]
    reasons: list[str]
    sweeps: list[Sweep]
    sensitivity: list[Sensitivity]
    limits: dict[str, list[str]]
    pricings: int = 0

    @property
    def recommended(self) -> str:
        return self.ranking[0]

    def to_json(self) -> dict[str, Any]:
        profiles: dict[str, Any] = {}
        for name, cost in self.costs.items():
            est = cost.estimate
            profiles[name] = {
                "monthly_total": float(cents(est.total)),
                "by_category": {k: float(cents(v)) for k, v in est.by_category.items()},
                "by_group": {k: float(cents(v)) for k, v in est.by_group.items()},
                "onboarding_monthly": float(cents(onboarding_monthly(cost, self.scenario))),
                "complexity": cost.complexity.to_json(),
                "scalability": {s.name: dict(zip(s.xs, s.series[name], strict=True)) for s in self.sweeps},
                "limits": self.limits[name],
                "unpriced": [u.to_json() for u in est.unpriced],
                "unsourced_prices": sorted({x.price_id for x in est.unsourced_lines}),
                "notes": est.notes,
                "score": self.scores[name],
                "lines": [x.to_json() for x in est.lines],
            }
        return {
            "scenario": self.scenario.name, "environment": self.scenario.environment,
            "categories": list(CATEGORIES),
            "compared": list(self.costs), "not_compared": self.missing,
            "recommendation": {"profile": self.recommended, "ranking": self.ranking, "reasons": self.reasons},
            "profiles": profiles,
            "sweeps": {s.name: s.to_json() for s in self.sweeps},
            "crossovers": {s.name: s.crossovers for s in self.sweeps},
            "sensitivity": [s.to_json() for s in self.sensitivity],
            "graphs_synthesized": len(self.costs), "graphs_priced": self.pricings,
        }


# ---------------------------------------------------------------------------------------------- evaluation
Values = dict[str, dict[str, Decimal]]  # profile -> criterion -> value (lower is better)


def _criteria(cost: StackCost, at_top: Decimal) -> dict[str, Decimal]:
    """A profile's criteria: monthly cost, onboarding person-weeks, operating hours, cost at the models sweep's top."""
    return {"cost": cost.estimate.total, "learning_curve": cost.complexity.person_weeks,
            "operating_burden": cost.complexity.burden_hours, "scalability": at_top}


def score(values: Values, weights: dict[str, float]) -> dict[str, dict[str, float]]:
    """Per profile and criterion best/value (1 = best; 0 values score 1), plus the weighted total."""
    total_weight = sum(weights.values())
    out: dict[str, dict[str, float]] = {p: {} for p in values}
    for criterion in CRITERIA:
        best = min(v[criterion] for v in values.values())
        for p, v in values.items():
            out[p][criterion] = 1.0 if v[criterion] <= 0 else float(best / v[criterion]) if best > 0 else 0.0
    for p in out:
        out[p]["total"] = sum(out[p][c] * weights[c] for c in CRITERIA) / total_weight
    return out


def rank(values: Values, weights: dict[str, float]) -> list[str]:
    """Profiles best first by weighted score (ties by name)."""
    scores = score(values, weights)
    return sorted(scores, key=lambda p: (-scores[p]["total"], p))


def _crossovers(sweep: Sweep) -> list[dict[str, Any]]:
    """Where the cheapest profile changes between two sweep points; x interpolated where the curves meet."""
    found: list[dict[str, Any]] = []
    names = list(sweep.series)
    if len(names) < 2:
        return found
    cheapest = [min(names, key=lambda n: (sweep.series[n][i], n)) for i in range(len(sweep.xs))]
    for i in range(1, len(sweep.xs)):
        a, b = cheapest[i - 1], cheapest[i]
        if a == b:
            continue
        x0, x1 = sweep.xs[i - 1], sweep.xs[i]
        d0 = sweep.series[a][i - 1] - sweep.series[b][i - 1]
        d1 = sweep.series[a][i] - sweep.series[b][i]
        x = x0 + (x1 - x0) * (d0 / (d0 - d1)) if d0 != d1 else x1
        found.append({"at": round(x, 2), "between": [x0, x1], "from": a, "to": b})
    return found


class Comparator:
    """Holds each profile's graph (synthesized once, laid out once) and prices it for any scenario and catalog."""

    def __init__(self, graphs: dict[str, ResourceGraph], catalog: Catalog, regions: dict[str, str]) -> None:
        self.layouts = {p: layout(g) for p, g in graphs.items()}
        self.catalog = catalog
        self.regions = regions
        self.ceilings: dict[str, float] = {}  # profile -> first swept traffic whose peak exceeds max capacity
        self.pricings = 0  # graphs priced (each synthesized once)

    def price(self, scenario: Scenario, catalog: Catalog | None = None) -> dict[str, StackCost]:
        self.pricings += len(self.layouts)
        return {p: price_stack(g, scenario, catalog or self.catalog, self.regions.get(p))
                for p, g in self.layouts.items()}

    def values(self, scenario: Scenario, catalog: Catalog | None = None) -> tuple[dict[str, StackCost], Values]:
        """The scenario's costs, and every profile's criteria (which prices it again at the models sweep's top)."""
        costs = self.price(scenario, catalog)
        top = self.price(with_model_count(scenario, MODEL_COUNTS[-1]), catalog)
        return costs, {p: _criteria(c, top[p].estimate.total) for p, c in costs.items()}

    def sweeps(self, scenario: Scenario, progress: Progress) -> list[Sweep]:
        sweeps = []
        for name, axis, xs, edit, tco in (
            ("models", "models in production", MODEL_COUNTS, lambda n: with_model_count(scenario, int(n)), False),
            ("requests", "inference requests a month (all models)", REQUEST_TOTALS,
             lambda n: with_requests(scenario, n), False),
            ("team", "team size (data scientists); total cost of ownership incl. onboarding", TEAM_SIZES,
             lambda n: scenario.model_copy(update={"team_size": int(n)}), True),
        ):
            progress(f"sweep {name}: {len(xs)} points x {len(self.layouts)} profiles")
            series: dict[str, list[float]] = {p: [] for p in self.layouts}
            for x in xs:
                sc = edit(x)
                for p, c in self.price(sc).items():
                    series[p].append(round(float(c.estimate.total + (onboarding_monthly(c, sc) if tco else 0)), 2))
                    capped = any("max capacity" in t for t in c.estimate.limits)
                    if name == "requests" and capped and p not in self.ceilings:
                        self.ceilings[p] = x
            sweep = Sweep(name, axis, [float(x) for x in xs], series)
            sweep.crossovers = _crossovers(sweep)
            sweeps.append(sweep)
        return sweeps

    def sensitivity(self, scenario: Scenario, costs: dict[str, StackCost], base: Values, recommended: str,
                    progress: Progress) -> list[Sensitivity]:
        """One assumption at a time, low and high; where two or more profiles are compared, the value at which
        the recommendation changes (bisection between the base and the end that changes it). `base`: the
        criteria at the scenario's own values.

        Every criterion is re-evaluated at each probed value, the cost at the models sweep's top included. A
        price, the engineer cost and the spot saving move every cost linearly (quantity x price; hours x rate;
        billed hours x (1 - saving)) and no complexity figure, so for them the criteria at any value are
        interpolated exactly: the cost at the top from the base and the high end (one pricing of the top less),
        the rest from the two ends. Traffic and team size are priced at every probe."""
        variables = _variables(scenario, costs, self.catalog)
        progress(f"sensitivity: {len(variables)} assumptions")
        weights = scenario.weights.model_dump()
        out = []
        for var in variables:
            ends = {var.high: self.values(*var.apply(var.high))}
            if var.linear:
                low = self.price(*var.apply(var.low))
                top = _interpolate(base, ends[var.high][1], var.base, var.high, var.low)
                ends[var.low] = low, {p: _criteria(c, top[p]["scalability"]) for p, c in low.items()}
            else:
                ends[var.low] = self.values(*var.apply(var.low))
            totals = {p: (round(float(ends[var.low][0][p].estimate.total), 2),
                          round(float(ends[var.high][0][p].estimate.total), 2)) for p in self.layouts}

            def at(value: float, var: Variable = var, ends: dict[float, tuple[Any, Values]] = ends) -> Values:
                if value in ends:
                    return ends[value][1]
                if var.linear:
                    return _interpolate(ends[var.low][1], ends[var.high][1], var.low, var.high, value)
                return self.values(*var.apply(value))[1]

            def winner(value: float, at: Callable[[float], Values] = at) -> str:
                return rank(at(value), weights)[0]

            flip = _flip(var, recommended, winner) if len(self.layouts) > 1 else None
            out.append(Sensitivity(var.label, var.fmt(var.base), var.fmt(var.low), var.fmt(var.high), totals,
                                   f"{var.fmt(_shown(flip[0], var))}: {flip[1]}" if flip else None,
                                   flip[0] if flip else None))
        return out


def _shown(value: float, var: Variable) -> float:
    """A flip value as precise as it was found: exact for an interpolated assumption, 3 significant digits for
    one found by pricing 8 probes (within 1/256 of the way from the base)."""
    return value if var.linear else float(f"{value:.3g}")


def _interpolate(low: Values, high: Values, x0: float, x1: float, x: float) -> Values:
    """Criteria at x on the straight line through their values at x0 and x1 (exact where they are affine in x)."""
    t = (dec(x) - dec(x0)) / (dec(x1) - dec(x0))
    return {p: {k: v + (high[p][k] - v) * t for k, v in low[p].items()} for p in low}


def _flip(var: Variable, recommended: str, winner: Callable[[float], str]) -> tuple[float, str] | None:
    """(value, new winner): where the recommendation changes between the base and the first end whose winner is
    not `recommended` (20 halvings when interpolated, 8 when each probe is priced: within 1/256 of the way)."""
    for end in (var.low, var.high):
        if winner(end) == recommended:
            continue
        a, b = var.base, end
        for _ in range(20 if var.linear else 8):
            mid = (a + b) / 2
            a, b = (mid, b) if winner(mid) == recommended else (a, mid)
        return b, winner(b)
    return None


@dataclass(frozen=True)
class Variable:
    """One assumption probed: its base, low and high values, how to show one, how to apply one (the scenario
    and catalog it gives), and whether every cost is affine in it (see `Comparator.sensitivity`)."""

    label: str
    base: float
    low: float
    high: float
    fmt: Callable[[float], str]
    apply: Callable[[float], tuple[Scenario, Catalog]]
    linear: bool


def _variables(scenario: Scenario, costs: dict[str, StackCost], catalog: Catalog) -> list[Variable]:
    """The assumptions probed: engineer cost, traffic, spot saving, team size, and the prices that weigh most."""
    money = "${:,.2f}".format

    def scaled(**changes: Any) -> tuple[Scenario, Catalog]:
        return scenario.model_copy(update=changes), catalog

    traffic = sum(m.inference.requests_per_month for m in scenario.models)
    out = [
        Variable("engineer_hourly_cost", scenario.engineer_hourly_cost, scenario.engineer_hourly_cost * 0.5,
                 scenario.engineer_hourly_cost * 2, money, lambda v: scaled(engineer_hourly_cost=v), True),
        Variable("requests_per_month (all models)", traffic, traffic / 10, traffic * 10, "{:,.0f}".format,
                 lambda v: (with_requests(scenario, v), catalog), False),
        Variable("spot_saving", scenario.assumptions.spot_saving, 0.0, 0.9, "{:.0%}".format,
                 lambda v: scaled(assumptions=scenario.assumptions.model_copy(update={"spot_saving": v})), True),
        Variable("team_size", scenario.team_size, 1, max(30, scenario.team_size * 3), "{:.0f}".format,
                 lambda v: scaled(team_size=max(1, round(v))), False),
    ]
    weight: dict[str, Decimal] = {}
    for cost in costs.values():
        for line in cost.estimate.lines:
            if line.price_id in catalog.prices:
                weight[line.price_id] = weight.get(line.price_id, Decimal(0)) + line.monthly
    for price_id in sorted(weight, key=lambda k: (-weight[k], k))[:6]:
        price = catalog.prices[price_id].price
        assert price is not None
        out.append(Variable(f"price {price_id}", float(price), float(price) * 0.5, float(price) * 2, "${:g}".format,
                            _price_change(scenario, catalog, price_id), True))
    return out


@dataclass
class Synthesized:
    """Each compared profile's graph and region, and why the others are not compared."""

    graphs: dict[str, ResourceGraph]
    regions: dict[str, str]
    missing: dict[str, str]


def _synthesize_one(name: str, environment: str) -> tuple[ResourceGraph, str]:
    """One built-in profile's graph for an environment (the program run under the mock runtime), and its region."""
    from infra.offline.preview import preview
    from infra.profiles.loader import resolve

    spec = resolve(name, environment)
    return preview(spec), spec.body.region


def synthesize(scenario: Scenario, progress: Progress = lambda _: None) -> Synthesized:
    """Each of the scenario's profiles that is built in, run once under the mock runtime; the others listed.

    Several profiles run side by side, each in a forked process (as many as there are CPUs): a run is CPU-bound
    Python (the cloud SDK's modules imported, then its event loop) and the profiles share nothing, so on two
    cores three profiles take about the time of two. Where fork is not available, or other threads run in this
    process (fork would copy their locks held), one after another."""
    from infra.profiles.loader import builtin_profiles

    available = set(builtin_profiles())
    out = Synthesized({}, {}, {})
    names = [n for n in scenario.profiles if n in available]
    out.missing = {n: "not a built-in profile yet: no figures rather than invented ones"
                   for n in scenario.profiles if n not in available}
    workers = min(len(names), os.cpu_count() or 1)
    # Forking a process that runs other threads (a test runner's, the mock runtime's executors) can leave the
    # child holding a lock no thread will release: fork only from a single-threaded process.
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        for name in names:
            progress(f"synthesizing {name} ({scenario.environment})")
            out.graphs[name], out.regions[name] = _synthesize_one(name, scenario.environment)
        return out
    progress(f"synthesizing {', '.join(names)} ({scenario.environment}), {workers} processes")
    # A worker only runs programs and hands back their graphs: the collector stays off there (see gc_paused),
    # so no worker scans its heap once more before it exits.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=gc.disable) as pool:
        runs = {n: pool.submit(_synthesize_one, n, scenario.environment) for n in names}
        for name in names:  # the scenario's order; a profile's error (e.g. UserError) is raised here
            out.graphs[name], out.regions[name] = runs[name].result()
    return out


def _price_change(scenario: Scenario, catalog: Catalog, price_id: str) -> Callable[[float], tuple[Scenario, Catalog]]:
    return lambda v: (scenario, catalog.with_price(price_id, dec(round(v, 10))))


def compare(synthesized: Synthesized, scenario: Scenario, catalog: Catalog,
            progress: Progress = lambda _: None) -> Comparison:
    """Price every graph for the scenario, sweep, probe the assumptions and rank the profiles."""
    with gc_paused():  # hundreds of pricings: see gc_paused
        return _compare(synthesized, scenario, catalog, progress)


def _compare(synthesized: Synthesized, scenario: Scenario, catalog: Catalog, progress: Progress) -> Comparison:
    graphs, missing = synthesized.graphs, synthesized.missing
    if not graphs:
        raise UserError.single(scenario.name, "none of the scenario's profiles is built in: nothing to compare",
                               field="profiles")
    comparator = Comparator(graphs, catalog, synthesized.regions)
    progress(f"pricing {len(graphs)} profiles")
    costs, values = comparator.values(scenario)
    sweeps = comparator.sweeps(scenario, progress)
    scores = score(values, scenario.weights.model_dump())
    ranking = rank(values, scenario.weights.model_dump())
    sensitivity = comparator.sensitivity(scenario, costs, values, ranking[0], progress)
    limits = {p: _limits(c, comparator.ceilings.get(p)) for p, c in costs.items()}
    reasons = _reasons(values, ranking, missing) + _caveats(ranking, scores, costs, sweeps)
    return Comparison(scenario, costs, missing, scores, ranking, reasons, sweeps,
                      sensitivity, limits, comparator.pricings)


def _limits(cost: StackCost, ceiling: float | None) -> list[str]:
    limits = list(cost.estimate.limits)
    if ceiling is not None:
        limits.append(f"traffic sweep: from about {ceiling:,.0f} requests a month the peak needs more replicas than "
                      "a serving deployment's max capacity (raise its max replicas or expect throttling)")
    if cost.complexity.kubernetes:
        limits.append("needs a Kubernetes cluster the team runs (upgrades, node groups, add-ons)")
    region = {r.inputs.get("region") for r in cost.estimate.records if r.inputs.get("region")}
    limits.append(f"single region per stack{' (' + ', '.join(sorted(map(str, region))) + ')' if region else ''}: "
                  "multi-region serving means one stack per region")
    return limits


CLOSE_CALL = 0.05  # weighted scores this near (of 1) are a tie for practical purposes: see the sensitivity table


def _caveats(ranking: list[str], scores: dict[str, dict[str, float]], costs: dict[str, StackCost],
             sweeps: list[Sweep]) -> list[str]:
    """What would change the answer: a runner-up scoring nearly as well, where a sweep stops the recommended
    profile being the cheapest, and what its total leaves out."""
    best, out = ranking[0], []
    if len(ranking) > 1 and scores[best]["total"] - scores[ranking[1]]["total"] < CLOSE_CALL:
        out.append(f"a close call: {ranking[1]} scores {scores[ranking[1]]['total']:.3f} against "
                   f"{scores[best]['total']:.3f}; the sensitivity table shows which single assumption turns it")
    for sweep in sweeps:
        away = next((x for x in sweep.crossovers if x["from"] == best), None)
        if away:
            at = away["at"]
            about = f"{at / 1e6:,.0f} million" if at >= 1e6 else f"{at:,.0f}" if at >= 100 else f"{at:.2g}"
            out.append(f"{sweep.axis.split(' (')[0].split(';')[0]}: from about {about}, {away['to']} costs less "
                       f"than {best}")
    unpriced = costs[best].estimate.unpriced
    if unpriced:
        kinds = sorted({u.type.rsplit(":", 1)[-1] for u in unpriced})
        out.append(f"{best}'s total leaves out {len(unpriced)} unpriced component(s) ({', '.join(kinds)}): no price "
                   "could be sourced, so its cost is a lower bound")
    return out


def _reasons(values: Values, ranking: list[str], missing: dict[str, str]) -> list[str]:
    best = ranking[0]
    units = {"cost": ("monthly cost", "${:,.2f}"), "learning_curve": ("onboarding", "{:,.1f} person-weeks"),
             "operating_burden": ("operating burden", "{:,.1f} h a month"),
             "scalability": ("monthly cost at 50 models", "${:,.2f}")}
    reasons = []
    for criterion in CRITERIA:
        label, fmt = units[criterion]
        mine = values[best][criterion]
        others = {p: v[criterion] for p, v in values.items() if p != best}
        if not others:
            reasons.append(f"{label}: {fmt.format(float(mine))}")
            continue
        rival = min(others, key=lambda p: others[p])
        verdict = "lowest" if mine <= others[rival] else f"higher than {rival}'s {fmt.format(float(others[rival]))}"
        reasons.append(f"{label}: {fmt.format(float(mine))} ({verdict})")
    if len(values) == 1:
        reasons.insert(0, f"only {best} could be compared: "
                          + "; ".join(f"{p} not compared ({why})" for p, why in missing.items()))
    return reasons
