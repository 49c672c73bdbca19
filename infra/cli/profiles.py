"""`mlopsgen schema`, `mlopsgen validate` and `mlopsgen profiles`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from infra.cli.common import check_output_path, console, user_errors, write_atomically
from infra.errors import UserError
from infra.profiles.exceptions import loosened_defaults
from infra.profiles.loader import (
    PROFILES_DIR,
    builtin_profiles,
    display_path,
    load_profile,
    load_stack,
    profile_path,
    resolve,
    stack_file_path,
)
from infra.profiles.schema import schema_text
from infra.profiles.validators import ENVIRONMENTS
from infra.profiles.wording import did_you_mean
from infra.project import find_project


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
    app.command("validate")(validate)
    app.command("profiles")(profiles)


@user_errors
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Write to this file instead of stdout")] = None,
) -> None:
    """Print the JSON Schema of stack profiles (profile files point editors at a copy of it)."""
    if output is not None:
        check_output_path(output, "--output")
    text = schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    write_atomically(output, text.encode(), "--output")


@user_errors
def validate(
    # Described in the docstring: Typer would print the argument's Python type beside its help.
    files: Annotated[list[Path] | None, typer.Argument(metavar="FILE", hidden=True)] = None,
    stack: Annotated[list[str] | None, typer.Option(
        "--stack", "-s", metavar="STACK", help="The project's stack file Pulumi.STACK.yaml (repeatable)")] = None,
) -> None:
    """Check profile files and stack files (Pulumi.STACK.yaml): each FILE, each --stack, or every stack file of
    the project (found from the working directory upward to Pulumi.yaml, as Pulumi does).

    Every environment of a profile is resolved and validated.
    Exit code 0 when all are valid, 2 with file, line and field for each problem otherwise.
    """
    checked: list[tuple[str, str, list[str]]] = []
    problems = []
    targets: list[tuple[str, Path]] = [("stack", stack_file_path(s)) for s in stack or []]
    targets += [("stack" if p.name.startswith("Pulumi.") else "profile", p) for p in files or []]
    if not targets:
        project = find_project()
        targets = [("stack", path) for path in project.stack_files()]
        if not targets:
            raise UserError.single(display_path(project.stack_config_dir), "no stack files (Pulumi.<stack>.yaml)")
    for kind, path in targets:
        try:
            if kind == "stack":
                spec = load_stack(path.name.removeprefix("Pulumi.").removesuffix(".yaml"), path)
                checked.append((display_path(path), spec.environment, loosened_defaults(spec)))
            else:
                if path.is_dir():
                    raise UserError.single(display_path(path), "is a directory; give a profile file, a stack file "
                                           "or a built-in profile's name")
                if not path.is_file() and str(path) in builtin_profiles():  # a built-in profile, by name
                    path = profile_path(str(path))
                if not path.is_file():
                    raise UserError.single(display_path(path), "no such file" + did_you_mean(
                        str(path), builtin_profiles()))
                load_profile(path)
                for env in ENVIRONMENTS:  # each environment's problems, not only the first one's
                    try:
                        spec = resolve(str(path), env)
                        checked.append((display_path(path), env, loosened_defaults(spec)))
                    except UserError as exc:
                        problems.extend(exc.problems)
        except UserError as exc:
            problems.extend(exc.problems)
    if problems:
        raise UserError(problems)
    table = Table(title="valid", show_lines=False)
    table.add_column("file")
    table.add_column("environment")
    table.add_column("loosened defaults", justify="right")
    for file, env, loosened in checked:
        table.add_row(Text(file), env, str(len(loosened)))
    console.print(table)


@user_errors
def profiles() -> None:
    """List the built-in profiles; an invalid one is reported with its problems (exit code 2)."""
    table = Table(title="built-in profiles")
    table.add_column("name")
    table.add_column("description")
    problems = []
    for name in builtin_profiles():
        try:
            profile, _ = load_profile(PROFILES_DIR / f"{name}.yaml")
        except UserError as exc:
            problems.extend(exc.problems)
            table.add_row(Text(name), Text("invalid: see the errors below", style="red"))
            continue
        table.add_row(Text(name), Text(profile.description))
    console.print(table)
    if problems:
        raise UserError(problems)
