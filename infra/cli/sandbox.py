"""`mlopsgen sandbox up`: deploy a stack into an in-process emulated AWS (moto) and verify each resource."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.padding import Padding
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.text import Text

from infra.cli.common import console, err_console, user_errors
from infra.cli.preview import render_loosened, render_outputs, short_type
from infra.cli.stacks import EnvOpt, ProfileOpt, StackOpt, select, selection_args
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
                    message=f"rejected in the sandbox: {f['reason']}")
            for f in result.failed
        ])
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, default=str))
        return
    _summary(result, selection_args(stack, profile, env))


def _reason_group(reason: str) -> str:
    """Resources recorded because they reference a recorded one are grouped by that one (moto's words dropped)."""
    m = _REFERENCE.match(reason)
    return f"they reference {short_type(m.group(1))} {m.group(2)}, which is itself recorded" if m else reason


_REFERENCE = re.compile(r"^references (\S+) (\S+), which is recorded, not emulated")


def render_recorded(recorded: list[dict[str, str]], out: Console) -> None:
    """What moto cannot create, grouped by reason, then by type: short enough to read at 80 columns."""
    groups: dict[str, dict[str, list[str]]] = {}
    for r in recorded:
        groups.setdefault(_reason_group(r["reason"]), {}).setdefault(short_type(r["type"]), []).append(r["name"])
    out.print(Text(f"\nRecorded, not emulated ({len(recorded)}): no emulator creates these (moto covers AWS; "
                   "nothing emulates GCP or a Kubernetes cluster), so they get synthesized outputs and are checked "
                   "structurally only, as each reason says.", style="bold"))
    for reason, by_type in groups.items():
        out.print(Padding(Text(f"Why: {reason}", style="dim"), (0, 0, 0, 2)), highlight=False)
        for typ, names in sorted(by_type.items()):
            out.print(Padding(Text.assemble((typ, "cyan"), "  ", ", ".join(sorted(names))), (0, 0, 0, 4)),
                      highlight=False)


def render_kubernetes(result: SandboxResult, out: Console) -> None:
    """Kubernetes objects are recorded, not applied (no cluster offline): say how each was checked."""
    upstream = [c for c in result.kubernetes if c.recorded_not_rendered]
    objects = [c for c in result.kubernetes if not c.recorded_not_rendered]
    schemas = sorted({c.checked_against.split(" (")[0] for c in objects})
    out.print(Text(f"\nKubernetes, recorded with full manifests, not applied ({len(objects)} objects): each checked "
                   "against its schema and the workload-safety rules.", style="bold"))
    out.print(Padding(Text(f"Schemas: {'; '.join(schemas)}", style="dim"), (0, 0, 0, 2)), highlight=False)
    out.print(Text(f"Upstream installs recorded, not rendered ({len(upstream)}): only their pinned versions and the "
                   "project's own overlay are checked.", style="bold"))
    for check in upstream:
        out.print(Padding(Text.assemble((check.kind, "cyan"), "  ", check.name, "  ", (check.checked_against, "dim")),
                          (0, 0, 0, 4)), highlight=False)


def _summary(result: SandboxResult, selection: str) -> None:
    graph = result.graph
    console.print(Text.assemble(
        (f"sandbox deploy of {graph.profile}/{graph.environment}", "bold green"),
        f": {len(result.emulated)} resources created in emulated AWS and verified, "
        f"{len(result.recorded)} recorded, not emulated ({result.coverage:.0%} emulated)."))
    if result.recorded:
        render_recorded(result.recorded, console)
    if result.kubernetes:
        render_kubernetes(result, console)
    render_outputs(graph.outputs, console)
    render_loosened(graph.loosened, console)
    console.print("\nNext (mlopsgen is in .venv/bin):")
    for command, what in (
        (f"mlopsgen preview {selection}", "every resource under its component, and the outputs"),
        (f"mlopsgen simulate {selection}", "30 days of ingestion, retraining, drift and A/B tests"),
        ("mlopsgen validate", "check every profile and stack file"),
        ("make test", "the offline test suite"),
    ):
        console.print(Text.assemble("  ", (command, "bold")), soft_wrap=True, highlight=False)
        console.print(Text(f"      {what}", style="dim"), highlight=False)
    console.print("A real deploy needs the Pulumi CLI, AWS credentials and Docker: see the README's "
                  "\"Deploying for real\".", highlight=False)
