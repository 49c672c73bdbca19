"""Custom metrics, behind one small interface: the drift monitor writes them, the A/B controller sums them.

CloudWatch (boto3) and Cloud Monitoring (google-cloud-monitoring) implement it; a handler picks one by name
(env `METRICS`, default `cloudwatch`). A metric is a namespace, a name and dimensions:
- CloudWatch: namespace, metric name, dimensions as given.
- Cloud Monitoring: the custom metric type `custom.googleapis.com/<namespace>/<name>` on the `global`
  monitored resource, dimensions as metric labels in snake case (`EndpointName` -> `endpoint_name`: label keys
  are lowercase). Source: Cloud Monitoring "User-defined metrics" (custom.googleapis.com, label key syntax).
Functions that took a boto3 CloudWatch client keep taking one: `metrics_backend` wraps it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

PUT_PER_CALL = {"cloudwatch": 1000, "cloud-monitoring": 200}  # PutMetricData / CreateTimeSeries limits
# CloudWatch rejects values closer to zero than 2**-360 (tiny p-values are common): they are sent as 0.
CLOUDWATCH_SMALLEST = 8.515920e-109


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    dimensions: Mapping[str, str] = field(default_factory=dict)
    unit: str = "None"


@runtime_checkable
class Metrics(Protocol):
    def put(self, namespace: str, points: Sequence[MetricPoint], at: datetime) -> int: ...

    def sums(self, namespace: str, series: Mapping[str, tuple[str, Mapping[str, str]]], start: datetime,
             end: datetime) -> dict[str, float]:
        """The sum of each series' values over [start, end); `series`: id -> (metric name, dimensions)."""
        ...


def metric_period(start: datetime, end: datetime) -> int:
    """The finest period CloudWatch still holds for data that old: 1-minute points live 15 days, 5-minute
    points 63 days, hourly points 455 days."""
    age = end - start
    if age <= timedelta(days=15):
        return 60
    if age <= timedelta(days=63):
        return 300
    return 3600


class CloudWatchMetrics:
    """Metrics over a boto3 CloudWatch client (PutMetricData, GetMetricData with the Sum statistic)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def put(self, namespace: str, points: Sequence[MetricPoint], at: datetime) -> int:
        data = [{"MetricName": p.name, "Value": 0.0 if abs(p.value) < CLOUDWATCH_SMALLEST else p.value,
                 "Unit": p.unit, "Timestamp": at,
                 "Dimensions": [{"Name": k, "Value": v} for k, v in p.dimensions.items()]} for p in points]
        step = PUT_PER_CALL["cloudwatch"]
        for start in range(0, len(data), step):
            self.client.put_metric_data(Namespace=namespace, MetricData=data[start:start + step])
        return len(data)

    def sums(self, namespace: str, series: Mapping[str, tuple[str, Mapping[str, str]]], start: datetime,
             end: datetime) -> dict[str, float]:
        totals = dict.fromkeys(series, 0.0)
        if end - start < timedelta(seconds=1):
            return totals
        period = metric_period(start, end)
        queries = [{
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": name,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
                "Period": period, "Stat": "Sum",
            },
            "ReturnData": True,
        } for query_id, (name, dimensions) in series.items()]
        for page in self.client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries, StartTime=start, EndTime=end):
            for result in page.get("MetricDataResults", []):
                totals[result["Id"]] += float(sum(result.get("Values", [])))
        return totals


def label_key(dimension: str) -> str:
    """`EndpointName` -> `endpoint_name` (Cloud Monitoring label keys: lowercase letters, digits, `_`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", dimension).lower()


def metric_type(namespace: str, name: str) -> str:
    return f"custom.googleapis.com/{namespace}/{name}"


class CloudMonitoringMetrics:
    """Metrics over Cloud Monitoring's MetricServiceClient: CreateTimeSeries (GAUGE doubles on the `global`
    resource) and ListTimeSeries (every point of the matching series in the interval, summed here, so the sum is
    exact whatever the points' spacing). The client is created on first use."""

    def __init__(self, project: str, client: Any | None = None) -> None:
        if not project:
            raise ValueError("Cloud Monitoring metrics need GCP_PROJECT")
        self.project = project
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import monitoring_v3

            self._client = monitoring_v3.MetricServiceClient()
        return self._client

    def put(self, namespace: str, points: Sequence[MetricPoint], at: datetime) -> int:
        from google.cloud import monitoring_v3

        series = [monitoring_v3.TimeSeries(
            metric={"type": metric_type(namespace, p.name),
                    "labels": {label_key(k): v for k, v in p.dimensions.items()}},
            resource={"type": "global", "labels": {"project_id": self.project}},
            points=[monitoring_v3.Point(interval=monitoring_v3.TimeInterval(end_time=at),
                                        value=monitoring_v3.TypedValue(double_value=float(p.value)))],
        ) for p in points]
        step = PUT_PER_CALL["cloud-monitoring"]
        for start in range(0, len(series), step):
            self.client.create_time_series(name=f"projects/{self.project}", time_series=series[start:start + step])
        return len(series)

    def sums(self, namespace: str, series: Mapping[str, tuple[str, Mapping[str, str]]], start: datetime,
             end: datetime) -> dict[str, float]:
        from google.cloud import monitoring_v3

        totals = dict.fromkeys(series, 0.0)
        if end - start < timedelta(seconds=1):
            return totals
        interval = monitoring_v3.TimeInterval(start_time=start, end_time=end)
        for query_id, (name, dimensions) in series.items():
            filter_ = " AND ".join([f'metric.type = "{metric_type(namespace, name)}"',
                                    *(f'metric.labels.{label_key(k)} = "{v}"' for k, v in dimensions.items())])
            for found in self.client.list_time_series(request={
                "name": f"projects/{self.project}", "filter": filter_, "interval": interval,
                "view": monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
            }):
                for point in found.points:
                    value = point.value
                    totals[query_id] += float(value.double_value or value.int64_value)
        return totals


def metrics_backend(value: Any) -> Metrics:
    """`value` itself when it is a Metrics backend, else CloudWatchMetrics over it (a boto3 CloudWatch client)."""
    return value if isinstance(value, Metrics) else CloudWatchMetrics(value)


MetricsFactory = Callable[[Mapping[str, str], Any], Metrics]
METRICS: dict[str, MetricsFactory] = {
    "cloudwatch": lambda settings, clients: CloudWatchMetrics(clients.cloudwatch),
    "cloud-monitoring": lambda settings, clients: CloudMonitoringMetrics(settings.get("GCP_PROJECT", "")),
}
"""Metrics backends by name (env `METRICS`, default `cloudwatch`); other clouds' backends register here."""


def get_metrics(settings: Mapping[str, str], clients: Any) -> Metrics:
    name = settings.get("METRICS") or "cloudwatch"
    try:
        return METRICS[name](settings, clients)
    except KeyError:
        raise ValueError(f"unknown metrics backend {name!r}; known: {sorted(METRICS)}") from None
