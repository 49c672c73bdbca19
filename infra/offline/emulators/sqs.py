"""SQS: the functions' encrypted dead-letter queues and their queue policies."""

from __future__ import annotations

import json
from typing import Any

from infra.offline.emulators.base import EmulatorContext, autoname, emulates, require, tags_of

# Provider input -> queue attribute, for the settings the project uses.
QUEUE_ATTRIBUTES = {
    "kmsMasterKeyId": "KmsMasterKeyId", "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
    "messageRetentionSeconds": "MessageRetentionPeriod", "visibilityTimeoutSeconds": "VisibilityTimeout",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
}


@emulates("name", "namePrefix", *QUEUE_ATTRIBUTES)
def queue(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    queue_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 80)
    attributes = {boto: str(inputs[key]).lower() if isinstance(inputs[key], bool) else str(inputs[key])
                  for key, boto in QUEUE_ATTRIBUTES.items() if inputs.get(key) is not None}
    sqs = ctx.client("sqs")
    url = sqs.create_queue(QueueName=queue_name, Attributes=attributes, tags=tags_of(inputs))["QueueUrl"]
    got = ctx.check("sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])["Attributes"]
    for boto, value in attributes.items():
        require(got.get(boto) == value, f"queue {queue_name} {boto} reads back as {got.get(boto)}")
    return url, {"arn": got["QueueArn"], "url": url, "name": queue_name}


@emulates("queueUrl", "policy")
def queue_policy(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    url = inputs["queueUrl"]
    json.loads(inputs["policy"])  # fail on malformed JSON before moto sees it
    ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": inputs["policy"]})
    got = ctx.check("sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=["Policy"])["Attributes"]
    require(json.loads(got["Policy"]) == json.loads(inputs["policy"]), f"policy of {url} reads back differently")
    return url, {}
