"""EventBridge: rules (moto validates schedule expressions and event patterns) and their targets."""

from __future__ import annotations

import json
from typing import Any

from infra.offline.emulators.base import EmulatorContext, NotEmulated, autoname, drop_none, emulates, require, tag_list


@emulates("name", "namePrefix", "description", "eventPattern", "scheduleExpression", "eventBusName", "roleArn",
          "state", "isEnabled")
def event_rule(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rule = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 64)
    state = inputs.get("state") or ("DISABLED" if inputs.get("isEnabled") is False else "ENABLED")
    arn = ctx.client("events").put_rule(**drop_none(
        Name=rule, Description=inputs.get("description"), EventPattern=inputs.get("eventPattern"),
        ScheduleExpression=inputs.get("scheduleExpression"), EventBusName=inputs.get("eventBusName"),
        RoleArn=inputs.get("roleArn"), State=state, Tags=tag_list(inputs)))["RuleArn"]
    got = ctx.check("events", "describe_rule", **drop_none(Name=rule, EventBusName=inputs.get("eventBusName")))
    if inputs.get("eventPattern"):
        require(json.loads(got["EventPattern"]) == json.loads(inputs["eventPattern"]),
                f"rule {rule} pattern reads back differently")
    require(got.get("ScheduleExpression") == inputs.get("scheduleExpression"),
            f"rule {rule} schedule reads back as {got.get('ScheduleExpression')}")
    bus = inputs.get("eventBusName")
    return (f"{bus}/{rule}" if bus and bus != "default" else rule), {"name": rule, "arn": arn}


@emulates("rule", "arn", "targetId", "eventBusName", "roleArn", "input", "inputPath", "retryPolicy",
          "deadLetterConfig", "inputTransformer")
def event_target(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rule = inputs["rule"]
    target_id = inputs.get("targetId") or autoname(name, 64)
    target: dict[str, Any] = drop_none(Id=target_id, Arn=inputs["arn"], RoleArn=inputs.get("roleArn"),
                                       Input=inputs.get("input"), InputPath=inputs.get("inputPath"))
    if inputs.get("retryPolicy"):
        policy = inputs["retryPolicy"]
        target["RetryPolicy"] = drop_none(MaximumRetryAttempts=policy.get("maximumRetryAttempts"),
                                          MaximumEventAgeInSeconds=policy.get("maximumEventAgeInSeconds"))
    if inputs.get("deadLetterConfig"):
        target["DeadLetterConfig"] = {"Arn": inputs["deadLetterConfig"]["arn"]}
    if inputs.get("inputTransformer"):
        transformer = inputs["inputTransformer"]
        target["InputTransformer"] = drop_none(InputPathsMap=transformer.get("inputPaths"),
                                               InputTemplate=transformer["inputTemplate"])
    events = ctx.client("events")
    result = events.put_targets(**drop_none(Rule=rule, EventBusName=inputs.get("eventBusName"), Targets=[target]))
    if result.get("FailedEntryCount"):
        raise NotEmulated(f"moto refused the target: {result.get('FailedEntries')}")
    got = ctx.check("events", "list_targets_by_rule", **drop_none(Rule=rule, EventBusName=inputs.get("eventBusName")))
    found = [t for t in got["Targets"] if t["Id"] == target_id]
    require(found and found[0]["Arn"] == inputs["arn"], f"target {target_id} is not on rule {rule}")
    return f"{rule}-{target_id}", {"targetId": target_id}
