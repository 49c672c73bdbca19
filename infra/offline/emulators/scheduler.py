"""EventBridge Scheduler: schedule groups and schedules. moto does not check schedule expressions."""

from __future__ import annotations

from typing import Any

from infra.offline.emulators.base import EmulatorContext, NotEmulated, autoname, drop_none, emulates, require, tag_list


@emulates("name", "namePrefix")
def schedule_group(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 64)
    ctx.client("scheduler").create_schedule_group(**drop_none(Name=group, Tags=tag_list(inputs)))
    got = ctx.check("scheduler", "get_schedule_group", Name=group)
    return group, {"name": group, "arn": got["Arn"], "state": got.get("State")}


def _target(target: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = drop_none(Arn=target["arn"], RoleArn=target["roleArn"], Input=target.get("input"))
    if target.get("retryPolicy"):
        policy = target["retryPolicy"]
        out["RetryPolicy"] = drop_none(MaximumRetryAttempts=policy.get("maximumRetryAttempts"),
                                       MaximumEventAgeInSeconds=policy.get("maximumEventAgeInSeconds"))
    if target.get("deadLetterConfig"):
        out["DeadLetterConfig"] = {"Arn": target["deadLetterConfig"]["arn"]}
    if target.get("sagemakerPipelineParameters"):
        parameters = target["sagemakerPipelineParameters"].get("pipelineParameters") or []
        out["SageMakerPipelineParameters"] = {
            "PipelineParameterList": [{"Name": p["name"], "Value": p["value"]} for p in parameters]}
    if target.get("eventbridgeParameters"):
        params = target["eventbridgeParameters"]
        out["EventBridgeParameters"] = {"DetailType": params["detailType"], "Source": params["source"]}
    unmapped = set(target) - {"arn", "roleArn", "input", "retryPolicy", "deadLetterConfig",
                              "sagemakerPipelineParameters", "eventbridgeParameters"}
    if unmapped:
        raise NotEmulated(f"schedule target settings not mapped: {', '.join(sorted(unmapped))}")
    return out


@emulates("name", "namePrefix", "groupName", "scheduleExpression", "scheduleExpressionTimezone",
          "flexibleTimeWindow", "target", "description", "state", "startDate", "endDate", "kmsKeyArn")
def schedule(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    schedule_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 64)
    group = inputs.get("groupName") or "default"
    window = inputs["flexibleTimeWindow"]
    target = _target(inputs["target"])
    ctx.client("scheduler").create_schedule(**drop_none(
        Name=schedule_name, GroupName=group, ScheduleExpression=inputs["scheduleExpression"],
        ScheduleExpressionTimezone=inputs.get("scheduleExpressionTimezone"),
        FlexibleTimeWindow=drop_none(Mode=window["mode"], MaximumWindowInMinutes=window.get("maximumWindowInMinutes")),
        Target=target, Description=inputs.get("description"), State=inputs.get("state"),
        StartDate=inputs.get("startDate"), EndDate=inputs.get("endDate"), KmsKeyArn=inputs.get("kmsKeyArn")))
    got = ctx.check("scheduler", "get_schedule", Name=schedule_name, GroupName=group)
    require(got["ScheduleExpression"] == inputs["scheduleExpression"]
            and got.get("ScheduleExpressionTimezone") == inputs.get("scheduleExpressionTimezone"),
            f"schedule {schedule_name} reads back as {got['ScheduleExpression']} "
            f"{got.get('ScheduleExpressionTimezone')}")
    require(got["Target"]["Arn"] == target["Arn"], f"schedule {schedule_name} target reads back as {got['Target']}")
    return f"{group}/{schedule_name}", {"name": schedule_name, "groupName": group, "arn": got["Arn"]}
