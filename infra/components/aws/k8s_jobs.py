"""The runtime's scheduled jobs as Kubernetes CronJobs: the same handlers and settings as the Lambdas.

Why CronJobs on EKS rather than Lambda: the A/B controller moves KServe traffic through the Kubernetes API
and the drift monitor starts Kubeflow runs through the in-cluster KFP API; from inside the cluster both are
one NetworkPolicy allow away, with the pod's own service account (RBAC) and Pod Identity role (AWS), whereas a
Lambda would need VPC access to a private API endpoint plus an EKS access entry. Each job runs
`python -m infra.runtime.jobs.run <handler>` in the stack's runtime image (pinned by digest), concurrency
Forbid, a deadline, and its own service account with its own role.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.components.aws.eks import EksCluster
from infra.components.base import Grantable
from infra.components.kubernetes.workloads import Resources, container, pod_spec

JOBS_NAMESPACE = "mlops-jobs"


class CronJob:
    """A CronJob in the jobs namespace running one runtime handler, with its service account and AWS role."""

    def __init__(
        self, logical: str, *, eks: EksCluster, handler: str, schedule: str, image: pulumi.Input[str],
        env: dict[str, pulumi.Input[str]], resources: Resources, parent: pulumi.Resource,
        depends_on: list[pulumi.Resource], timezone: str = "UTC", deadline_seconds: int = 3600,
        api_access: bool = False, config_maps: tuple[str, ...] = (), secrets: tuple[str, ...] = (),
    ) -> None:
        self.account = logical
        self.role: Grantable = eks.workload_role(f"{logical}-pod", JOBS_NAMESPACE, logical)
        opts = pulumi.ResourceOptions(provider=eks.provider, parent=parent, depends_on=depends_on)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{logical}-sa", metadata={"name": logical, "namespace": JOBS_NAMESPACE},
            automount_service_account_token=api_access, opts=opts,
        )
        spec = container(logical, image, resources, command=["python", "-m", "infra.runtime.jobs.run", handler],
                         env=env)
        sources: list[dict[str, Any]] = [{"configMapRef": {"name": c}} for c in config_maps]
        sources += [{"secretRef": {"name": s}} for s in secrets]
        if sources:
            spec["envFrom"] = sources
        self.cron_job = k8s.batch.v1.CronJob(
            logical,
            metadata={"name": logical, "namespace": JOBS_NAMESPACE, "labels": {"mlopsgen.io/job": handler}},
            spec={
                "schedule": schedule, "timeZone": timezone, "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 5,
                "jobTemplate": {"spec": {
                    "backoffLimit": 2, "activeDeadlineSeconds": deadline_seconds, "ttlSecondsAfterFinished": 86400,
                    "template": {"metadata": {"labels": {"mlopsgen.io/job": handler}},
                                 "spec": {**pod_spec([spec], logical, restart="Never"),
                                          "automountServiceAccountToken": api_access}},
                }},
            },
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[self.service_account])),
        )


def eventbridge_to_cron(expression: str) -> str:
    """`cron(0 6 * * ? *)` -> `0 6 * * *`; `rate(1 hour)` -> `0 * * * *` (the forms the profiles use).

    EventBridge cron has six fields (minutes hours day-of-month month day-of-week year) with `?` for "no
    specific value"; Kubernetes CronJobs take the five standard fields.
    """
    text = expression.strip()
    if text.startswith("cron(") and text.endswith(")"):
        fields = text[5:-1].split()
        if len(fields) != 6:
            raise ValueError(f"not an EventBridge cron expression: {expression}")
        minute, hour, dom, month, dow, _year = fields
        dow = dow.replace("SUN", "0").replace("MON", "1").replace("TUE", "2").replace("WED", "3") \
            .replace("THU", "4").replace("FRI", "5").replace("SAT", "6")
        return " ".join("*" if f == "?" else f for f in (minute, hour, dom, month, dow))
    rates = {"rate(1 hour)": "0 * * * *", "rate(1 day)": "0 0 * * *", "rate(30 minutes)": "*/30 * * * *",
             "rate(15 minutes)": "*/15 * * * *"}
    if text in rates:
        return rates[text]
    raise ValueError(f"cannot run {expression!r} as a Kubernetes schedule; use cron(...) or rate(1 hour)")
