"""AWS clients for the runtime functions: created on first use (never at import), injectable, with a clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    return datetime.now(UTC)


class AwsClients:
    """Boto3 clients by service name: pass one (a moto-backed or stubbed client) to use it instead."""

    def __init__(self, *, clock: Callable[[], datetime] = utc_now, **clients: Any) -> None:
        self._clients: dict[str, Any] = {name: c for name, c in clients.items() if c is not None}
        self.clock = clock

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(service)
        return self._clients[service]

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    @property
    def sagemaker(self) -> Any:
        return self.client("sagemaker")

    @property
    def cloudwatch(self) -> Any:
        return self.client("cloudwatch")
