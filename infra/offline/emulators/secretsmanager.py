"""Secrets Manager: secrets (KMS-encrypted) and their values."""

from __future__ import annotations

import base64
from typing import Any

from infra.offline.emulators.base import EmulatorContext, autoname, drop_none, emulates, require, tag_list


# recoveryWindowInDays and forceOverwriteReplicaSecret only act on delete / replication changes.
@emulates("name", "namePrefix", "description", "kmsKeyId", "policy", "recoveryWindowInDays",
          "forceOverwriteReplicaSecret")
def secret(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    secret_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 512)
    client = ctx.client("secretsmanager")
    arn = client.create_secret(**drop_none(
        Name=secret_name, Description=inputs.get("description"), KmsKeyId=inputs.get("kmsKeyId"),
        Tags=tag_list(inputs)))["ARN"]
    if inputs.get("policy"):
        client.put_resource_policy(SecretId=arn, ResourcePolicy=inputs["policy"])
    got = ctx.check("secretsmanager", "describe_secret", SecretId=arn)
    require(got["Name"] == secret_name and got.get("KmsKeyId") == inputs.get("kmsKeyId"),
            f"secret {secret_name} reads back as {got['Name']} with key {got.get('KmsKeyId')}")
    return arn, {"arn": arn, "name": secret_name}


@emulates("secretId", "secretString", "secretBinary", "versionStages")
def secret_version(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    request = drop_none(SecretId=inputs["secretId"], SecretString=inputs.get("secretString"),
                        SecretBinary=base64.b64decode(inputs["secretBinary"]) if inputs.get("secretBinary") else None,
                        VersionStages=inputs.get("versionStages"))
    put = ctx.client("secretsmanager").put_secret_value(**request)
    got = ctx.check("secretsmanager", "get_secret_value", SecretId=inputs["secretId"], VersionId=put["VersionId"])
    if "SecretString" in request:
        require(got.get("SecretString") == request["SecretString"],
                f"{inputs['secretId']} value reads back differently")
    return f"{put['ARN']}|{put['VersionId']}", {"arn": put["ARN"], "versionId": put["VersionId"],
                                                "versionStages": got.get("VersionStages", [])}
