"""The estimator, in the manner of Infracost: each resource of the synthesized graph becomes cost components.

Input is the same ``ResourceGraph`` preview, sandbox and audit read (no second description of a stack), plus a
usage scenario. A pricer registered per type token (one module per cloud, ``infra.cost.pricers``) turns a
resource into components: hourly (price x hours a month), monthly (price per month) or usage-based (price x a
scenario quantity), each priced from a catalog entry. A resource nobody charges for is listed as free with the
reason; a resource without a pricer, or whose price the catalog lacks, is listed as unpriced, never counted
as $0.

Models: the resources of a model are those tagged (or labelled) ``model``, and the untagged ones whose logical
name holds the model's name as a hyphen-separated part (``recommender-pool``). A graph
without model tags (one model per stack) has one implicit model: its training and serving resources and its
model package group. Scenario models are matched to graph models by name; a scenario model the graph does
not declare is priced as a copy of the first graph model's (by name) resources with its own usage, and the
estimate says so. That is what lets a comparison synthesize each graph once and price it for any number of models.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from infra.cost.catalog import Catalog
from infra.cost.scenario import ModelUsage, Scenario
from infra.offline.graph import ResourceGraph, ResourceRecord

SHARED = "shared platform"
CATEGORIES = (
    "tracking and registry", "training", "serving", "monitoring", "networking and platform", "SaaS", "people",
)
# capability tag -> category; a capability not listed is platform plumbing.
CAPABILITY_CATEGORY = {
    "tracking": "tracking and registry", "registry": "tracking and registry", "training": "training",
    "serving": "serving", "monitoring": "monitoring",
}
CENT = Decimal("0.01")
Kind = Literal["hourly", "monthly", "usage"]


def dec(value: float | int | str | Decimal) -> Decimal:
    """Exact decimal of a scenario number (through its shortest repr, so 0.1 stays 0.1)."""
    return value if isinstance(value, Decimal) else _decimal(value)


@lru_cache(maxsize=4096, typed=True)  # a comparison converts the same few numbers hundreds of thousands of times
def _decimal(value: float | int | str) -> Decimal:
    return Decimal(str(value))


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CostLine:
    """One cost component of one resource: quantity x unit price a month."""

    resource: str
    type: str
    group: str
    category: str
    component: str
    kind: Kind
    quantity: Decimal
    unit: str
    price_id: str
    unit_price: Decimal
    grade: str
    source: str
    read: str

    @property
    def monthly(self) -> Decimal:
        return self.quantity * self.unit_price

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource, "type": self.type, "group": self.group, "category": self.category,
            "component": self.component, "kind": self.kind, "quantity": float(self.quantity), "unit": self.unit,
            "unit_price": float(self.unit_price), "monthly_cost": float(cents(self.monthly)),
            "price": {"id": self.price_id, "grade": self.grade, "source": self.source, "read": self.read},
        }


@dataclass(frozen=True)
class Unpriced:
    resource: str
    type: str
    group: str
    component: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"resource": self.resource, "type": self.type, "group": self.group, "component": self.component,
                "reason": self.reason}


@dataclass
class Estimate:
    profile: str
    environment: str
    lines: list[CostLine] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    free: list[tuple[str, str, str]] = field(default_factory=list)  # (resource, type, reason)
    notes: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    records: list[ResourceRecord] = field(default_factory=list, repr=False)  # as placed: copies per model

    @property
    def total(self) -> Decimal:
        return sum((line.monthly for line in self.lines), Decimal(0))

    def by(self, key: Callable[[CostLine], str], order: Iterable[str] = ()) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {k: Decimal(0) for k in order}
        for line in self.lines:
            out[key(line)] = out.get(key(line), Decimal(0)) + line.monthly
        return out

    @property
    def by_category(self) -> dict[str, Decimal]:
        return self.by(lambda line: line.category, CATEGORIES)

    @property
    def by_group(self) -> dict[str, Decimal]:
        return self.by(lambda line: line.group, (SHARED,))

    @property
    def unsourced_lines(self) -> list[CostLine]:
        return [line for line in self.lines if line.grade == "UNSOURCED"]

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile, "environment": self.environment,
            "monthly_total": float(cents(self.total)),
            "by_category": {k: float(cents(v)) for k, v in self.by_category.items()},
            "by_group": {k: float(cents(v)) for k, v in self.by_group.items()},
            "lines": [line.to_json() for line in self.lines],
            "unpriced": [u.to_json() for u in self.unpriced],
            "unsourced_prices": sorted({line.price_id for line in self.unsourced_lines}),
            "free": [{"resource": r, "type": t, "reason": why} for r, t, why in self.free],
            "notes": self.notes, "limits": self.limits,
        }


# ---------------------------------------------------------------------------------------------- models
def tag(record: ResourceRecord, key: str) -> str | None:
    """A tag (AWS) or label (GCP) of a resource."""
    for bag in ("tags", "labels"):
        value = record.inputs.get(bag)
        if isinstance(value, dict) and key in value:
            return str(value[key])
    return None


IMPLICIT_MODEL_CAPABILITIES = {"training", "serving"}
IMPLICIT_MODEL_TYPES = {"aws:sagemaker/modelPackageGroup:ModelPackageGroup"}


def split_models(graph: ResourceGraph) -> tuple[list[ResourceRecord], dict[str, list[ResourceRecord]]]:
    """(shared resources, resources per graph model), cloud resources only; see the module docstring."""
    custom = graph.custom
    names = {name for r in custom if (name := tag(r, "model"))}
    if names:
        models: dict[str, list[ResourceRecord]] = {}
        shared = []
        for r in custom:
            name = tag(r, "model") or next(
                (n for n in sorted(names) if re.search(rf"(^|-){re.escape(n)}(-|$)", r.name)), None)
            if name:
                models.setdefault(name, []).append(r)
            else:
                shared.append(r)
        return shared, models
    implicit = [r for r in custom if tag(r, "capability") in IMPLICIT_MODEL_CAPABILITIES
                or r.type in IMPLICIT_MODEL_TYPES]
    if not implicit:
        return custom, {}
    name = "model"
    for r in implicit:
        group = r.inputs.get("modelPackageGroupName")
        if group:
            name = str(group).removeprefix(f"{graph.profile}-{graph.environment}-")
    ids = {id(r) for r in implicit}
    return [r for r in custom if id(r) not in ids], {name: implicit}


@dataclass(frozen=True)
class Layout:
    """What pricing needs from a graph that no scenario changes: its shared and per-model cloud resources (each
    in one order) and, per component, the capability its children are tagged with. Made once per graph
    (`layout`), so a comparison prices one synthesized graph many times without re-reading it."""

    graph: ResourceGraph
    shared: list[ResourceRecord]
    models: dict[str, list[ResourceRecord]]
    parents: dict[str, str]


def layout(graph: ResourceGraph) -> Layout:
    shared, models = split_models(graph)
    # A component's capability: the one most of its tagged children carry (ties by name). Not the first child's:
    # registration order under the mock runtime is concurrent, and reports must not change from run to run.
    tagged: dict[str, Counter[str]] = {}
    for r in graph.custom:
        capability = tag(r, "capability")
        if capability and r.parent:
            tagged.setdefault(r.parent, Counter())[capability] += 1
    parents = {parent: min(counts, key=lambda c: (-counts[c], c)) for parent, counts in tagged.items()}
    # Registration order under the mock runtime is concurrent; prices and reports need one order.
    return Layout(graph, sorted(shared, key=lambda r: (r.type, r.name)),
                  {name: sorted(records, key=lambda r: (r.type, r.name)) for name, records in sorted(models.items())},
                  parents)


class Placed(NamedTuple):  # a tuple: a 50-model pricing makes thousands
    """A resource as priced: the graph record, the group it is priced for and that group's usage."""

    record: ResourceRecord
    group: str
    usage: ModelUsage | None


def place(graph: Layout, scenario: Scenario) -> tuple[list[Placed], list[str]]:
    """Shared resources once, then each scenario model's resources (its own, or copies of a template)."""
    models = graph.models
    placed = [Placed(r, SHARED, None) for r in graph.shared]
    notes: list[str] = []
    if not models:
        notes.append("the graph declares no per-model resources: scenario models add no resources")
        return placed, notes
    template = next(iter(models))
    copies = []
    for usage in scenario.models:
        own = usage.name in models
        placed += [Placed(r, usage.name, usage) for r in models[usage.name if own else template]]
        if not own:
            copies.append(usage.name)
    if copies:
        notes.append(f"models {', '.join(copies)} are not declared by the profile; each is priced as a copy of the "
                     f"resources of model '{template}' (the profile's first model by name) with its own usage")
    unused = sorted(set(models) - {m.name for m in scenario.models})
    if unused:
        notes.append(f"profile models {', '.join(unused)} have no usage in the scenario and are not priced")
    return placed, notes


# ---------------------------------------------------------------------------------------------- pricing
@dataclass
class PriceContext:
    """What a pricer sees: the scenario, the catalog, every placed resource (for relations) and the output."""

    scenario: Scenario
    catalog: Catalog
    placed: list[Placed]
    estimate: Estimate
    current: Placed | None = None
    region: str | None = None  # where the stack runs; a price read for another region is noted
    parent_capability: dict[str, str] = field(default_factory=dict)  # component -> capability of its children
    seen: set[tuple[Any, ...]] = field(default_factory=set)  # what a pricer counts once per stack
    by_type: dict[str, list[Placed]] = field(default_factory=dict)  # the placed resources by type token
    by_group: dict[tuple[str, str], list[Placed]] = field(default_factory=dict)  # ... by type and group

    def __post_init__(self) -> None:
        for p in self.placed:
            self.by_type.setdefault(p.record.type, []).append(p)
            self.by_group.setdefault((p.record.type, p.group), []).append(p)

    @property
    def hours(self) -> Decimal:
        return dec(self.scenario.assumptions.hours_per_month)

    def records(self, type_token: str) -> list[Placed]:
        return self.by_type.get(type_token, [])

    def related(self, type_token: str, of: Placed) -> list[Placed]:
        """Resources of a type that can act on `of`: a per-model resource's own model's (and shared ones);
        a shared resource's from every model."""
        if of.group == SHARED:
            return self.records(type_token)
        return self.by_group.get((type_token, of.group), []) + self.by_group.get((type_token, SHARED), [])

    def category(self, record: ResourceRecord) -> str:
        """From the resource's capability tag, else its siblings', else its component's name (resources that
        take no tags or labels)."""
        parent = record.parent or ""
        capability = tag(record, "capability") or self.parent_capability.get(parent, parent)
        return CAPABILITY_CATEGORY.get(capability, "networking and platform")

    def add(self, component: str, kind: Kind, quantity: Decimal | float, unit: str, price_id: str,
            *, factor: Decimal | None = None, category: str | None = None) -> None:
        """Add a component of the current resource priced from `price_id` (unpriced when the catalog lacks it);
        `category` when the resource's tags cannot say (a Kubernetes object's capability is its kind)."""
        assert self.current is not None
        record, group = self.current.record, self.current.group
        entry = self.catalog.get(price_id)
        if entry is None or entry.price is None:
            reason = f"no catalog price '{price_id}'" if entry is None else f"'{price_id}': {entry.source}"
            self.estimate.unpriced.append(Unpriced(record.name, record.type, group, component, reason))
            return
        if self.region and entry.region not in (self.region, "global") and ("region", price_id) not in self.seen:
            self.seen.add(("region", price_id))
            self.estimate.notes.append(f"'{price_id}' is the {entry.region} list price; the stack runs in "
                                       f"{self.region}, whose price may differ")
        self.estimate.lines.append(CostLine(
            resource=record.name, type=record.type, group=group, category=category or self.category(record),
            component=component, kind=kind, quantity=dec(quantity) * (factor or Decimal(1)), unit=unit,
            price_id=price_id, unit_price=entry.price, grade=entry.grade, source=entry.source, read=entry.read,
        ))

    def unpriced(self, component: str, reason: str) -> None:
        assert self.current is not None
        r = self.current.record
        self.estimate.unpriced.append(Unpriced(r.name, r.type, self.current.group, component, reason))

    def training_runs(self, group: str, usage: ModelUsage) -> tuple[Decimal, str]:
        """(training runs a month, where the number comes from) of a model: the scenario's runs_per_month when
        it gives one (scheduled plus drift-triggered runs), else the runs a month of the model's retraining
        schedules in the graph (an EventBridge schedule starting a SageMaker pipeline, a Cloud Scheduler job
        starting a retraining job, a Kubernetes CronJob labelled as retraining), 0 without one."""
        found = [(expr, runs_per_month(expr, self.hours)) for expr in self._retraining_schedules(group)]
        scheduled = sum((runs for _, runs in found), Decimal(0))
        shown = ", ".join(f"{expr}: {_num(runs)}" for expr, runs in found) or "none in the graph"
        given = usage.training.runs_per_month
        if given is None:
            return scheduled, f"the retraining schedule ({shown})"
        return dec(given), f"the scenario; retraining schedule {shown}"

    def _retraining_schedules(self, group: str) -> list[str]:
        out = []
        for s in self.by_group.get(("aws:scheduler/schedule:Schedule", group), []):
            if ":pipeline/" in str((s.record.inputs.get("target") or {}).get("arn", "")):
                out.append(str(s.record.inputs.get("scheduleExpression", "")))
        for s in self.by_group.get(("gcp:cloudscheduler/job:Job", group), []):
            if "retrain" in str((s.record.inputs.get("httpTarget") or {}).get("uri", "")):
                out.append(f"cron({s.record.inputs.get('schedule', '')} *)")
        for s in self.by_group.get(("kubernetes:batch/v1:CronJob", group), []):
            labels = (s.record.inputs.get("metadata") or {}).get("labels") or {}
            if labels.get("mlopsgen.io/job") == "retrain" or s.record.name.endswith("-retrain"):
                out.append(f"cron({(s.record.inputs.get('spec') or {}).get('schedule', '')} *)")
        return out

    def batch_served_real_time(self, p: Placed, how: str) -> None:
        """Note, once per model, that the scenario says batch but the graph serves the model in real time
        (`how`), so it is priced as provisioned real-time capacity, not as batch jobs."""
        if p.usage is None or p.usage.inference.mode != "batch" or ("batch", p.group) in self.seen:
            return
        self.seen.add(("batch", p.group))
        self.estimate.notes.append(f"{p.group}: the scenario says batch, but {self.estimate.profile} serves it on "
                                   f"{how}: priced as provisioned real-time capacity, not as batch jobs")

    def limit(self, text: str) -> None:
        if text not in self.estimate.limits:
            self.estimate.limits.append(text)


class Replicas(NamedTuple):
    """Serving replicas a model's traffic needs (`serving_replicas`)."""

    priced: int  # `needed` kept within [low, high]
    needed: int
    peak_rps: Decimal
    capacity_rps: Decimal
    low: int
    high: int

    def describe(self, unit: str) -> str:
        return (f"{self.priced} {unit}: peak {_num(self.peak_rps)} requests/s / {_num(self.capacity_rps)} per "
                f"{unit.rstrip('s')} = {self.needed} needed, within {self.low}-{self.high}")


def _num(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


def serving_replicas(ctx: PriceContext, p: Placed, name: str, low: int, high: int, share: Decimal = Decimal(1),
                     capacity_rpm: Decimal | None = None, unit: str = "replicas") -> Replicas:
    """Replicas (instances, nodes, pods) one real-time deployment of `p`'s model runs, the same for every profile:
    peak requests a second (requests a month / seconds a month x the traffic's peak_to_average x this
    deployment's traffic `share`) over what one replica serves, rounded up and kept within the graph's
    [low, high] replicas; a peak above `high` is a limit ("... above its max capacity"). A replica serves
    `capacity_rpm` requests a minute when the graph states its autoscaling target (SageMaker's invocations per
    instance), else the scenario model's `inference.replica_requests_per_minute`. Sized for the peak all month:
    an autoscaler follows the traffic down, so this is the ceiling of the serving bill."""
    assert p.usage is not None
    inference = p.usage.inference
    capacity = capacity_rpm if capacity_rpm is not None else dec(inference.replica_requests_per_minute)
    peak_rps = dec(inference.requests_per_month) * share * dec(inference.traffic.peak_to_average) / (ctx.hours * 3600)
    capacity_rps = capacity / 60
    needed = math.ceil(peak_rps / capacity_rps) if capacity_rps.is_finite() and capacity_rps > 0 else 0
    count = min(max(needed, low), high)
    if needed > high:
        monthly = Decimal(high) * capacity_rps * ctx.hours * 3600 / (share * dec(inference.traffic.peak_to_average))
        ctx.limit(f"{p.group}: peak traffic needs {needed} {unit} on '{name}' ({_num(peak_rps)} requests/s / "
                  f"{_num(capacity_rps)} per {unit.rstrip('s')}), above its max capacity {high} (the ceiling bites at "
                  f"{monthly:.3g} requests/month)")
    return Replicas(count, needed, peak_rps, capacity_rps, low, high)


Pricer = Callable[[PriceContext, Placed], None]
PRICERS: dict[str, Pricer] = {}
FREE: dict[str, str] = {}


def pricer(*tokens: str) -> Callable[[Pricer], Pricer]:
    def register(fn: Pricer) -> Pricer:
        for token in tokens:
            if token in PRICERS:
                raise ValueError(f"two pricers for {token}")
            PRICERS[token] = fn
        return fn

    return register


def free(reason: str, *tokens: str) -> None:
    """Resource types the provider does not bill (or bills through another resource), with the reason."""
    for token in tokens:
        FREE[token] = reason


def _load_pricers() -> None:
    from infra.cost.pricers import aws, gcp  # noqa: F401  (importing a module registers its pricers)


# ---------------------------------------------------------------------------------------------- schedules
_CRON_SPAN = {0: 60, 1: 24, 2: 31, 3: 12, 4: 7}
_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}


_NAMES = {n: i + 1 for names in ("SUN MON TUE WED THU FRI SAT", "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC")
          for i, n in enumerate(names.split())}


def _field_count(value: str, span: int) -> Decimal:
    """How many values a cron field matches: '*', lists, ranges (numbers or names) and steps."""
    if value in ("*", "?"):
        return Decimal(span)
    count = Decimal(0)
    for part in value.split(","):
        base, _, step = part.partition("/")
        bounds = [_NAMES.get(b.upper(), b) for b in base.split("-")]
        if base in ("*", ""):
            count += Decimal(-(-span // int(step))) if step else Decimal(span)
        elif len(bounds) == 2 and all(str(b).isdigit() for b in bounds):
            width = int(bounds[1]) - int(bounds[0]) + 1
            count += Decimal(-(-width // int(step)) if step else width)
        else:
            count += 1
    return count


@lru_cache(maxsize=1024)  # every pricing of a graph reads the same schedules
def runs_per_month(expression: str, hours_per_month: Decimal) -> Decimal:
    """Runs a month of an EventBridge schedule: rate(...) exactly; cron(...) as runs a day x days matched
    (day-of-week fields match 1/7 of the month's days per day named); at(...) counts as 0 a month."""
    minutes = hours_per_month * 60
    if m := _RATE.match(expression.strip()):
        return minutes / (int(m.group(1)) * _UNIT_MINUTES[m.group(2)])
    if expression.startswith("cron(") and expression.endswith(")"):
        f = expression[5:-1].split()
        per_day = _field_count(f[0], 60) * _field_count(f[1], 24)
        days = hours_per_month / 24
        if f[4] not in ("*", "?"):
            days = days * _field_count(f[4], 7) / 7
        elif f[2] not in ("*", "?"):
            days = _field_count(f[2], 31)
        if f[3] not in ("*", "?"):
            days = days * _field_count(f[3], 12) / 12
        return per_day * days
    return Decimal(0)


# ---------------------------------------------------------------------------------------------- entry points
def people_and_saas(estimate: Estimate, scenario: Scenario, catalog: Catalog, burden: list[tuple[str, str, Decimal]],
                    saas: list[tuple[str, str, Decimal]]) -> None:
    """People's time (operating-burden hours x the loaded hourly cost) and SaaS seats, as explicit lines.

    `burden`: (rule id, group, hours a month); `saas`: (product, price id, seats)."""
    rate = dec(scenario.engineer_hourly_cost)
    for rule, group, hours in burden:
        if hours:
            estimate.lines.append(CostLine(
                resource=f"people:{rule}", type="people", group=group, category="people",
                component=f"operating burden: {rule}", kind="usage", quantity=hours, unit="engineer-hour",
                price_id="scenario.engineer_hourly_cost", unit_price=rate, grade="scenario",
                source="scenario: loaded engineer hourly cost", read="-",
            ))
    for product, price_id, seats in saas:
        entry = catalog.get(price_id)
        if entry is None or entry.price is None:
            estimate.unpriced.append(Unpriced(f"saas:{product}", "saas", SHARED, "seats", f"no price '{price_id}'"))
            continue
        estimate.lines.append(CostLine(
            resource=f"saas:{product}", type="saas", group=SHARED, category="SaaS", component=f"{product} seats",
            kind="monthly", quantity=seats, unit=entry.unit, price_id=price_id, unit_price=entry.price,
            grade=entry.grade, source=entry.source, read=entry.read,
        ))


def estimate_resources(graph: ResourceGraph | Layout, scenario: Scenario, catalog: Catalog,
                       region: str | None = None) -> Estimate:
    """Price every cloud resource of `graph` (or of its `layout`, made once when one graph is priced many times)
    in `region`, when known, for `scenario`; no people or SaaS lines (see `people_and_saas`)."""
    _load_pricers()
    laid = graph if isinstance(graph, Layout) else layout(graph)
    placed, notes = place(laid, scenario)
    est = Estimate(profile=laid.graph.profile, environment=laid.graph.environment, notes=notes,
                   records=[p.record for p in placed])
    ctx = PriceContext(scenario=scenario, catalog=catalog, placed=placed, estimate=est, region=region,
                       parent_capability=laid.parents)
    for item in placed:
        token = item.record.type
        if token in PRICERS:
            ctx.current = item
            PRICERS[token](ctx, item)
        elif token in FREE:
            est.free.append((item.record.name, token, FREE[token]))
        elif token.startswith("kubernetes:"):
            est.free.append((item.record.name, token, "a Kubernetes object runs on the cluster's nodes, priced on "
                                                      "the node groups"))
        elif token.startswith("pulumi:providers:"):
            est.free.append((item.record.name, token, "a provider is configuration, not a billed resource"))
        else:
            est.unpriced.append(Unpriced(item.record.name, token, item.group, "-", "no pricer for this type"))
    est.free = sorted(set(est.free))
    return est

