"""A private network for the stack's jobs: custom-mode VPC, one subnetwork with Private Google Access."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.base import Capability
from infra.components.gcp.context import GcpContext
from infra.profiles.model import GcpVpcNetworking


class GcpNetwork(Capability):
    """Jobs egress through this subnetwork (Cloud Run direct VPC egress, all traffic): no external IPs, no NAT,
    Google APIs reached privately."""

    capability = "networking"

    def __init__(self, name: str, ctx: GcpContext, args: GcpVpcNetworking, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:Network", name, opts)
        self.network = gcp.compute.Network(
            f"{name}-vpc", name=ctx.name("vpc"), project=ctx.project, auto_create_subnetworks=False,
            routing_mode="REGIONAL", opts=ctx.after_services(self),
        )
        self.subnetwork = gcp.compute.Subnetwork(
            f"{name}-jobs", name=ctx.name("jobs"), project=ctx.project, region=ctx.region, network=self.network.id,
            ip_cidr_range=args.cidr, private_ip_google_access=True,
            log_config={"aggregation_interval": "INTERVAL_5_SEC", "flow_sampling": 0.5,
                        "metadata": "INCLUDE_ALL_METADATA"} if args.flow_logs else None,
            opts=self.child(),
        )
        self.register_outputs({"network": self.network.id, "subnetwork": self.subnetwork.id})

    def vpc_access(self) -> Any:
        """Cloud Run v2 `vpc_access`: every request leaves through the private subnetwork."""
        return {"network_interfaces": [{"network": self.network.id, "subnetwork": self.subnetwork.id}],
                "egress": "ALL_TRAFFIC"}
