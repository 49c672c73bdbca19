"""ECS: cluster, Fargate task definition and service (moto never starts tasks: runningCount stays 0)."""

from __future__ import annotations

import json
from typing import Any

from infra.offline.emulators.base import EmulatorContext, NotEmulated, drop_none, emulates, require, tag_list


@emulates("name", "settings", "configuration", "serviceConnectDefaults")
def cluster(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cluster_name = inputs.get("name") or name
    if inputs.get("configuration") or inputs.get("serviceConnectDefaults"):
        raise NotEmulated("cluster execute-command / service-connect configuration is not mapped")
    ctx.client("ecs").create_cluster(**drop_none(
        clusterName=cluster_name, tags=tag_list(inputs, "key", "value"),
        settings=[{"name": s["name"], "value": s["value"]} for s in inputs.get("settings") or []] or None))
    found = ctx.check("ecs", "describe_clusters", clusters=[cluster_name], include=["SETTINGS"])["clusters"]
    require(len(found) == 1 and found[0]["status"] == "ACTIVE", f"cluster {cluster_name} is not active")
    return found[0]["clusterArn"], {"name": cluster_name, "arn": found[0]["clusterArn"]}


# skipDestroy only acts on delete; trackLatest only changes how the provider reads the revision back.
@emulates("family", "containerDefinitions", "requiresCompatibilities", "networkMode", "cpu", "memory",
          "executionRoleArn", "taskRoleArn", "runtimePlatform", "volumes", "ephemeralStorage", "pidMode",
          "ipcMode", "skipDestroy", "trackLatest")
def task_definition(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    family = inputs["family"]
    platform = inputs.get("runtimePlatform")
    storage = inputs.get("ephemeralStorage")
    volumes = inputs.get("volumes") or []
    if any(set(v) - {"name"} for v in volumes):
        raise NotEmulated("only task-storage volumes (a name, no EFS/Docker/FSx configuration) are mapped")
    registered = ctx.client("ecs").register_task_definition(**drop_none(
        family=family, containerDefinitions=json.loads(inputs["containerDefinitions"]),
        requiresCompatibilities=inputs.get("requiresCompatibilities"), networkMode=inputs.get("networkMode"),
        cpu=inputs.get("cpu"), memory=inputs.get("memory"), executionRoleArn=inputs.get("executionRoleArn"),
        taskRoleArn=inputs.get("taskRoleArn"), pidMode=inputs.get("pidMode"), ipcMode=inputs.get("ipcMode"),
        runtimePlatform=drop_none(operatingSystemFamily=platform.get("operatingSystemFamily"),
                                  cpuArchitecture=platform.get("cpuArchitecture")) if platform else None,
        ephemeralStorage={"sizeInGiB": storage["sizeInGib"]} if storage else None,
        volumes=[{"name": v["name"]} for v in volumes] or None,
        tags=tag_list(inputs, "key", "value")))["taskDefinition"]
    arn = registered["taskDefinitionArn"]
    got = ctx.check("ecs", "describe_task_definition", taskDefinition=arn)["taskDefinition"]
    require([c["name"] for c in got["containerDefinitions"]]
            == [c["name"] for c in json.loads(inputs["containerDefinitions"])],
            f"task definition {arn} containers read back differently")
    require(sorted(v["name"] for v in got.get("volumes", [])) == sorted(v["name"] for v in volumes),
            f"task definition {arn} volumes read back differently")
    return family, {"arn": arn, "arnWithoutRevision": arn.rsplit(":", 1)[0], "revision": got["revision"]}


# forceNewDeployment / waitForSteadyState / forceDelete steer the provider's update and delete, not the service.
@emulates("name", "cluster", "taskDefinition", "desiredCount", "launchType", "networkConfiguration",
          "loadBalancers", "deploymentCircuitBreaker", "deploymentMaximumPercent",
          "deploymentMinimumHealthyPercent", "healthCheckGracePeriodSeconds", "enableExecuteCommand",
          "propagateTags", "enableEcsManagedTags", "platformVersion", "schedulingStrategy",
          "forceNewDeployment", "waitForSteadyState", "forceDelete")
def service(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    service_name = inputs.get("name") or name
    network = inputs.get("networkConfiguration")
    if inputs.get("launchType") == "FARGATE" and network and not network.get("securityGroups"):
        raise NotEmulated("moto 5.2.5 cannot create a Fargate service without security groups (KeyError)")
    deployment: dict[str, Any] = drop_none(
        maximumPercent=inputs.get("deploymentMaximumPercent"),
        minimumHealthyPercent=inputs.get("deploymentMinimumHealthyPercent"))
    breaker = inputs.get("deploymentCircuitBreaker")
    if breaker:
        deployment["deploymentCircuitBreaker"] = {"enable": bool(breaker["enable"]),
                                                  "rollback": bool(breaker["rollback"])}
    created = ctx.client("ecs").create_service(**drop_none(
        cluster=inputs.get("cluster"), serviceName=service_name, taskDefinition=inputs.get("taskDefinition"),
        desiredCount=inputs.get("desiredCount"), launchType=inputs.get("launchType"),
        platformVersion=inputs.get("platformVersion"), schedulingStrategy=inputs.get("schedulingStrategy"),
        networkConfiguration={"awsvpcConfiguration": drop_none(
            subnets=network.get("subnets"), securityGroups=network.get("securityGroups"),
            assignPublicIp="ENABLED" if network.get("assignPublicIp") else "DISABLED")} if network else None,
        loadBalancers=[drop_none(targetGroupArn=lb.get("targetGroupArn"), loadBalancerName=lb.get("elbName"),
                                 containerName=lb["containerName"], containerPort=lb["containerPort"])
                       for lb in inputs.get("loadBalancers") or []] or None,
        deploymentConfiguration=deployment or None,
        healthCheckGracePeriodSeconds=inputs.get("healthCheckGracePeriodSeconds"),
        enableExecuteCommand=inputs.get("enableExecuteCommand"), propagateTags=inputs.get("propagateTags"),
        enableECSManagedTags=inputs.get("enableEcsManagedTags"), tags=tag_list(inputs, "key", "value"),
    ))["service"]
    found = ctx.check("ecs", "describe_services", cluster=created["clusterArn"],
                      services=[created["serviceArn"]])["services"]
    require(len(found) == 1 and found[0]["desiredCount"] == inputs.get("desiredCount", found[0]["desiredCount"]),
            f"service {service_name} not found or with another desired count")
    require(found[0]["taskDefinition"] == inputs.get("taskDefinition"),
            f"service {service_name} runs {found[0]['taskDefinition']}")
    return created["serviceArn"], {"name": service_name, "arn": created["serviceArn"],
                                   "cluster": created["clusterArn"]}
