"""`mlopsgen audit`: the policy pack's controls, run offline over the stack's preview graph."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from infra.cli.common import console, err_console, user_errors
from infra.cli.stacks import EnvOpt, ProfileOpt, StackOpt, select


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


@user_errors
def audit(
    stack: StackOpt = None,
    profile: ProfileOpt = None,
    env: EnvOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report (violations and catalog) as JSON")] = False,
) -> None:
    """Check the stack against the policy pack (the same policies `pulumi preview --policy-pack infra/policy`
    runs), offline. Exit code 1 when a mandatory control fails (staging, prod); dev is advisory."""
    from infra.offline.preview import preview
    from infra.policy.audit import audit as run_audit

    spec = select(stack, profile, env)
    report = run_audit(preview(spec))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        title = (f"{spec.profile_name} / {spec.environment}: {len(report.violations)} violation(s) of "
                 f"{len(report.controls)} controls ({report.enforcement.value})")
        if not report.violations:
            console.print(f"{title}: every control passes", highlight=False)
        else:
            table = Table(title=title)
            for column in ("control", "refs", "resource", "violation", "loosened default"):
                table.add_column(column, overflow="fold")
            for v in report.violations:
                table.add_row(v.control, ", ".join(v.refs), v.resource, v.message, v.loosened or "")
            console.print(table)
        unexplained = [v for v in report.violations if not v.loosened]
        if report.violations and not unexplained:
            err_console.print("every violation comes from a loosened default the profile states", highlight=False)
    if report.blocking:
        raise typer.Exit(code=1)
