"""Private networking: a VPC whose workloads live in private subnets, with an S3 gateway endpoint."""

from __future__ import annotations

import ipaddress

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
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [args.cidr]}],
            egress=[], opts=self.child(),
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

    def security_group(
        self, name: str, description: str, parent: pulumi.Resource | None = None
    ) -> aws.ec2.SecurityGroup:
        """A security group in this VPC with no ingress (callers add rules); egress reaches AWS APIs.
        `parent`: the component it belongs to (a model's), else the network."""
        return aws.ec2.SecurityGroup(
            name, vpc_id=self.vpc.id, description=description,
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            opts=pulumi.ResourceOptions(parent=parent) if parent is not None else self.child(),
        )

