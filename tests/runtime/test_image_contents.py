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


# Modules that run in another cloud's image with its own requirements, not in the AWS image.
OTHER_IMAGES = {"adapters/gcp.py"}


def test_runtime_imports_only_packages_its_requirements_install() -> None:
    requirements = (RUNTIME / "requirements.txt").read_text().lower()
    installed = {re.split(r"[=<>\[ ]", line)[0].replace("-", "_")
                 for line in requirements.splitlines() if line and not line.startswith("#")}
    # import name -> distribution name where they differ
    distribution = {"yaml": "pyyaml", "dateutil": "python_dateutil"}
    stdlib = set(sys.stdlib_module_names)
    imported: set[str] = set()
    for path in RUNTIME.rglob("*.py"):
        if path.relative_to(RUNTIME).as_posix() in OTHER_IMAGES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name not in stdlib and name not in {"infra", "__future__"}}
    missing = sorted(n for n in third_party if distribution.get(n, n).lower() not in installed)
    assert not missing, f"imported by infra/runtime but not in its requirements.txt: {missing}"
