"""Elastic Load Balancing v2: the internal ALB, its target group and listener."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from infra.offline.emulators.base import EmulatorContext, NotEmulated, autoname, drop_none, emulates, require, tag_list

# Provider inputs that are load balancer attributes, with the attribute key AWS uses.
LB_ATTRIBUTES = {"dropInvalidHeaderFields": "routing.http.drop_invalid_header_fields.enabled",
                 "enableDeletionProtection": "deletion_protection.enabled",
                 "idleTimeout": "idle_timeout.timeout_seconds", "enableHttp2": "routing.http2.enabled",
                 "enableCrossZoneLoadBalancing": "load_balancing.cross_zone.enabled",
                 "desyncMitigationMode": "routing.http.desync_mitigation_mode",
                 "preserveHostHeader": "routing.http.preserve_host_header.enabled",
                 "enableWafFailOpen": "waf.fail_open.enabled", "clientKeepAlive": "client_keep_alive.seconds",
                 "xffHeaderProcessingMode": "routing.http.xff_header_processing.mode"}


def _attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _arn_suffix(arn: str) -> str:
    return arn.split(":", 5)[5].split("/", 1)[1]


@emulates("name", "namePrefix", "internal", "loadBalancerType", "securityGroups", "subnets", "ipAddressType",
          "accessLogs", *LB_ATTRIBUTES)
def load_balancer(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    lb_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 32)
    elb = ctx.client("elbv2")
    created = elb.create_load_balancer(**drop_none(
        Name=lb_name, Subnets=inputs.get("subnets"), SecurityGroups=inputs.get("securityGroups"),
        Scheme="internal" if inputs.get("internal") else "internet-facing",
        Type=inputs.get("loadBalancerType", "application"), IpAddressType=inputs.get("ipAddressType"),
        Tags=tag_list(inputs)))["LoadBalancers"][0]
    arn = created["LoadBalancerArn"]
    attributes = {boto: _attribute(inputs[key]) for key, boto in LB_ATTRIBUTES.items() if inputs.get(key) is not None}
    logs = inputs.get("accessLogs")
    if logs:
        attributes.update({"access_logs.s3.enabled": _attribute(logs.get("enabled", True)),
                           "access_logs.s3.bucket": logs["bucket"], "access_logs.s3.prefix": logs.get("prefix", "")})
    if attributes:
        elb.modify_load_balancer_attributes(LoadBalancerArn=arn,
                                            Attributes=[{"Key": k, "Value": v} for k, v in attributes.items()])
    got = ctx.check("elbv2", "describe_load_balancers", LoadBalancerArns=[arn])["LoadBalancers"][0]
    require(sorted(got.get("SecurityGroups", [])) == sorted(inputs.get("securityGroups") or []),
            f"load balancer {lb_name} security groups read back as {got.get('SecurityGroups')}")
    read = {a["Key"]: a["Value"] for a in
            ctx.check("elbv2", "describe_load_balancer_attributes", LoadBalancerArn=arn)["Attributes"]}
    require(all(read.get(k) == v for k, v in attributes.items()), f"load balancer {lb_name} attributes: {read}")
    return arn, {"name": lb_name, "arn": arn, "arnSuffix": _arn_suffix(arn), "dnsName": got["DNSName"],
                 "zoneId": got["CanonicalHostedZoneId"], "vpcId": got.get("VpcId")}


HEALTH_CHECK = {"path": "HealthCheckPath", "port": "HealthCheckPort", "protocol": "HealthCheckProtocol",
                "interval": "HealthCheckIntervalSeconds", "timeout": "HealthCheckTimeoutSeconds",
                "healthyThreshold": "HealthyThresholdCount", "unhealthyThreshold": "UnhealthyThresholdCount",
                "enabled": "HealthCheckEnabled"}


@emulates("name", "namePrefix", "port", "protocol", "protocolVersion", "targetType", "vpcId", "healthCheck",
          "ipAddressType", "deregistrationDelay")
def target_group(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    tg_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 32)
    health = inputs.get("healthCheck") or {}
    unmapped = set(health) - set(HEALTH_CHECK) - {"matcher"}
    if unmapped:
        raise NotEmulated(f"health check settings not mapped: {', '.join(sorted(unmapped))}")
    request = drop_none(Name=tg_name, Port=inputs.get("port"), Protocol=inputs.get("protocol"),
                        ProtocolVersion=inputs.get("protocolVersion"), TargetType=inputs.get("targetType"),
                        VpcId=inputs.get("vpcId"), IpAddressType=inputs.get("ipAddressType"),
                        Matcher={"HttpCode": health["matcher"]} if health.get("matcher") else None,
                        Tags=tag_list(inputs),
                        **{boto: (str(health[key]) if boto == "HealthCheckPort" else health[key])
                           for key, boto in HEALTH_CHECK.items() if health.get(key) is not None})
    elb = ctx.client("elbv2")
    arn = elb.create_target_group(**request)["TargetGroups"][0]["TargetGroupArn"]
    if inputs.get("deregistrationDelay") is not None:
        elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(inputs["deregistrationDelay"])}])
    got = ctx.check("elbv2", "describe_target_groups", TargetGroupArns=[arn])["TargetGroups"][0]
    require(got.get("VpcId") == inputs.get("vpcId") and got.get("Port") == inputs.get("port"),
            f"target group {tg_name} reads back in {got.get('VpcId')} port {got.get('Port')}")
    if health.get("path"):
        require(got.get("HealthCheckPath") == health["path"], f"target group {tg_name} health check path differs")
    return arn, {"name": tg_name, "arn": arn, "arnSuffix": _arn_suffix(arn),
                 "loadBalancerArns": got.get("LoadBalancerArns", [])}


def _action(action: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = drop_none(Type=action["type"], TargetGroupArn=action.get("targetGroupArn"),
                                    Order=action.get("order"))
    if action.get("fixedResponse"):
        fixed = action["fixedResponse"]
        out["FixedResponseConfig"] = drop_none(StatusCode=fixed["statusCode"], ContentType=fixed.get("contentType"),
                                               MessageBody=fixed.get("messageBody"))
    if action.get("redirect"):
        redirect = action["redirect"]
        out["RedirectConfig"] = drop_none(StatusCode=redirect["statusCode"], Protocol=redirect.get("protocol"),
                                          Port=redirect.get("port"), Host=redirect.get("host"),
                                          Path=redirect.get("path"), Query=redirect.get("query"))
    unmapped = set(action) - {"type", "targetGroupArn", "order", "fixedResponse", "redirect"}
    if unmapped:
        raise NotEmulated(f"listener action settings not mapped: {', '.join(sorted(unmapped))}")
    return out


def _certificate_exists(ctx: EmulatorContext, arn: str) -> bool:
    try:
        ctx.client("acm").describe_certificate(CertificateArn=arn)
    except ClientError:
        return False
    return True


@emulates("loadBalancerArn", "port", "protocol", "defaultActions", "certificateArn", "sslPolicy", "alpnPolicy")
def listener(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    certificate = inputs.get("certificateArn")
    if certificate and not _certificate_exists(ctx, certificate):
        raise NotEmulated(f"its certificate {certificate} is an ACM certificate outside the stack, which the "
                          "sandbox's account does not hold")
    created = ctx.client("elbv2").create_listener(**drop_none(
        LoadBalancerArn=inputs["loadBalancerArn"], Port=inputs.get("port"), Protocol=inputs.get("protocol"),
        DefaultActions=[_action(a) for a in inputs["defaultActions"]], SslPolicy=inputs.get("sslPolicy"),
        Certificates=[{"CertificateArn": inputs["certificateArn"]}] if inputs.get("certificateArn") else None,
        AlpnPolicy=[inputs["alpnPolicy"]] if inputs.get("alpnPolicy") else None, Tags=tag_list(inputs)))
    arn = created["Listeners"][0]["ListenerArn"]
    got = ctx.check("elbv2", "describe_listeners", ListenerArns=[arn])["Listeners"][0]
    require(got["LoadBalancerArn"] == inputs["loadBalancerArn"] and got.get("Port") == inputs.get("port"),
            f"listener {arn} reads back on {got['LoadBalancerArn']} port {got.get('Port')}")
    return arn, {"arn": arn}
