"""What every component shares: the capability base class, the stack context, tags and naming."""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.profiles.loader import PROJECT, StackSpec
from infra.profiles.model import ModelSpec


class Capability(pulumi.ComponentResource):
    """A component that provides one capability; its children are tagged (labelled) with that capability."""

    capability: str = ""

    def __init__(self, type_token: str, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token, name, None, opts)

    def child(self, **extra: Any) -> pulumi.ResourceOptions:
        """Options for a child resource: parented here, plus any extra option."""
        return pulumi.ResourceOptions(parent=self, **extra)


@dataclass
class StackContext:
    """Facts every component needs: the resolved spec, physical naming, account and region."""

    spec: StackSpec
    account_id: pulumi.Output[str]
    region: str

    @property
    def env(self) -> str:
        return self.spec.environment

    @property
    def prefix(self) -> str:
        return name_prefix(self.spec)

    def name(self, suffix: str, limit: int = 63) -> str:
        """A physical name within AWS's length limit (see `shorten`)."""
        return shorten(f"{self.prefix}-{suffix}", limit)

    @property
    def protect_data(self) -> bool:
        return self.spec.body.security.protect_data

    def data_options(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options for stores of data: protected and retained on destroy unless the profile says otherwise."""
        return pulumi.ResourceOptions(
            parent=parent, protect=self.protect_data, retain_on_delete=self.protect_data
        )


def shorten(name: str, limit: int) -> str:
    """`name` if it fits in `limit` characters; else cut, with a 6-hex-digit hash of the whole name appended, so
    names that differ only past the cut (`...-staging-mlflow` and `...-prod-mlflow`) stay different. Never ends in
    a hyphen, which AWS rejects."""
    if len(name) <= limit:
        return name.rstrip("-")
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"


@dataclass
class ModelScope:
    """One model's names and data layout; every per-model name, prefix and key comes from here.

    AWS names are `<stack prefix>-<model>` (`base`) plus a suffix, so a grant on `<base>` and `<base>-*`
    reaches this model's resources and no other's (the profile rejects a model name extending another).
    S3 prefixes end in `<model>/` in the stack's shared buckets.
    """

    name: str
    spec: ModelSpec
    ctx: StackContext

    @property
    def base(self) -> str:
        return self.ctx.name(self.name)

    def physical(self, suffix: str, limit: int = 63) -> str:
        return self.ctx.name(f"{self.name}-{suffix}", limit)

    @property
    def landing(self) -> str:
        return self.spec.source_prefix(self.name)

    def prefix(self, area: str) -> str:
        """`<area>/<model>/`: curated, quarantine, models, checkpoints, baselines, reports/drift, ..."""
        return f"{area}/{self.name}/"

    @property
    def schema_key(self) -> str:
        return f"{self.prefix('schemas')}schema.json"


def name_prefix(spec: StackSpec) -> str:
    """Physical name prefix of a stack's resources, short enough for SageMaker (63) and IAM role (64) limits."""
    return f"{spec.profile_name}-{spec.environment}"[:40]


def base_tags(spec: StackSpec) -> dict[str, str]:
    return {"project": PROJECT, "environment": spec.environment, "profile": spec.profile_name}


def gcp_label(value: str) -> str:
    """A GCP label value: lowercase letters, digits, `_` and `-`, at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", str(value).lower())[:63]


# Where each provider SDK takes the standard tags, and how values are written there.
TAG_STYLES: dict[str, tuple[tuple[str, ...], Callable[[str], str]]] = {
    "pulumi_aws.": (("tags",), str),
    # GCP: `labels`, except Cloud Monitoring's `user_labels` (a notification channel's `labels` are its settings).
    "pulumi_gcp.": (("user_labels", "labels"), gcp_label),
}
_TAG_PROPERTY: dict[str, tuple[str, Callable[[str], str]] | None] = {}


def tag_property(cls: type) -> tuple[str, Callable[[str], str]] | None:
    """The input a resource class takes its tags in and the value format (read once per class), or None."""
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key not in _TAG_PROPERTY:
        init = getattr(cls, "_internal_init", None)
        found: tuple[str, Callable[[str], str]] | None = None
        for module, (names, fmt) in TAG_STYLES.items():
            if cls.__module__.startswith(module) and init is not None:
                params = inspect.signature(init).parameters
                name = next((n for n in names if n in params), None)
                found = (name, fmt) if name else None
        _TAG_PROPERTY[key] = found
    return _TAG_PROPERTY[key]


def is_taggable(cls: type) -> bool:
    """Whether a resource class takes the standard tags (AWS `tags`, GCP labels)."""
    return tag_property(cls) is not None


def _model_of(resource: pulumi.Resource | None) -> str | None:
    while resource is not None:
        model = getattr(resource, "model_name", None)
        if isinstance(model, str):
            return model
        resource = getattr(resource, "_mlopsgen_parent", None)
    return None


def _capability_of(resource: pulumi.Resource | None) -> str:
    while resource is not None:
        if isinstance(resource, Capability) and resource.capability:
            return resource.capability
        resource = getattr(resource, "_mlopsgen_parent", None)
    return "platform"


def tagging_transformation(spec: StackSpec) -> Any:
    """A stack transformation that puts the four standard tags on every taggable resource (GCP: labels), and
    `model` on every resource of a model.

    One mechanism instead of passing tags through every constructor; the legacy stack transformation is the
    one the SDK runs in-process (so it also runs under the mock runtime the offline engine uses).
    """
    tags = base_tags(spec)

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        parent = args.opts.parent if args.opts else None
        args.resource._mlopsgen_parent = parent  # type: ignore[attr-defined]
        style = tag_property(type(args.resource))
        if style is None:
            return None
        prop, fmt = style
        capability = _capability_of(parent)
        own: dict[str, Any] = dict(args.props.get(prop) or {})  # type: ignore[arg-type]
        model = _model_of(parent)
        merged = {**tags, "capability": capability, **({"model": model} if model else {}), **own}
        return pulumi.ResourceTransformationResult({**args.props, prop: {k: fmt(v) for k, v in merged.items()}},
                                                   args.opts)

    return transform


def policy_json(statements: list[dict[str, Any]]) -> pulumi.Output[str]:
    """IAM policy JSON from statements that may hold Outputs (get_policy_document is not mockable)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


def assume_role_policy(*services: str, conditions: dict[str, Any] | None = None) -> pulumi.Output[str]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": list(services) if len(services) > 1 else services[0]},
        "Action": "sts:AssumeRole",
    }
    if conditions:
        statement["Condition"] = conditions
    return policy_json([statement])


class Grantable:
    """A role that grants are attached to, one inline policy per grant (CDK-style `grant_*` methods)."""

    def __init__(self, name: str, role: aws.iam.Role, parent: pulumi.Resource) -> None:
        self.name = name
        self.role = role
        self.parent = parent
        self._grants: set[str] = set()

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.role.arn

    def allow(self, grant: str, statements: list[dict[str, Any]]) -> aws.iam.RolePolicy:
        if grant in self._grants:
            raise ValueError(f"grant {grant!r} given twice to {self.name}")
        self._grants.add(grant)
        return aws.iam.RolePolicy(
            f"{self.name}-{grant}",
            role=self.role.id,
            policy=policy_json(statements),
            opts=pulumi.ResourceOptions(parent=self.parent),
        )


def new_role(
    ctx: StackContext, logical: str, physical: str, parent: pulumi.Resource, *services: str
) -> Grantable:
    """A role only the given services may assume, and only from this account."""
    role = aws.iam.Role(
        logical,
        name=ctx.name(physical, 64),
        assume_role_policy=assume_role_policy(*services),
        max_session_duration=3600,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return Grantable(logical, role, parent)
