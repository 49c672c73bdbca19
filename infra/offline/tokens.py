"""Pulumi type tokens and the provider SDK classes behind them (pulumi_aws, pulumi_gcp)."""

from __future__ import annotations

import importlib
from functools import cache

from infra.components.base import is_taggable

SDKS = {"aws": "pulumi_aws", "gcp": "pulumi_gcp"}


@cache
def resource_class(token: str) -> type | None:
    """`aws:s3/bucket:Bucket` -> pulumi_aws.s3.Bucket, `gcp:storage/bucket:Bucket` -> pulumi_gcp.storage.Bucket
    (None for components and unknown tokens)."""
    package, _, rest = token.partition(":")
    if package not in SDKS or "/" not in rest:
        return None
    module, cls = rest.split("/", 1)[0], rest.rsplit(":", 1)[-1]
    module = {"lambda": "lambda_"}.get(module, module)
    try:
        return getattr(importlib.import_module(f"{SDKS[package]}.{module}"), cls)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


def taggable(token: str) -> bool:
    cls = resource_class(token)
    return cls is not None and is_taggable(cls)
