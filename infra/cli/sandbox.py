"""`mlopsgen sandbox up`: deploy a stack into an in-process emulated AWS (moto) and verify each resource."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from infra.cli.common import console, err_console, user_errors
from infra.cli.stacks import EnvOpt, ProfileOpt, StackOpt, select
from infra.errors import Problem, UserError

if TYPE_CHECKING:
    from infra.offline.sandbox import SandboxResult

sandbox_app = typer.Typer(help="Offline deploys into an in-process emulated AWS (moto).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("up")
@user_errors
def up(
    stack: StackOpt = None,
    profile: ProfileOpt = None,
    env: EnvOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print emulated and recorded resources as JSON")] = False,
) -> None:
    """Run the real program with every AWS resource created in moto and checked with a describe call.

    What moto cannot create is listed as "recorded, not emulated", with the reason. Nothing leaves this
    machine: no AWS account and no Pulumi CLI are used.
    """
    from infra.offline.sandbox import SandboxSession, deploy

    spec = select(stack, profile, env)
    with SandboxSession(region=spec.body.region) as session:
        if as_json:
            result = deploy(spec, session)
        else:
            # The resource count is known only once the program has run, so the bar counts without a total.
            columns = (TextColumn("[bold]sandbox up[/]"), SpinnerColumn(), TextColumn("{task.completed} resources"),
                       TextColumn("{task.description}"))
            with Progress(*columns, console=err_console, transient=True) as progress:
                task = progress.add_task("", total=None)

                def step(status: str, typ: str, name: str) -> None:
                    progress.update(task, advance=1, description=f"{status}: {name}")

                result = deploy(spec, session, on_resource=step)
    if result.failed:
        raise UserError([
            Problem(file=spec.profile_file, line=None, field=f"{f['type']} {f['name']}",
                    message=f"rejected by the emulated AWS: {f['reason']}")
            for f in result.failed
        ])
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, default=str))
        return
    _summary(result, spec.stack)


def _summary(result: SandboxResult, stack: str) -> None:
    graph = result.graph
    console.print(
        f"[bold green]sandbox deploy of {graph.profile}/{graph.environment}[/]: "
        f"{len(result.emulated)} resources created in emulated AWS and verified, "
        f"{len(result.recorded)} recorded, not emulated ({result.coverage:.0%} emulated)."
    )
    if result.recorded:
        table = Table(title="recorded, not emulated (moto cannot create these)")
        table.add_column("type")
        table.add_column("name")
        table.add_column("reason")
        for r in result.recorded:
            table.add_row(r["type"], r["name"], r["reason"])
        console.print(table)
    for line in graph.loosened:
        console.print(f"[yellow]loosened default[/] {line}", highlight=False)
    steps = Table.grid(padding=(0, 3))
    steps.add_column(style="bold")
    steps.add_column()
    for command, what in (
        (f"mlopsgen preview --stack {stack} --json", "every resource with its inputs and options"),
        (f"mlopsgen simulate --stack {stack}", "30 days of ingestion, retraining, drift and A/B tests"),
        ("mlopsgen validate", "check every profile and stack file"),
        ("make test", "the offline test suite"),
        (f"pulumi up -s {stack}", "a real deploy: needs the Pulumi CLI, AWS credentials and Docker"),
    ):
        steps.add_row(command, what)
    console.print("\nNext (mlopsgen is in .venv/bin):")
    console.print(steps)
