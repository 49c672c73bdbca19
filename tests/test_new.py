"""`mlopsgen new`: the rendered project's files, its program's resource graph, its errors, and what is refused."""

from __future__ import annotations

import dataclasses
import json
import re
import runpy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import infra
from infra.cli.main import app
from infra.offline.graph import ResourceGraph
from infra.offline.preview import PreviewMocks, preview
from infra.offline.runtime import run_program
from infra.profiles import loader
from infra.profiles.loader import PROFILES_DIR, load_stack
from infra.profiles.schema import schema_text

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = PROFILES_DIR / "mlflow-sagemaker.yaml"
runner = CliRunner()


def new(directory: Path, *options: str) -> Any:
    return runner.invoke(app, ["new", str(directory), "--profile", "mlflow-sagemaker", *options])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("projects") / "demo"
    result = new(directory)
    assert result.exit_code == 0, result.output
    return directory


def test_every_file_of_a_pulumi_project_is_rendered(demo: Path) -> None:
    assert sorted(str(p.relative_to(demo)) for p in demo.rglob("*") if p.is_file()) == [
        ".github/workflows/mlopsgen.yml", ".gitignore", "Pulumi.yaml", "README.md", "__main__.py",
        "requirements.txt", "stacks/Pulumi.dev.yaml", "stacks/Pulumi.prod.yaml", "stacks/Pulumi.staging.yaml",
        "stacks/profile.schema.json", "stacks/profiles/demo.yaml",
    ]
    project = yaml.safe_load((demo / "Pulumi.yaml").read_text())
    assert project["name"] == "demo" and project["stackConfigDir"] == "stacks" and project["main"] == "."
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    assert (demo / "requirements.txt").read_text().splitlines()[-1] == f"mlopsgen=={infra.__version__}"
    assert "from infra.program import main" in (demo / "__main__.py").read_text()
    for env in ("dev", "staging", "prod"):
        stack = yaml.safe_load((demo / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]
        assert stack == {"aws:region": "us-east-1", "mlopsgen:profile": "profiles/demo.yaml",
                         "mlopsgen:environment": env}
    profile = (demo / "stacks" / "profiles" / "demo.yaml").read_text().splitlines()
    builtin = BUILTIN.read_text().splitlines()
    assert profile[0] == "# yaml-language-server: $schema=../profile.schema.json"
    # Line for line the built-in profile, renamed for the project.
    assert [i for i, (a, b) in enumerate(zip(profile, builtin, strict=True)) if a != b] == [builtin.index(
        "name: mlflow-sagemaker")]
    assert "name: demo" in profile
    assert (demo / "stacks" / "profile.schema.json").read_text() == schema_text()
    assert "venv/" in (demo / ".gitignore").read_text().split()
    readme = (demo / "README.md").read_text()
    assert all(step in readme for step in ("pulumi login", "pulumi stack init dev", "pulumi up", "mlopsgen validate"))


def test_the_ci_workflow_validates_pull_requests(demo: Path) -> None:
    workflow = yaml.safe_load((demo / ".github" / "workflows" / "mlopsgen.yml").read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    steps = [s.get("run") for s in workflow["jobs"]["validate"]["steps"]]
    assert "pip install -r requirements.txt" in steps and "mlopsgen validate" in steps
    assert steps.index("pip install -r requirements.txt") < steps.index("mlopsgen validate")
    assert {"mlopsgen preview --stack prod", "mlopsgen cost --stack prod"} <= set(steps)


def test_commands_work_from_the_rendered_project(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(demo / "stacks")  # anywhere inside the project, as with Pulumi
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    spec = load_stack("prod")
    assert spec.profile_name == "demo" and spec.stack_file == "Pulumi.prod.yaml"
    assert spec.profile_file == "profiles/demo.yaml"


def _records(graph: ResourceGraph, project_root: Path) -> list[dict[str, Any]]:
    """Everything Pulumi would diff: type, name, parent, inputs and options. The runtime image's build context is
    a path relative to the project root (where Pulumi runs the program): compared where it points to."""
    records = []
    for r in graph.resources:
        inputs = json.loads(json.dumps(r.inputs))
        if r.type == "docker-build:index:Image":
            for key in ("context", "dockerfile"):
                inputs[key]["location"] = str((project_root / inputs[key]["location"]).resolve())
        records.append({"type": r.type, "name": r.name, "parent": r.parent, "inputs": inputs,
                        "protect": r.protect, "retain_on_delete": r.retain_on_delete, "custom": r.custom})
    return sorted(records, key=lambda r: (r["type"], r["name"]))


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_rendered_program_declares_the_builtin_stacks_graph(
    env: str, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's own __main__.py, run under the mock runtime, declares what the built-in stack of the same
    profile and environment declares. The project has its own name (a copy may not keep the built-in's: the name
    prefixes every physical name), so the built-in stack is built under that name to compare."""
    builtin = dataclasses.replace(load_stack(env), profile_name="demo")  # the source tree's stacks/Pulumi.<env>.yaml
    expected = preview(builtin)
    monkeypatch.chdir(demo)
    spec = load_stack(env)
    assert spec.profile_file == "stacks/profiles/demo.yaml"  # the project's own profile file, not the built-in
    rendered = run_program(spec, PreviewMocks(region=spec.body.region),
                           program=lambda: runpy.run_path(str(demo / "__main__.py"), run_name="__main__"))
    assert len(rendered.resources) > 150
    assert _records(rendered, demo) == _records(expected, ROOT)
    endpoints = rendered.of_type("aws:sagemaker/endpoint:Endpoint")
    assert endpoints and all(e.inputs["name"].startswith(f"demo-{env}-") for e in endpoints)


# Values that no profile field accepts in place of a scalar, and lines they may replace. The top-level name and
# region are left out: the command line sets them (and each stack's aws:region overrides the region).
BAD_VALUES = ["-1", "0", "not-valid", "ml.bogus", "[1, 2]", "{a: 1}", "true", "''", "99999999999"]
SCALAR_LINES = [i for i, line in enumerate(BUILTIN.read_text().splitlines())
                if ":" in line and not line.lstrip().startswith(("#", "-")) and line.split(":", 1)[1].strip()
                and not line.startswith(("name:", "region:", "description:", "cloud:"))]


def _edit(path: Path, index: int, value: str) -> None:
    lines = path.read_text().splitlines()
    key = lines[index].split(":", 1)[0]
    lines[index] = f"{key}: {value}"
    path.write_text("\n".join(lines) + "\n")


def _errors(output: str, file: str) -> set[str]:
    return {line.replace(file, "<profile>") for line in output.splitlines() if line.startswith("error")}


@settings(max_examples=30, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.sampled_from(SCALAR_LINES), value=st.sampled_from(BAD_VALUES))
def test_a_wrongly_edited_rendered_profile_reports_what_the_source_tree_reports(
    index: int, value: str, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same wrong edit, made to the built-in profile under the source tree's stacks and to a rendered
    project's profile, gives the same errors: same line, same field, same message."""
    builtin_dir = tmp_path / "builtin"
    shutil.rmtree(builtin_dir, ignore_errors=True)
    builtin_dir.mkdir()
    for profile in PROFILES_DIR.glob("*.yaml"):  # validate reads every built-in profile the stacks name
        shutil.copy(profile, builtin_dir / profile.name)
    _edit(builtin_dir / BUILTIN.name, index, value)
    project = tmp_path / "project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(demo, project)
    _edit(project / "stacks" / "profiles" / "demo.yaml", index, value)

    monkeypatch.chdir(ROOT)
    with monkeypatch.context() as patch:
        patch.setattr(loader, "PROFILES_DIR", builtin_dir)  # the source tree, its built-in profile edited
        in_source = runner.invoke(app, ["validate"])
    monkeypatch.chdir(project)
    in_project = runner.invoke(app, ["validate"])
    assert in_project.exit_code == in_source.exit_code
    if in_source.exit_code == 0:
        return  # a value this field accepts: nothing to compare
    assert in_source.exit_code == 2 and "Traceback" not in in_project.output
    # A file the profile names (a dataset schema) is shown beside the profile in each tree.
    source_output = in_source.output.replace(str(builtin_dir / BUILTIN.name), "<profile>")
    source_output = source_output.replace("mlflow-sagemaker-", "demo-").replace(f"{builtin_dir}/", "stacks/profiles/")
    source_errors = _errors(source_output, "<profile>")
    assert _errors(in_project.output, "stacks/profiles/demo.yaml") == source_errors
    # The edited line, or the line of the mapping that holds it when a check spans several fields.
    lines = [int(m) for m in re.findall(r"stacks/profiles/demo\.yaml:(\d+):", in_project.output)]
    assert lines and all(line <= index + 1 for line in lines), in_project.output


def test_an_existing_non_empty_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = new(tmp_path / "taken")
    assert result.exit_code == 2 and "not empty" in result.output
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_an_empty_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert new(tmp_path / "empty").exit_code == 0
    assert (tmp_path / "empty" / "stacks" / "profiles" / "empty.yaml").is_file()


@pytest.mark.parametrize(("options", "field"), [
    (["--name", "Not_A_Name"], "--name"),
    (["--cloud-region", "mars-north-1x"], "--cloud-region"),
    (["--name", "x"], "--name"),
    (["--name", "mlflow-sagemaker"], "--name"),
])
def test_a_bad_option_writes_nothing(tmp_path: Path, options: list[str], field: str) -> None:
    result = new(tmp_path / "demo", *options)
    assert result.exit_code == 2, result.output
    assert f"<command line>: {field}:" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no project, no temporary directory left behind


def test_an_unknown_profile_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", str(tmp_path / "demo"), "--profile", "nope"])
    assert result.exit_code == 2 and "no built-in profile 'nope'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_cloud_region_sets_every_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert new(tmp_path / "eu-ml", "--cloud-region", "eu-west-1").exit_code == 0
    monkeypatch.chdir(tmp_path / "eu-ml")
    assert {load_stack(env).body.region for env in ("dev", "staging", "prod")} == {"eu-west-1"}
    assert "region: eu-west-1" in (tmp_path / "eu-ml" / "stacks" / "profiles" / "eu-ml.yaml").read_text().splitlines()


def _new_of(profile: str, directory: Path, *options: str) -> Any:
    return runner.invoke(app, ["new", str(directory), "--profile", profile, *options])


@pytest.mark.parametrize(("profile", "provider"), [
    ("vertex-managed", {"gcp:project": "team-ml-1", "gcp:region": "europe-west4"}),
    ("wandb-kubeflow", {"aws:region": "us-east-1"}),
])
def test_every_builtin_profile_renders_a_project_that_validates_previews_and_sandboxes(
    profile: str, provider: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other clouds' flow of the AWS one above: the stacks carry that cloud's provider settings, and
    validate, preview and sandbox work inside the project (dev only: the per-environment rules are the built-in
    profile's, tested with it). The stack's root resource is named for the project, as Pulumi names it."""
    options = ["--gcp-project", "team-ml-1"] if profile == "vertex-managed" else []
    result = _new_of(profile, tmp_path / "team-ml", *options)
    assert result.exit_code == 0, result.output
    for env in ("dev", "staging", "prod"):
        stack = yaml.safe_load((tmp_path / "team-ml" / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]
        assert stack == {**provider, "mlopsgen:profile": "profiles/team-ml.yaml", "mlopsgen:environment": env}
    monkeypatch.chdir(tmp_path / "team-ml")
    spec = load_stack("prod")
    assert (spec.cloud, spec.project, spec.body.region) == (
        "gcp" if "gcp:region" in provider else "aws", "team-ml", provider.get("gcp:region", "us-east-1"))
    if spec.cloud == "gcp":  # every environment deploys into the project given, not the built-in's placeholders
        assert {load_stack(env).body.project for env in ("dev", "staging", "prod")} == {"team-ml-1"}
    assert runner.invoke(app, ["validate"]).exit_code == 0
    previewed = runner.invoke(app, ["preview", "--stack", "dev"])
    assert previewed.exit_code == 0, previewed.output
    assert "pulumi:pulumi:Stack  team-ml-dev" in previewed.output
    sandboxed = runner.invoke(app, ["sandbox", "up", "--stack", "dev"])
    assert sandboxed.exit_code == 0, sandboxed.output
    assert "sandbox deploy of team-ml/dev" in " ".join(sandboxed.output.split())


def test_a_gcp_project_without_options_takes_the_profiles_region_and_its_name_as_project_id(tmp_path: Path) -> None:
    assert _new_of("vertex-managed", tmp_path / "vision-team").exit_code == 0
    stack = yaml.safe_load((tmp_path / "vision-team" / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    assert (stack["gcp:project"], stack["gcp:region"]) == ("vision-team", "europe-west4")


# (profile, options, directory name, option the error names, what it must say)
BAD_NEW = [
    ("vertex-managed", ["--cloud-region", "us-east-1"], "team-ml", "--cloud-region", "not a GCP region"),
    ("mlflow-sagemaker", ["--cloud-region", "europe-west4"], "team-ml", "--cloud-region", "not an AWS region"),
    ("vertex-managed", ["--gcp-project", "Bad_Id"], "team-ml", "--gcp-project", "GCP project id"),
    ("vertex-managed", [], "abcd", "--gcp-project", "pass yours with --gcp-project"),
    ("mlflow-sagemaker", ["--gcp-project", "team-ml-1"], "team-ml", "--gcp-project", "only for a GCP profile"),
    ("mlflow-sagemaker", [], "My_Project", "--name", "comes from the directory's name: pass a valid one with --name"),
    ("wandb-kubeflow", ["--name", "My_Project"], "ok-dir", "--name", "lowercase letters"),
]


@settings(max_examples=40, derandomize=True, deadline=None)
@given(case=st.sampled_from(BAD_NEW), junk=st.text(alphabet="ABC_.!xyz09-", min_size=1, max_size=8))
def test_bad_options_name_the_option_in_words_and_write_nothing(
    case: tuple[str, list[str], str, str, str], junk: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Bad values (the listed ones, and any junk for the directory name, region and project id) exit 2 naming the
    option and what it must be, never a pattern or a traceback, and leave nothing behind."""
    profile, options, directory, option, says = case
    parent = tmp_path_factory.mktemp("bad")
    result = _new_of(profile, parent / directory, *options)
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert f"<command line>: {option}:" in flat and says in flat, flat
    assert "Traceback" not in flat and not re.search(r"\^|\$|\[a-z", flat), flat
    junk_run = _new_of(profile, parent / f"{junk}Z", "--cloud-region", junk, *(
        ["--gcp-project", junk] if profile == "vertex-managed" else []))
    assert junk_run.exit_code == 2 and "Traceback" not in junk_run.output
    assert not re.search(r"\^|\$|\[a-z", junk_run.output), junk_run.output
    assert list(parent.iterdir()) == []
