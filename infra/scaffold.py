"""`mlopsgen new`: render a Pulumi project a team owns from the Jinja2 templates in ``templates/project/``.

The templates ship inside the package (``infra.templates``). The project gets the built-in profile as its own
file, named for the project, line for line the same as the built-in (so an error in it is reported at the same
line), with the project's name and region. Everything is rendered into a temporary directory beside the target,
validated with the loader `mlopsgen validate` uses, then moved into place with one rename: an error leaves
nothing behind, and an existing non-empty directory is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import jinja2
import yaml
from pydantic import ValidationError

from infra import __version__
from infra.errors import Problem, UserError
from infra.profiles.loader import PROFILES_DIR, builtin_profiles, load_stack
from infra.profiles.model import Profile
from infra.profiles.schema import schema_text
from infra.profiles.validators import ENVIRONMENTS

TEMPLATES = files("infra.templates").joinpath("project")
COMMAND_LINE = "<command line>"
# Template -> path in the project ("{name}" is the project's name); stack.yaml.j2 renders once per environment.
OUTPUTS = {
    "Pulumi.yaml.j2": "Pulumi.yaml",
    "__main__.py.j2": "__main__.py",
    "requirements.txt.j2": "requirements.txt",
    "README.md.j2": "README.md",
    "gitignore.j2": ".gitignore",
    "ci-workflow.yml.j2": ".github/workflows/mlopsgen.yml",
    "profile.yaml.j2": "stacks/profiles/{name}.yaml",
}
STACK_TEMPLATE, STACK_PATH = "stack.yaml.j2", "stacks/Pulumi.{env}.yaml"
SCHEMA_PATH = "stacks/profile.schema.json"  # the profile's first line points to it: ../profile.schema.json
# Profile options a command-line option sets, with the top-level key it replaces in the built-in profile.
OPTION_FIELDS = {"name": "--name", "region": "--cloud-region", "project": "--gcp-project"}
# What each option's value must look like, in words (the model's patterns, said for a person).
OPTION_SHAPES = {
    "name": "3-32 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
    "project": "a GCP project id: 6-30 lowercase letters, digits and hyphens, starting with a letter and not "
               "ending with a hyphen",
}


@dataclass(frozen=True)
class NewProject:
    """What `mlopsgen new` renders: a project named ``name`` for the built-in ``profile``."""

    profile: str
    name: str
    region: str
    description: str
    profile_body: str  # the built-in profile after its first (schema pointer) line, with name and region set
    cloud: str = "aws"
    project: str | None = None  # the GCP project id (cloud gcp)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: TEMPLATES.joinpath(name).read_text("utf-8")),
        undefined=jinja2.StrictUndefined,  # a variable a template uses but nobody passes is a bug, not ""
        keep_trailing_newline=True,
        autoescape=False,  # YAML, Python and Markdown, not HTML
    )


def _replace_top_level(text: str, key: str, value: str) -> str:
    pattern = re.compile(rf"^{key}:.*$", re.MULTILINE)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"the built-in profile must set {key!r} once at the top level")
    return pattern.sub(f"{key}: {value}", text)


def _option_problem(field: str, error: dict[str, object], defaulted: set[str]) -> Problem:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch":
        message = f"{error['input']!r} is not valid: {OPTION_SHAPES[field]}"
    if field in defaulted:
        message += {"name": "; the name comes from the directory's name: pass a valid one with --name (for "
                            "example --name my-project)",
                    "project": "; the GCP project id defaults to the project's name: pass yours with "
                               "--gcp-project (for example --gcp-project my-team-ml)"}[field]
    return Problem(COMMAND_LINE, None, OPTION_FIELDS[field], message)


def plan(profile: str, name: str, region: str | None, project: str | None = None,
         *, named_by_directory: bool = False) -> NewProject:
    """Check the options against the profile model (the one source of the rules, with the profile's cloud as
    context, so the region is checked by that cloud's rule) and prepare the profile text.

    ``project`` is the GCP project id (cloud gcp; default: the project's name). ``named_by_directory``: the name
    was not given but taken from the directory, which an error then says.
    Raises UserError naming the option (--profile, --name, --cloud-region, --gcp-project) when one is not valid.
    """
    if profile not in builtin_profiles():
        raise UserError.single(COMMAND_LINE, f"no built-in profile {profile!r}; built-in profiles are "
                               f"{', '.join(builtin_profiles())}", field="--profile")
    if name in builtin_profiles():
        raise UserError.single(COMMAND_LINE, f"{name!r} is a built-in profile's name; the project needs its own, "
                               "since it prefixes every physical name (buckets, endpoints, roles)", field="--name")
    text = (PROFILES_DIR / f"{profile}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    cloud = str(data.get("cloud", "aws"))
    if project is not None and cloud != "gcp":
        raise UserError.single(COMMAND_LINE, f"only for a GCP profile; {profile!r} runs on {cloud}",
                               field="--gcp-project")
    if cloud == "aws" and region is not None and re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", region):
        # The built-in staging/prod certificates are placeholders (AWS's documentation account) that must sit in
        # the stacks' region: they move with it, and the profile's comment says to replace them.
        text = re.sub(r"arn:aws:acm:[a-z0-9-]+:", f"arn:aws:acm:{region}:", text)
        data = yaml.safe_load(text)
    defaulted = {"name"} if named_by_directory else set()
    if cloud == "gcp" and project is None:
        project = name
        defaulted.add("project")
    data["name"] = name
    if region is not None:
        data["region"] = region
    if project is not None:
        data["project"] = project
    try:
        parsed = Profile.model_validate(data, context={"cloud": cloud})
    except ValidationError as exc:
        problems = [_option_problem(str(e["loc"][0]), dict(e), defaulted)
                    for e in exc.errors(include_url=False) if e["loc"] and e["loc"][0] in OPTION_FIELDS]
        if problems:
            raise UserError(problems) from None
        raise
    # Values that passed the model's patterns are plain YAML scalars: safe to write unquoted.
    body = _replace_top_level(text.split("\n", 1)[1], "name", parsed.name)
    body = _replace_top_level(body, "region", parsed.region)
    if parsed.project is not None:  # the body's project and each environment overlay's: the team's project
        body = re.sub(r"^( {4})?project: .*$", rf"\g<1>project: {parsed.project}", body, flags=re.MULTILINE)
    return NewProject(profile=profile, name=parsed.name, region=parsed.region, description=parsed.description,
                      profile_body=body.rstrip("\n"), cloud=parsed.cloud, project=parsed.project)


def render(project: NewProject) -> dict[str, str]:
    """Every file of the project: relative path -> text."""
    env = _environment()
    context = {
        "name": project.name, "profile": project.profile, "region": project.region,
        "description": project.description, "body": project.profile_body, "version": __version__,
        "cloud": project.cloud, "project": project.project,
        "environments": ENVIRONMENTS, "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
    }
    out = {path.format(name=project.name): env.get_template(template).render(context)
           for template, path in OUTPUTS.items()}
    for stack_env in ENVIRONMENTS:
        out[STACK_PATH.format(env=stack_env)] = env.get_template(STACK_TEMPLATE).render(context, env=stack_env)
    out[SCHEMA_PATH] = schema_text()
    return out


def _check_target(target: Path) -> None:
    shown = str(target)
    if target.is_dir() and any(target.iterdir()):
        raise UserError.single(shown, "directory exists and is not empty; choose a new or empty directory")
    if target.exists() and not target.is_dir():
        raise UserError.single(shown, "exists and is not a directory")
    if not target.resolve().parent.is_dir():
        raise UserError.single(shown, f"parent directory {target.resolve().parent} does not exist")


def create(target: Path, profile: str, *, name: str | None = None, region: str | None = None,
           project: str | None = None) -> list[str]:
    """Render the project into ``target`` (new or empty); return the files written, relative to it.
    ``project``: the GCP project id of a GCP profile's stacks.

    Raises UserError (nothing written) when the target is not usable or an option is not valid.
    """
    _check_target(target)
    rendered = render(plan(profile, name or target.resolve().name, region, project, named_by_directory=name is None))
    parent = target.resolve().parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    except OSError as exc:
        raise UserError.single(str(target), f"cannot create a directory in {parent}: {exc.strerror or exc}") from None
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the project private to its creator
    try:
        for relative, text in rendered.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for stack_env in ENVIRONMENTS:  # the project must validate as rendered, or it is not written
            load_stack(stack_env, staging / STACK_PATH.format(env=stack_env))
        try:
            os.rename(staging, target)  # atomic; replaces an empty directory, fails on a non-empty one
        except OSError as exc:
            raise UserError.single(str(target), f"cannot create the project: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(rendered)
