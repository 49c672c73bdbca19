"""KMS: the customer-managed key (with its policy and rotation) and its alias."""

from __future__ import annotations

import json
from typing import Any

from infra.offline.emulators.base import EmulatorContext, drop_none, emulates, require, tag_list


# deletionWindowInDays only applies when the key is scheduled for deletion.
@emulates("description", "policy", "enableKeyRotation", "rotationPeriodInDays", "keyUsage",
          "customerMasterKeySpec", "multiRegion", "isEnabled", "deletionWindowInDays",
          "bypassPolicyLockoutSafetyCheck")
def key(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kms = ctx.client("kms")
    created = kms.create_key(**drop_none(
        Description=inputs.get("description"), Policy=inputs.get("policy"), KeyUsage=inputs.get("keyUsage"),
        KeySpec=inputs.get("customerMasterKeySpec"), MultiRegion=inputs.get("multiRegion"),
        BypassPolicyLockoutSafetyCheck=inputs.get("bypassPolicyLockoutSafetyCheck"),
        Tags=tag_list(inputs, "TagKey", "TagValue"),
    ))["KeyMetadata"]
    key_id = created["KeyId"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(**drop_none(KeyId=key_id, RotationPeriodInDays=inputs.get("rotationPeriodInDays")))
    if inputs.get("isEnabled") is False:
        kms.disable_key(KeyId=key_id)
    meta = ctx.check("kms", "describe_key", KeyId=key_id)["KeyMetadata"]
    rotation = ctx.check("kms", "get_key_rotation_status", KeyId=key_id)["KeyRotationEnabled"]
    require(rotation == bool(inputs.get("enableKeyRotation")), f"key {key_id} rotation reads back as {rotation}")
    if inputs.get("policy"):
        policy = ctx.check("kms", "get_key_policy", KeyId=key_id, PolicyName="default")["Policy"]
        require(json.loads(policy) == json.loads(inputs["policy"]), f"key {key_id} policy reads back differently")
    return key_id, {"keyId": key_id, "arn": meta["Arn"], "keyUsage": meta.get("KeyUsage"),
                    "customerMasterKeySpec": meta.get("KeySpec")}


@emulates("name", "namePrefix", "targetKeyId")
def alias(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    alias_name = inputs.get("name") or f"{inputs.get('namePrefix', 'alias/')}{name}"
    kms = ctx.client("kms")
    kms.create_alias(AliasName=alias_name, TargetKeyId=inputs["targetKeyId"])
    target = kms.describe_key(KeyId=inputs["targetKeyId"])["KeyMetadata"]
    aliases = ctx.check("kms", "list_aliases", KeyId=target["KeyId"])["Aliases"]
    found = [a for a in aliases if a["AliasName"] == alias_name]
    require(found, f"alias {alias_name} is not listed for key {target['KeyId']}")
    return alias_name, {"name": alias_name, "arn": found[0]["AliasArn"], "targetKeyArn": target["Arn"]}
