"""Which builder provides each (capability, kind): backends register here, beside their peers.

A builder takes the stack context, the capability's profile model and the platform built so far, and adds
its component to the platform. The program builder only walks capabilities in order and looks builders up:
first the shared platform (`ORDER`), then for each model its component (`"model"`) and the model's
capabilities (`MODEL_ORDER`, looked up as `model.<capability>` and the capability's kind).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.components.base import ModelScope, StackContext
from infra.profiles.loader import StackSpec

# Dependencies flow forward: each capability may use those before it.
# `cluster` is optional (None: the stack has no Kubernetes cluster).
ORDER = ("security", "networking", "artifact_store", "registry", "cluster", "tracking", "monitoring")
# Per model, after the shared platform. `automation` has no per-model kind: the cloud's builder provides it.
MODEL_ORDER = ("training", "serving", "monitoring", "automation")


@dataclass
class Platform:
    """The components built so far, by capability."""

    parts: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, capability: str) -> Any:
        try:
            return self.parts[capability]
        except KeyError:
            raise LookupError(f"capability {capability!r} is needed but was not built before") from None

    def __setitem__(self, capability: str, component: Any) -> None:
        self.parts[capability] = component


@dataclass
class ModelBuild(Platform):
    """One model's component and its capabilities' components, built so far."""

    scope: ModelScope | None = None
    component: Any = None


@dataclass(frozen=True)
class Cloud:
    """What a cloud backend adds around its builders: the stack context (account or project facts), the
    provider's stack settings for offline runs, and the stack outputs it exports."""

    name: str
    context: Callable[[StackSpec], StackContext]
    provider_config: Callable[[StackSpec], dict[str, str]]
    exports: Callable[[Platform], dict[str, Any]]


CLOUDS: dict[str, Cloud] = {}


def register_cloud(cloud: Cloud) -> Cloud:
    if cloud.name in CLOUDS:
        raise ValueError(f"two backends for cloud {cloud.name!r}")
    CLOUDS[cloud.name] = cloud
    return cloud


def cloud_backend(name: str) -> Cloud:
    _load_backends()
    try:
        return CLOUDS[name]
    except KeyError:
        raise LookupError(f"no backend registered for cloud {name!r}") from None


Builder = Callable[..., Any]  # (ctx, config, platform) for the platform; (ctx, config, platform, model) per model
BUILDERS: dict[tuple[str, str], Builder] = {}


def builder(capability: str, kind: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        key = (capability, kind)
        if key in BUILDERS:
            raise ValueError(f"two builders for {key}")
        BUILDERS[key] = fn
        return fn

    return register


def kind_of(config: Any, cloud: str) -> str:
    """A capability's kind; capabilities without a `kind` field are provided by the cloud's own builder."""
    return str(getattr(config, "kind", cloud))


def lookup(capability: str, kind: str) -> Builder:
    _load_backends()
    try:
        return BUILDERS[(capability, kind)]
    except KeyError:
        raise LookupError(f"no builder registered for {capability} kind {kind!r}") from None


def _load_backends() -> None:
    # Importing a backend module registers its builders.
    from infra.components.aws import builders, eks_builders  # noqa: F401
    from infra.components.gcp import builders as gcp_builders  # noqa: F401
