"""Load profile and stack files, merge environment overlays, and report problems by file, line and field.

Layers, lowest precedence first: the profile body, the profile's overlay for the environment, the stack
file's ``mlopsgen:overrides``. Every layer keeps the line of each key it sets, so a validation error on the
merged result points at the line that set the bad value.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from infra.errors import Problem, UserError
from infra.profiles.model import OTHER_CLOUD_KIND, Profile, ProfileBody
from infra.profiles.validators import ENVIRONMENTS
from infra.profiles.wording import describe, did_you_mean
from infra.project import Project, find_project
from infra.runtime import yamldoc

PROJECT = "mlopsgen"  # the configuration namespace of stack files (`mlopsgen:profile`), in every project
PROFILES_DIR = Path(__file__).resolve().parent / "builtin"  # built-in profiles, shipped as package data
BUILTIN_SCHEMAS_ROOT = PROFILES_DIR  # `schemas/<model>.yaml` of the built-in profiles, shipped beside them
STACK_KEYS = {"profile", "environment", "overrides"}

Path_ = tuple[str | int, ...]
V = TypeVar("V")


@dataclass
class Layer:
    """One YAML document (or part of one) that contributes values, with the line of every key."""

    file: str
    data: dict[str, Any]
    lines: dict[Path_, int]
    prefix: str = ""  # how the layer's keys are spelled in its file: "environments.dev.", "mlopsgen:overrides."
    raw: dict[Path_, str] = field(default_factory=dict)  # each scalar as written (YAML reads 2.20 as 2.2)


@dataclass
class StackSpec:
    """A profile resolved for one environment: what the program builder consumes."""

    stack: str
    environment: str
    profile_name: str
    description: str
    body: ProfileBody
    profile_file: str
    cloud: str = "aws"
    stack_file: str | None = None
    project: str = PROJECT  # the Pulumi project's name (Pulumi.yaml), which names the root stack resource
    aws_region: str | None = None
    layers: list[Layer] = field(default_factory=list, repr=False)
    # Each model's dataset schema (from `dataset.schema_file`), as the JSON ingestion reads.
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)


def _compose(path: Path) -> tuple[Any, dict[Path_, int], dict[Path_, str]]:
    """Parse YAML, recording the 1-based line of every mapping key and list item and the text of every scalar;
    reject duplicate keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError.single(str(path), f"cannot read file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError.single(str(path), "not UTF-8 text") from None
    return yamldoc.compose(text, str(path))


def _sub_lines(lines: dict[Path_, V], prefix: Path_) -> dict[Path_, V]:
    n = len(prefix)
    return {k[n:]: v for k, v in lines.items() if k[:n] == prefix and len(k) > n}


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge `over` into `base`; a capability overlay with a different `kind` replaces the capability whole."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        current = out.get(key)
        same_kind = isinstance(current, dict) and value.get("kind", current.get("kind")) == current.get("kind") \
            if isinstance(value, dict) else False
        out[key] = _deep_merge(current, value) if same_kind and isinstance(current, dict) else copy.deepcopy(value)
    return out


def _locate(layers: list[Layer], data: Any, loc: tuple[Any, ...]) -> tuple[Layer, int | None, Path_]:
    """Map a pydantic error location on merged data to the layer that set it, its line and its key path."""
    # Drop discriminator tags, which pydantic inserts into the location but the data does not contain.
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # the tag pydantic adds for a discriminated union
        present = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        )
        if present:
            path.append(part)
            node = node[part]
        elif last or not isinstance(node, dict) or isinstance(part, int):
            path.append(part)
            node = None
    key = tuple(path)
    for layer in reversed(layers):  # highest precedence first
        if key in layer.lines:
            return layer, layer.lines[key], key
    best: tuple[int, Layer] | None = None
    for layer in reversed(layers):
        n = next((n for n in range(len(key) - 1, -1, -1) if n == 0 or key[:n] in layer.lines), 0)
        if n and (best is None or n > best[0]):
            best = (n, layer)
    if best is None:  # nothing of the path is written in any layer (a default): the profile holds it
        return layers[0], layers[0].lines.get(key[:1], 1) if layers[0].lines else None, key
    return best[1], best[1].lines[key[:best[0]]], key


def _problems(exc: ValidationError, layers: list[Layer], data: Any, model: type[BaseModel]) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] in ("union_tag_invalid", OTHER_CLOUD_KIND):
            loc = (*loc, "kind")
        layer, line, key = _locate(layers, data, loc)
        dotted = layer.prefix + ".".join(str(p) for p in key)
        message = describe(err, model, layer.raw.get(key))
        problems.append(Problem(file=layer.file, line=line, field=dotted, message=message))
    return problems


def display_path(path: Path) -> str:
    """Paths in messages are relative to the working directory when they can be."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def profile_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return PROFILES_DIR / f"{name_or_path}.yaml"


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(path: Path) -> tuple[Profile, Layer]:
    """Validate a profile file on its own (environments unmerged).

    A copy of a built-in profile must be renamed: the name prefixes every physical name, so a copy that keeps
    it would claim the built-in stacks' buckets, endpoints and roles.
    """
    shown = display_path(path)
    data, lines, raw = _compose(path)
    if not isinstance(data, dict):
        raise UserError.single(shown, "a profile must be a YAML mapping", line=1)
    layer = Layer(shown, data, lines, raw=raw)
    try:
        profile = Profile.model_validate(data, context={"cloud": str(data.get("cloud", "aws"))})
    except ValidationError as exc:
        raise UserError(_problems(exc, [layer], data, Profile)) from None
    builtin = PROFILES_DIR / f"{profile.name}.yaml"
    if builtin.exists() and builtin.resolve() != path.resolve():
        raise UserError.single(
            shown, f"{profile.name!r} is the built-in profile's name; a copy must have its own, since the name "
            "prefixes every physical name (buckets, endpoints, roles)", line=lines.get(("name",)), field="name")
    return profile, layer


def resolve(
    profile: str, environment: str, *, stack: str | None = None, overrides: Layer | None = None,
    stack_file: str | None = None, aws_region: str | None = None, region_line: int | None = None,
    profile_line: int | None = None, provider_settings: Layer | None = None,
) -> StackSpec:
    """Merge a profile's body, its overlay for ``environment`` and stack overrides, then validate the result.

    Raises UserError naming the file and line that set each bad value (profile, overlay or stack file).
    """
    path = profile_path(profile)
    if not path.exists():
        raise UserError.single(
            stack_file or "<command line>",
            f"no profile {profile!r}: built-in profiles are {', '.join(builtin_profiles())}"
            f"{did_you_mean(profile, builtin_profiles())}",
            field=f"{PROJECT}:profile" if stack_file else "--profile", line=profile_line,
        )
    parsed, layer = load_profile(path)
    if environment not in ENVIRONMENTS:
        raise UserError.single(stack_file or "<command line>", _unknown_environment(environment),
                               field=f"{PROJECT}:environment" if stack_file else "--env")
    body_keys = set(ProfileBody.model_fields)
    base = {k: v for k, v in layer.data.items() if k in body_keys}
    overlay = layer.data.get("environments", {}).get(environment) or {}
    layers = [Layer(layer.file, base, layer.lines, raw=layer.raw)]
    env_path = ("environments", environment)
    layers.append(Layer(layer.file, overlay, _sub_lines(layer.lines, env_path), prefix=f"environments.{environment}.",
                        raw=_sub_lines(layer.raw, env_path)))
    if aws_region:
        layers.append(Layer(stack_file or "", {"region": aws_region},
                            {("region",): region_line} if region_line else {}, prefix="aws:"))
    if provider_settings is not None:
        layers.append(provider_settings)
    if overrides is not None:
        layers.append(overrides)
    merged: dict[str, Any] = {}
    for item in layers:
        if not isinstance(item.data, dict):
            raise UserError.single(item.file, "an overlay must be a mapping")
        merged = _deep_merge(merged, item.data)
    try:
        # Rules that depend on the environment (e.g. plain HTTP only in dev) read it from the context.
        body = ProfileBody.model_validate(merged, context={"environment": environment, "cloud": parsed.cloud})
    except ValidationError as exc:
        raise UserError(_problems(exc, layers, merged, ProfileBody)) from None
    return StackSpec(
        stack=stack or environment, environment=environment, profile_name=parsed.name,
        description=parsed.description, body=body, profile_file=layer.file, cloud=parsed.cloud, stack_file=stack_file,
        aws_region=aws_region, layers=layers, schemas=_dataset_schemas(body, path.parent, layers, merged),
    )


def _unknown_environment(environment: object) -> str:
    return (f"unknown environment {environment!r}; expected one of {', '.join(ENVIRONMENTS)}"
            f"{did_you_mean(environment, ENVIRONMENTS)}")


def _dataset_schemas(
    body: ProfileBody, base: Path, layers: list[Layer], merged: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Read and validate each model's `dataset.schema_file`: relative to the profile's directory, else to
    the built-in profiles' directory (where the built-in schemas are, so a copied built-in profile finds them)."""
    from infra.runtime.handlers.ingestion import DatasetSchema

    schemas: dict[str, dict[str, Any]] = {}
    for name, model in body.models.items():
        if model.dataset.schema_file is None:
            continue
        layer, line, key = _locate(layers, merged, ("models", name, "dataset", "schema_file"))
        path = next((d / model.dataset.schema_file for d in (base, BUILTIN_SCHEMAS_ROOT)
                     if (d / model.dataset.schema_file).is_file()), base / model.dataset.schema_file)
        if not path.is_file():
            raise UserError.single(layer.file, f"no schema file {display_path(path)}", line=line,
                                   field=layer.prefix + ".".join(str(p) for p in key))
        data, lines, raw = _compose(path)
        try:
            schema = DatasetSchema.model_validate(data)
        except ValidationError as exc:
            schema_layer = Layer(display_path(path), data, lines, raw=raw)
            raise UserError(_problems(exc, [schema_layer], data, DatasetSchema)) from None
        schemas[name] = schema.model_dump(mode="json")
        _check_drift_columns(name, model, {c.name for c in schema.columns}, display_path(path), layers, merged)
    return schemas


def _check_drift_columns(name: str, model: Any, columns: set[str], schema_file: str, layers: list[Layer],
                         merged: dict[str, Any]) -> None:
    """Every column the drift settings name (per-feature overrides, `ignore`, baseline exclusions) is a column of
    the dataset schema: a misspelt one would silently leave the real column with the defaults (or tested when
    meant to be ignored)."""
    monitoring = getattr(model, "monitoring", None)
    drift = getattr(monitoring, "drift", None)
    if drift is None:
        return
    problems = []
    named: list[tuple[tuple[Any, ...], str]] = [(("features", c), c) for c in drift.features]
    named += [(("ignore", i), c) for i, c in enumerate(drift.ignore)]
    named += [(("baseline", "exclude", i), c) for i, c in enumerate(getattr(drift.baseline, "exclude", []) or [])]
    for where, column in named:
        if column in columns:
            continue
        layer, line, key = _locate(layers, merged, ("models", name, "monitoring", "drift", *where))
        problems.append(Problem(layer.file, line, layer.prefix + ".".join(str(p) for p in key),
                                f"no column {column!r} in the dataset schema {schema_file}"
                                f"{did_you_mean(column, sorted(columns))}"))
    if problems:
        raise UserError(problems)


def stack_file_path(stack: str) -> Path:
    """The stack file of ``stack`` in the current project (found from the working directory, as Pulumi does)."""
    return find_project().stack_file(stack)


def read_stack_config(path: Path) -> tuple[dict[str, Any], dict[Path_, int], dict[Path_, str], str]:
    shown = display_path(path)
    if not path.is_file():
        raise UserError.single(shown, "no such stack file")
    data, lines, raw = _compose(path)
    if not isinstance(data, dict) or not isinstance(data.get("config", {}), dict):
        raise UserError.single(shown, "a stack file must be a mapping with a 'config' mapping", line=1)
    return data.get("config") or {}, lines, raw, shown


def load_stack(stack: str, path: Path | None = None) -> StackSpec:
    """Resolve the project's ``Pulumi.<stack>.yaml`` (or ``path``): the profile it names, its environment,
    overrides. The project is found from the working directory upward to Pulumi.yaml, as Pulumi does.

    A profile given as a file (``mlopsgen:profile: my-profile.yaml``) is found relative to the stack file's
    folder; a bare name is a built-in profile.
    """
    project: Project | None
    if path is None:
        project = find_project()
        path = project.stack_file(stack)
    else:
        try:
            project = find_project(path.parent)
        except UserError:  # a stack file outside any project: the default project name
            project = None
    config, lines, raw, shown = read_stack_config(path)

    def line(key: str) -> int | None:
        return lines.get(("config", key))

    known = sorted(f"{PROJECT}:{k}" for k in STACK_KEYS)
    for key in config:
        namespace, _, name = str(key).partition(":")
        if namespace == PROJECT and name not in STACK_KEYS:
            raise UserError.single(shown, f"unknown setting; expected one of {', '.join(known)}"
                                   f"{did_you_mean(key, known)}", line=line(str(key)), field=str(key))
    profile_key, env_key, overrides_key = (f"{PROJECT}:{k}" for k in ("profile", "environment", "overrides"))
    profile = config.get(profile_key)
    if not isinstance(profile, str) or not profile:
        raise UserError.single(shown, "required: the profile name or file", line=line(profile_key) or
                               lines.get(("config",)), field=profile_key)
    if env_key in config:
        environment = config[env_key]
        if environment not in ENVIRONMENTS:
            raise UserError.single(shown, _unknown_environment(environment), line=line(env_key), field=env_key)
    elif stack in ENVIRONMENTS:
        environment = stack
    else:
        raise UserError.single(
            shown, f"not set, so the stack's name {stack!r} would be the environment, and it is not one: "
            f"add '{env_key}: ' with one of {', '.join(ENVIRONMENTS)}", line=lines.get(("config",)), field=env_key)
    raw_overrides = config.get(overrides_key) or {}
    if not isinstance(raw_overrides, dict):
        raise UserError.single(shown, "must be a mapping of profile fields", line=line(overrides_key),
                               field=overrides_key)
    overrides = Layer(shown, raw_overrides, _sub_lines(lines, ("config", overrides_key)),
                      prefix=f"{overrides_key}.", raw=_sub_lines(raw, ("config", overrides_key)))
    region = config.get("aws:region")
    if region is not None and not isinstance(region, str):
        raise UserError.single(shown, "expected a region name such as us-east-1", line=line("aws:region"),
                               field="aws:region")
    # The GCP provider's stack settings name the project and region the stack deploys to.
    gcp = {key: str(config[f"gcp:{key}"]) for key in ("project", "region") if config.get(f"gcp:{key}")}
    provider = Layer(shown, gcp, {(k,): n for k in gcp if (n := line(f"gcp:{k}"))}, prefix="gcp:") if gcp else None
    profile_ref = profile if not profile.endswith((".yaml", ".yml")) else str(path.parent / profile)
    spec = resolve(profile_ref, environment, stack=stack, overrides=overrides, stack_file=shown,
                   aws_region=region or None, region_line=line("aws:region"), profile_line=line(profile_key),
                   provider_settings=provider)
    return dataclasses.replace(spec, project=project.name) if project is not None else spec
