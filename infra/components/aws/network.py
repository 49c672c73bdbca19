"""Private networking: a VPC whose workloads live in private subnets, with an S3 gateway endpoint."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, StackContext, new_role
from infra.profiles.model import VpcNetworking

AZ_SUFFIXES = "abc"


class Network(Capability):
    """VPC, private subnets (and public ones only when NAT gateways are asked for), endpoints, flow logs."""

    capability = "networking"

    def __init__(
        self, name: str, ctx: StackContext, args: VpcNetworking, key: EncryptionKey, log_retention_days: int,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:Network", name, opts)
        net = ipaddress.ip_network(args.cidr, strict=False)
        blocks = list(net.subnets(new_prefix=min(net.prefixlen + 4, 28)))
        azs = [f"{ctx.region}{AZ_SUFFIXES[i]}" for i in range(args.availability_zones)]

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc", cidr_block=args.cidr, enable_dns_hostnames=True, enable_dns_support=True,
            opts=self.child(),
        )
        # Nothing may use the default security group: it allows all traffic between its members.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, opts=self.child())

        self.private_subnets: list[aws.ec2.Subnet] = []
        self.private_route_tables: list[aws.ec2.RouteTable] = []
        for i, az in enumerate(azs):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{az}", vpc_id=self.vpc.id, cidr_block=str(blocks[i]), availability_zone=az,
                map_public_ip_on_launch=False, opts=self.child(),
            )
            table = aws.ec2.RouteTable(f"{name}-private-rt-{az}", vpc_id=self.vpc.id, opts=self.child())
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{az}", subnet_id=subnet.id, route_table_id=table.id, opts=self.child()
            )
            self.private_subnets.append(subnet)
            self.private_route_tables.append(table)

        if args.nat_gateways:
            self._public_egress(name, args, azs, blocks)

        # S3 traffic stays on the AWS network, and costs nothing, through a gateway endpoint.
        self.s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint", vpc_id=self.vpc.id, service_name=f"com.amazonaws.{ctx.region}.s3",
            vpc_endpoint_type="Gateway", route_table_ids=[t.id for t in self.private_route_tables],
            opts=self.child(),
        )
        self.endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg", vpc_id=self.vpc.id, description="HTTPS from the VPC to interface endpoints",
            opts=self.child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-from-vpc", security_group_id=self.endpoint_sg.id, cidr_ipv4=args.cidr,
            ip_protocol="tcp", from_port=443, to_port=443,
            description="HTTPS from workloads in the VPC to the AWS API interface endpoints", opts=self.child(),
        )
        for service in args.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint", vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{ctx.region}.{service}", vpc_endpoint_type="Interface",
                private_dns_enabled=True, subnet_ids=[s.id for s in self.private_subnets],
                security_group_ids=[self.endpoint_sg.id], opts=self.child(),
            )
        if args.flow_logs:
            self._flow_logs(name, ctx, key, log_retention_days)

        self.subnet_ids = [s.id for s in self.private_subnets]
        self.cidr = args.cidr
        self.internet_https_egress = set(args.internet_https_egress)
        self.vpc_arn = pulumi.Output.concat("arn:aws:ec2:", ctx.region, ":", ctx.account_id, ":vpc/", self.vpc.id)
        self._ctx = ctx
        self.register_outputs({"vpcId": self.vpc.id, "privateSubnetIds": self.subnet_ids})

    def _public_egress(self, name: str, args: VpcNetworking, azs: list[str], blocks: list) -> None:
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=self.child())
        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=self.vpc.id, opts=self.child())
        aws.ec2.Route(
            f"{name}-public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id, opts=self.child(),
        )
        nats = []
        for i, az in enumerate(azs[: args.nat_gateways]):
            public = aws.ec2.Subnet(
                f"{name}-public-{az}", vpc_id=self.vpc.id, cidr_block=str(blocks[8 + i]), availability_zone=az,
                map_public_ip_on_launch=False, opts=self.child(),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{az}", subnet_id=public.id, route_table_id=public_rt.id, opts=self.child()
            )
            eip = aws.ec2.Eip(f"{name}-nat-eip-{az}", domain="vpc", opts=self.child())
            nats.append(aws.ec2.NatGateway(
                f"{name}-nat-{az}", allocation_id=eip.id, subnet_id=public.id,
                opts=self.child(depends_on=[igw]),
            ))
        for i, (az, table) in enumerate(zip(azs, self.private_route_tables, strict=True)):
            aws.ec2.Route(
                f"{name}-private-egress-{az}", route_table_id=table.id, destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[i % len(nats)].id, opts=self.child(),
            )

    def _flow_logs(self, name: str, ctx: StackContext, key: EncryptionKey, retention: int) -> None:
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs", name=f"/mlopsgen/{ctx.prefix}/vpc-flow-logs", retention_in_days=retention,
            kms_key_id=key.arn, opts=self.child(),
        )
        role = new_role(ctx, f"{name}-flow-logs-role", "flow-logs", self, "vpc-flow-logs.amazonaws.com")
        role.allow("write-logs", [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": pulumi.Output.concat(group.arn, ":*"),
        }])
        aws.ec2.FlowLog(
            f"{name}-flow-log", vpc_id=self.vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
            log_destination=group.arn, iam_role_arn=role.arn, opts=self.child(),
        )

    def _under(self, parent: pulumi.Resource | None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent) if parent is not None else self.child()

    def security_group(self, name: str, description: str, parent: pulumi.Resource | None = None, *,
                       workload: str | None = None, aws_apis: bool = True) -> aws.ec2.SecurityGroup:
        """A security group in this VPC with no rule but those asked for: every rule is its own resource with a
        description (the provider drops AWS's default allow-all egress rule).

        `aws_apis`: HTTPS to the interface endpoints and to S3 through the gateway endpoint's prefix list.
        `workload`: HTTPS to the internet through the NAT gateway too, if the profile lists it in
        `networking.internet_https_egress`. `parent`: the component it belongs to (a model's), else the network.
        """
        group = aws.ec2.SecurityGroup(name, vpc_id=self.vpc.id, description=description, opts=self._under(parent))
        if aws_apis:
            self.allow_egress(group, f"{name}-to-endpoints", 443, "HTTPS to the AWS API interface endpoints",
                              to_group=self.endpoint_sg.id, parent=parent)
            self.allow_egress(group, f"{name}-to-s3", 443, "HTTPS to S3 through the gateway endpoint",
                              prefix_list=self.s3_endpoint.prefix_list_id, parent=parent)
        if workload in self.internet_https_egress:
            self.allow_egress(group, f"{name}-to-internet", 443,
                              f"HTTPS to the internet through NAT (networking.internet_https_egress: {workload})",
                              cidr="0.0.0.0/0", parent=parent)
        return group

    def allow_egress(self, group: aws.ec2.SecurityGroup, name: str, port: int | None, description: str, *,
                     to_group: pulumi.Input[str] | None = None, prefix_list: pulumi.Input[str] | None = None,
                     cidr: str | None = None,
                     parent: pulumi.Resource | None = None) -> aws.vpc.SecurityGroupEgressRule:
        """One egress rule: TCP to `port` (None: every protocol and port) of a group, prefix list or CIDR."""
        ports: dict = {"ip_protocol": "tcp", "from_port": port, "to_port": port} if port else {"ip_protocol": "-1"}
        return aws.vpc.SecurityGroupEgressRule(
            name, security_group_id=group.id, referenced_security_group_id=to_group, prefix_list_id=prefix_list,
            cidr_ipv4=cidr, description=description, opts=self._under(parent), **ports,
        )

    def allow_ingress(self, group: aws.ec2.SecurityGroup, name: str, port: int | None, description: str, *,
                      from_group: pulumi.Input[str] | None = None, cidr: str | None = None,
                      parent: pulumi.Resource | None = None) -> aws.vpc.SecurityGroupIngressRule:
        """One ingress rule: TCP on `port` (None: every protocol and port) from a group or CIDR."""
        ports: dict = {"ip_protocol": "tcp", "from_port": port, "to_port": port} if port else {"ip_protocol": "-1"}
        return aws.vpc.SecurityGroupIngressRule(
            name, security_group_id=group.id, referenced_security_group_id=from_group, cidr_ipv4=cidr,
            description=description, opts=self._under(parent), **ports,
        )

    def network_interface_statements(self, service: str) -> list[dict[str, Any]]:
        """What a service that runs a workload in this VPC needs to manage its network interfaces, no more.

        From the EC2 service authorization reference ("Actions, resources, and condition keys for Amazon EC2")
        and SageMaker's "Give SageMaker access to resources in your Amazon VPC": creating an interface in this
        VPC's subnets and security groups (condition `ec2:Vpc`), sharing it only with `service`
        (`ec2:AuthorizedService`), and deleting only interfaces in this VPC. The Describe* calls have no
        resource-level permissions in IAM, so they alone take `*`.
        """
        ctx = self._ctx
        ec2_arn = pulumi.Output.concat("arn:aws:ec2:", ctx.region, ":", ctx.account_id, ":")
        in_vpc = {"ArnEquals": {"ec2:Vpc": self.vpc_arn}}
        return [
            {"Sid": "CreateInterfacesInStackVpc", "Effect": "Allow", "Action": "ec2:CreateNetworkInterface",
             "Resource": [pulumi.Output.concat(ec2_arn, kind, "/*")
                          for kind in ("network-interface", "subnet", "security-group")],
             "Condition": in_vpc},
            {"Sid": "ShareInterfacesWithService", "Effect": "Allow", "Action": "ec2:CreateNetworkInterfacePermission",
             "Resource": pulumi.Output.concat(ec2_arn, "network-interface/*"),
             "Condition": {**in_vpc, "StringEquals": {"ec2:AuthorizedService": service}}},
            {"Sid": "DeleteInterfacesInStackVpc", "Effect": "Allow",
             "Action": ["ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
             "Resource": pulumi.Output.concat(ec2_arn, "network-interface/*"), "Condition": in_vpc},
            {"Sid": "DescribeNetwork", "Effect": "Allow",
             "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                        "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
             "Resource": "*"},
        ]
