"""Shared fixtures: resolved stacks and their previewed resource graphs (one program run per environment)."""

from __future__ import annotations

import pytest

from infra.offline.graph import ResourceGraph
from infra.offline.preview import preview
from infra.profiles.loader import load_stack

ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def graphs() -> dict[str, ResourceGraph]:
    return {env: preview(load_stack(env)) for env in ENVIRONMENTS}


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing in the test suite may reach a real AWS account.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
