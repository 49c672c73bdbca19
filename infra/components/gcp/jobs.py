"""Runtime tasks as Cloud Run jobs (the runtime image), each started on a schedule by Cloud Scheduler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.gcp.context import GcpContext, Workload
from infra.components.gcp.network import GcpNetwork
from infra.profiles.validators import unix_cron

ENTRY_POINT = ["python", "-m", "infra.runtime.jobs.cloudrun"]


class Scheduling:
    """The account Cloud Scheduler calls the Cloud Run Admin API as (run.invoker on each job, nothing else), and
    the job factory every GCP component uses."""

    def __init__(self, ctx: GcpContext, network: GcpNetwork, image: pulumi.Input[str], parent: pulumi.Resource):
        self.ctx = ctx
        self.network = network
        self.image = image
        self.invoker = Workload(ctx, "scheduler", "Cloud Scheduler: starts the stack's Cloud Run jobs", parent)

    def job(self, name: str, task: str, workload: Workload, *, schedule: str, env: Mapping[str, pulumi.Input[str]],
            parent: pulumi.Resource, timeout_seconds: int = 3600, memory: str = "2Gi") -> gcp.cloudrunv2.Job:
        """A Cloud Run job `name` running `python -m infra.runtime.jobs.cloudrun <task>` as `workload`, and the
        Cloud Scheduler job that starts it on `schedule` (a profile expression, translated to unix cron) in the
        profile's time zone."""
        ctx = self.ctx
        envs = [{"name": k, "value": v}
                for k, v in {"GCP_PROJECT": ctx.project, "GCP_REGION": ctx.region, **env}.items()]
        template: Any = {"task_count": 1, "template": {
            "service_account": workload.email, "max_retries": 1, "timeout": f"{timeout_seconds}s",
            "execution_environment": "EXECUTION_ENVIRONMENT_GEN2",
            "vpc_access": self.network.vpc_access(),
            "containers": [{
                "image": self.image, "commands": ENTRY_POINT, "args": [task],
                "envs": envs, "resources": {"limits": {"cpu": "1", "memory": memory}},
            }],
        }}
        job = gcp.cloudrunv2.Job(
            f"{name}-job", name=ctx.name(name), project=ctx.project, location=ctx.region,
            deletion_protection=ctx.protect_data, launch_stage="GA",
            template=template, opts=ctx.after_services(parent),
        )
        gcp.cloudrunv2.JobIamMember(
            f"{name}-job-invoker", project=ctx.project, location=ctx.region, name=job.name, role="roles/run.invoker",
            member=self.invoker.member, opts=pulumi.ResourceOptions(parent=parent),
        )
        gcp.cloudscheduler.Job(
            f"{name}-schedule", name=ctx.name(name), project=ctx.project, region=ctx.region,
            schedule=unix_cron(schedule), time_zone=ctx.spec.body.automation.timezone, attempt_deadline="320s",
            retry_config={"retry_count": 2, "min_backoff_duration": "60s"},
            http_target={
                "http_method": "POST",
                "uri": pulumi.Output.concat("https://run.googleapis.com/v2/projects/", ctx.project, "/locations/",
                                            ctx.region, "/jobs/", job.name, ":run"),
                "oauth_token": {"service_account_email": self.invoker.email,
                                "scope": "https://www.googleapis.com/auth/cloud-platform"},
            },
            opts=ctx.after_services(parent),
        )
        return job
