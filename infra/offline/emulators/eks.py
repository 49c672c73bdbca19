"""EKS: clusters and managed node groups (moto 5.2.5 lacks add-ons, access entries and Pod Identity).

moto's CreateCluster does not take `accessConfig`, `upgradePolicy` or `deletionProtection`; this emulator
checks those against the values the EKS API accepts (so a typo fails here as it would in AWS) and says so in
the resource's check list, rather than dropping them silently. EKS creates a *cluster security group* in the
cluster's VPC (rules such as "MySQL from the cluster" reference it); moto does not, so the emulator creates it
in moto's EC2 the way EKS names it.
"""

from __future__ import annotations

from typing import Any

from infra.offline.emulators.base import EmulatorContext, VerificationError, drop_none, emulates, require, tags_of

AUTHENTICATION_MODES = {"API", "API_AND_CONFIG_MAP", "CONFIG_MAP"}
SUPPORT_TYPES = {"STANDARD", "EXTENDED"}
LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}


def _checked_locally(ctx: EmulatorContext, inputs: dict[str, Any]) -> None:
    access = inputs.get("accessConfig") or {}
    mode = access.get("authenticationMode")
    if mode is not None and mode not in AUTHENTICATION_MODES:
        raise VerificationError(f"accessConfig.authenticationMode {mode!r} is not one of "
                                f"{sorted(AUTHENTICATION_MODES)}")
    support = (inputs.get("upgradePolicy") or {}).get("supportType")
    if support is not None and support not in SUPPORT_TYPES:
        raise VerificationError(f"upgradePolicy.supportType {support!r} is not one of {sorted(SUPPORT_TYPES)}")
    if access or inputs.get("upgradePolicy") or "deletionProtection" in inputs:
        ctx.checks.append("accessConfig/upgradePolicy/deletionProtection: values checked by the emulator "
                          "(moto does not store them)")


@emulates("name", "version", "roleArn", "vpcConfig", "encryptionConfig", "enabledClusterLogTypes",
          "accessConfig", "upgradePolicy", "deletionProtection", "kubernetesNetworkConfig")
def cluster(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cluster_name = inputs.get("name") or name
    vpc = inputs.get("vpcConfig") or {}
    logs = list(inputs.get("enabledClusterLogTypes") or [])
    unknown = sorted(set(logs) - LOG_TYPES)
    require(not unknown, f"unknown control-plane log types {unknown}")
    _checked_locally(ctx, inputs)
    encryption = inputs.get("encryptionConfig")
    ctx.client("eks").create_cluster(**drop_none(
        name=cluster_name, version=inputs.get("version"), roleArn=inputs["roleArn"],
        resourcesVpcConfig=drop_none(
            subnetIds=vpc.get("subnetIds"), securityGroupIds=vpc.get("securityGroupIds"),
            endpointPublicAccess=vpc.get("endpointPublicAccess"),
            endpointPrivateAccess=vpc.get("endpointPrivateAccess"),
            publicAccessCidrs=vpc.get("publicAccessCidrs")),
        logging={"clusterLogging": [{"types": logs, "enabled": True}]} if logs else None,
        encryptionConfig=[{"resources": encryption["resources"],
                           "provider": {"keyArn": encryption["provider"]["keyArn"]}}] if encryption else None,
        kubernetesNetworkConfig=inputs.get("kubernetesNetworkConfig"),
        tags=tags_of(inputs) or None,
    ))
    got = ctx.check("eks", "describe_cluster", name=cluster_name)["cluster"]
    require(got.get("version") == inputs.get("version", got.get("version")),
            f"cluster {cluster_name} version reads back as {got.get('version')}")
    if encryption:
        keys = [c.get("provider", {}).get("keyArn") for c in got.get("encryptionConfig", [])]
        require(encryption["provider"]["keyArn"] in keys, f"cluster {cluster_name} encryption reads back as {keys}")
    enabled = {t for entry in got.get("logging", {}).get("clusterLogging", []) if entry.get("enabled")
               for t in entry.get("types", [])}
    require(set(logs) <= enabled, f"cluster {cluster_name} logging reads back as {sorted(enabled)}")
    got_vpc = got.get("resourcesVpcConfig", {})
    cluster_sg = got_vpc.get("clusterSecurityGroupId") or _cluster_security_group(ctx, cluster_name, vpc)
    return cluster_name, {
        "arn": got["arn"], "name": cluster_name, "endpoint": got.get("endpoint"), "status": got.get("status"),
        "certificateAuthority": {"data": got.get("certificateAuthority", {}).get("data")},
        "identities": [{"oidcs": [{"issuer": got.get("identity", {}).get("oidc", {}).get("issuer")}]}],
        "vpcConfig": {**vpc, "clusterSecurityGroupId": cluster_sg, "vpcId": got_vpc.get("vpcId")},
        "platformVersion": got.get("platformVersion"),
    }


def _cluster_security_group(ctx: EmulatorContext, cluster_name: str, vpc: dict[str, Any]) -> str:
    ec2 = ctx.client("ec2")
    subnet = ec2.describe_subnets(SubnetIds=vpc["subnetIds"][:1])["Subnets"][0]
    group = ec2.create_security_group(
        GroupName=f"eks-cluster-sg-{cluster_name}", VpcId=subnet["VpcId"],
        Description="EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, "
                    "as well as any managed workloads.")["GroupId"]
    ctx.check("ec2", "describe_security_groups", GroupIds=[group])
    return str(group)


@emulates("clusterName", "nodeGroupName", "nodeRoleArn", "subnetIds", "version", "capacityType", "amiType",
          "instanceTypes", "diskSize", "scalingConfig", "updateConfig", "labels", "taints", "releaseVersion")
def node_group(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cluster_name, group = inputs["clusterName"], inputs.get("nodeGroupName") or name
    taints = [{"key": t["key"], "value": t.get("value"), "effect": t["effect"]} for t in inputs.get("taints") or []]
    client = ctx.client("eks")
    client.create_nodegroup(**drop_none(
        clusterName=cluster_name, nodegroupName=group, nodeRole=inputs["nodeRoleArn"], subnets=inputs["subnetIds"],
        version=inputs.get("version"), capacityType=inputs.get("capacityType"), amiType=inputs.get("amiType"),
        instanceTypes=inputs.get("instanceTypes"), diskSize=inputs.get("diskSize"),
        scalingConfig=inputs.get("scalingConfig"), labels=inputs.get("labels"), taints=taints or None,
        releaseVersion=inputs.get("releaseVersion"), tags=tags_of(inputs) or None,
    ))
    if inputs.get("updateConfig"):
        client.update_nodegroup_config(clusterName=cluster_name, nodegroupName=group,
                                       updateConfig=inputs["updateConfig"])
    got = ctx.check("eks", "describe_nodegroup", clusterName=cluster_name, nodegroupName=group)["nodegroup"]
    for key, boto in (("capacityType", "capacityType"), ("amiType", "amiType"), ("scalingConfig", "scalingConfig")):
        if key in inputs:
            require(got.get(boto) == inputs[key], f"node group {group} {boto} reads back as {got.get(boto)}")
    if taints:
        require(sorted((t["key"], t["effect"]) for t in got.get("taints", [])) ==
                sorted((t["key"], t["effect"]) for t in taints), f"node group {group} taints read back differently")
    resources = [got["resources"]] if got.get("resources") else []
    return f"{cluster_name}:{group}", {"arn": got["nodegroupArn"], "nodeGroupName": group,
                                       "status": got.get("status"), "resources": resources}
