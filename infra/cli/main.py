"""`mlopsgen` command line. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated

import typer

from infra import __version__
from infra.cli import commands

# google-api-core announces, on every import, the date it stops supporting this Python (2027-10-24): a notice
# for us as maintainers (pyproject's requires-python), not for a user reading a command's output.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.api_core\.")

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
        typer.echo(f"mlopsgen {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    cwd: Annotated[Path | None, typer.Option(
        "--cwd", "-C", metavar="DIR", exists=True, file_okay=False, dir_okay=True,
        help="Run as if started in DIR: the project is found from there upward to Pulumi.yaml (as Pulumi's --cwd)",
    )] = None,
    show_version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                               help="Print the version and exit")] = False,
) -> None:
    """Generate, preview and test MLOps platforms from stack profiles, offline."""
    if cwd is not None:
        os.chdir(cwd)


for _module in commands.MODULES:
    _module.register(app)
