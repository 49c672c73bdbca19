"""AWS clients for the runtime functions: created on first use (never at import), injectable, with a clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


_UNSET: Any = object()


class Adapters(AwsClients):
    """AWS clients plus the cloud adapters a handler reaches its cloud through (object store, metrics, notifier),
    chosen by name from the handler's settings (env STORAGE, METRICS, NOTIFICATIONS; AWS's by default) on first
    use, or given (tests, the simulation)."""

    def __init__(self, *, store: Any = None, metrics: Any = None, notifier: Any = _UNSET, **clients: Any) -> None:
        super().__init__(**clients)
        self._store, self._metrics, self._notifier = store, metrics, notifier

    def store(self, settings: Mapping[str, str]) -> Any:
        if self._store is None:
            from infra.runtime.adapters.storage import get_object_store

            self._store = get_object_store(settings, self)
        return self._store

    def metrics(self, settings: Mapping[str, str]) -> Any:
        if self._metrics is None:
            from infra.runtime.adapters.metrics import get_metrics

            self._metrics = get_metrics(settings, self)
        return self._metrics

    def notifier(self, settings: Mapping[str, str]) -> Any:
        """The Notifier, or None when the settings name nowhere to send (SNS without a topic)."""
        if self._notifier is _UNSET:
            from infra.runtime.adapters.notifications import get_notifier

            self._notifier = get_notifier(settings, self)
        return self._notifier
