"""The CLI's command modules, in the order their commands appear in --help.

Each module defines `register(app: typer.Typer) -> None`.
"""

from __future__ import annotations

from types import ModuleType

from infra.cli import cost, drift, preview, profiles, sandbox, simulate

MODULES: list[ModuleType] = [profiles, preview, cost, sandbox, simulate, drift]
