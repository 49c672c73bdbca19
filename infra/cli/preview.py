"""`mlopsgen preview`: the resources a stack declares, from the real program under Pulumi's mock runtime."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated

import typer
from rich.table import Table

from infra.cli.common import console, err_console, user_errors
from infra.cli.stacks import EnvOpt, ProfileOpt, StackOpt, select
from infra.offline.preview import preview as run_preview


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)


@user_errors
def preview(
    stack: StackOpt = None,
    profile: ProfileOpt = None,
    env: EnvOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the resource graph as JSON")] = False,
) -> None:
    """List every resource the stack declares (offline: no cloud, no Pulumi CLI needed)."""
    spec = select(stack, profile, env)
    graph = run_preview(spec)
    if as_json:
        typer.echo(json.dumps(graph.to_json(), indent=2, sort_keys=False, default=str))
        return
    table = Table(title=f"{graph.profile} / {graph.environment}: {len(graph.custom)} resources")
    table.add_column("type")
    table.add_column("count", justify="right")
    table.add_column("protected", justify="right")
    counts = Counter(r.type for r in graph.custom)
    protected = Counter(r.type for r in graph.custom if r.protect)
    for typ, count in sorted(counts.items()):
        table.add_row(typ, str(count), str(protected.get(typ, "")))
    console.print(table)
    for line in graph.loosened:
        err_console.print(f"[yellow]loosened default[/] {line}", highlight=False)
