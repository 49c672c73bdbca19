"""Stack selection shared by commands: `--stack NAME` (a stacks/Pulumi.NAME.yaml) or `--profile P --env ENV`."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from infra.errors import UserError
from infra.profiles.loader import StackSpec, load_stack, resolve
from infra.profiles.validators import ENVIRONMENTS

StackOpt = Annotated[
    str | None, typer.Option("--stack", "-s", metavar="STACK",
                             help="Stack file stacks/Pulumi.STACK.yaml (dev, staging, prod or any other you add)")
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", metavar="PROFILE",
                             help="Built-in profile name or profile file (needs --env)")
]
EnvOpt = Annotated[str | None, typer.Option("--env", "-e", metavar="ENV",
                                            help=f"Environment overlay for --profile: {', '.join(ENVIRONMENTS)}")]


def select(stack: str | None, profile: str | None, env: str | None) -> StackSpec:
    if stack and (profile or env):
        raise UserError.single("<command line>", "use either --stack or --profile with --env, not both")
    if stack:
        return load_stack(stack)
    if profile:
        if env is None:
            raise UserError.single("<command line>", f"--profile needs --env ({', '.join(ENVIRONMENTS)})",
                                   field="--env")
        return resolve(profile, env)
    raise UserError.single("<command line>", "choose a stack with --stack NAME, or --profile NAME --env ENV")


def selection_args(stack: str | None, profile: str | None, env: str | None) -> str:
    """The options that selected the stack, as the user would type them again (for next-step hints)."""
    return f"--stack {shlex.quote(stack)}" if stack else f"--profile {shlex.quote(profile or '')} --env {env}"
