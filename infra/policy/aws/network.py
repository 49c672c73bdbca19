"""VPC, security group and load balancer controls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.policy.helpers import as_list, of_type, referenced
from infra.policy.registry import OWN, Report, StackReport, resource_control, stack_control

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SUBNET = "aws:ec2/subnet:Subnet"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
ANYWHERE = ("0.0.0.0/0", "::/0")
# TLS 1.2+ policies (Elastic Load Balancing user guide, "Security policies for your Application Load Balancer").
TLS12_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-FS-1-2-2019-08", "ELBSecurityPolicy-FS-1-2-Res-2019-08", "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
)


def _rules(args: ResourceValidationArgs) -> list[tuple[str, Mapping[str, Any], list[str]]]:
    """(direction, rule, CIDRs) for inline rules of a group and for standalone rule resources."""
    props = args.props
    if args.resource_type in (SECURITY_GROUP, DEFAULT_SG):
        return [(direction, rule, [*as_list(rule.get("cidrBlocks")), *as_list(rule.get("ipv6CidrBlocks"))])
                for direction in ("ingress", "egress") for rule in as_list(props.get(direction))]
    if args.resource_type == LEGACY_RULE:
        return [(str(props.get("type")), props,
                 [*as_list(props.get("cidrBlocks")), *as_list(props.get("ipv6CidrBlocks"))])]
    direction = "ingress" if args.resource_type == INGRESS else "egress"
    return [(direction, props, [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if c])]


def _protocol(rule: Mapping[str, Any]) -> str:
    return str(rule.get("ipProtocol", rule.get("protocol", "-1"))).lower()


def _is_https_only(rule: Mapping[str, Any]) -> bool:
    return _protocol(rule) in ("tcp", "6") and rule.get("fromPort") == 443 and rule.get("toPort") == 443


RULE_TYPES = (SECURITY_GROUP, DEFAULT_SG, INGRESS, EGRESS, LEGACY_RULE)


@resource_control("aws-ec2-default-sg-closed", "The VPC's default security group allows no traffic", DEFAULT_SG,
                  service="VPC", refs=("FSBP EC2.2", "CIS 5.4"))
def default_sg_closed(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("ingress") or args.props.get("egress"):
        report("the default security group has rules")


@stack_control("aws-ec2-default-sg-managed", "Every VPC's default security group is taken over and emptied",
               service="VPC", refs=("FSBP EC2.2",))
def default_sg_managed(args: StackValidationArgs, report: StackReport) -> None:
    managed = referenced(of_type(args, DEFAULT_SG), "vpcId")
    for vpc in of_type(args, VPC):
        if vpc.urn not in managed:
            report(f"the default security group of {vpc.name} keeps AWS's allow-all rules", vpc.urn)


@stack_control("aws-ec2-flow-logs", "Every VPC logs its traffic", service="VPC", refs=("FSBP EC2.6", "CIS 3.7"),
               loosened_by=("networking.flow_logs",))
def flow_logs(args: StackValidationArgs, report: StackReport) -> None:
    logged = referenced(of_type(args, FLOW_LOG), "vpcId")
    for vpc in of_type(args, VPC):
        if vpc.urn not in logged:
            report(f"VPC {vpc.name} has no flow log", vpc.urn)


@resource_control("aws-ec2-no-public-ingress", "No security group admits traffic from the internet", *RULE_TYPES,
                  service="VPC", refs=("FSBP EC2.18", "FSBP EC2.19", "CIS 5.2", "CIS 5.3"))
def no_public_ingress(args: ResourceValidationArgs, report: Report) -> None:
    for direction, _rule, cidrs in _rules(args):
        if direction == "ingress" and any(c in ANYWHERE for c in cidrs):
            report("a rule admits traffic from 0.0.0.0/0")


@resource_control("aws-ec2-least-egress", "No security group allows egress to the internet except HTTPS",
                  *RULE_TYPES, service="VPC", source=OWN + ": AWS Well-Architected security pillar SEC05-BP02 "
                  "(control traffic flow within your network layers)",
                  loosened_by=("networking.internet_https_egress",))
def least_egress(args: ResourceValidationArgs, report: Report) -> None:
    for direction, rule, cidrs in _rules(args):
        if direction == "egress" and any(c in ANYWHERE for c in cidrs) and not _is_https_only(rule):
            report(f"a rule allows {_protocol(rule)} egress to the internet")


@resource_control("aws-ec2-rule-descriptions", "Every security group rule says what it is for", *RULE_TYPES,
                  service="VPC", source=OWN + ": Amazon VPC user guide, 'Security group rules' (description)")
def rule_descriptions(args: ResourceValidationArgs, report: Report) -> None:
    missing = sum(1 for _d, rule, _c in _rules(args) if not rule.get("description"))
    if missing:
        report(f"{missing} rule(s) without a description")


@resource_control("aws-ec2-subnet-no-public-ip", "Subnets do not assign public IP addresses", SUBNET,
                  service="VPC", refs=("FSBP EC2.15",))
def subnet_no_public_ip(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("mapPublicIpOnLaunch"):
        report("instances launched here get a public IP address")


@stack_control("aws-ec2-s3-gateway-endpoint", "Every VPC reaches S3 through a gateway endpoint", service="VPC",
               source=OWN + ": Amazon VPC user guide, 'Gateway endpoints for Amazon S3'")
def s3_gateway_endpoint(args: StackValidationArgs, report: StackReport) -> None:
    gateways = [e for e in of_type(args, ENDPOINT) if str(e.props.get("serviceName", "")).endswith(".s3")
                and e.props.get("vpcEndpointType", "Gateway") == "Gateway"]
    covered = referenced(gateways, "vpcId")
    for vpc in of_type(args, VPC):
        if vpc.urn not in covered:
            report(f"VPC {vpc.name} sends S3 traffic through NAT or the internet", vpc.urn)


@resource_control("aws-elb-https-redirect", "HTTP listeners only redirect to HTTPS", LISTENER, service="ELB",
                  refs=("FSBP ELB.1",), loosened_by=("tracking.require_https",))
def https_redirect(args: ResourceValidationArgs, report: Report) -> None:
    if str(args.props.get("protocol", "")).upper() != "HTTP":
        return
    for action in as_list(args.props.get("defaultActions")):
        redirect = (action or {}).get("redirect") or {}
        if (action or {}).get("type") != "redirect" or str(redirect.get("protocol", "")).upper() != "HTTPS":
            report(f"port {args.props.get('port')} serves plain HTTP instead of redirecting to HTTPS")
            return


@resource_control("aws-elb-tls-policy", "HTTPS listeners use a TLS 1.2+ security policy", LISTENER, service="ELB",
                  refs=("FSBP ELB.17",))
def tls_policy(args: ResourceValidationArgs, report: Report) -> None:
    if str(args.props.get("protocol", "")).upper() in ("HTTPS", "TLS") and \
            args.props.get("sslPolicy") not in TLS12_POLICIES:
        report(f"security policy {args.props.get('sslPolicy')} allows TLS older than 1.2")


@resource_control("aws-elb-drop-invalid-headers", "Application load balancers drop invalid HTTP headers",
                  LOAD_BALANCER, service="ELB", refs=("FSBP ELB.4",))
def drop_invalid_headers(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("loadBalancerType", "application") == "application" and \
            args.props.get("dropInvalidHeaderFields") is not True:
        report("invalid HTTP headers are passed to the targets")


@resource_control("aws-elb-access-logs", "Load balancers write access logs", LOAD_BALANCER, service="ELB",
                  refs=("FSBP ELB.5",), loosened_by=("artifact_store.access_logs",))
def access_logs(args: ResourceValidationArgs, report: Report) -> None:
    logs = args.props.get("accessLogs") or {}
    if not logs.get("enabled") or not logs.get("bucket"):
        report("no access logs")


@resource_control("aws-elb-internal", "Load balancers are internal", LOAD_BALANCER, service="ELB",
                  source=OWN + ": the platform's services are private (no internet-facing entry point)")
def internal(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("internal") is not True:
        report("the load balancer faces the internet")
