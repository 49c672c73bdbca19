"""`mlopsgen schema`, `mlopsgen validate` and `mlopsgen profiles`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infra.cli.common import console, user_errors
from infra.errors import UserError
from infra.profiles.exceptions import loosened_defaults
from infra.profiles.loader import (
    PROFILES_DIR,
    builtin_profiles,
    display_path,
    load_profile,
    load_stack,
    resolve,
    stack_file_path,
)
from infra.profiles.schema import schema_text
from infra.profiles.validators import ENVIRONMENTS


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
    app.command("validate")(validate)
    app.command("profiles")(profiles)


def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout")] = None,
) -> None:
    """Print the JSON Schema of stack profiles (profile files point editors at stacks/profile.schema.json)."""
    text = schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    tmp = output.with_suffix(output.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)


@user_errors
def validate(
    files: Annotated[list[Path] | None, typer.Argument(help="Profile or stack files (Pulumi.<env>.yaml)")] = None,
    stack: Annotated[list[str] | None, typer.Option("--stack", "-s", help="Stack in stacks/ (repeatable)")] = None,
) -> None:
    """Check profile and stack files; every environment of a profile is resolved and validated.

    Exit code 0 when all are valid, 2 with file, line and field for each problem otherwise.
    """
    checked: list[tuple[str, str, list[str]]] = []
    problems = []
    targets: list[tuple[str, Path]] = [("stack", stack_file_path(s)) for s in stack or []]
    targets += [("stack" if p.name.startswith("Pulumi.") else "profile", p) for p in files or []]
    if not targets:
        targets = [("stack", stack_file_path(e)) for e in ENVIRONMENTS if stack_file_path(e).exists()]
        targets += [("profile", PROFILES_DIR / f"{name}.yaml") for name in builtin_profiles()]
    for kind, path in targets:
        try:
            if kind == "stack":
                spec = load_stack(path.name.removeprefix("Pulumi.").removesuffix(".yaml"), path)
                checked.append((display_path(path), spec.environment, loosened_defaults(spec)))
            else:
                if not path.exists():
                    raise UserError.single(display_path(path), "no such file")
                load_profile(path)
                for env in ENVIRONMENTS:
                    spec = resolve(str(path), env)
                    checked.append((display_path(path), env, loosened_defaults(spec)))
        except UserError as exc:
            problems.extend(exc.problems)
    if problems:
        raise UserError(problems)
    table = Table(title="valid", show_lines=False)
    table.add_column("file")
    table.add_column("environment")
    table.add_column("loosened defaults", justify="right")
    for file, env, loosened in checked:
        table.add_row(file, env, str(len(loosened)))
    console.print(table)


def profiles() -> None:
    """List the built-in profiles."""
    table = Table(title="built-in profiles (stacks/profiles)")
    table.add_column("name")
    table.add_column("description")
    for name in builtin_profiles():
        profile, _ = load_profile(PROFILES_DIR / f"{name}.yaml")
        table.add_row(name, profile.description)
    console.print(table)
