"""The Pulumi project a command works on, found the way the Pulumi CLI finds it.

Pulumi looks for ``Pulumi.yaml`` (or ``Pulumi.yml``) in the working directory and then in each parent
directory; ``--cwd`` changes where the search starts. Stack files ``Pulumi.<stack>.yaml`` live in the
project's ``stackConfigDir`` (the project directory when unset).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from infra.errors import UserError

PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory: its ``Pulumi.yaml`` and where its stack files are."""

    root: Path
    file: Path
    name: str
    stack_config_dir: Path

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def stack_files(self) -> list[Path]:
        """Every stack file of the project, sorted by name."""
        return sorted(self.stack_config_dir.glob("Pulumi.*.yaml"))


def _project_file(directory: Path) -> Path | None:
    for name in PROJECT_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def find_project(start: Path | None = None) -> Project:
    """The project containing ``start`` (default: the working directory), searching upward.

    Raises UserError when no ``Pulumi.yaml`` is found or it is not a mapping with a ``name``.
    """
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        file = _project_file(directory)
        if file is not None:
            return load_project(file)
    raise UserError.single(
        str(here), "not in a Pulumi project: no Pulumi.yaml here or in any parent directory "
        "(run the command inside a project, pass --cwd DIR, or create one with `mlopsgen new DIR`)"
    )


def load_project(file: Path) -> Project:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError.single(str(file), f"cannot read the project file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise UserError.single(str(file), "a Pulumi project file must be a mapping with a 'name'", field="name")
    config_dir = data.get("stackConfigDir") or "."
    if not isinstance(config_dir, str):
        raise UserError.single(str(file), "must be a directory path", field="stackConfigDir")
    root = file.parent
    return Project(root=root, file=file, name=data["name"], stack_config_dir=(root / config_dir).resolve())
