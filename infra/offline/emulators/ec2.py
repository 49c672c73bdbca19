"""EC2 networking: VPC, subnets, routing, NAT, endpoints, security groups and their rules, flow logs."""

from __future__ import annotations

import zlib
from typing import Any

from infra.offline.emulators.base import EmulatorContext, autoname, drop_none, ec2_tag_spec, emulates, require

Rule = tuple[str, int | None, int | None, str, str]


def _one(items: list[dict[str, Any]], what: str) -> dict[str, Any]:
    require(len(items) == 1, f"{what} not found by its describe call")
    return items[0]


@emulates("cidrBlock", "enableDnsHostnames", "enableDnsSupport", "instanceTenancy")
def vpc(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ec2 = ctx.client("ec2")
    created = ec2.create_vpc(**drop_none(
        CidrBlock=inputs["cidrBlock"], InstanceTenancy=inputs.get("instanceTenancy"),
        TagSpecifications=ec2_tag_spec("vpc", inputs),
    ))["Vpc"]
    vpc_id = created["VpcId"]
    attributes = {"enableDnsSupport": inputs.get("enableDnsSupport", True),
                  "enableDnsHostnames": inputs.get("enableDnsHostnames", False)}
    for attribute, value in attributes.items():
        ec2.modify_vpc_attribute(VpcId=vpc_id, **{attribute[0].upper() + attribute[1:]: {"Value": bool(value)}})
    got = _one(ctx.check("ec2", "describe_vpcs", VpcIds=[vpc_id])["Vpcs"], f"VPC {vpc_id}")
    require(got["CidrBlock"] == inputs["cidrBlock"], f"VPC {vpc_id} has CIDR {got['CidrBlock']}")
    for attribute, value in attributes.items():
        read = ctx.check("ec2", "describe_vpc_attribute", VpcId=vpc_id, Attribute=attribute)
        actual = read[attribute[0].upper() + attribute[1:]]["Value"]
        require(actual == bool(value), f"VPC {vpc_id} {attribute} reads back as {actual}")
    default_sg = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    main_rt = ec2.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    acls = ec2.describe_network_acls(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default", "Values": ["true"]}])["NetworkAcls"]
    return vpc_id, {
        "arn": ctx.arn("ec2", f"vpc/{vpc_id}"), "ownerId": got.get("OwnerId", ctx.account),
        "dhcpOptionsId": got.get("DhcpOptionsId"), "instanceTenancy": got.get("InstanceTenancy"),
        "defaultSecurityGroupId": default_sg[0]["GroupId"] if default_sg else None,
        "mainRouteTableId": main_rt[0]["RouteTableId"] if main_rt else None,
        "defaultRouteTableId": main_rt[0]["RouteTableId"] if main_rt else None,
        "defaultNetworkAclId": acls[0]["NetworkAclId"] if acls else None,
        **attributes,
    }


def _rule_permission(rule: dict[str, Any], own_group: str) -> dict[str, Any]:
    """A classic `ingress`/`egress` block of aws.ec2.SecurityGroup as an EC2 IpPermission."""
    protocol = str(rule.get("protocol", "-1"))
    protocol = "-1" if protocol in ("all", "-1") else protocol
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        permission.update(FromPort=rule["fromPort"], ToPort=rule["toPort"])
    description = {"Description": rule["description"]} if rule.get("description") else {}
    if rule.get("cidrBlocks"):
        permission["IpRanges"] = [{"CidrIp": c, **description} for c in rule["cidrBlocks"]]
    if rule.get("ipv6CidrBlocks"):
        permission["Ipv6Ranges"] = [{"CidrIpv6": c, **description} for c in rule["ipv6CidrBlocks"]]
    if rule.get("prefixListIds"):
        permission["PrefixListIds"] = [{"PrefixListId": p, **description} for p in rule["prefixListIds"]]
    groups = list(rule.get("securityGroups") or []) + ([own_group] if rule.get("self") else [])
    if groups:
        permission["UserIdGroupPairs"] = [{"GroupId": g, **description} for g in groups]
    return permission


def _flatten(permissions: list[dict[str, Any]]) -> set[Rule]:
    """Permissions as comparable (protocol, from, to, kind, value) tuples."""
    out: set[Rule] = set()
    for p in permissions:
        proto = str(p["IpProtocol"])
        ports = (None, None) if proto == "-1" else (p.get("FromPort"), p.get("ToPort"))
        out.update((proto, *ports, "cidr", r["CidrIp"]) for r in p.get("IpRanges", []))
        out.update((proto, *ports, "cidr6", r["CidrIpv6"]) for r in p.get("Ipv6Ranges", []))
        out.update((proto, *ports, "prefix", r["PrefixListId"]) for r in p.get("PrefixListIds", []))
        out.update((proto, *ports, "group", r["GroupId"]) for r in p.get("UserIdGroupPairs", []))
    return out


def _replace_rules(ctx: EmulatorContext, group_id: str, ingress: list[dict[str, Any]],
                   egress: list[dict[str, Any]]) -> None:
    """Make the group hold exactly the declared rules, as the provider does (it drops AWS's defaults)."""
    ec2 = ctx.client("ec2")
    current = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]

    def strip(perms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in p.items() if v not in ([], None)} for p in perms]

    if current["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=strip(current["IpPermissions"]))
    if current["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=strip(current["IpPermissionsEgress"]))
    wanted_in = [_rule_permission(r, group_id) for r in ingress]
    wanted_out = [_rule_permission(r, group_id) for r in egress]
    if wanted_in:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=wanted_in)
    if wanted_out:
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=wanted_out)
    got = _one(ctx.check("ec2", "describe_security_groups", GroupIds=[group_id])["SecurityGroups"],
               f"security group {group_id}")
    require(_flatten(got["IpPermissions"]) == _flatten(wanted_in), f"ingress of {group_id} reads back differently")
    require(_flatten(got["IpPermissionsEgress"]) == _flatten(wanted_out),
            f"egress of {group_id} reads back differently")


# revokeRulesOnDelete only acts on delete.
@emulates("name", "namePrefix", "description", "vpcId", "ingress", "egress", "revokeRulesOnDelete")
def security_group(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group_name = inputs.get("name") or autoname(inputs.get("namePrefix") or name)
    description = inputs.get("description") or "Managed by Pulumi"
    created = ctx.client("ec2").create_security_group(**drop_none(
        GroupName=group_name, Description=description, VpcId=inputs.get("vpcId"),
        TagSpecifications=ec2_tag_spec("security-group", inputs),
    ))
    group_id = created["GroupId"]
    _replace_rules(ctx, group_id, inputs.get("ingress") or [], inputs.get("egress") or [])
    return group_id, {"name": group_name, "description": description, "ownerId": ctx.account,
                      "arn": created.get("SecurityGroupArn") or ctx.arn("ec2", f"security-group/{group_id}")}


@emulates("vpcId", "ingress", "egress", "revokeRulesOnDelete")
def default_security_group(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Adopt the VPC's default group and leave it with only the declared rules (none: nothing may use it)."""
    groups = ctx.client("ec2").describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [inputs["vpcId"]]}, {"Name": "group-name", "Values": ["default"]}])
    group = _one(groups["SecurityGroups"], f"default security group of {inputs['vpcId']}")
    group_id = group["GroupId"]
    tags = ec2_tag_spec("security-group", inputs)
    if tags:
        ctx.client("ec2").create_tags(Resources=[group_id], Tags=tags[0]["Tags"])
    _replace_rules(ctx, group_id, inputs.get("ingress") or [], inputs.get("egress") or [])
    return group_id, {"name": "default", "description": group["Description"], "ownerId": ctx.account,
                      "arn": ctx.arn("ec2", f"security-group/{group_id}")}


def _sg_rule(ctx: EmulatorContext, inputs: dict[str, Any], egress: bool) -> tuple[str, dict[str, Any]]:
    """aws.vpc.SecurityGroupIngressRule / EgressRule: one rule, with its own id."""
    protocol = str(inputs["ipProtocol"])
    protocol = "-1" if protocol in ("all", "-1") else protocol
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        permission.update(FromPort=inputs.get("fromPort"), ToPort=inputs.get("toPort"))
    description = {"Description": inputs["description"]} if inputs.get("description") else {}
    if inputs.get("cidrIpv4"):
        permission["IpRanges"] = [{"CidrIp": inputs["cidrIpv4"], **description}]
    if inputs.get("cidrIpv6"):
        permission["Ipv6Ranges"] = [{"CidrIpv6": inputs["cidrIpv6"], **description}]
    if inputs.get("prefixListId"):
        permission["PrefixListIds"] = [{"PrefixListId": inputs["prefixListId"], **description}]
    if inputs.get("referencedSecurityGroupId"):
        permission["UserIdGroupPairs"] = [{"GroupId": inputs["referencedSecurityGroupId"], **description}]
    ec2 = ctx.client("ec2")
    request = drop_none(GroupId=inputs["securityGroupId"], IpPermissions=[permission],
                        TagSpecifications=ec2_tag_spec("security-group-rule", inputs))
    created = (ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress)(**request)
    rules = created.get("SecurityGroupRules") or []
    require(len(rules) == 1, f"authorizing one rule on {inputs['securityGroupId']} returned {len(rules)}")
    rule_id = rules[0]["SecurityGroupRuleId"]
    got = _one(ctx.check("ec2", "describe_security_group_rules", SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"],
               f"security group rule {rule_id}")
    require(got["GroupId"] == inputs["securityGroupId"] and got["IsEgress"] == egress,
            f"rule {rule_id} reads back on {got['GroupId']}")
    return rule_id, {"securityGroupRuleId": rule_id,
                     "arn": ctx.arn("ec2", f"security-group-rule/{rule_id}")}


RULE_INPUTS = ("securityGroupId", "ipProtocol", "fromPort", "toPort", "cidrIpv4", "cidrIpv6", "prefixListId",
               "referencedSecurityGroupId", "description")


@emulates(*RULE_INPUTS)
def security_group_ingress_rule(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return _sg_rule(ctx, inputs, egress=False)


@emulates(*RULE_INPUTS)
def security_group_egress_rule(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return _sg_rule(ctx, inputs, egress=True)


@emulates("vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId", "mapPublicIpOnLaunch")
def subnet(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ec2 = ctx.client("ec2")
    created = ec2.create_subnet(**drop_none(
        VpcId=inputs["vpcId"], CidrBlock=inputs["cidrBlock"], AvailabilityZone=inputs.get("availabilityZone"),
        AvailabilityZoneId=inputs.get("availabilityZoneId"), TagSpecifications=ec2_tag_spec("subnet", inputs),
    ))["Subnet"]
    subnet_id = created["SubnetId"]
    if inputs.get("mapPublicIpOnLaunch"):
        ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    got = _one(ctx.check("ec2", "describe_subnets", SubnetIds=[subnet_id])["Subnets"], f"subnet {subnet_id}")
    require(got["VpcId"] == inputs["vpcId"] and got["CidrBlock"] == inputs["cidrBlock"],
            f"subnet {subnet_id} reads back in {got['VpcId']} {got['CidrBlock']}")
    require(got.get("MapPublicIpOnLaunch", False) == bool(inputs.get("mapPublicIpOnLaunch")),
            f"subnet {subnet_id} MapPublicIpOnLaunch reads back as {got.get('MapPublicIpOnLaunch')}")
    return subnet_id, {"arn": got.get("SubnetArn") or ctx.arn("ec2", f"subnet/{subnet_id}"),
                       "availabilityZone": got["AvailabilityZone"], "availabilityZoneId": got.get("AvailabilityZoneId"),
                       "ownerId": got.get("OwnerId", ctx.account)}


@emulates("vpcId")
def route_table(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = ctx.client("ec2").create_route_table(**drop_none(
        VpcId=inputs["vpcId"], TagSpecifications=ec2_tag_spec("route-table", inputs)))["RouteTable"]
    table_id = created["RouteTableId"]
    got = _one(ctx.check("ec2", "describe_route_tables", RouteTableIds=[table_id])["RouteTables"],
               f"route table {table_id}")
    require(got["VpcId"] == inputs["vpcId"], f"route table {table_id} reads back in {got['VpcId']}")
    return table_id, {"arn": ctx.arn("ec2", f"route-table/{table_id}"), "ownerId": ctx.account}


@emulates("routeTableId", "subnetId", "gatewayId")
def route_table_association(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    table_id = inputs["routeTableId"]
    association = ctx.client("ec2").associate_route_table(**drop_none(
        RouteTableId=table_id, SubnetId=inputs.get("subnetId"), GatewayId=inputs.get("gatewayId")))["AssociationId"]
    got = _one(ctx.check("ec2", "describe_route_tables", RouteTableIds=[table_id])["RouteTables"],
               f"route table {table_id}")
    require(any(a.get("RouteTableAssociationId") == association for a in got.get("Associations", [])),
            f"association {association} is not on {table_id}")
    return association, {}


ROUTE_TARGETS = {"gatewayId": "GatewayId", "natGatewayId": "NatGatewayId", "vpcEndpointId": "VpcEndpointId",
                 "transitGatewayId": "TransitGatewayId", "networkInterfaceId": "NetworkInterfaceId",
                 "vpcPeeringConnectionId": "VpcPeeringConnectionId",
                 "egressOnlyGatewayId": "EgressOnlyInternetGatewayId",
                 "carrierGatewayId": "CarrierGatewayId", "localGatewayId": "LocalGatewayId"}


@emulates("routeTableId", "destinationCidrBlock", "destinationIpv6CidrBlock", "destinationPrefixListId",
          *ROUTE_TARGETS)
def route(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    table_id = inputs["routeTableId"]
    destination = {k: inputs[k] for k in ("destinationCidrBlock", "destinationIpv6CidrBlock",
                                          "destinationPrefixListId") if inputs.get(k)}
    targets = {boto: inputs[key] for key, boto in ROUTE_TARGETS.items() if inputs.get(key)}
    ctx.client("ec2").create_route(RouteTableId=table_id, **targets,
                                   **{k[0].upper() + k[1:]: v for k, v in destination.items()})
    got = _one(ctx.check("ec2", "describe_route_tables", RouteTableIds=[table_id])["RouteTables"],
               f"route table {table_id}")
    key, value = next(iter(destination.items()))
    boto_key = key[0].upper() + key[1:]
    found = [r for r in got["Routes"] if r.get(boto_key) == value]
    require(found and all(found[0].get(k) == v for k, v in targets.items()),
            f"route {value} in {table_id} reads back as {found}")
    # The provider's id: the table plus a hash of the destination.
    return f"r-{table_id}{zlib.crc32(value.encode())}", {"state": found[0].get("State"), "origin": "CreateRoute"}


@emulates("vpcId")
def internet_gateway(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ec2 = ctx.client("ec2")
    gateway_id = ec2.create_internet_gateway(**drop_none(
        TagSpecifications=ec2_tag_spec("internet-gateway", inputs)))["InternetGateway"]["InternetGatewayId"]
    if inputs.get("vpcId"):
        ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=inputs["vpcId"])
    got = _one(ctx.check("ec2", "describe_internet_gateways", InternetGatewayIds=[gateway_id])["InternetGateways"],
               f"internet gateway {gateway_id}")
    attached = [a["VpcId"] for a in got.get("Attachments", [])]
    require(attached == ([inputs["vpcId"]] if inputs.get("vpcId") else []),
            f"internet gateway {gateway_id} is attached to {attached}")
    return gateway_id, {"arn": ctx.arn("ec2", f"internet-gateway/{gateway_id}"), "ownerId": ctx.account}


@emulates("domain", "networkBorderGroup", "publicIpv4Pool")
def eip(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = ctx.client("ec2").allocate_address(**drop_none(
        Domain=inputs.get("domain", "vpc"), NetworkBorderGroup=inputs.get("networkBorderGroup"),
        PublicIpv4Pool=inputs.get("publicIpv4Pool"), TagSpecifications=ec2_tag_spec("elastic-ip", inputs)))
    allocation = created["AllocationId"]
    got = _one(ctx.check("ec2", "describe_addresses", AllocationIds=[allocation])["Addresses"],
               f"address {allocation}")
    return allocation, {"allocationId": allocation, "publicIp": got["PublicIp"], "domain": got.get("Domain"),
                        "arn": ctx.arn("ec2", f"elastic-ip/{allocation}")}


@emulates("allocationId", "subnetId", "connectivityType", "privateIp")
def nat_gateway(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = ctx.client("ec2").create_nat_gateway(**drop_none(
        SubnetId=inputs["subnetId"], AllocationId=inputs.get("allocationId"),
        ConnectivityType=inputs.get("connectivityType"), PrivateIpAddress=inputs.get("privateIp"),
        TagSpecifications=ec2_tag_spec("natgateway", inputs)))["NatGateway"]
    nat_id = created["NatGatewayId"]
    got = _one(ctx.check("ec2", "describe_nat_gateways", NatGatewayIds=[nat_id])["NatGateways"],
               f"NAT gateway {nat_id}")
    require(got["SubnetId"] == inputs["subnetId"], f"NAT gateway {nat_id} reads back in {got['SubnetId']}")
    address = (got.get("NatGatewayAddresses") or [{}])[0]
    return nat_id, {"publicIp": address.get("PublicIp"), "privateIp": address.get("PrivateIp"),
                    "networkInterfaceId": address.get("NetworkInterfaceId")}


@emulates("vpcId", "serviceName", "vpcEndpointType", "routeTableIds", "subnetIds", "securityGroupIds",
          "privateDnsEnabled", "policy", "autoAccept", "ipAddressType")
def vpc_endpoint(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = ctx.client("ec2").create_vpc_endpoint(**drop_none(
        VpcId=inputs["vpcId"], ServiceName=inputs["serviceName"],
        VpcEndpointType=inputs.get("vpcEndpointType", "Gateway"), RouteTableIds=inputs.get("routeTableIds"),
        SubnetIds=inputs.get("subnetIds"), SecurityGroupIds=inputs.get("securityGroupIds"),
        PrivateDnsEnabled=inputs.get("privateDnsEnabled"), PolicyDocument=inputs.get("policy"),
        IpAddressType=inputs.get("ipAddressType"), TagSpecifications=ec2_tag_spec("vpc-endpoint", inputs)))
    endpoint_id = created["VpcEndpoint"]["VpcEndpointId"]
    got = _one(ctx.check("ec2", "describe_vpc_endpoints", VpcEndpointIds=[endpoint_id])["VpcEndpoints"],
               f"VPC endpoint {endpoint_id}")
    require(got["ServiceName"] == inputs["serviceName"], f"endpoint {endpoint_id} reads back as {got['ServiceName']}")
    require(sorted(got.get("RouteTableIds", [])) == sorted(inputs.get("routeTableIds") or []),
            f"endpoint {endpoint_id} route tables read back as {got.get('RouteTableIds')}")
    require(sorted(got.get("SubnetIds", [])) == sorted(inputs.get("subnetIds") or []),
            f"endpoint {endpoint_id} subnets read back as {got.get('SubnetIds')}")
    prefix_list = None
    if got.get("VpcEndpointType", "Gateway") == "Gateway":  # the AWS-managed prefix list of the service
        lists = ctx.client("ec2").describe_managed_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [inputs["serviceName"]]}])["PrefixLists"]
        prefix_list = lists[0]["PrefixListId"] if lists else None
    return endpoint_id, {"arn": ctx.arn("ec2", f"vpc-endpoint/{endpoint_id}"), "state": got.get("State"),
                         "prefixListId": prefix_list,
                         "dnsEntries": [{"dnsName": d.get("DnsName"), "hostedZoneId": d.get("HostedZoneId")}
                                        for d in got.get("DnsEntries", [])],
                         "networkInterfaceIds": got.get("NetworkInterfaceIds", []), "ownerId": ctx.account}


FLOW_LOG_RESOURCES = {"vpcId": "VPC", "subnetId": "Subnet", "eniId": "NetworkInterface",
                      "transitGatewayId": "TransitGateway", "transitGatewayAttachmentId": "TransitGatewayAttachment"}


@emulates("trafficType", "logDestinationType", "logDestination", "iamRoleArn", "logFormat",
          "maxAggregationInterval", *FLOW_LOG_RESOURCES)
def flow_log(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = next(k for k in FLOW_LOG_RESOURCES if inputs.get(k))
    destination_type = inputs.get("logDestinationType", "cloud-watch-logs")
    created = ctx.client("ec2").create_flow_logs(**drop_none(
        ResourceIds=[inputs[key]], ResourceType=FLOW_LOG_RESOURCES[key], TrafficType=inputs.get("trafficType"),
        LogDestinationType=destination_type, LogDestination=inputs.get("logDestination"),
        DeliverLogsPermissionArn=inputs.get("iamRoleArn"), LogFormat=inputs.get("logFormat"),
        MaxAggregationInterval=inputs.get("maxAggregationInterval"),
        TagSpecifications=ec2_tag_spec("vpc-flow-log", inputs)))
    require(not created.get("Unsuccessful"), f"flow log not created: {created.get('Unsuccessful')}")
    flow_id = created["FlowLogIds"][0]
    got = _one(ctx.check("ec2", "describe_flow_logs", FlowLogIds=[flow_id])["FlowLogs"], f"flow log {flow_id}")
    require(got["ResourceId"] == inputs[key] and got.get("LogDestination") == inputs.get("logDestination"),
            f"flow log {flow_id} reads back on {got['ResourceId']} -> {got.get('LogDestination')}")
    if destination_type == "cloud-watch-logs" and inputs.get("logDestination"):
        # moto checks the destination by a log group name the request does not carry; check it here instead.
        group = str(inputs["logDestination"]).split(":log-group:", 1)[-1].removesuffix(":*")
        groups = ctx.check("logs", "describe_log_groups", logGroupNamePrefix=group)["logGroups"]
        require(any(g["logGroupName"] == group for g in groups), f"flow log destination {group} does not exist")
    return flow_id, {"arn": ctx.arn("ec2", f"vpc-flow-log/{flow_id}")}
