"""IAM: roles and their inline policies. moto checks policy syntax (Version, Action vendor prefixes)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from infra.offline.emulators.base import EmulatorContext, NotEmulated, autoname, drop_none, emulates, require, tag_list


# forceDetachPolicies only acts on delete. The v7-deprecated inlinePolicies / managedPolicyArns are not mapped,
# so a role that sets them is recorded (with those names) rather than created without them.
@emulates("name", "namePrefix", "assumeRolePolicy", "description", "maxSessionDuration", "path",
          "permissionsBoundary", "forceDetachPolicies")
def role(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    role_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 64)
    iam = ctx.client("iam")
    iam.create_role(**drop_none(
        RoleName=role_name, AssumeRolePolicyDocument=inputs["assumeRolePolicy"], Path=inputs.get("path"),
        Description=inputs.get("description"), MaxSessionDuration=inputs.get("maxSessionDuration"),
        PermissionsBoundary=inputs.get("permissionsBoundary"), Tags=tag_list(inputs),
    ))
    got = ctx.check("iam", "get_role", RoleName=role_name)["Role"]
    trust = got["AssumeRolePolicyDocument"]
    trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
    require(trust == json.loads(inputs["assumeRolePolicy"]), f"role {role_name} trust policy reads back differently")
    return role_name, {"name": role_name, "arn": got["Arn"], "uniqueId": got["RoleId"],
                       "createDate": got["CreateDate"].isoformat()}


@emulates("role", "policy", "name", "namePrefix")
def role_policy(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    role_name = inputs["role"]
    policy_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 128)
    ctx.client("iam").put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=inputs["policy"])
    got = ctx.check("iam", "get_role_policy", RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    got = json.loads(unquote(got)) if isinstance(got, str) else got
    require(got == json.loads(inputs["policy"]), f"policy {policy_name} of {role_name} reads back differently")
    return f"{role_name}:{policy_name}", {"name": policy_name}


@emulates("role", "policyArn")
def role_policy_attachment(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    role_name, policy_arn = inputs["role"], inputs["policyArn"]
    if policy_arn.startswith("arn:aws:iam::aws:policy/"):
        raise NotEmulated(f"{policy_arn} is an AWS-managed policy; the sandbox's moto account loads none")
    ctx.client("iam").attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    attached = ctx.check("iam", "list_attached_role_policies", RoleName=role_name)["AttachedPolicies"]
    require(any(p["PolicyArn"] == policy_arn for p in attached), f"{policy_arn} is not attached to {role_name}")
    return f"{role_name}-{policy_arn.rsplit('/', 1)[-1]}", {}


@emulates("name", "namePrefix", "policy", "description", "path")
def policy(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    policy_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 128)
    created = ctx.client("iam").create_policy(**drop_none(
        PolicyName=policy_name, PolicyDocument=inputs["policy"], Description=inputs.get("description"),
        Path=inputs.get("path"), Tags=tag_list(inputs),
    ))["Policy"]
    got = ctx.check("iam", "get_policy", PolicyArn=created["Arn"])["Policy"]
    return got["Arn"], {"arn": got["Arn"], "name": policy_name, "policyId": got["PolicyId"]}
