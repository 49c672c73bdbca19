"""Shared by every CLI command: consoles and the bad-input policy (message, exit 2, no traceback)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from infra.errors import UserError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn a UserError into a clear message naming file, line and field, and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            for problem in exc.problems:
                err_console.print(f"[bold red]error[/] {problem}", highlight=False, soft_wrap=True, markup=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]
