"""`mlopsgen new`: render a Pulumi project for a built-in profile, which the team then owns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import console, user_errors
from infra.scaffold import create


def register(app: typer.Typer) -> None:
    app.command("new")(new)


@user_errors
def new(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="New or empty directory for the project")],
    profile: Annotated[str, typer.Option("--profile", "-p", metavar="NAME",
                                         help="Built-in profile to start from (see `mlopsgen profiles`)")],
    name: Annotated[str | None, typer.Option(
        "--name", metavar="PROJECT", help="Project name, also the profile's name and resource prefix "
        "(default: the directory's name)")] = None,
    cloud_region: Annotated[str | None, typer.Option(
        "--cloud-region", metavar="REGION", help="Cloud region of every stack, checked as the profile's cloud's "
        "(AWS: us-east-1, GCP: europe-west4; default: the profile's)")] = None,
    gcp_project: Annotated[str | None, typer.Option(
        "--gcp-project", metavar="PROJECT_ID", help="GCP project id every stack deploys to (GCP profiles only; "
        "default: the project's name)")] = None,
) -> None:
    """Render a Pulumi project into DIR: Pulumi.yaml, the program, requirements.txt, a stack per environment,
    the profile (named for the project) with its JSON Schema, a README and a CI workflow that validates pull
    requests.

    Nothing is written on error; an existing directory is refused unless empty (exit code 2).
    """
    written = create(directory, profile, name=name, region=cloud_region, project=gcp_project)
    console.print(f"[bold green]created[/] {directory}: {len(written)} files", highlight=False)
    for path in written:
        console.print(f"  {path}", highlight=False, markup=False)
    console.print(f"\nNext: cd {directory}, then follow README.md (mlopsgen validate, mlopsgen preview --stack dev, "
                  "pulumi login, pulumi stack init dev, pulumi up).", highlight=False, markup=False)
