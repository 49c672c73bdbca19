"""SNS: the encrypted alert topic, its access policy and subscriptions."""

from __future__ import annotations

import json
from typing import Any

from infra.offline.emulators.base import EmulatorContext, autoname, emulates, require, tag_list

TOPIC_ATTRIBUTES = {"kmsMasterKeyId": "KmsMasterKeyId", "displayName": "DisplayName", "policy": "Policy",
                    "deliveryPolicy": "DeliveryPolicy", "fifoTopic": "FifoTopic",
                    "contentBasedDeduplication": "ContentBasedDeduplication", "signatureVersion": "SignatureVersion",
                    "tracingConfig": "TracingConfig"}


@emulates("name", "namePrefix", *TOPIC_ATTRIBUTES)
def topic(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    topic_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 256)
    attributes = {boto: str(inputs[key]).lower() if isinstance(inputs[key], bool) else str(inputs[key])
                  for key, boto in TOPIC_ATTRIBUTES.items() if inputs.get(key) is not None}
    request: dict[str, Any] = {"Name": topic_name, "Attributes": attributes}
    tags = tag_list(inputs)
    if tags:
        request["Tags"] = tags
    arn = ctx.client("sns").create_topic(**request)["TopicArn"]
    got = ctx.check("sns", "get_topic_attributes", TopicArn=arn)["Attributes"]
    for boto, value in attributes.items():
        if boto != "Policy":
            require(got.get(boto) == value, f"topic {topic_name} {boto} reads back as {got.get(boto)}")
    return arn, {"arn": arn, "name": topic_name, "owner": got.get("Owner", ctx.account)}


@emulates("arn", "policy")
def topic_policy(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    arn = inputs["arn"]
    json.loads(inputs["policy"])  # moto crashes on malformed JSON; fail on it before calling moto
    ctx.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=inputs["policy"])
    got = ctx.check("sns", "get_topic_attributes", TopicArn=arn)["Attributes"]
    require(json.loads(got["Policy"]) == json.loads(inputs["policy"]), f"policy of {arn} reads back differently")
    return arn, {"owner": got.get("Owner", ctx.account)}


@emulates("topic", "protocol", "endpoint", "rawMessageDelivery", "filterPolicy", "filterPolicyScope",
          "deliveryPolicy", "redrivePolicy", "endpointAutoConfirms", "confirmationTimeoutInMinutes")
def topic_subscription(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    attributes = {boto: str(inputs[key]).lower() if isinstance(inputs[key], bool) else str(inputs[key])
                  for key, boto in (("rawMessageDelivery", "RawMessageDelivery"), ("filterPolicy", "FilterPolicy"),
                                    ("filterPolicyScope", "FilterPolicyScope"), ("deliveryPolicy", "DeliveryPolicy"),
                                    ("redrivePolicy", "RedrivePolicy"))
                  if inputs.get(key) is not None}
    arn = ctx.client("sns").subscribe(TopicArn=inputs["topic"], Protocol=inputs["protocol"],
                                      Endpoint=inputs["endpoint"], Attributes=attributes,
                                      ReturnSubscriptionArn=True)["SubscriptionArn"]
    subscriptions = ctx.check("sns", "list_subscriptions_by_topic", TopicArn=inputs["topic"])["Subscriptions"]
    require(any(s["Endpoint"] == inputs["endpoint"] and s["Protocol"] == inputs["protocol"] for s in subscriptions),
            f"subscription of {inputs['endpoint']} not listed on {inputs['topic']}")
    return arn, {"arn": arn, "ownerId": ctx.account}
