"""Required project services and the stack's CMEK key, with grants for the service agents that use it."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.components.base import Capability
from infra.components.gcp.context import SERVICE_AGENTS, GcpContext
from infra.profiles.model import Security

SERVICES = (
    "aiplatform.googleapis.com", "artifactregistry.googleapis.com", "bigquery.googleapis.com",
    "cloudkms.googleapis.com", "cloudscheduler.googleapis.com", "compute.googleapis.com", "iam.googleapis.com",
    "logging.googleapis.com", "monitoring.googleapis.com", "run.googleapis.com", "storage.googleapis.com",
)
DAY_SECONDS = 86400
ROTATION_DAYS = 90  # CIS Google Cloud Platform Foundation Benchmark 1.10: KMS keys rotate within 90 days


class ProjectServices(Capability):
    """The APIs the stack uses, enabled; never disabled on destroy (other workloads in the project may use them)."""

    capability = "security"

    def __init__(self, name: str, ctx: GcpContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:ProjectServices", name, opts)
        self.services = [
            gcp.projects.Service(
                f"{name}-{service.split('.')[0]}", project=ctx.project, service=service,
                disable_on_destroy=False, opts=self.child(),
            )
            for service in SERVICES
        ]
        self.register_outputs({"services": list(SERVICES)})


class CmekKey(Capability):
    """A key ring and a rotating symmetric key; the service agents of every store that takes a CMEK may use it."""

    capability = "security"

    def __init__(self, name: str, ctx: GcpContext, args: Security, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:CmekKey", name, opts)
        # Key rings and keys cannot be deleted in GCP (only their versions are destroyed).
        self.ring = gcp.kms.KeyRing(
            f"{name}-ring", name=ctx.name("keys"), location=ctx.region, project=ctx.project,
            opts=ctx.data_after_services(self),
        )
        self.key = gcp.kms.CryptoKey(
            f"{name}-key", name="platform", key_ring=self.ring.id, purpose="ENCRYPT_DECRYPT",
            rotation_period=f"{ROTATION_DAYS * DAY_SECONDS}s" if args.kms_key_rotation else None,
            destroy_scheduled_duration=f"{args.kms_deletion_window_days * DAY_SECONDS}s",
            opts=ctx.data_after_services(self),
        )
        self.id = self.key.id
        self.grants = {
            service: gcp.kms.CryptoKeyIAMMember(
                f"{name}-{service}-agent", crypto_key_id=self.key.id, role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                member=pulumi.Output.concat("serviceAccount:", ctx.service_agent(service)), opts=self.child(),
            )
            for service in SERVICE_AGENTS
        }
        self.register_outputs({"keyName": self.key.id})

    def after_grant(self, ctx: GcpContext, parent: pulumi.Resource, service: str,
                    data: bool = True) -> pulumi.ResourceOptions:
        """Options for a resource encrypted with this key by `service`'s agent: created after the agent's grant."""
        grant = self.grants[service]
        if data:
            return ctx.data_after_services(parent, grant)
        return ctx.after_services(parent, depends_on=[grant])
