"""A model's serving on Vertex AI: its endpoint, the deployment resource pool its champion and challenger share,
its BigQuery prediction log, and the identity its deployed models run as."""

from __future__ import annotations

import hashlib

import pulumi
import pulumi_gcp as gcp

from infra.components.base import Capability, ModelScope
from infra.components.gcp.context import GcpContext, Workload
from infra.components.gcp.registry import ImageRegistry
from infra.components.gcp.security import DAY_SECONDS, CmekKey
from infra.components.gcp.storage import READ, GcsStore
from infra.profiles.model import VertexEndpointServing


def endpoint_id(project: str, stack_prefix: str, model: str) -> str:
    """A Vertex endpoint id (numeric, at most 10 digits, no leading zero), stable per project, stack and model."""
    digest = int(hashlib.sha256(f"{project}/{stack_prefix}/{model}".encode()).hexdigest(), 16)
    return str(1_000_000_000 + digest % 9_000_000_000)


class ModelEndpoint(Capability):
    """The endpoint and its capacity (a deployment resource pool: machine type and replica bounds; the models
    come at run time). Deployed models and the traffic split are run-time state (infra.runtime.adapters.gcp
    deploys into the pool and moves traffic), so `trafficSplit` is ignored here: an endpoint with no deployed
    model is valid (a first deploy into an empty project), and `pulumi up` never reverts a rollback."""

    capability = "serving"

    def __init__(self, name: str, ctx: GcpContext, model: ModelScope, args: VertexEndpointServing, *,
                 key: CmekKey, store: GcsStore, registry: ImageRegistry, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:ModelEndpoint", name, opts)
        self.mode = args.mode
        self.workload = Workload(ctx, "serving", f"Deployed models of {model.name}: read its model artifacts",
                                 self, model)
        store.artifacts.grant(self.workload, READ, model.prefix("models"))
        registry.grant_pull(self.workload)
        for role in ("roles/logging.logWriter", "roles/monitoring.metricWriter"):
            self.workload.grant_project_role(role)
        # Dataset ids: letters, digits and underscores.
        self.log_dataset = gcp.bigquery.Dataset(
            f"{model.name}-prediction-logs", dataset_id=model.base.replace("-", "_") + "_predictions",
            project=ctx.project, location=ctx.region, description=f"{model.base}: online prediction requests "
            "and responses (Vertex AI request-response logging)",
            default_table_expiration_ms=args.prediction_log_retention_days * DAY_SECONDS * 1000,
            default_partition_expiration_ms=args.prediction_log_retention_days * DAY_SECONDS * 1000,
            default_encryption_configuration={"kms_key_name": key.id},
            delete_contents_on_destroy=not ctx.protect_data,
            opts=key.after_grant(ctx, self, "bigquery"),
        )
        # Vertex AI's service agent writes the request-response log tables.
        gcp.bigquery.DatasetIamMember(
            f"{model.name}-prediction-logs-writer", project=ctx.project, dataset_id=self.log_dataset.dataset_id,
            role="roles/bigquery.dataEditor",
            member=pulumi.Output.concat("serviceAccount:", ctx.service_agent("aiplatform")), opts=self.child(),
        )
        self.endpoint_id = endpoint_id(ctx.project, ctx.prefix, model.name)
        self.pool = gcp.vertex.AiDeploymentResourcePool(
            f"{model.name}-pool", name=model.physical("pool"), project=ctx.project, region=ctx.region,
            dedicated_resources={
                "machine_spec": {"machine_type": args.machine_type},
                "min_replica_count": args.min_replicas, "max_replica_count": args.max_replicas,
                "autoscaling_metric_specs": [{
                    "metric_name": "aiplatform.googleapis.com/prediction/online/cpu/utilization", "target": 60,
                }],
            },
            opts=ctx.after_services(self),
        )
        self.endpoint = gcp.vertex.AiEndpoint(
            f"{model.name}-endpoint", name=self.endpoint_id, display_name=model.base, project=ctx.project,
            location=ctx.region, region=ctx.region,
            description=f"{model.base}: " + ("champion and challenger" if args.mode == "ab" else "one model"),
            encryption_spec={"kms_key_name": key.id},
            predict_request_response_logging_config={
                "enabled": True, "sampling_rate": args.prediction_log_sampling_rate,
                "bigquery_destination": {"output_uri": pulumi.Output.concat(
                    "bq://", ctx.project, ".", self.log_dataset.dataset_id)},
            },
            opts=key.after_grant(ctx, self, "aiplatform", data=False).merge(
                pulumi.ResourceOptions(ignore_changes=["trafficSplit"])),
        )
        self.endpoint_name = self.endpoint.id
        self.register_outputs({"endpoint": self.endpoint.id, "resourcePool": self.pool.id,
                               "predictionLogs": self.log_dataset.id})
