"""`mlopsgen cost`, `mlopsgen cost diff` and `mlopsgen pricing`: the estimator over the synthesized graph."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from infra.cli.common import check_output_path, console, user_errors, write_atomically
from infra.cli.stacks import EnvOpt, ProfileOpt, StackOpt, select
from infra.cost.catalog import CATALOG_FILE, dump_catalog, load_catalog
from infra.cost.costing import StackCost, default_scenario, price_stack
from infra.cost.estimate import SHARED, cents
from infra.cost.scenario import load_scenario, scenario_schema_text
from infra.errors import UserError
from infra.offline.preview import preview
from infra.profiles.loader import StackSpec

ScenarioOpt = Annotated[
    Path | None, typer.Option("--scenario", help="Usage scenario YAML (default: scenario defaults per model)")
]
CatalogOpt = Annotated[Path | None, typer.Option("--catalog", help="Pricing catalog (default: the built-in one)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the figures as JSON")]

cost_app = typer.Typer(help="Monthly cost of a stack, per resource, from its synthesized graph (offline).",
                       invoke_without_command=True, no_args_is_help=False)
pricing_app = typer.Typer(help="The pricing catalog: show it, refresh AWS prices from the Price List API.",
                          no_args_is_help=True)

scenario_app = typer.Typer(help="Usage scenarios: validate them, print their JSON Schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cost_app, name="cost")
    app.add_typer(pricing_app, name="pricing")
    app.add_typer(scenario_app, name="scenario")


def _money(value: Decimal) -> str:
    return f"${cents(value):,.2f}"


def _cost_for(spec: StackSpec, scenario: Path | None, catalog: Path | None) -> StackCost:
    graph = preview(spec)
    usage = load_scenario(scenario) if scenario else default_scenario(graph)
    return price_stack(graph, usage, load_catalog(catalog), spec.body.region)


def _quantity(value: Decimal) -> str:
    """A quantity to read, not to recompute (--json has it exact): whole from 1,000, else 4 significant digits."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return "<0.001" if 0 < abs(value) < Decimal("0.001") else f"{float(value):.4g}"


def _wrap(text: str, width: int, hang: int) -> str:
    """`text` in lines of at most `width`, broken after a space or a hyphen (a logical name's words), never
    inside a word unless a word alone is wider; continuation lines indented by `hang` spaces."""
    lines, current = [], ""
    for token in re.split(r"(?<=[ -])", text):
        if current.strip() and len(current) + len(token.rstrip()) > width:
            lines.append(current.rstrip())
            current = " " * hang
        current += token
        while len(current.rstrip()) > width:  # a single word wider than the column
            lines.append(current[:width])
            current = " " * hang + current[width:]
    lines.append(current.rstrip())
    return "\n".join(lines)


def render(cost: StackCost) -> None:
    """The breakdown the way Infracost prints one: each resource on its line, its components beneath it, so the
    table stays readable at 80 columns: numbers never wrap, and names and components take the width the numbers
    leave, broken after a space or a hyphen, never mid-word."""
    est = cost.estimate
    columns = ("quantity", "unit", "unit price", "monthly", "grade")
    groups = [SHARED] + sorted({line.group for line in est.lines} - {SHARED})
    rows: list[tuple[str, int, tuple[str, ...]]] = []  # (first cell, its indent, the other cells)
    for group in groups:
        lines = [line for line in est.lines if line.group == group]
        if not lines:
            continue
        rows.append((group, 0, ("", "", "", _money(sum((x.monthly for x in lines), Decimal(0))), "")))
        resource = None
        for line in lines:
            if line.resource != resource:
                resource = line.resource
                rows.append((f" {resource}", 1, ("",) * len(columns)))
            rows.append((f"   {line.component}", 3, (_quantity(line.quantity), line.unit,
                                                      f"${line.unit_price.normalize():f}", _money(line.monthly),
                                                      line.grade)))
    widths = [max(len(c), *(len(r[2][i]) for r in rows)) for i, c in enumerate(columns)]
    first = max(16, console.width - sum(widths) - len(columns))  # one space between columns
    table = Table(title=f"{est.profile} / {est.environment}: {_money(est.total)} a month", box=box.SIMPLE_HEAD,
                  padding=0, show_edge=False, title_justify="left")
    table.add_column("resource / component", width=first, overflow="fold")
    for column in columns:
        table.add_column(column, justify="left" if column in ("unit", "grade") else "right", no_wrap=True,
                         overflow="ellipsis")
    for text, indent, cells in rows:
        # a name's continuation lines up with it (the line above ends in '-'); a component's hangs under it
        shown = Text(_wrap(text, first, indent if indent < 3 else indent + 2), style="bold" if indent == 0 else "")
        monthly = Text(cells[3], style="bold" if indent == 0 else "")
        grade = Text(cells[4], style="yellow" if cells[4] == "UNSOURCED" else "")
        table.add_row(shown, *cells[:3], monthly, grade)
    console.print(table)
    console.print("[bold]monthly cost by category[/]", highlight=False)
    for category, value in est.by_category.items():
        console.print(f"  {category:<26} {_money(value):>12}", highlight=False)
    for price_id, source in sorted({(x.price_id, x.source) for x in est.unsourced_lines}):
        console.print(f"[yellow]unsourced price[/] {price_id}: {source}", highlight=False)
    for u in est.unpriced:
        console.print(f"[red]unpriced[/] {u.group} / {u.resource} ({u.type}) {u.component}: {u.reason}",
                      highlight=False)
    for note in est.notes:
        console.print(f"[dim]note[/] {note}", highlight=False)
    for limit in est.limits:
        console.print(f"[cyan]limit[/] {limit}", highlight=False)
    console.print(f"[dim]{len(est.free)} resources are not billed (IAM, VPC plumbing, settings); --json lists "
                  "them with the reason[/]", highlight=False)


@cost_app.callback()
@user_errors
def cost(
    ctx: typer.Context, stack: StackOpt = None, profile: ProfileOpt = None, env: EnvOpt = None,
    scenario: ScenarioOpt = None, catalog: CatalogOpt = None, as_json: JsonOpt = False,
) -> None:
    """Per-resource monthly cost (resource, component, quantity, unit, unit price), by model and shared platform."""
    if ctx.invoked_subcommand:
        return
    result = _cost_for(select(stack, profile, env), scenario, catalog)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    render(result)


@cost_app.command("diff")
@user_errors
def diff(
    stack: StackOpt = None, profile: ProfileOpt = None, env: EnvOpt = None,
    base_stack: Annotated[str | None, typer.Option("--base-stack", help="Baseline stack")] = None,
    base_profile: Annotated[
        str | None, typer.Option("--base-profile", help="Baseline profile (with --base-env)")
    ] = None,
    base_env: Annotated[str | None, typer.Option("--base-env", help="Baseline environment")] = None,
    scenario: ScenarioOpt = None, catalog: CatalogOpt = None, as_json: JsonOpt = False,
) -> None:
    """Monthly cost change from a baseline (--base-stack, or --base-profile/--base-env) to a stack, per line.

    For pull requests the way Infracost's diff is used: e.g. `--base-profile main-copy.yaml --base-env prod
    --profile stacks/profiles/mlflow-sagemaker.yaml --env prod`. Exit code 0 whatever the change.
    """
    new_spec, base_spec = select(stack, profile, env), select(base_stack, base_profile, base_env)
    new_graph, base_graph = preview(new_spec), preview(base_spec)
    usage = load_scenario(scenario) if scenario else default_scenario(new_graph)
    cat = load_catalog(catalog)
    old = price_stack(base_graph, usage, cat, base_spec.body.region).estimate
    new = price_stack(new_graph, usage, cat, new_spec.body.region).estimate

    def keyed(est: object) -> dict[tuple[str, str, str], Decimal]:
        out: dict[tuple[str, str, str], Decimal] = {}
        for line in est.lines:  # type: ignore[attr-defined]
            key = (line.group, line.resource, line.component)
            out[key] = out.get(key, Decimal(0)) + line.monthly
        return out

    a, b = keyed(old), keyed(new)
    rows = [(k, a.get(k, Decimal(0)), b.get(k, Decimal(0))) for k in sorted(set(a) | set(b))]
    changed = [(k, x, y) for k, x, y in rows if cents(x) != cents(y)]
    delta = new.total - old.total
    if as_json:
        typer.echo(json.dumps({
            "base": {"profile": old.profile, "environment": old.environment,
                     "monthly_total": float(cents(old.total))},
            "new": {"profile": new.profile, "environment": new.environment,
                    "monthly_total": float(cents(new.total))},
            "monthly_delta": float(cents(delta)),
            "changes": [{"group": k[0], "resource": k[1], "component": k[2], "base": float(cents(x)),
                         "new": float(cents(y)), "delta": float(cents(y - x))} for k, x, y in changed],
            "unpriced": {"base": [u.to_json() for u in old.unpriced], "new": [u.to_json() for u in new.unpriced]},
        }, indent=2))
        return
    table = Table(title=f"{old.profile}/{old.environment} -> {new.profile}/{new.environment}: "
                        f"{'+' if delta >= 0 else '-'}{_money(abs(delta))} a month")
    for column in ("group", "resource", "component", "base", "new", "change"):
        table.add_column(column, justify="right" if column in ("base", "new", "change") else "left", overflow="fold")
    for (group, resource, component), x, y in changed:
        sign = "+" if y >= x else "-"
        table.add_row(group, resource, component, _money(x), _money(y), f"{sign}{_money(abs(y - x))}")
    console.print(table)
    console.print(f"total {_money(old.total)} -> {_money(new.total)}", highlight=False)


@pricing_app.command("show")
@user_errors
def show(catalog: CatalogOpt = None) -> None:
    """List the catalog: price, unit, region, grade, date read and source of every entry."""
    cat = load_catalog(catalog)
    table = Table(title=f"pricing catalog v{cat.version} ({cat.updated})")
    for column in ("id", "price", "unit", "region", "grade", "read", "source"):
        table.add_column(column, overflow="fold")
    for price_id, e in cat.prices.items():
        price = "[red]none[/]" if e.price is None else f"${e.price.normalize():f}"
        grade = f"[yellow]{e.grade}[/]" if e.unsourced else e.grade
        table.add_row(price_id, price, e.unit, e.region, grade, e.read, e.source)
    console.print(table)


@pricing_app.command("refresh")
@user_errors
def refresh_command(
    catalog: CatalogOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: the catalog read)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the changes, write nothing")] = False,
) -> None:
    """Update AWS prices from the AWS Price List API (needs AWS credentials allowed pricing:GetProducts)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.cost.refresh import pricing_client, refresh

    source = catalog or CATALOG_FILE
    if not dry_run:
        check_output_path(output or source, "--output")  # before the API calls, not after
    try:
        new, results = refresh(load_catalog(source), pricing_client())
    except (BotoCoreError, ClientError) as exc:
        raise UserError.single("AWS Price List API", f"cannot read prices: {exc}") from None
    table = Table(title="pricing refresh")
    for column in ("id", "status", "old", "new", "detail"):
        table.add_column(column, overflow="fold")
    for r in results:
        old = "" if r.old is None else f"{r.old:f}"
        table.add_row(r.price_id, r.status, old, "" if r.new is None else f"{r.new:f}", r.detail)
    console.print(table)
    if dry_run:
        return
    target = output or source
    write_atomically(target, dump_catalog(new).encode("utf-8"), "--output")
    console.print(f"wrote {target}", highlight=False)


@scenario_app.command("validate")
@user_errors
def validate_scenario(files: Annotated[list[Path], typer.Argument(help="Scenario files")]) -> None:
    """Check scenario files: exit 0 when all are valid, 2 with file, line and field for each problem."""
    problems = []
    for path in files:
        try:
            scenario = load_scenario(path)
            console.print(f"valid: {path} ({len(scenario.models)} models)", highlight=False)
        except UserError as exc:
            problems.extend(exc.problems)
    if problems:
        raise UserError(problems)


@scenario_app.command("schema")
@user_errors
def scenario_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout")] = None,
) -> None:
    """Print the JSON Schema of usage scenarios (scenario files point editors at a copy of it)."""
    text = scenario_schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    check_output_path(output, "--output")
    write_atomically(output, text.encode("utf-8"), "--output")
