"""What every GCP component shares: the project facts, service agents, enabled APIs and workload identities."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.base import ModelScope, StackContext, shorten

# Google-managed service agents that use the stack's CMEK key, by the service they act for
# (https://cloud.google.com/iam/docs/service-agents); the number is the project number.
SERVICE_AGENTS = {
    "storage": "service-{}@gs-project-accounts.iam.gserviceaccount.com",
    "aiplatform": "service-{}@gcp-sa-aiplatform.iam.gserviceaccount.com",
    "artifactregistry": "service-{}@gcp-sa-artifactregistry.iam.gserviceaccount.com",
    "bigquery": "bq-{}@bigquery-encryption.iam.gserviceaccount.com",
    "logging": "service-{}@gcp-sa-logging.iam.gserviceaccount.com",
}

# Roles no workload gets at project level: the basic roles, and any admin role (a project-wide admin role is
# the AWS `*:*` equivalent for its service). Checked when a binding is declared, by the policy pack and by tests.
BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})


def forbidden_project_role(role: str) -> str | None:
    """Why `role` may not be bound at project level, or None when it may."""
    if role in BASIC_ROLES:
        return "a basic role"
    if role.rsplit("/", 1)[-1].lower().endswith("admin"):
        return "an admin role"
    return None


def account_id(prefix: str, workload: str) -> str:
    """A service account id (6-30 characters: lowercase letters, digits, hyphens) unique per stack and workload:
    the workload (`credit-scoring-drift`) and 4 hex digits of the stack prefix; cut with a hash when longer."""
    stack = hashlib.sha256(prefix.encode()).hexdigest()[:4]
    if len(workload) + 5 <= 30:
        return f"{workload}-{stack}"
    return f"{shorten(workload, 25)}-{stack}"


@dataclass
class GcpContext(StackContext):
    """StackContext plus the GCP project (`account_id` is the project number, from the getProject invoke)."""

    project: str = ""
    services: list[pulumi.Resource] = field(default_factory=list)

    def service_agent(self, service: str) -> pulumi.Output[str]:
        return self.account_id.apply(SERVICE_AGENTS[service].format)

    def after_services(self, parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
        """Options for a resource whose API must be enabled first."""
        depends = [*self.services, *extra.pop("depends_on", [])]
        return pulumi.ResourceOptions(parent=parent, depends_on=depends, **extra)

    def data_after_services(self, parent: pulumi.Resource, *depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options for a store of data: protected and retained on destroy unless the profile says otherwise."""
        return self.after_services(parent, depends_on=list(depends_on), protect=self.protect_data,
                                   retain_on_delete=self.protect_data)


class Workload:
    """A service account for one workload (of one model, or of the stack) and its bindings; `grant_*` helpers of
    the stores, pipelines and endpoints grant to it (CDK style)."""

    def __init__(self, ctx: GcpContext, workload: str, description: str, parent: pulumi.Resource,
                 model: ModelScope | None = None) -> None:
        self.ctx = ctx
        self.logical = f"{model.name}-{workload}" if model else workload
        self.parent = parent
        self.account = gcp.serviceaccount.Account(
            f"{self.logical}-sa", account_id=account_id(ctx.prefix, self.logical),
            display_name=f"{ctx.prefix} {self.logical}"[:100], description=description,
            opts=ctx.after_services(parent),
        )
        self.email = self.account.email
        self.member = pulumi.Output.concat("serviceAccount:", self.account.email)
        self._roles: set[str] = set()

    def grant_project_role(self, role: str) -> gcp.projects.IAMMember:
        """A project-level role; basic and admin roles are refused (least privilege)."""
        problem = forbidden_project_role(role)
        if problem:
            raise ValueError(f"{self.logical}: {role} is {problem}; bind a narrower role or a resource-level one")
        if role in self._roles:
            raise ValueError(f"{self.logical}: {role} granted twice")
        self._roles.add(role)
        slug = role.removeprefix("roles/").replace(".", "-").lower()
        return gcp.projects.IAMMember(
            f"{self.logical}-{slug}", project=self.ctx.project, role=role, member=self.member,
            opts=pulumi.ResourceOptions(parent=self.parent, depends_on=self.ctx.services),
        )

    def grant_act_as(self, other: Workload) -> gcp.serviceaccount.IAMMember:
        """Let this workload start jobs that run as `other` (iam.serviceAccountUser on that account only)."""
        return gcp.serviceaccount.IAMMember(
            f"{self.logical}-actas-{other.logical}", service_account_id=other.account.name,
            role="roles/iam.serviceAccountUser", member=self.member, opts=pulumi.ResourceOptions(parent=self.parent),
        )
