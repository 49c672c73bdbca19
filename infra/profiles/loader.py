"""Load profile and stack files, merge environment overlays, and report problems by file, line and field.

Layers, lowest precedence first: the profile body, the profile's overlay for the environment, the stack
file's ``mlopsgen:overrides``. Every layer keeps the line of each key it sets, so a validation error on the
merged result points at the line that set the bad value.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from infra.errors import Problem, UserError
from infra.profiles.model import Profile, ProfileBody
from infra.profiles.validators import ENVIRONMENTS

PROJECT = "mlopsgen"
REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS_DIR = REPO_ROOT / "stacks"
PROFILES_DIR = STACKS_DIR / "profiles"
STACK_KEYS = {"profile", "environment", "overrides"}

Path_ = tuple[str | int, ...]


@dataclass
class Layer:
    """One YAML document (or part of one) that contributes values, with the line of every key."""

    file: str
    data: dict[str, Any]
    lines: dict[Path_, int]


@dataclass
class StackSpec:
    """A profile resolved for one environment: what the program builder consumes."""

    stack: str
    environment: str
    profile_name: str
    description: str
    body: ProfileBody
    profile_file: str
    stack_file: str | None = None
    aws_region: str | None = None
    layers: list[Layer] = field(default_factory=list, repr=False)


def _compose(path: Path) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML, recording the 1-based line of every mapping key and list item; reject duplicate keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError.single(str(path), f"cannot read file: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise UserError.single(str(path), f"invalid YAML: {exc.problem}", line=line) from None
    lines: dict[Path_, int] = {}

    def walk(n: yaml.Node, at: Path_) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in n.value:
                key = key_node.value
                if key in seen:
                    dotted = ".".join(str(p) for p in (*at, key))
                    raise UserError.single(
                        str(path), "duplicate key", line=key_node.start_mark.line + 1, field=dotted
                    )
                seen.add(key)
                lines[(*at, key)] = key_node.start_mark.line + 1
                walk(value_node, (*at, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*at, i)] = item.start_mark.line + 1
                walk(item, (*at, i))

    if node is not None:
        walk(node, ())
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # constructor errors, e.g. a bad tag
        raise UserError.single(str(path), f"invalid YAML: {exc}") from None
    return data, lines


def _sub_lines(lines: dict[Path_, int], prefix: Path_) -> dict[Path_, int]:
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


def _locate(layers: list[Layer], data: Any, loc: tuple[Any, ...]) -> tuple[str, int | None, str]:
    """Map a pydantic error location on merged data to (file, line, dotted field)."""
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
    dotted = ".".join(str(p) for p in key)
    for layer in reversed(layers):  # highest precedence first
        if key in layer.lines:
            return layer.file, layer.lines[key], dotted
    best: tuple[int, Layer, int] | None = None
    for layer in reversed(layers):
        for n in range(len(key) - 1, -1, -1):
            if key[:n] in layer.lines or n == 0:
                line = layer.lines.get(key[:n], 1)
                if best is None or n > best[0]:
                    best = (n, layer, line)
                break
    assert best is not None
    return best[1].file, best[2], dotted


def _problems(exc: ValidationError, layers: list[Layer], data: Any) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        file, line, dotted = _locate(layers, data, tuple(err["loc"]))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "union_tag_invalid":
            ctx = err.get("ctx", {})
            message = f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
            dotted = f"{dotted}.kind" if not dotted.endswith("kind") else dotted
            file, line, _ = _locate(layers, data, (*tuple(err["loc"]), "kind"))
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(Problem(file=file, line=line, field=dotted, message=message))
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
    """Validate a profile file on its own (environments unmerged)."""
    shown = display_path(path)
    data, lines = _compose(path)
    if not isinstance(data, dict):
        raise UserError.single(shown, "a profile must be a YAML mapping", line=1)
    layer = Layer(shown, data, lines)
    try:
        return Profile.model_validate(data), layer
    except ValidationError as exc:
        raise UserError(_problems(exc, [layer], data)) from None


def resolve(
    profile: str, environment: str, *, stack: str | None = None, overrides: Layer | None = None,
    stack_file: str | None = None, aws_region: str | None = None, profile_line: int | None = None,
) -> StackSpec:
    """Merge a profile's body, its overlay for ``environment`` and stack overrides, then validate the result."""
    path = profile_path(profile)
    if not path.exists():
        raise UserError.single(
            stack_file or display_path(path),
            f"no profile {profile!r}: built-in profiles are {', '.join(builtin_profiles())}",
            field=f"{PROJECT}:profile" if stack_file else "", line=profile_line,
        )
    parsed, layer = load_profile(path)
    if environment not in ENVIRONMENTS:
        raise UserError.single(
            stack_file or layer.file, f"unknown environment {environment!r}; expected one of {ENVIRONMENTS}",
            field="mlopsgen:environment",
        )
    body_keys = set(ProfileBody.model_fields)
    base = {k: v for k, v in layer.data.items() if k in body_keys}
    overlay = layer.data.get("environments", {}).get(environment) or {}
    layers = [Layer(layer.file, base, layer.lines)]
    layers.append(Layer(layer.file, overlay, _sub_lines(layer.lines, ("environments", environment))))
    if aws_region:
        layers.append(Layer(stack_file or "", {"region": aws_region}, {}))
    if overrides is not None:
        layers.append(overrides)
    merged: dict[str, Any] = {}
    for item in layers:
        if not isinstance(item.data, dict):
            raise UserError.single(item.file, "an overlay must be a mapping")
        merged = _deep_merge(merged, item.data)
    try:
        body = ProfileBody.model_validate(merged)
    except ValidationError as exc:
        raise UserError(_problems(exc, layers, merged)) from None
    return StackSpec(
        stack=stack or environment, environment=environment, profile_name=parsed.name,
        description=parsed.description, body=body, profile_file=layer.file, stack_file=stack_file,
        aws_region=aws_region, layers=layers,
    )


def stack_file_path(stack: str) -> Path:
    return STACKS_DIR / f"Pulumi.{stack}.yaml"


def read_stack_config(path: Path) -> tuple[dict[str, Any], dict[Path_, int], str]:
    shown = display_path(path)
    if not path.exists():
        raise UserError.single(shown, "no such stack file")
    data, lines = _compose(path)
    if not isinstance(data, dict) or not isinstance(data.get("config", {}), dict):
        raise UserError.single(shown, "a stack file must be a mapping with a 'config' mapping", line=1)
    return data.get("config") or {}, lines, shown


def load_stack(stack: str, path: Path | None = None) -> StackSpec:
    """Resolve ``stacks/Pulumi.<stack>.yaml`` (or ``path``): the profile it names, its environment, overrides."""
    path = path or stack_file_path(stack)
    config, lines, shown = read_stack_config(path)
    for key in config:
        namespace, _, name = str(key).partition(":")
        if namespace == PROJECT and name not in STACK_KEYS:
            raise UserError.single(
                shown, f"unknown setting; expected one of {sorted(STACK_KEYS)}",
                line=lines.get(("config", key)), field=str(key),
            )
    profile = config.get(f"{PROJECT}:profile")
    if not isinstance(profile, str) or not profile:
        raise UserError.single(
            shown, "required: the profile name or file", line=lines.get(("config",)), field=f"{PROJECT}:profile"
        )
    environment = config.get(f"{PROJECT}:environment", stack)
    if not isinstance(environment, str):
        raise UserError.single(shown, "must be a string", line=lines.get(("config", f"{PROJECT}:environment")),
                               field=f"{PROJECT}:environment")
    overrides_key = f"{PROJECT}:overrides"
    raw_overrides = config.get(overrides_key) or {}
    if not isinstance(raw_overrides, dict):
        raise UserError.single(shown, "must be a mapping of profile fields",
                               line=lines.get(("config", overrides_key)), field=overrides_key)
    overrides = Layer(shown, raw_overrides, _sub_lines(lines, ("config", overrides_key)))
    region = config.get("aws:region")
    profile_ref = profile if not profile.endswith((".yaml", ".yml")) else str(path.parent / profile)
    return resolve(profile_ref, environment, stack=stack, overrides=overrides, stack_file=shown,
                   aws_region=str(region) if region else None,
                   profile_line=lines.get(("config", f"{PROJECT}:profile")))
