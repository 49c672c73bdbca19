"""A model's automation on GCP: daily ingestion and scheduled retraining, as scheduled Cloud Run jobs."""

from __future__ import annotations

import pulumi

from infra.components.base import Capability, ModelScope
from infra.components.gcp.context import GcpContext, Workload
from infra.components.gcp.monitoring import GcpMonitoring
from infra.components.gcp.storage import READ, READ_WRITE, GcsStore
from infra.components.gcp.training import ModelTraining


class ModelAutomation(Capability):
    """Ingestion moves the model's landed files to date-partitioned curated data after a schema check (rejects to
    quarantine); retraining submits the model's Vertex pipeline on its schedule, once per ISO week."""

    capability = "automation"

    def __init__(self, name: str, ctx: GcpContext, model: ModelScope, *, store: GcsStore, shared: GcpMonitoring,
                 training: ModelTraining, opts: pulumi.ResourceOptions | None = None):
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
        self.register_outputs({"ingestionJob": self.ingestion.name, "retrainingJob": self.retraining.name})
