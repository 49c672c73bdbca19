"""Pulumi type tokens and the pulumi_aws classes behind them."""

from __future__ import annotations

import importlib
from functools import cache

from infra.components.base import is_taggable


@cache
def resource_class(token: str) -> type | None:
    """`aws:s3/bucket:Bucket` -> pulumi_aws.s3.Bucket (None for components and unknown tokens)."""
    package, _, rest = token.partition(":")
    if package != "aws" or "/" not in rest:
        return None
    module, cls = rest.split("/", 1)[0], rest.rsplit(":", 1)[-1]
    module = {"lambda": "lambda_"}.get(module, module)
    try:
        return getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


def taggable(token: str) -> bool:
    cls = resource_class(token)
    return cls is not None and is_taggable(cls)
