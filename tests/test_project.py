"""Project discovery (the way Pulumi finds Pulumi.yaml), --cwd, --version and where package data lives."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import infra
from infra.cli.main import app
from infra.errors import UserError
from infra.profiles.loader import PROFILES_DIR, builtin_profiles, load_stack
from infra.project import find_project

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _project(root: Path, config_dir: str | None = "stacks") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    text = "name: acme-ml\nruntime: python\n" + (f"stackConfigDir: {config_dir}\n" if config_dir else "")
    (root / "Pulumi.yaml").write_text(text)
    stacks = root / (config_dir or ".")
    stacks.mkdir(exist_ok=True)
    (stacks / "Pulumi.dev.yaml").write_text("config:\n  mlopsgen:profile: mlflow-sagemaker\n")
    return root


def test_the_project_is_found_from_any_subdirectory(tmp_path: Path) -> None:
    root = _project(tmp_path / "acme")
    (root / "docs" / "deep").mkdir(parents=True)
    project = find_project(root / "docs" / "deep")
    assert project.root == root.resolve() and project.name == "acme-ml"
    assert project.stack_file("dev") == (root / "stacks" / "Pulumi.dev.yaml").resolve()


def test_without_stack_config_dir_stacks_are_beside_pulumi_yaml(tmp_path: Path) -> None:
    root = _project(tmp_path / "flat", config_dir=None)
    assert find_project(root).stack_files() == [(root / "Pulumi.dev.yaml").resolve()]


def test_outside_any_project_commands_that_need_one_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="no Pulumi.yaml here or in any parent"):
        find_project()
    result = runner.invoke(app, ["preview", "--stack", "dev"])
    assert result.exit_code == 2 and "not in a Pulumi project" in result.output
    # --profile with --env needs no project: built-in profiles ship with the package.
    assert runner.invoke(app, ["validate", str(PROFILES_DIR / "mlflow-sagemaker.yaml")]).exit_code == 0


def test_stacks_resolve_from_the_project_the_working_directory_is_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path / "acme")
    monkeypatch.chdir(root / "stacks")
    spec = load_stack("dev")
    assert spec.stack_file == "Pulumi.dev.yaml" and spec.profile_name == "mlflow-sagemaker"


def test_cwd_option_runs_the_command_in_that_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path / "acme")
    (root / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  mlopsgen:profile: no-such-profile\n")
    monkeypatch.chdir(ROOT)  # restored after the test: --cwd changes the process's directory, as Pulumi's does
    result = runner.invoke(app, ["--cwd", str(root), "validate"])
    assert result.exit_code == 2, result.output
    assert "stacks/Pulumi.dev.yaml:2: mlopsgen:profile: no profile 'no-such-profile'" in result.output


def test_version_is_single_sourced() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"] and "version" not in pyproject["project"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "infra.__version__"}
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"mlopsgen {infra.__version__}\n"


def test_builtin_profiles_are_package_data() -> None:
    assert Path(infra.__file__).resolve().parent / "profiles" / "builtin" == PROFILES_DIR
    assert "mlflow-sagemaker" in builtin_profiles()
    misplaced = sorted(p.name for p in ROOT.glob("stacks/profiles/*.yaml"))
    assert misplaced == [], "built-in profiles belong in infra/profiles/builtin/ (package data), nowhere else"
