"""`mlopsgen compare`: the profiles priced, measured and swept for one usage scenario; a report is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import check_output_path, console, err_console, user_errors
from infra.cost.catalog import load_catalog
from infra.cost.compare import compare as run_compare
from infra.cost.compare import synthesize
from infra.cost.report import COMPARISONS_DIR, render, report_paths, write
from infra.cost.scenario import load_scenario


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)


@user_errors
def compare(
    scenario: Annotated[Path, typer.Option(
        "--scenario", help="Usage scenario: a built-in one's name (startup) or a YAML file")],
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Pricing catalog (default: built-in)")] = None,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Directory for the report (default: comparisons/ here)")] = COMPARISONS_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON (report written too)")] = False,
) -> None:
    """Compare the scenario's profiles on cost, complexity and scalability; write comparisons/<scenario>.md/.html.

    Each profile's program runs once under the mock runtime; sweeps (models 1-50, requests 1e4-1e9 a month,
    team 1-30) and the sensitivity analysis re-price that graph. Profiles that are not built in are listed as
    not compared.
    """
    usage = load_scenario(scenario)
    for path in report_paths(usage.name, output):  # before the sweeps, not after
        check_output_path(path, "--output")
    prices = load_catalog(catalog)

    def progress(message: str) -> None:
        err_console.print(f"[dim]{message}[/]", highlight=False)

    result = run_compare(synthesize(usage, progress), usage, prices, progress)
    written = write(render(result), output)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    for name, cost in result.costs.items():
        console.print(f"{name}: ${cost.estimate.total:,.2f} a month, {cost.complexity.burden_hours} h of operations, "
                      f"{cost.complexity.person_weeks} onboarding person-weeks", highlight=False)
    for name, why in result.missing.items():
        console.print(f"[yellow]not compared[/] {name}: {why}", highlight=False)
    console.print(f"[bold]recommendation[/]: {result.recommended}", highlight=False)
    for reason in result.reasons:
        console.print(f"  - {reason}", highlight=False)
    for path in written[:2]:
        console.print(f"wrote {path}", highlight=False)
