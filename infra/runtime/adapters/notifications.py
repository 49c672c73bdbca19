"""Telling people: one small interface over each cloud's way of sending an alert.

A handler only needs "send this subject and message". AWS: an SNS topic the stack subscribes its alert
e-mails to. GCP: a structured log entry carrying the label `mlopsgen_alert`; a log-match alert policy of the
stack (infra/components/gcp/monitoring.py) sends it to the stack's notification channels. Cloud Run turns each
JSON line a job prints on stdout into a structured log entry, whose special field
`logging.googleapis.com/labels` becomes the entry's labels (Cloud Run "Writing structured logs"), so the GCP
notifier needs no client library and no credentials.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TextIO, runtime_checkable

ALERT_LABEL = "mlopsgen_alert"


@runtime_checkable
class Notifier(Protocol):
    """Sends one alert; returns an identifier of the sent message."""

    def publish(self, subject: str, message: str) -> str: ...


class SnsNotifier:
    """SNS Publish to one topic (subjects are cut to SNS's 100 characters)."""

    def __init__(self, topic_arn: str, client: Any) -> None:
        self.topic_arn = topic_arn
        self.client = client

    def publish(self, subject: str, message: str) -> str:
        response = self.client.publish(TopicArn=self.topic_arn, Subject=subject[:100], Message=message)
        return str(response.get("MessageId", ""))


class CloudLoggingNotifier:
    """A structured log entry (severity WARNING, label `mlopsgen_alert=true`) on `stream` (stdout on Cloud Run)."""

    def __init__(self, stream: TextIO | None = None, *, model: str = "") -> None:
        self.stream = stream
        self.model = model

    def publish(self, subject: str, message: str) -> str:
        entry = {"severity": "WARNING", "message": f"{subject}\n{message}", "subject": subject,
                 "logging.googleapis.com/labels": {ALERT_LABEL: "true", **({"model": self.model} if self.model
                                                                          else {})}}
        line = json.dumps(entry, sort_keys=True)
        print(line, file=self.stream or sys.stdout, flush=True)
        return hashlib.sha256(line.encode()).hexdigest()[:16]


NotifierFactory = Callable[[Mapping[str, str], Any], Notifier | None]


def _sns(settings: Mapping[str, str], clients: Any) -> Notifier | None:
    topic = settings.get("ALERT_TOPIC_ARN", "")
    return SnsNotifier(topic, clients.sns) if topic else None


def _cloud_logging(settings: Mapping[str, str], clients: Any) -> Notifier | None:
    return CloudLoggingNotifier(model=settings.get("MODEL", ""))


NOTIFIERS: dict[str, NotifierFactory] = {"sns": _sns, "cloud-logging": _cloud_logging}
"""Notifiers by name (env `NOTIFICATIONS`, default `sns`); other clouds' notifiers register here."""


def get_notifier(settings: Mapping[str, str], clients: Any) -> Notifier | None:
    """The notifier the settings name (None when there is nowhere to send: e.g. SNS without a topic)."""
    name = settings.get("NOTIFICATIONS") or "sns"
    try:
        factory = NOTIFIERS[name]
    except KeyError:
        raise ValueError(f"unknown notifier {name!r}; known: {sorted(NOTIFIERS)}") from None
    return factory(settings, clients)
