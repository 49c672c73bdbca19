"""`mlopsgen` command line. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import typer

from infra.cli import commands

app = typer.Typer(
    name="mlopsgen",
    help="Generate, preview and test MLOps platforms from stack profiles, offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _module in commands.MODULES:
    _module.register(app)
