"""The runtime image carries `infra/runtime` and nothing else of mlopsgen (infra/runtime/Dockerfile): every
runtime module must import from that directory alone, with only the packages of its requirements.txt."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import infra.runtime

RUNTIME = Path(infra.runtime.__file__).resolve().parent

# Runs in a fresh interpreter: the project (editable install, cwd) is made invisible, so `infra` is the
# namespace package the image has. Prints each module that fails to import, with the error.
PROBE = """
import importlib, pkgutil, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path[:] = [p for p in sys.path if p and ".pth" not in p]
import infra.runtime
assert not hasattr(infra, "__file__") or infra.__file__ is None, infra
failed = []
for mod in pkgutil.walk_packages(infra.runtime.__path__, "infra.runtime."):
    try:
        importlib.import_module(mod.name)
    except Exception as exc:
        failed.append(f"{mod.name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
"""


def test_every_runtime_module_imports_from_the_image_layout(tmp_path: Path) -> None:
    root = tmp_path / "task"
    shutil.copytree(RUNTIME, root / "infra" / "runtime", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True,
                            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"modules that fail in the runtime image:\n{result.stdout}"


# Modules that run only in the GCP image (Dockerfile.cloudrun: requirements.txt and requirements-gcp.txt).
OTHER_IMAGES = {"adapters/gcp.py", "handlers/vertex_deployer.py"}


def _distributions(name: str) -> set[str]:
    requirements = (RUNTIME / name).read_text().lower()
    return {re.split(r"[=<>\[ ]", line)[0].replace("-", "_")
            for line in requirements.splitlines() if line and not line.startswith("#")}


def test_runtime_imports_only_packages_its_requirements_install() -> None:
    """Every module imports what the AWS image installs; a module both images run (the storage, metrics and
    notification adapters) imports Google's libraries only inside the functions of its GCP implementation, which
    runs in the GCP image only."""
    installed = _distributions("requirements.txt")
    gcp = _distributions("requirements-gcp.txt")
    # import name -> distribution name where they differ
    distribution = {"yaml": "pyyaml", "dateutil": "python_dateutil"}
    stdlib = set(sys.stdlib_module_names)
    imported: set[str] = set()
    lazily: set[str] = set()  # imported inside a function
    for path in RUNTIME.rglob("*.py"):
        if path.relative_to(RUNTIME).as_posix() in OTHER_IMAGES:
            continue
        tree = ast.parse(path.read_text())
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                  for n in ast.walk(f)}
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module.split(".")[0]]
            (lazily if id(node) in nested else imported).update(names)
    lazily -= imported
    third_party = {name for name in imported if name not in stdlib and name not in {"infra", "__future__"}}
    missing = sorted(n for n in third_party if distribution.get(n, n).lower() not in installed)
    assert not missing, f"imported by infra/runtime but not in its requirements.txt: {missing}"
    # google.cloud.storage -> google: a namespace of several distributions, all in requirements-gcp.txt
    gcp_namespaces = {name.split("_")[0] for name in gcp}
    lazy_missing = sorted(n for n in lazily - stdlib - {"infra", "__future__"}
                          if distribution.get(n, n).lower() not in installed | gcp | gcp_namespaces)
    assert not lazy_missing, f"imported lazily but in neither requirements file: {lazy_missing}"
