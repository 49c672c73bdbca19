"""`mlopsgen simulate`: a day-in-the-life of a stack in the sandbox, printed as a timeline and drawn as a chart."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from infra.cli.common import check_output_path, console, err_console, user_errors
from infra.cli.stacks import EnvOpt, ProfileOpt, StackOpt, select
from infra.errors import UserError

STYLE = {"rollback": "bold red", "promote": "bold green", "drift": "bold yellow", "alarm": "yellow",
         "srm_halt": "bold red", "challenger": "cyan"}


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


@user_errors
def simulate(
    stack: StackOpt = None,
    profile: ProfileOpt = None,
    env: EnvOpt = None,
    days: Annotated[int, typer.Option(metavar="N", help="Days to simulate", min=1, max=365)] = 30,
    drift_day: Annotated[int, typer.Option(metavar="DAY", min=0,
                                           help="Day the input distribution shifts (beyond --days: never)")] = 12,
    seed: Annotated[int, typer.Option(metavar="N", help="Random seed of the synthetic data and traffic")] = 7,
    start: Annotated[datetime | None, typer.Option(metavar="DATE", formats=["%Y-%m-%d"],
                                                   help="First simulated day, UTC (default: --days days ago)")] = None,
    chart: Annotated[Path, typer.Option(metavar="FILE", help="Where to write the timeline chart (PNG)")] = Path(
        "out/simulation.png"),
    model: Annotated[list[str] | None, typer.Option(
        "--model", metavar="NAME", help="Run and show only this model (repeatable; default: every model)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline as JSON")] = False,
) -> None:
    """Deploy the stack into the sandbox and run all its models day by day, calling the real handlers.

    Each model's schedules (ingestion, retraining, drift monitor, A/B guardrail, batch scoring) fire at the times
    their expressions and the profile's time zone give; each approved version is deployed by the model's
    serving mode (A/B models: a challenger, rolled back when worse, promoted when not); drift is injected on
    --drift-day (alert, alarm and retraining). Times are shown in the profile's time zone; the chart has a
    panel per model.
    """
    from infra.offline.simulation.chart import render
    from infra.offline.simulation.engine import Scenario
    from infra.offline.simulation.engine import simulate as run

    if chart.suffix.lower() != ".png":
        raise UserError.single(str(chart), "the chart is written as PNG: use a .png file name", field="--chart")
    check_output_path(chart, "--chart")  # before 30 days of simulation, not after
    spec = select(stack, profile, env)
    scenario = Scenario(days=days, seed=seed, drift_day=drift_day, start=start.date() if start else None,
                        models=tuple(model or ()))
    if as_json:
        timeline = run(spec, scenario)
    else:
        columns = (TextColumn("[bold]simulate[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("days"))
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("", total=days)
            timeline = run(spec, scenario, on_day=lambda _: progress.advance(task))
    path = render(timeline, chart)
    if as_json:
        typer.echo(json.dumps({**timeline.to_json(), "chart": str(path)}, indent=2))
        return
    zone = ZoneInfo(timeline.timezone)
    table = Table(title=f"{spec.profile_name}/{spec.environment}: {days} days from {timeline.start.isoformat()}")
    table.add_column("day", justify="right")
    table.add_column(f"time ({timeline.timezone})")
    table.add_column("model")
    table.add_column("event")
    table.add_column("detail", overflow="fold")
    for event in timeline.events:
        table.add_row(str(event.day), event.at.astimezone(zone).strftime("%a %m-%d %H:%M"), event.model or "",
                      Text(event.kind, style=STYLE.get(event.kind, "")), Text(event.detail))
    console.print(table)
    counts = Counter(event.kind for event in timeline.events)
    console.print(Text(", ".join(f"{kind} {n}" for kind, n in counts.items()) + f"; chart: {path}"), highlight=False,
                  soft_wrap=True)  # one line, whatever the terminal's width: easy to grep
    for name, mode in timeline.models.items():
        deployments = timeline.count("challenger", name) + timeline.count("deployed", name)
        console.print(Text(
            f"{name} ({mode}): deployments {deployments}, rollbacks {timeline.count('rollback', name)}, "
            f"promotions {timeline.count('promote', name)}, drift detections {timeline.count('drift', name)}, "
            f"alarms {timeline.count('alarm', name)}, alerts {timeline.count('alert', name)}; schedules: "
            + ", ".join(f"{job} {expr}" for job, expr in timeline.schedules[name].items())
            + f" ({timeline.timezone})"), highlight=False)
    console.print(f"\n[dim]What the simulation does in {timeline.provider}'s place:[/]")
    for note in timeline.notes:
        console.print(Text(f"- {note}", style="dim"), highlight=False)
