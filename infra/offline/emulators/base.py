"""What every emulator shares: the per-resource context, the outcome exceptions and input-shape helpers.

An emulator turns one Pulumi resource (type token, logical name, camelCase inputs) into boto3 calls against
moto, then reads the resource back with a describe/get call. Exceptions let it say why it did not:
`NotEmulated` (moto cannot, the resource is recorded with the reason), `VerificationError` (moto accepted
the call but the read-back disagrees, which is a failure: nothing counts as emulated unless moto returned it)
and `MissingReference` (a reference moto does not check points at nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

# Inputs every emulator handles the same way: tags are applied through each service's tag shape, and the
# per-resource `region` input (pulumi-aws v7) picks the region of the clients.
COMMON_INPUTS = frozenset({"tags", "tagsAll", "region"})


class NotEmulated(Exception):  # noqa: N818 (an outcome, not an error of the program)
    """moto cannot create this resource as declared; it is recorded, not emulated, with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VerificationError(Exception):
    """moto accepted the create call but the describe call does not return what was asked for."""


class MissingReference(Exception):  # noqa: N818 (an outcome: the sandbox decides whether it is an error)
    """The resource refers to something that does not exist in moto, and moto itself does not check it.

    Handled like moto's own "not found" errors: recorded when the missing thing is a resource that was only
    recorded, a failure of the program otherwise.
    """


class Clients(Protocol):
    """What the sandbox session gives emulators: boto3 clients bound to moto."""

    def client(self, service: str, region: str | None = None) -> Any: ...


@dataclass
class EmulatorContext:
    """One resource's emulation: clients in its region, the account, earlier results, and the checks made."""

    clients: Clients
    account: str
    default_region: str
    type: str
    name: str
    inputs_region: str | None = None
    lookup_state: Callable[[str, str], dict[str, Any] | None] = lambda typ, name: None
    checks: list[str] = field(default_factory=list)

    @property
    def region(self) -> str:
        return self.inputs_region or self.default_region

    def client(self, service: str) -> Any:
        return self.clients.client(service, self.region)

    def check(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Call a describe/get operation and remember it as the verification of this resource."""
        response: dict[str, Any] = getattr(self.client(service), operation)(**kwargs)
        label = f"{service}.{operation}"
        if label not in self.checks:
            self.checks.append(label)
        return response

    def lookup(self, typ: str, name: str) -> dict[str, Any] | None:
        """State of a resource emulated earlier in this deploy (None if it was not emulated)."""
        return self.lookup_state(typ, name)

    def arn(self, service: str, resource: str) -> str:
        region = "" if service in ("iam", "s3") else self.region
        account = "" if service == "s3" else self.account
        return f"arn:aws:{service}:{region}:{account}:{resource}"


EmulatorFn = Callable[[EmulatorContext, str, dict[str, Any]], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Emulator:
    """An emulator function and the input names it maps; any other input would be silently dropped."""

    create: EmulatorFn
    handles: frozenset[str]

    def __call__(self, ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return self.create(ctx, name, inputs)

    def unhandled(self, inputs: dict[str, Any]) -> list[str]:
        """Inputs set by the program that this emulator does not map to moto."""
        known = self.handles | COMMON_INPUTS
        return sorted(k for k, v in inputs.items() if v is not None and v != [] and v != {} and k not in known)


def emulates(*handles: str) -> Callable[[EmulatorFn], Emulator]:
    """Declare the inputs an emulator maps (create-time settings and delete-time-only options alike)."""

    def wrap(fn: EmulatorFn) -> Emulator:
        return Emulator(fn, frozenset(handles))

    return wrap


def require(condition: object, message: str) -> None:
    if not condition:
        raise VerificationError(message)


def autoname(logical: str, limit: int = 255) -> str:
    """Pulumi's auto-naming (logical name plus a suffix), deterministic so sandbox runs are reproducible."""
    suffix = hashlib.sha1(logical.encode()).hexdigest()[:7]
    return f"{logical[: limit - 8]}-{suffix}"


def drop_none(**kwargs: Any) -> dict[str, Any]:
    """Request parameters without the unset ones (boto3 rejects None)."""
    return {k: v for k, v in kwargs.items() if v is not None}


def tags_of(inputs: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (inputs.get("tags") or {}).items()}


def tag_list(inputs: dict[str, Any], key: str = "Key", value: str = "Value") -> list[dict[str, str]] | None:
    """Tags in the list-of-pairs shape most services use; None when there are none."""
    tags = tags_of(inputs)
    return [{key: k, value: v} for k, v in tags.items()] or None


def ec2_tag_spec(resource_type: str, inputs: dict[str, Any]) -> list[dict[str, Any]] | None:
    tags = tag_list(inputs)
    return [{"ResourceType": resource_type, "Tags": tags}] if tags else None


def walk_strings(value: Any, skip: frozenset[str] = frozenset({"tags", "tagsAll"})) -> Iterator[str]:
    """Every string leaf of an input tree, tags excluded."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k not in skip:
                yield from walk_strings(v, skip)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from walk_strings(v, skip)
