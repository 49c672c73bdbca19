"""Shared fixtures: resolved stacks and their previewed resource graphs (one program run per environment)."""

from __future__ import annotations

import shutil
from typing import Any

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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly when the headless-browser test of the comparison report could not run."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        terminalreporter.write_line(
            "NOTE: the browser test (tests/test_compare.py, HTML report in headless Chromium) did not run: "
            "the chromium package is not installed (.ci/run installs it when CI=true)", yellow=True, bold=True)
