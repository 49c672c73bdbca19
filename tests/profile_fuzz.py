"""Generated and mutated profile and stack files, run through the CLI in-process: shared by the fuzz test (200
cases in `make test`) and the fuzz benchmark (`make fuzz`, 2,000 cases).

Each case starts from the built-in profile (and a stack file naming it) and applies mutations a user makes by
mistake: wrong types, unknown and misspelt keys, out-of-range numbers, bad names and kinds, bad schedule
expressions, environment overlays, broken YAML and random bytes; some mutations keep the file valid. Every file
goes through `validate`; a valid one through `preview` and, for a sample, `sandbox up`. The properties: every
exit code is 0 or 2, no traceback, nothing written; a file `validate` accepts is accepted by `preview` too.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from hypothesis import strategies as st
from typer.testing import CliRunner

from infra.cli.main import app
from infra.profiles import loader
from infra.project import Project

BUILTIN = yaml.safe_load((loader.PROFILES_DIR / "mlflow-sagemaker.yaml").read_text())
BUILTIN["name"] = "fuzz-team"  # a copy must not keep the built-in's name
ENVIRONMENTS = ("dev", "staging", "prod")
SCHEDULE_KEYS = ("ingestion_schedule", "retraining_schedule", "drift_schedule", "ab_guardrail_schedule")
# Values a user may legitimately write, so that a share of the mutated files stays valid.
VALID_VALUES: dict[str, list[Any]] = {
    "timezone": ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"],
    "cidr": ["10.0.0.0/16", "172.16.0.0/20", "192.168.0.0/24"],
    "region": ["us-east-1", "eu-central-1", "ap-southeast-2"],
    "min_capacity": [1, 2], "max_capacity": [2, 4, 6], "desired_count": [0, 1, 3],
    "log_retention_days": [7, 30, 365], "availability_zones": [2, 3], "nat_gateways": [0, 1, 2],
    "description": ["team A", "", "ünïcode ✓ [bold]not markup[/]"],
}
SCHEDULES = ["cron(0 4 ? * MON *)", "cron(30 7 * * ? *)", "rate(30 minutes)", "rate(1 day)", "cron(0/15 * * * ? *)",
             "at(2030-01-01T00:00:00)", "cron(0 9 ? * 2#1 *)", "cron(0 0 L * ? *)"]
BAD_SCHEDULES = ["cron(0 4 * * * *)", "cron(61 4 ? * MON *)", "rate(0 hours)", "rate(1 hours)", "daily",
                 "cron(0 4 ? * MON)", "at(2030-13-01T00:00:00)", "cron(0 4 ? * FUNDAY *)", "cron()", "rate()"]


def _paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*at, i))


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(node, path[:-1])[path[-1]] = value


def _misspell(draw: Callable[..., Any], word: str) -> str:
    if len(word) < 2:
        return word + "x"
    i = draw(st.integers(0, len(word) - 2))
    how = draw(st.sampled_from(["drop", "swap", "double", "case"]))
    if how == "drop":
        return word[:i] + word[i + 1:]
    if how == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if how == "double":
        return word[:i] + word[i] + word[i:]
    return word.upper()


ANY_VALUE = st.one_of(st.integers(-10**9, 10**9), st.floats(allow_nan=False), st.text(max_size=20), st.booleans(),
                      st.none(), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                                     st.integers(), max_size=2))


@st.composite
def mutated_profile(draw: Callable[..., Any]) -> dict[str, Any]:
    """The built-in profile with 0-3 mutations."""
    import copy

    doc = copy.deepcopy(BUILTIN)
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        leaf = path[-1]
        kind = draw(st.sampled_from(["valid", "valid", "valid", "wrong-type", "number", "unknown-key",
                                     "misspelt-key", "delete", "name", "kind", "schedule", "overlay"]))
        if kind == "valid" and isinstance(leaf, str) and leaf in VALID_VALUES:
            _set(doc, path, draw(st.sampled_from(VALID_VALUES[leaf])))
        elif kind == "valid" or kind == "schedule":
            key = draw(st.sampled_from(SCHEDULE_KEYS))
            section = "automation" if key in ("ingestion_schedule", "retraining_schedule") else "monitoring"
            pool = SCHEDULES if kind == "valid" else BAD_SCHEDULES + [draw(st.text(max_size=15))]
            if not isinstance(doc.get(section), dict):  # an earlier mutation replaced or removed the section
                doc[section] = {}
            doc[section][key] = draw(st.sampled_from(pool))
        elif kind == "wrong-type":
            _set(doc, path, draw(ANY_VALUE))
        elif kind == "number":
            _set(doc, path, draw(st.one_of(st.integers(-1000, 100_000), st.floats(-1e6, 1e6))))
        elif kind in ("unknown-key", "misspelt-key") and isinstance(_get(doc, path[:-1]), dict):
            parent = _get(doc, path[:-1])
            new = _misspell(draw, str(leaf)) if kind == "misspelt-key" else draw(st.text(string.ascii_lowercase + "_",
                                                                                         min_size=1, max_size=12))
            parent[new] = parent.pop(leaf) if kind == "misspelt-key" else draw(ANY_VALUE)
        elif kind == "delete" and isinstance(_get(doc, path[:-1]), dict):
            del _get(doc, path[:-1])[leaf]
        elif kind == "name":  # the profile's own name (a profile document is always a mapping here)
            doc["name"] = draw(st.one_of(st.from_regex(r"[a-z][a-z0-9-]{1,40}", fullmatch=True), st.text(max_size=40)))
        elif kind == "kind":
            section = draw(st.sampled_from(["tracking", "serving", "networking", "monitoring", "artifact_store"]))
            if isinstance(doc.get(section), dict):
                doc[section]["kind"] = _misspell(draw, str(doc[section].get("kind", "kind")))
        elif kind == "overlay":
            env = draw(st.sampled_from(ENVIRONMENTS))
            overlays = doc.setdefault("environments", {})
            if isinstance(overlays, dict):
                overlay = overlays.setdefault(env, {}) or {}
                overlays[env] = overlay
                if isinstance(overlay, dict):
                    if not isinstance(overlay.get("serving"), dict):
                        overlay["serving"] = {"kind": "sagemaker-endpoint"}
                    overlay["serving"]["min_capacity"] = draw(st.integers(-2, 5))
    return doc


@dataclass
class Case:
    """One generated input: the files to write and what to run."""

    files: dict[str, bytes]
    target: str  # the file given to validate
    stack: str | None  # stack name when the target is a stack file
    env: str


@st.composite
def cases(draw: Callable[..., Any]) -> Case:
    env = draw(st.sampled_from(ENVIRONMENTS))
    profile = yaml.safe_dump(draw(mutated_profile()), sort_keys=False, allow_unicode=True).encode()
    form = draw(st.sampled_from(["profile"] * 6 + ["stack"] * 3 + ["broken-yaml", "random-bytes"]))
    if form == "broken-yaml":
        cut = draw(st.integers(0, len(profile)))
        junk = draw(st.sampled_from([b":", b"[", b"{", b"\t", b"- ", b"&a *b", b"!!python/object:x", b"'", b"\x00"]))
        profile = profile[:cut] + junk + profile[cut:]
    elif form == "random-bytes":
        profile = draw(st.binary(max_size=300))
    if form != "stack":
        return Case({"profile.yaml": profile}, "profile.yaml", None, env)
    config: dict[str, Any] = {"aws:region": draw(st.sampled_from(["us-east-1", "eu-west-1", "moon-1", 42])),
                              "mlopsgen:profile": draw(st.sampled_from(["profile.yaml", "profile.yaml",
                                                                        "mlflow-sagemaker", "missing.yaml"])),
                              "mlopsgen:environment": draw(st.sampled_from([env, env, "qa", 3]))}
    if draw(st.booleans()):
        config["mlopsgen:overrides"] = draw(st.sampled_from([
            {"serving": {"kind": "sagemaker-endpoint", "max_capacity": draw(st.integers(-1, 8))}},
            {"monitoring": {"kind": "lambda-drift",
                            "drift_schedule": draw(st.sampled_from(SCHEDULES + BAD_SCHEDULES))}},
            {"networking": {"kind": "vpc", "cidr": draw(st.sampled_from(VALID_VALUES["cidr"] + ["10.420.0.0/16"]))}},
            {draw(st.text(string.ascii_lowercase, min_size=1, max_size=8)): 1},
        ]))
    if draw(st.booleans()):
        config[_misspell(draw, "mlopsgen:profile")] = "x"
    stack = yaml.safe_dump({"config": config}, sort_keys=False).encode()
    return Case({"profile.yaml": profile, "Pulumi.fuzz.yaml": stack}, "Pulumi.fuzz.yaml", "fuzz", env)


@dataclass
class Fuzzer:
    """Runs cases through the CLI in-process and counts the outcomes."""

    sandbox_every: int = 0  # run `sandbox up` on every n-th valid case (0: never)
    sandbox_limit: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    valid: int = 0

    def run(self, case: Case, workdir: Path) -> None:
        for name, data in case.files.items():
            (workdir / name).write_bytes(data)
        before = sorted(p.name for p in workdir.iterdir())
        code, out = invoke(["validate", str(workdir / case.target)])
        assert code in (0, 2), out
        if code == 2:
            assert out.startswith("error "), out
            self.outcomes["validate: exit 2"] += 1
        else:
            self.outcomes["validate: exit 0"] += 1
            self.valid += 1
            with _stacks_in(workdir):
                selection = ["--stack", case.stack] if case.stack else ["--profile", str(workdir / case.target),
                                                                         "--env", case.env]
                code, out = invoke(["preview", *selection])
                assert code == 0, f"validate accepted what preview rejects:\n{out}"
                self.outcomes["preview: exit 0"] += 1
                wanted = self.sandbox_every and self.valid % self.sandbox_every == 0
                if wanted and self.outcomes["sandbox up: exit 0"] + self.outcomes["sandbox up: exit 2"] < \
                        self.sandbox_limit:
                    code, out = invoke(["sandbox", "up", *selection, "--json"])
                    assert code in (0, 2), out
                    self.outcomes[f"sandbox up: exit {code}"] += 1
        assert sorted(p.name for p in workdir.iterdir()) == before, "a command wrote a file"
        for name in case.files:
            (workdir / name).unlink()


def invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@contextmanager
def _stacks_in(folder: Path) -> Iterator[None]:
    """`--stack NAME` reads folder/Pulumi.NAME.yaml: the folder is the project's stack config dir."""
    project = Project(root=folder, file=folder / "Pulumi.yaml", name="fuzz", stack_config_dir=folder)
    with mock.patch.object(loader, "find_project", lambda: project):
        yield
