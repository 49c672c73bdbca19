"""Errors a user can fix. The CLI prints them without a traceback and exits with code 2."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    """One thing wrong in one input file."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def sort_key(self) -> tuple[str, int, str, str]:
        """Problems read top to bottom: by file, then line (unknown lines last), then field."""
        return (self.file, self.line if self.line is not None else 1 << 30, self.field, self.message)


@dataclass
class UserError(Exception):
    """Bad input: every problem names the file, the line (when known) and the field."""

    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def single(cls, file: str, message: str, *, line: int | None = None, field: str = "") -> UserError:
        return cls([Problem(file=file, line=line, field=field, message=message)])

    def sorted(self) -> list[Problem]:
        """The problems, each once, in file and line order."""
        unique = {(p.file, p.line, p.field, p.message): p for p in self.problems}
        return sorted(unique.values(), key=Problem.sort_key)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.sorted())
