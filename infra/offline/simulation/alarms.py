"""CloudWatch alarm evaluation, which moto does not do: read each alarm's metric, compare, set state, act.

Only what the stack's alarms use: a single metric, Sum/Maximum/Minimum/Average/SampleCount statistics, the
four threshold comparisons and treat-missing-data. State changes publish to the alarm's SNS actions, as
CloudWatch would.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

COMPARE = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass
class AlarmChange:
    name: str
    old: str
    new: str
    value: float | None
    reason: str


def _value(cloudwatch: Any, alarm: dict[str, Any], now: datetime) -> float | None:
    period = int(alarm["Period"])
    start = now - timedelta(seconds=period * int(alarm["EvaluationPeriods"]))
    statistic = alarm.get("Statistic")
    if statistic is None:  # extended statistics (percentiles) are not emulated
        return None
    points = cloudwatch.get_metric_statistics(
        Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm.get("Dimensions", []),
        StartTime=start, EndTime=now, Period=period, Statistics=[statistic],
    )["Datapoints"]
    if not points:
        return None
    values = [p[statistic] for p in points]
    return float(max(values) if statistic != "Minimum" else min(values))


def evaluate_alarms(cloudwatch: Any, sns: Any, prefix: str, now: datetime) -> list[AlarmChange]:
    """Evaluate every metric alarm whose name starts with `prefix`; return the state changes."""
    changes = []
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    for alarm in alarms:
        if "Namespace" not in alarm:
            continue
        value = _value(cloudwatch, alarm, now)
        if value is None:
            if alarm.get("Statistic") is None:
                continue
            new = "ALARM" if alarm.get("TreatMissingData") == "breaching" else "OK"
            reason = "no data points (treated as " + alarm.get("TreatMissingData", "missing") + ")"
        else:
            breached = COMPARE[alarm["ComparisonOperator"]](value, float(alarm["Threshold"]))
            new = "ALARM" if breached else "OK"
            reason = f"{alarm['MetricName']} {value:g} vs threshold {alarm['Threshold']:g}"
        old = alarm.get("StateValue", "INSUFFICIENT_DATA")
        if new == old:
            continue
        cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=new, StateReason=reason)
        actions = alarm.get("AlarmActions", []) if new == "ALARM" else alarm.get("OKActions", [])
        for arn in actions:
            if arn.startswith("arn:aws:sns:"):
                sns.publish(TopicArn=arn, Subject=f"{new}: {alarm['AlarmName']}"[:100], Message=json.dumps({
                    "AlarmName": alarm["AlarmName"], "NewStateValue": new, "OldStateValue": old,
                    "NewStateReason": reason,
                }))
        changes.append(AlarmChange(alarm["AlarmName"], old, new, value, reason))
    return changes
