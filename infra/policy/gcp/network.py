"""VPC and Cloud Run controls: flow logs, private egress of the jobs."""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs

from infra.policy.gcp.identity import CIS_GCP
from infra.policy.registry import OWN, Report, resource_control


@resource_control("gcp-vpc-flow-logs", "VPC Flow Logs are on for every subnetwork",
                  "gcp:compute/subnetwork:Subnetwork", service="VPC", cloud="gcp", refs=("CIS 3.8",), source=CIS_GCP,
                  loosened_by=("networking.flow_logs",))
def flow_logs(args: ResourceValidationArgs, report: Report) -> None:
    if not args.props.get("logConfig"):
        report("no logConfig: the subnetwork's flows are not logged")


@resource_control("gcp-vpc-private-google-access", "Subnetworks reach Google APIs privately",
                  "gcp:compute/subnetwork:Subnetwork", service="VPC", cloud="gcp", source=OWN)
def private_google_access(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("privateIpGoogleAccess") is not True:
        report("Private Google Access is off: jobs without external IPs cannot reach Google APIs")


@resource_control("gcp-vpc-no-default-network", "Networks are custom-mode (no auto-created subnetworks)",
                  "gcp:compute/network:Network", service="VPC", cloud="gcp", source=OWN)
def custom_mode(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("autoCreateSubnetworks") is not False:
        report("auto-mode network: a subnetwork in every region with default ranges")


@resource_control("gcp-run-private-egress", "Cloud Run jobs send all egress through the stack's VPC",
                  "gcp:cloudrunv2/job:Job", service="Cloud Run", cloud="gcp", source=OWN)
def run_private_egress(args: ResourceValidationArgs, report: Report) -> None:
    access = ((args.props.get("template") or {}).get("template") or {}).get("vpcAccess") or {}
    if access.get("egress") != "ALL_TRAFFIC" or not access.get("networkInterfaces"):
        report("egress does not go through the stack's VPC (vpcAccess.egress ALL_TRAFFIC)")


@resource_control("gcp-run-own-service-account", "Cloud Run jobs run as their own service account",
                  "gcp:cloudrunv2/job:Job", service="Cloud Run", cloud="gcp", source=OWN)
def run_own_account(args: ResourceValidationArgs, report: Report) -> None:
    account = ((args.props.get("template") or {}).get("template") or {}).get("serviceAccount")
    if not account or str(account).endswith("-compute@developer.gserviceaccount.com"):
        report("runs as the Compute Engine default service account (project-wide Editor by default)")
