"""Parse YAML (and JSON, which YAML reads) keeping the 1-based line of every key, so that a validation error can
name the line that set the bad value. Errors are `UserError`s naming the source and, where known, the line."""

from __future__ import annotations

from typing import Any

import yaml

from infra.runtime.errors import UserError

KeyPath = tuple[str | int, ...]


def compose(text: str, source: str) -> tuple[Any, dict[KeyPath, int], dict[KeyPath, str]]:
    """Parse `text`: returns (data, line of every mapping key and list item, text of every scalar).

    Keys are paths from the root, e.g. ("models", "churn", "serving"). Raises UserError on invalid YAML
    (with its line) and on a duplicate key (with its line and dotted field).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise UserError.single(source, f"invalid YAML: {exc.problem}", line=line) from None
    except yaml.YAMLError as exc:  # a reader error: bytes YAML does not allow
        raise UserError.single(source, f"invalid YAML: {exc}") from None
    lines: dict[KeyPath, int] = {}
    raw: dict[KeyPath, str] = {}

    def walk(n: yaml.Node, at: KeyPath) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in n.value:
                key = key_node.value
                if key in seen:
                    dotted = ".".join(str(p) for p in (*at, key))
                    raise UserError.single(source, "duplicate key", line=key_node.start_mark.line + 1, field=dotted)
                seen.add(key)
                lines[(*at, key)] = key_node.start_mark.line + 1
                walk(value_node, (*at, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*at, i)] = item.start_mark.line + 1
                walk(item, (*at, i))
        elif isinstance(n, yaml.ScalarNode):
            raw[at] = str(n.value)

    if node is not None:
        walk(node, ())
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # constructor errors, e.g. a bad tag
        line = exc.problem_mark.line + 1 if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark else None
        problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else exc
        raise UserError.single(source, f"invalid YAML: {problem}", line=line) from None
    except RecursionError:  # nested past Python's stack
        raise UserError.single(source, "invalid YAML: nested too deeply") from None
    return data, lines, raw


def line_of(lines: dict[KeyPath, int], loc: KeyPath) -> int | None:
    """The line of the deepest key of `loc` that the document sets (an error's location may go deeper than the
    document, e.g. a missing field inside a mapping: the mapping's line). None when not even the first is set."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None
