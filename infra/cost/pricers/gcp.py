"""GCP pricers: Pulumi GCP type token -> cost components, priced from the catalog (`gcp.*` entries).

Quantities come from the resource's inputs (machine type and replicas, CPU and memory limits, retention) and,
for usage, from the scenario. Several GCP list prices were not found in a stored copy; their catalog entries are
UNSOURCED (an assumed number, flagged in every report) or have no price (the line is listed unpriced).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from infra.cost.estimate import Placed, PriceContext, dec, free, pricer, runs_per_month, serving_replicas

GB_PER_KB = Decimal(1) / Decimal(1024 * 1024)
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Mi|Gi|M|G)$")

free("IAM bindings and service accounts are not billed", "gcp:projects/iAMMember:IAMMember",
     "gcp:projects/iAMBinding:IAMBinding", "gcp:serviceaccount/account:Account",
     "gcp:serviceaccount/iAMMember:IAMMember", "gcp:storage/bucketIAMMember:BucketIAMMember",
     "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
     "gcp:bigquery/datasetIamMember:DatasetIamMember", "gcp:cloudrunv2/jobIamMember:JobIamMember")
free("enabling a service API is not billed", "gcp:projects/service:Service")
free("a VPC network and its subnets are not billed", "gcp:compute/network:Network",
     "gcp:compute/subnetwork:Subnetwork", "gcp:compute/firewall:Firewall")
free("a key ring is not billed (its keys are)", "gcp:kms/keyRing:KeyRing")
free("a log sink is not billed (the log bucket it routes to is)", "gcp:logging/projectSink:ProjectSink")
free("notification channels are not billed", "gcp:monitoring/notificationChannel:NotificationChannel")
free("an endpoint is billed through the deployment resource pool its models run on",
     "gcp:vertex/aiEndpoint:AiEndpoint")


def _job_name(uri: str) -> str | None:
    found = re.search(r"/jobs/([^/:]+):run$", uri)
    return found.group(1) if found else None


def _gib(memory: str) -> Decimal:
    found = _MEMORY.match(memory)
    if not found:
        return Decimal("0.5")
    value, unit = dec(found.group(1)), found.group(2)
    return value / 1024 if unit in ("Mi", "M") else value


@pricer("gcp:vertex/aiDeploymentResourcePool:AiDeploymentResourcePool")
def resource_pool(ctx: PriceContext, p: Placed) -> None:
    """Nodes for the model's peak traffic within the pool's [minReplicaCount, maxReplicaCount], every hour
    (`serving_replicas`): Vertex autoscales on CPU utilisation, so a node's capacity is the scenario's
    requests a replica. Online prediction does not scale to zero."""
    resources = p.record.inputs.get("dedicatedResources") or {}
    machine = (resources.get("machineSpec") or {}).get("machineType", "?")
    low = int(resources.get("minReplicaCount", 1))
    high = max(int(resources.get("maxReplicaCount", low)), low)
    ctx.limit(f"Vertex AI online prediction does not scale to zero: '{p.record.name}' keeps {low} replica(s)")
    ctx.batch_served_real_time(p, "a Vertex AI online prediction endpoint (the profile deploys no Vertex batch "
                                  "prediction)")
    if p.usage is None:
        count, how = low, f"{low} replicas: the minimum of {low}-{high}, no traffic outside a model"
    else:
        replicas = serving_replicas(ctx, p, p.record.name, low, high)
        count, how = replicas.priced, replicas.describe("replicas")
    ctx.add(f"prediction nodes {machine} ({how})", "hourly", ctx.hours * count, "node-hour",
            f"gcp.vertex.prediction.{machine}")


@pricer("gcp:storage/bucket:Bucket")
def bucket(ctx: PriceContext, p: Placed) -> None:
    """As for S3: the bucket named ...data holds the datasets; the others share the artifacts."""
    name = str(p.record.inputs.get("name") or p.record.name)
    data = ctx.scenario.data
    if name.endswith("data"):
        ctx.add("Standard storage (datasets)", "usage", dec(data.stored_gb), "GB-month", "gcp.gcs.standard_storage")
        return
    others = [x for x in ctx.records(p.record.type)
              if not str(x.record.inputs.get("name") or x.record.name).endswith("data")]
    ctx.add("Standard storage (model artifacts)", "usage", dec(data.artifacts_gb) / len(others), "GB-month",
            "gcp.gcs.standard_storage")


@pricer("gcp:storage/bucketObject:BucketObject")
def bucket_object(ctx: PriceContext, p: Placed) -> None:
    """An object is billed as its bucket's storage; a pipeline template also means pipeline runs: the run fee for
    its model's training runs (every model's, for a template shared by all), and the training node-hours (runs x
    hours a run) on the machine type the scenario names for GCP. The template holds the profile's own machine
    type, but the graph keeps it as a secret: without the scenario's, the training compute is listed unpriced."""
    if not str(p.record.inputs.get("name", "")).startswith("pipelines/"):
        ctx.estimate.free.append((p.record.name, p.record.type, "an object is billed as its bucket's storage"))
        return
    models = [p.usage] if p.usage else ctx.scenario.models
    runs = sum((ctx.training_runs(m.name, m)[0] for m in models), Decimal(0))
    whose = "its model" if p.usage else "all models"
    ctx.add(f"Vertex AI Pipelines run fee ({runs.normalize():f} runs, {whose})", "usage", runs, "run",
            "gcp.vertex.pipelines.run", category="training")
    for m in models:
        machine = m.training.instance_type.gcp
        if machine is None:
            ctx.unpriced(f"training compute ({m.name})", "the template's machine type is a secret in the graph and "
                         "the scenario names no GCP training instance type (models[].training.instance_type.gcp)")
            continue
        (runs, source), hours = ctx.training_runs(m.name, m), dec(m.training.hours_per_run)
        ctx.add(f"custom training {machine} ({runs.normalize():f} runs x {hours.normalize():f} h, the scenario's "
                f"machine type; runs from {source})", "usage", runs * hours, "node-hour",
                f"gcp.vertex.training.{machine}",
                category="training")


@pricer("gcp:cloudrunv2/job:Job")
def cloud_run_job(ctx: PriceContext, p: Placed) -> None:
    """Runs a month from the Cloud Scheduler jobs that start it (unix cron), each lasting the scenario's
    function_seconds_per_run, at the container's CPU and memory limits."""
    name = str(p.record.inputs.get("name") or p.record.name)
    runs = Decimal(0)
    for s in ctx.related("gcp:cloudscheduler/job:Job", p):
        target = (s.record.inputs.get("httpTarget") or {}).get("uri", "")
        if _job_name(str(target)) == name:
            runs += runs_per_month(f"cron({s.record.inputs.get('schedule', '')} *)", ctx.hours)
    template: Any = (p.record.inputs.get("template") or {}).get("template") or {}
    limits = ((template.get("containers") or [{}])[0].get("resources") or {}).get("limits") or {}
    cpu, gib = dec(limits.get("cpu", "1")), _gib(str(limits.get("memory", "512Mi")))
    seconds = runs * dec(ctx.scenario.operations.function_seconds_per_run)
    ctx.add(f"vCPU ({runs.quantize(Decimal('0.01')).normalize():f} runs x {cpu} vCPU)", "usage", seconds * cpu,
            "vCPU-second", "gcp.cloudrun.jobs.vcpu_second")
    ctx.add(f"memory ({gib} GiB)", "usage", seconds * gib, "GiB-second", "gcp.cloudrun.jobs.gib_second")


@pricer("gcp:cloudscheduler/job:Job")
def scheduler_job(ctx: PriceContext, p: Placed) -> None:
    ctx.add("scheduler job", "monthly", 1, "job-month", "gcp.scheduler.job")


@pricer("gcp:kms/cryptoKey:CryptoKey")
def crypto_key(ctx: PriceContext, p: Placed) -> None:
    ctx.add("active key version", "monthly", 1, "key version-month", "gcp.kms.key_version")


@pricer("gcp:bigquery/dataset:Dataset")
def dataset(ctx: PriceContext, p: Placed) -> None:
    """Prediction request/response logs: its model's requests x payload a month (every model's, for a dataset
    outside any model), kept until the tables expire (12 months when they never do)."""
    expiry = p.record.inputs.get("defaultTableExpirationMs")
    months = dec(expiry) / (1000 * 86400) * 12 / 365 if expiry else Decimal(12)
    models = [p.usage] if p.usage else ctx.scenario.models
    monthly_gb = sum((dec(m.inference.requests_per_month) * dec(m.inference.payload_kb) for m in models),
                     Decimal(0)) * GB_PER_KB
    ctx.add(f"active storage (prediction logs kept {months.quantize(Decimal('0.1'))} months)", "usage",
            monthly_gb * months, "GB-month", "gcp.bigquery.active_storage")


@pricer("gcp:logging/projectBucketConfig:ProjectBucketConfig")
def log_bucket(ctx: PriceContext, p: Placed) -> None:
    ctx.add("log ingestion (scenario)", "usage", dec(ctx.scenario.operations.logs_gb_per_log_group), "GiB",
            "gcp.logging.ingest")


@pricer("gcp:artifactregistry/repository:Repository")
def artifact_repository(ctx: PriceContext, p: Placed) -> None:
    ctx.add("image storage (scenario)", "usage", dec(ctx.scenario.operations.image_gb_per_repository), "GB-month",
            "gcp.artifactregistry.storage")


@pricer("gcp:monitoring/alertPolicy:AlertPolicy")
def alert_policy(ctx: PriceContext, p: Placed) -> None:
    ctx.add("alert policy", "monthly", 1, "policy-month", "gcp.monitoring.alert_policy")


@pricer("gcp:vertex/aiTensorboard:AiTensorboard", "gcp:vertex/aiMetadataStore:AiMetadataStore")
def experiments(ctx: PriceContext, p: Placed) -> None:
    ctx.add("Vertex AI Experiments / TensorBoard", "monthly", 1, "month", "gcp.vertex.experiments")
