"""The package as a user gets it: `python -m build` (sdist, then the wheel from the sdist), the wheel installed
(not editable) into a fresh virtual environment outside the source tree, then `mlopsgen new` and the commands
run inside the rendered project. The build runs once per test session.

Fast and offline: the new environment reuses the already-installed dependencies through a .pth file (the wheel
itself is installed with --no-deps), and the build uses the pinned setuptools already installed (--no-isolation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import infra
from infra.offline.graph import ResourceGraph

ROOT = Path(__file__).resolve().parents[1]
DATA_FILES = ("infra/templates/project/Pulumi.yaml.j2", "infra/templates/compare/report.md.j2",
              "infra/profiles/builtin/mlflow-sagemaker.yaml", "infra/profiles/profile.schema.json",
              "infra/profiles/builtin/wandb-kubeflow.yaml", "infra/components/kubernetes/kubeflow/kustomization.yaml",
              "infra/offline/schemas/serving.kserve.io_v1beta1_InferenceService.json",
              "infra/runtime/Dockerfile", "infra/runtime/.dockerignore", "infra/runtime/requirements.txt",
              "infra/runtime/bootstrap_model/inference.py")


def _run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT], ROOT, dict(os.environ))
    return out


@pytest.fixture(scope="session")
def user(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> tuple[Path, dict[str, str]]:
    """A fresh virtual environment with the wheel installed, and the environment variables to run it with."""
    home = tmp_path_factory.mktemp("user")
    venv = home / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(XDG_CACHE_HOME=str(home / "cache"), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION="us-east-1")
    _run([sys.executable, "-m", "venv", "--without-pip", venv], home, env)
    python = venv / "bin" / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], home, env).stdout.strip()
    (Path(site) / "mlopsgen-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    (wheel,) = dist.glob("mlopsgen-*.whl")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel], home, env)
    return venv, env


def test_wheel_and_sdist_carry_the_templates_and_package_data(dist: Path) -> None:
    (wheel,) = dist.glob(f"mlopsgen-{infra.__version__}-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(DATA_FILES) <= names
    assert not any(name.startswith(("tests/", "templates/", "stacks/")) for name in names)
    (sdist,) = dist.glob(f"mlopsgen-{infra.__version__}.tar.gz")
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert {"setup.py", "pyproject.toml", "templates/project/Pulumi.yaml.j2",
            "infra/profiles/builtin/mlflow-sagemaker.yaml"} <= members


def test_the_installed_package_is_the_wheels(user: tuple[Path, dict[str, str]]) -> None:
    venv, env = user
    code = "import infra, infra.templates; print(infra.__file__); print(infra.__version__)"
    where, version = _run([venv / "bin" / "python", "-c", code], venv.parent, env).stdout.split()
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(ROOT)
    assert version == infra.__version__
    assert _run([venv / "bin" / "mlopsgen", "--version"], venv.parent, env).stdout == f"mlopsgen {version}\n"


def test_new_then_validate_preview_and_sandbox_from_the_rendered_project(
    user: tuple[Path, dict[str, str]], graphs: dict[str, ResourceGraph]
) -> None:
    venv, env = user
    mlopsgen = venv / "bin" / "mlopsgen"
    work = venv.parent / "work"
    work.mkdir()
    _run([mlopsgen, "new", "demo", "--profile", "mlflow-sagemaker"], work, env)
    demo = work / "demo"
    assert "stacks/Pulumi.dev.yaml" in _run([mlopsgen, "validate"], demo, env).stdout
    listing = json.loads(_run([mlopsgen, "preview", "--stack", "dev", "--json"], demo, env).stdout)
    resources = listing["resources"]
    assert len(resources) == len(graphs["dev"].resources)  # the built-in dev stack's, under the project's name
    (image,) = [r for r in resources if r["type"] == "docker-build:index:Image"]
    context = (demo / image["inputs"]["context"]["location"]).resolve()
    assert context.is_relative_to(venv) and (context / "Dockerfile").is_file()  # builds from the installed package
    sandbox = _run([mlopsgen, "sandbox", "up", "--stack", "dev"], demo, env)
    assert "sandbox deploy of demo/dev" in sandbox.stdout
