"""CloudWatch Logs: log groups with retention and a KMS key."""

from __future__ import annotations

from typing import Any

from infra.offline.emulators.base import EmulatorContext, autoname, drop_none, emulates, require, tags_of


# skipDestroy only acts on delete.
@emulates("name", "namePrefix", "retentionInDays", "kmsKeyId", "logGroupClass", "skipDestroy")
def log_group(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 512)
    logs = ctx.client("logs")
    logs.create_log_group(**drop_none(
        logGroupName=group, kmsKeyId=inputs.get("kmsKeyId"), logGroupClass=inputs.get("logGroupClass"),
        tags=tags_of(inputs) or None))
    if inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=group, retentionInDays=inputs["retentionInDays"])
    found = [g for g in ctx.check("logs", "describe_log_groups", logGroupNamePrefix=group)["logGroups"]
             if g["logGroupName"] == group]
    require(found, f"log group {group} not found by describe_log_groups")
    got = found[0]
    require(got.get("retentionInDays") == inputs.get("retentionInDays"),
            f"log group {group} retention reads back as {got.get('retentionInDays')}")
    require(got.get("kmsKeyId") == inputs.get("kmsKeyId"), f"log group {group} key reads back as {got.get('kmsKeyId')}")
    # The provider's ARN has no trailing ":*" (describe_log_groups' `arn` has it, `logGroupArn` does not).
    arn = got.get("logGroupArn") or str(got["arn"]).removesuffix(":*")
    return group, {"name": group, "arn": arn}
