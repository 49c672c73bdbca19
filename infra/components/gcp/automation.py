"""A model's automation on GCP: daily ingestion and scheduled retraining, as scheduled Cloud Run jobs."""

from __future__ import annotations

import json
from typing import Any, cast

import pulumi

from infra.components.base import Capability, ModelScope
from infra.components.gcp.context import GcpContext, Workload
from infra.components.gcp.monitoring import GcpMonitoring, experiments_prefix
from infra.components.gcp.storage import READ, READ_WRITE, GcsStore
from infra.components.gcp.training import ModelTraining
from infra.profiles.model import VertexEndpointServing


class ModelAutomation(Capability):
    """Ingestion moves the model's landed files to date-partitioned curated data after a schema check (rejects to
    quarantine); retraining submits the model's Vertex pipeline on its schedule (one run per day at most); the
    deployer puts each approved version live on the model's endpoint by its serving mode (none for `none`)."""

    capability = "automation"

    def __init__(self, name: str, ctx: GcpContext, model: ModelScope, *, store: GcsStore, shared: GcpMonitoring,
                 training: ModelTraining, serving: Any, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:ModelAutomation", name, opts)
        ingest = Workload(ctx, "ingest", f"Daily ingestion of {model.name}: landing -> curated / quarantine",
                          self, model)
        store.data.grant(ingest, READ_WRITE, model.landing, model.prefix("curated"), model.prefix("quarantine"))
        store.artifacts.grant(ingest, READ, model.prefix("schemas"))
        ingest.grant_project_role("roles/logging.logWriter")
        retrain = Workload(ctx, "retrain", f"Scheduled retraining of {model.name}: submits its Vertex pipeline",
                           self, model)
        store.artifacts.grant(retrain, READ, model.prefix("pipelines"))
        retrain.grant_project_role("roles/logging.logWriter")
        training.grant_submit(retrain)
        scheduling = shared.scheduling
        dataset = model.spec.dataset
        self.ingestion = scheduling.job(
            f"{model.name}-ingestion", "ingestion", ingest, schedule=dataset.ingestion_schedule, parent=self,
            memory="4Gi",
            env={"MODEL": model.name, "DATA_BUCKET": store.data.id, "LANDING_PREFIX": model.landing,
                 "CURATED_PREFIX": model.prefix("curated"), "QUARANTINE_PREFIX": model.prefix("quarantine"),
                 "SCHEMA_KEY": model.schema_key, "ARTIFACT_BUCKET": store.artifacts.id, "STORAGE": "gcs",
                 "NOTIFICATIONS": "cloud-logging"},
        )
        self.retraining = scheduling.job(
            f"{model.name}-retraining", "retraining", retrain, schedule=model.spec.training.schedule, parent=self,
            timeout_seconds=600, memory="512Mi",
            env={"MODEL": model.name, "MODEL_NAME": model.base, **training.settings()},
        )
        self.deployer = self._deployer(ctx, model, store, scheduling, serving) if serving is not None else None
        self.register_outputs({"ingestionJob": self.ingestion.name, "retrainingJob": self.retraining.name,
                               "deployerJob": self.deployer.name if self.deployer else None})

    def _deployer(self, ctx: GcpContext, model: ModelScope, store: GcsStore, scheduling: Any, serving: Any) -> Any:
        deploy = Workload(ctx, "deploy", f"Deployer of {model.name}: puts approved versions live on its endpoint",
                          self, model)
        store.artifacts.grant(deploy, READ_WRITE, f"{experiments_prefix(model)}/")
        for role in ("roles/aiplatform.user", "roles/logging.logWriter"):
            deploy.grant_project_role(role)
        deploy.grant_act_as(serving.workload)  # deployed models run as the serving account
        args = cast(VertexEndpointServing, model.spec.serving)
        return scheduling.job(
            f"{model.name}-deployer", "deployer", deploy, schedule=args.deploy_schedule, parent=self,
            timeout_seconds=3600, memory="512Mi",  # a dedicated-resources deploy takes 5-20 minutes
            env={"MODEL": model.name, "VERTEX_MODEL": model.base, "ENDPOINT_NAME": serving.endpoint_id,
                 "SERVING_MODE": args.mode, "RAMP": json.dumps(args.ab.challenger_ramp),
                 "DECISIONS_BUCKET": store.artifacts.id, "DECISIONS_PREFIX": experiments_prefix(model),
                 "RESOURCE_POOL": serving.pool.id, "SERVING_SERVICE_ACCOUNT": serving.workload.email,
                 "STORAGE": "gcs", "NOTIFICATIONS": "cloud-logging"},
        )
