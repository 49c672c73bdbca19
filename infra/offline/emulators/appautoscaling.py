"""Application Auto Scaling: scalable targets (here SageMaker variants) and target-tracking policies."""

from __future__ import annotations

from typing import Any

from infra.offline.emulators.base import EmulatorContext, NotEmulated, autoname, drop_none, emulates, require, tags_of


@emulates("serviceNamespace", "resourceId", "scalableDimension", "minCapacity", "maxCapacity", "roleArn",
          "suspendedState")
def target(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = {k: inputs[k] for k in ("serviceNamespace", "resourceId", "scalableDimension")}
    suspended = inputs.get("suspendedState")
    created = ctx.client("application-autoscaling").register_scalable_target(**drop_none(
        ServiceNamespace=key["serviceNamespace"], ResourceId=key["resourceId"],
        ScalableDimension=key["scalableDimension"], MinCapacity=inputs["minCapacity"],
        MaxCapacity=inputs["maxCapacity"], RoleARN=inputs.get("roleArn"), Tags=tags_of(inputs) or None,
        SuspendedState=drop_none(
            DynamicScalingInSuspended=suspended.get("dynamicScalingInSuspended"),
            DynamicScalingOutSuspended=suspended.get("dynamicScalingOutSuspended"),
            ScheduledScalingSuspended=suspended.get("scheduledScalingSuspended")) if suspended else None))
    found = ctx.check("application-autoscaling", "describe_scalable_targets",
                      ServiceNamespace=key["serviceNamespace"], ResourceIds=[key["resourceId"]],
                      ScalableDimension=key["scalableDimension"])["ScalableTargets"]
    require(len(found) == 1, f"scalable target {key['resourceId']} not found")
    got = found[0]
    require((got["MinCapacity"], got["MaxCapacity"]) == (inputs["minCapacity"], inputs["maxCapacity"]),
            f"scalable target {key['resourceId']} reads back as {got['MinCapacity']}..{got['MaxCapacity']}")
    return key["resourceId"], {"arn": created.get("ScalableTargetARN"), "roleArn": got.get("RoleARN")}


def _target_tracking(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = drop_none(TargetValue=float(config["targetValue"]),
                                    ScaleInCooldown=config.get("scaleInCooldown"),
                                    ScaleOutCooldown=config.get("scaleOutCooldown"),
                                    DisableScaleIn=config.get("disableScaleIn"))
    predefined = config.get("predefinedMetricSpecification")
    if predefined:
        out["PredefinedMetricSpecification"] = drop_none(
            PredefinedMetricType=predefined["predefinedMetricType"], ResourceLabel=predefined.get("resourceLabel"))
    custom = config.get("customizedMetricSpecification")
    if custom:
        out["CustomizedMetricSpecification"] = drop_none(
            MetricName=custom.get("metricName"), Namespace=custom.get("namespace"),
            Statistic=custom.get("statistic"), Unit=custom.get("unit"),
            Dimensions=[{"Name": d["name"], "Value": d["value"]} for d in custom.get("dimensions") or []] or None)
        if custom.get("metrics"):
            raise NotEmulated("metric-math scaling metrics are not mapped")
    return out


@emulates("name", "policyType", "serviceNamespace", "resourceId", "scalableDimension",
          "targetTrackingScalingPolicyConfiguration")
def policy(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    policy_name = inputs.get("name") or autoname(name)
    policy_type = inputs.get("policyType") or "StepScaling"
    tracking = inputs.get("targetTrackingScalingPolicyConfiguration")
    if policy_type != "TargetTrackingScaling" or not tracking:
        raise NotEmulated(f"{policy_type} policies are not mapped")
    created = ctx.client("application-autoscaling").put_scaling_policy(
        PolicyName=policy_name, ServiceNamespace=inputs["serviceNamespace"], ResourceId=inputs["resourceId"],
        ScalableDimension=inputs["scalableDimension"], PolicyType=policy_type,
        TargetTrackingScalingPolicyConfiguration=_target_tracking(tracking))
    found = ctx.check("application-autoscaling", "describe_scaling_policies",
                      ServiceNamespace=inputs["serviceNamespace"], ResourceId=inputs["resourceId"],
                      PolicyNames=[policy_name])["ScalingPolicies"]
    require(len(found) == 1 and found[0]["PolicyType"] == policy_type, f"policy {policy_name} not found")
    return policy_name, {"name": policy_name, "arn": created["PolicyARN"],
                         "alarmArns": [a["AlarmARN"] for a in created.get("Alarms", [])]}
