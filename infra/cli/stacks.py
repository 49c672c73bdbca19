"""Stack selection shared by commands: `--stack ENV` (a stacks/Pulumi.ENV.yaml) or `--profile NAME --env ENV`."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.errors import UserError
from infra.profiles.loader import StackSpec, load_stack, resolve

StackOpt = Annotated[
    str | None, typer.Option("--stack", "-s", help="Stack (environment) in stacks/: dev, staging or prod")
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", help="Built-in profile name or profile file (with --env)")
]
EnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Environment overlay for --profile")]


def select(stack: str | None, profile: str | None, env: str | None) -> StackSpec:
    if stack and (profile or env):
        raise UserError.single("<command line>", "use either --stack or --profile with --env, not both")
    if stack:
        return load_stack(stack)
    if profile:
        return resolve(profile, env or "dev")
    raise UserError.single("<command line>", "choose a stack with --stack ENV, or --profile NAME --env ENV")
