"""Shared by every CLI command: consoles, the one error formatter (message, exit 2, no traceback), path checks."""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from infra.errors import Problem, UserError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def print_problems(problems: Iterable[Problem]) -> None:
    """Each problem on its own line as `file:line: field: message`, sorted by file and line.

    User text (values, patterns, file names) is printed literally: a Text object is never read as console markup.
    """
    for problem in UserError(list(problems)).sorted():
        err_console.print(Text.assemble(("error", "bold red"), " ", str(problem)), soft_wrap=True, highlight=False)


def user_errors(fn: F) -> F:
    """Turn a UserError into a clear message naming file, line and field, and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            print_problems(exc.problems)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def check_output_path(path: Path, option: str) -> None:
    """Fail before any long work when `path` cannot be written: a directory, or a parent that is missing or
    read-only (a missing parent is created later only when its nearest existing ancestor is writable)."""
    if path.is_dir():
        raise UserError.single(str(path), "is a directory; give a file name", field=option)
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UserError.single(str(path), "file is not writable", field=option)
        return
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError.single(str(path), f"{ancestor} is a file, not a directory", field=option)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError.single(str(path), f"directory {ancestor} is not writable", field=option)
    # os.access answers yes to root everywhere, /proc included: create (and remove) a directory to be sure.
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mlopsgen-probe-", dir=ancestor))
    except OSError as exc:
        raise UserError.single(str(path), f"cannot create files under {ancestor}: {exc.strerror or exc}",
                               field=option) from None


def write_atomically(path: Path, data: bytes, option: str) -> None:
    """Write through a temporary file beside `path`, so a failed write leaves nothing half-written."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UserError.single(str(path), f"cannot write: {exc.strerror or exc}", field=option) from None
