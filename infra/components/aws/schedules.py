"""A model's schedules: one EventBridge Scheduler group and one role that may start only that model's targets."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.functions import PythonFunction
from infra.components.aws.security import EncryptionKey
from infra.components.base import ModelScope, StackContext, new_role

RETRIES = {"maximum_retry_attempts": 2}


class ModelSchedules:
    """Schedules of one model (part of its component). Every function target receives `{"model": <name>}`, so
    a handler can check that it runs for the model whose settings it holds."""

    def __init__(self, ctx: StackContext, model: ModelScope, parent: pulumi.Resource, key: EncryptionKey):
        self.ctx, self.model, self.parent, self.key = ctx, model, parent, key
        self.group = aws.scheduler.ScheduleGroup(
            f"{model.name}-schedules", name=model.base, tags={"capability": "automation"},
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.role = new_role(ctx, f"{model.name}-scheduler-role", f"{model.name}-scheduler", parent,
                             "scheduler.amazonaws.com")
        key.grant_use(self.role)  # schedules are encrypted with the stack's key
        self.payload = json.dumps({"model": model.name})

    def add(self, logical: str, suffix: str, expression: str, function: PythonFunction) -> aws.scheduler.Schedule:
        """Invoke `function` on `expression` with the model's name as the event."""
        self.role.allow(f"invoke-{suffix}", [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                              "Resource": function.arn}])
        function.grant_dead_letters(self.role)
        return self._schedule(logical, suffix, expression, {"mode": "OFF"}, {
            "arn": function.arn, "role_arn": self.role.arn, "input": self.payload, "retry_policy": RETRIES,
            "dead_letter_config": {"arn": function.dead_letters.arn},
        })

    def add_pipeline(self, logical: str, suffix: str, expression: str, pipeline_arn: Any,
                     parameters: dict[str, Any], dead_letters: PythonFunction) -> aws.scheduler.Schedule:
        """Start a SageMaker pipeline on `expression` (within an hour's window) with `parameters`; starts that
        fail after the retries go to `dead_letters`' queue."""
        return self._schedule(logical, suffix, expression, {"mode": "FLEXIBLE", "maximum_window_in_minutes": 60}, {
            "arn": pipeline_arn, "role_arn": self.role.arn,
            "sagemaker_pipeline_parameters": {"pipeline_parameters": [
                {"name": k, "value": v} for k, v in parameters.items()]},
            "retry_policy": RETRIES, "dead_letter_config": {"arn": dead_letters.dead_letters.arn},
        })

    def _schedule(self, logical: str, suffix: str, expression: str, window: Any,
                  target: Any) -> aws.scheduler.Schedule:
        return aws.scheduler.Schedule(
            logical, name=self.model.physical(suffix, 64), group_name=self.group.name,
            schedule_expression=expression, schedule_expression_timezone=self.ctx.spec.body.automation.timezone,
            flexible_time_window=window, target=target, kms_key_arn=self.key.arn,
            opts=pulumi.ResourceOptions(parent=self.parent),
        )
