"""The CLI's command modules, in the order their commands appear in --help.

Each module defines `register(app: typer.Typer) -> None`.
"""

from __future__ import annotations

from types import ModuleType

from infra.cli import audit, compare, cost, drift, new, preview, profiles, sandbox, simulate

MODULES: list[ModuleType] = [new, profiles, preview, audit, cost, compare, sandbox, simulate, drift]
