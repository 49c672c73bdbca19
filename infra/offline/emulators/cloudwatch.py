"""CloudWatch: metric alarms and dashboards. moto stores alarms but never evaluates them."""

from __future__ import annotations

import json
from typing import Any

from infra.offline.emulators.base import EmulatorContext, autoname, drop_none, emulates, require, tag_list


@emulates("name", "namespace", "metricName", "dimensions", "statistic", "extendedStatistic", "period",
          "evaluationPeriods", "datapointsToAlarm", "threshold", "comparisonOperator", "treatMissingData",
          "alarmActions", "okActions", "insufficientDataActions", "alarmDescription", "actionsEnabled", "unit",
          "evaluateLowSampleCountPercentiles")
def metric_alarm(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    alarm = inputs.get("name") or autoname(name)
    dimensions = [{"Name": k, "Value": v} for k, v in (inputs.get("dimensions") or {}).items()]
    threshold = inputs.get("threshold")
    ctx.client("cloudwatch").put_metric_alarm(**drop_none(
        AlarmName=alarm, Namespace=inputs.get("namespace"), MetricName=inputs.get("metricName"),
        Dimensions=dimensions or None, Statistic=inputs.get("statistic"),
        ExtendedStatistic=inputs.get("extendedStatistic"), Period=inputs.get("period"),
        EvaluationPeriods=inputs["evaluationPeriods"], DatapointsToAlarm=inputs.get("datapointsToAlarm"),
        Threshold=float(threshold) if threshold is not None else None,
        ComparisonOperator=inputs["comparisonOperator"], TreatMissingData=inputs.get("treatMissingData"),
        AlarmActions=inputs.get("alarmActions"), OKActions=inputs.get("okActions"),
        InsufficientDataActions=inputs.get("insufficientDataActions"),
        AlarmDescription=inputs.get("alarmDescription"), ActionsEnabled=inputs.get("actionsEnabled"),
        Unit=inputs.get("unit"), EvaluateLowSampleCountPercentile=inputs.get("evaluateLowSampleCountPercentiles"),
        Tags=tag_list(inputs),
    ))
    found = ctx.check("cloudwatch", "describe_alarms", AlarmNames=[alarm])["MetricAlarms"]
    require(len(found) == 1, f"alarm {alarm} not found by describe_alarms")
    got = found[0]
    require(got.get("MetricName") == inputs.get("metricName") and got.get("Threshold") == threshold,
            f"alarm {alarm} reads back as {got.get('MetricName')} {got.get('Threshold')}")
    return alarm, {"name": alarm, "arn": got["AlarmArn"]}


@emulates("dashboardName", "dashboardBody")
def dashboard(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    board = inputs["dashboardName"]
    response = ctx.client("cloudwatch").put_dashboard(DashboardName=board, DashboardBody=inputs["dashboardBody"])
    problems = response.get("DashboardValidationMessages") or []
    require(not problems, f"dashboard {board}: {problems}")
    got = ctx.check("cloudwatch", "get_dashboard", DashboardName=board)
    require(json.loads(got["DashboardBody"]) == json.loads(inputs["dashboardBody"]),
            f"dashboard {board} body reads back differently")
    return board, {"dashboardArn": got["DashboardArn"]}
