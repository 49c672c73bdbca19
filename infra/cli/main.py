"""`mlopsgen` command line. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from infra.cli import commands

app = typer.Typer(
    name="mlopsgen",
    help="Generate, preview and test MLOps platforms from stack profiles, offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"mlopsgen {version('mlopsgen')}")
        except PackageNotFoundError:  # running from a source tree that was never installed
            typer.echo("mlopsgen (not installed)")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                               help="Print the version and exit")] = False,
) -> None:
    """Generate, preview and test MLOps platforms from stack profiles, offline."""


for _module in commands.MODULES:
    _module.register(app)
