"""`mlopsgen preview`: the resources a stack declares, from the real program under Pulumi's mock runtime.

The text output reads like `pulumi preview`: every resource under its parent component with a `+` create mark,
its type and name and its protect / retain markers; then the stack outputs, then the loosened defaults.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from infra.cli.common import console, user_errors
from infra.cli.stacks import EnvOpt, ProfileOpt, StackOpt, select
from infra.offline.graph import ResourceGraph, ResourceRecord
from infra.offline.preview import preview as run_preview


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)


def short_type(token: str) -> str:
    """A type token as the Pulumi CLI shows it: `aws:ec2/vpc:Vpc` -> `aws:ec2:Vpc`."""
    parts = token.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        parts[1] = parts[1].split("/", 1)[0]
    return ":".join(parts)


def _markers(record: ResourceRecord) -> str:
    marks = [m for m, on in (("protected", record.protect), ("retained on delete", record.retain_on_delete)) if on]
    if record.ignore_changes:  # set at run time (traffic, rotated secrets): `pulumi up` leaves them alone
        marks.append(f"ignores changes to {', '.join(record.ignore_changes)}")
    return f"  [{', '.join(marks)}]" if marks else ""


def render_tree(graph: ResourceGraph, out: Console) -> None:
    """Each resource under its parent (components first, then by type and name), one line each."""
    children: dict[str | None, list[ResourceRecord]] = defaultdict(list)
    names = {r.name for r in graph.resources}
    for record in graph.resources:
        children[record.parent if record.parent in names else None].append(record)
    for siblings in children.values():
        siblings.sort(key=lambda r: (r.custom, r.type, r.name))

    out.print(Text.assemble(("     Type", "bold"), "  ", ("Name", "bold")))
    out.print(Text.assemble((" +   ", "green"), "pulumi:pulumi:Stack  ", f"{graph.project}-{graph.stack}"))

    def walk(parent: str | None, indent: str) -> None:
        kids = children.get(parent, [])
        for i, record in enumerate(kids):
            last = i == len(kids) - 1
            line = Text.assemble((" +   ", "green"), (indent + ("└─ " if last else "├─ "), "dim"),
                                 (short_type(record.type), "" if record.custom else "bold"), "  ", record.name,
                                 (_markers(record), "yellow"))
            out.print(line, soft_wrap=True, highlight=False)
            if not record.custom:
                walk(record.name, indent + ("   " if last else "│  "))

    walk(None, "")
    components = sum(1 for r in graph.resources if not r.custom)
    out.print(Text(f"\nResources:\n    + {len(graph.resources) + 1} to create "
                   f"({len(graph.custom)} cloud resources, {components} components and the stack)"))


def render_outputs(outputs: dict[str, Any], out: Console) -> None:
    """The stack outputs as `pulumi preview` lists them (secrets are shown as [secret])."""
    if not outputs:
        return
    out.print(Text("\nOutputs:", style="bold"))
    width = max(len(k) for k in outputs)
    for key, value in outputs.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        out.print(Text(f"    {key:<{width}}: {shown}"), soft_wrap=True, highlight=False)


def render_loosened(loosened: list[str], out: Console) -> None:
    if not loosened:
        return
    out.print(Text("\nLoosened defaults (the profile asks for these explicitly):", style="bold yellow"))
    for line in loosened:
        out.print(Padding(Text(f"- {line}"), (0, 0, 0, 4)), highlight=False)


@user_errors
def preview(
    stack: StackOpt = None,
    profile: ProfileOpt = None,
    env: EnvOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print resources, outputs and loosened defaults as JSON")
                       ] = False,
) -> None:
    """Show every resource the stack would create, under its component, then the stack outputs.

    Offline: the real program runs under Pulumi's mock runtime; no cloud account and no Pulumi CLI are used.
    """
    spec = select(stack, profile, env)
    graph = run_preview(spec)
    if as_json:
        typer.echo(json.dumps(graph.to_json(), indent=2, sort_keys=False, default=str))
        return
    console.print(Text(f"Previewing stack {graph.stack} (profile {graph.profile}, environment {graph.environment}),"
                       " offline under Pulumi's mock runtime\n"), highlight=False)
    render_tree(graph, console)
    render_outputs(graph.outputs, console)
    render_loosened(graph.loosened, console)
