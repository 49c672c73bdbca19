"""ECR: KMS-encrypted repositories with scan on push, and their lifecycle policies."""

from __future__ import annotations

import json
from typing import Any

from infra.offline.emulators.base import EmulatorContext, drop_none, emulates, require, tag_list


# forceDelete only acts on delete.
@emulates("name", "imageTagMutability", "imageScanningConfiguration", "encryptionConfigurations", "forceDelete")
def repository(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    repo = inputs.get("name") or name
    encryption = (inputs.get("encryptionConfigurations") or [None])[0]
    scanning = inputs.get("imageScanningConfiguration")
    ctx.client("ecr").create_repository(**drop_none(
        repositoryName=repo, imageTagMutability=inputs.get("imageTagMutability"),
        imageScanningConfiguration={"scanOnPush": bool(scanning.get("scanOnPush"))} if scanning else None,
        encryptionConfiguration=drop_none(encryptionType=encryption["encryptionType"],
                                          kmsKey=encryption.get("kmsKey")) if encryption else None,
        tags=tag_list(inputs)))
    found = ctx.check("ecr", "describe_repositories", repositoryNames=[repo])["repositories"]
    require(len(found) == 1, f"repository {repo} not found by describe_repositories")
    got = found[0]
    if encryption:
        require(got["encryptionConfiguration"].get("encryptionType") == encryption["encryptionType"],
                f"repository {repo} encryption reads back as {got['encryptionConfiguration']}")
    return repo, {"name": repo, "arn": got["repositoryArn"], "registryId": got["registryId"],
                  "repositoryUrl": got["repositoryUri"]}


@emulates("repository", "policy")
def lifecycle_policy(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    repo = inputs["repository"]
    put = ctx.client("ecr").put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=inputs["policy"])
    got = ctx.check("ecr", "get_lifecycle_policy", repositoryName=repo)
    require(json.loads(got["lifecyclePolicyText"]) == json.loads(inputs["policy"]),
            f"lifecycle policy of {repo} reads back differently")
    return repo, {"registryId": put["registryId"]}


@emulates("repository", "policy")
def repository_policy(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    repo = inputs["repository"]
    put = ctx.client("ecr").set_repository_policy(repositoryName=repo, policyText=inputs["policy"])
    got = ctx.check("ecr", "get_repository_policy", repositoryName=repo)
    require(json.loads(got["policyText"]) == json.loads(inputs["policy"]),
            f"repository policy of {repo} reads back differently")
    return repo, {"registryId": put["registryId"]}
