"""GCP runtime adapters against the official client library (google-cloud-aiplatform's GAPIC clients) with the
transport faked the way Google's generated client tests do (`mock.patch.object(type(client.transport.X),
"__call__")`): the request the library would put on the wire is checked, and the response is a real message.

Nothing here emulates Vertex AI. The first A/B and drift runs keep their S3 / CloudWatch side on moto, so what
changes is only the serving and orchestration adapter; the last ones run wholly on GCP's adapters: Cloud Storage
through an in-process emulator (gcp-storage-emulator), Cloud Monitoring with its transport faked as above, the
alert as a structured log entry.
"""

from __future__ import annotations

import io
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.api_core import exceptions as gexc
from google.auth import credentials as ga_credentials
from google.cloud import aiplatform_v1, monitoring_v3
from google.longrunning import operations_pb2
from moto import mock_aws

from infra.runtime.abtest.experiment import Experiment, ExperimentStatus, load_experiment, save_experiment
from infra.runtime.adapters.gcp import (
    Deployment,
    VertexEndpointTraffic,
    VertexModelRegistry,
    VertexPipelineTrigger,
    client_options,
    percentages,
)
from infra.runtime.adapters.metrics import CloudMonitoringMetrics, MetricPoint
from infra.runtime.adapters.notifications import ALERT_LABEL, CloudLoggingNotifier
from infra.runtime.adapters.retraining import RetrainingRequest, get_retraining_trigger
from infra.runtime.adapters.storage import GcsStore, ObjectNotFound
from infra.runtime.adapters.traffic import RetryPolicy, TrafficUpdateError, get_traffic_controller
from infra.runtime.drift import compute_baseline, upload_baseline
from infra.runtime.handlers import ab_controller, drift_monitor
from infra.runtime.handlers.ab_controller import ControllerSettings
from infra.runtime.handlers.drift_monitor import DriftSettings

PROJECT, REGION = "mlops-prod-1234", "europe-west4"
LOCATION = f"projects/{PROJECT}/locations/{REGION}"
ENDPOINT = f"{LOCATION}/endpoints/4242"
MODEL = f"{LOCATION}/models/777"
CHAMPION_ID, CHALLENGER_ID = "1111", "2222"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def anonymous() -> ga_credentials.AnonymousCredentials:
    return ga_credentials.AnonymousCredentials()


def endpoint_message(split: dict[str, int], deployed: dict[str, str] | None = None) -> aiplatform_v1.Endpoint:
    deployed = {"champion": CHAMPION_ID, "challenger": CHALLENGER_ID} if deployed is None else deployed
    return aiplatform_v1.Endpoint(
        name=ENDPOINT,
        deployed_models=[aiplatform_v1.DeployedModel(id=i, display_name=v) for v, i in deployed.items()],
        traffic_split=split,
    )


def done(response: Any) -> operations_pb2.Operation:
    """A finished long-running operation carrying `response`, as the service returns it."""
    operation = operations_pb2.Operation(name=f"{LOCATION}/operations/1", done=True)
    operation.response.Pack(type(response).pb(response))
    return operation


class FakeEndpointService:
    """An EndpointServiceClient whose transport methods are patched; keeps the endpoint's state between calls."""

    def __init__(self, split: dict[str, int], deployed: dict[str, str] | None = None) -> None:
        self.client = aiplatform_v1.EndpointServiceClient(credentials=anonymous(),
                                                          client_options=client_options(ENDPOINT))
        self.endpoint = endpoint_message(split, deployed)
        self.requests: dict[str, list[Any]] = {}
        self.failures: list[Exception] = []

    def __enter__(self) -> FakeEndpointService:
        # The transport's methods share one callable type: one patch, dispatched on the request's type.
        self._patch = mock.patch.object(type(self.client.transport.get_endpoint), "__call__", side_effect=self._any)
        self._patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.stop()

    def _any(self, request: Any, **kwargs: Any) -> Any:
        handler = {
            aiplatform_v1.GetEndpointRequest: self._get, aiplatform_v1.UpdateEndpointRequest: self._update,
            aiplatform_v1.DeployModelRequest: self._deploy, aiplatform_v1.UndeployModelRequest: self._undeploy,
        }[type(request)]
        self.requests.setdefault(type(request).__name__, []).append(request)
        if self.failures and not isinstance(request, aiplatform_v1.GetEndpointRequest):
            raise self.failures.pop(0)
        return handler(request)

    def _get(self, request: aiplatform_v1.GetEndpointRequest) -> aiplatform_v1.Endpoint:
        assert request.name == ENDPOINT
        return self.endpoint

    def _update(self, request: aiplatform_v1.UpdateEndpointRequest) -> aiplatform_v1.Endpoint:
        assert list(request.update_mask.paths) == ["traffic_split"]
        self.endpoint = endpoint_message(dict(request.endpoint.traffic_split),
                                         {d.display_name: d.id for d in self.endpoint.deployed_models})
        return self.endpoint

    def _deploy(self, request: aiplatform_v1.DeployModelRequest) -> operations_pb2.Operation:
        new_id = str(3000 + len(self.endpoint.deployed_models))
        deployed = {d.display_name: d.id for d in self.endpoint.deployed_models}
        deployed[request.deployed_model.display_name] = new_id
        split = {(new_id if k == "0" else k): v for k, v in request.traffic_split.items()}
        self.endpoint = endpoint_message(split, deployed)
        return done(aiplatform_v1.DeployModelResponse(deployed_model=aiplatform_v1.DeployedModel(id=new_id)))

    def _undeploy(self, request: aiplatform_v1.UndeployModelRequest) -> operations_pb2.Operation:
        deployed = {d.display_name: d.id for d in self.endpoint.deployed_models if d.id != request.deployed_model_id}
        self.endpoint = endpoint_message(dict(request.traffic_split), deployed)
        return done(aiplatform_v1.UndeployModelResponse())

    def split(self) -> dict[str, int]:
        return dict(self.endpoint.traffic_split)


# ------------------------------------------------------------------ percentages
def test_percentages_are_whole_sum_to_100_and_within_one_of_exact() -> None:
    rng = random.Random(12)
    for _ in range(2000):
        weights = {name: rng.choice([0.0, rng.random(), rng.uniform(0, 1e6)]) for name in "abcdef"[: rng.randint(1, 6)]}
        total = sum(weights.values())
        if total <= 0:
            with pytest.raises(ValueError):
                percentages(weights)
            continue
        shares = percentages(weights)
        assert sum(shares.values()) == 100 and set(shares) == set(weights)
        for name, share in shares.items():
            assert abs(share - 100 * weights[name] / total) < 1


def test_percentages_of_the_standard_splits() -> None:
    assert percentages({"champion": 1.0, "challenger": 0.0}) == {"champion": 100, "challenger": 0}
    assert percentages({"champion": 0.95, "challenger": 0.05}) == {"champion": 95, "challenger": 5}
    assert percentages({"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}


# ------------------------------------------------------------------ traffic
def test_set_weights_sends_only_the_traffic_split_and_reads_it_back() -> None:
    with FakeEndpointService({CHAMPION_ID: 75, CHALLENGER_ID: 25}) as fake:
        traffic = VertexEndpointTraffic(fake.client)
        assert traffic.get_weights(ENDPOINT) == {"champion": 0.75, "challenger": 0.25}
        traffic.set_weights(ENDPOINT, {"champion": 0.5, "challenger": 0.5})
        [update] = fake.requests["UpdateEndpointRequest"]
        assert dict(update.endpoint.traffic_split) == {CHAMPION_ID: 50, CHALLENGER_ID: 50}
        assert update.endpoint.name == ENDPOINT
        traffic.set_weights(ENDPOINT, {"champion": 0.5, "challenger": 0.5})  # already so: nothing sent
        assert len(fake.requests["UpdateEndpointRequest"]) == 1
        with pytest.raises(ValueError, match="no deployed model"):
            traffic.set_weights(ENDPOINT, {"champion": 0.5, "shadow": 0.5})


def test_operation_in_progress_is_retried_and_other_errors_are_not() -> None:
    with FakeEndpointService({CHAMPION_ID: 90, CHALLENGER_ID: 10}) as fake:
        sleeps: list[float] = []
        traffic = VertexEndpointTraffic(fake.client, retry=RetryPolicy(max_attempts=3, base_delay=1.0),
                                        sleep=sleeps.append)
        fake.failures = [gexc.FailedPrecondition("Endpoint has a deployment operation in progress.")]
        traffic.set_weights(ENDPOINT, {"champion": 1.0, "challenger": 0.0})
        assert sleeps == [1.0] and fake.split() == {CHAMPION_ID: 100, CHALLENGER_ID: 0}
        fake.failures = [gexc.PermissionDenied("aiplatform.endpoints.update denied")]
        with pytest.raises(gexc.PermissionDenied):
            traffic.set_weights(ENDPOINT, {"champion": 0.5, "challenger": 0.5})
        assert sleeps == [1.0]


def test_deploy_challenger_then_undeploy_it_at_run_time() -> None:
    with FakeEndpointService({CHAMPION_ID: 100}, {"champion": CHAMPION_ID}) as fake:
        traffic = VertexEndpointTraffic(fake.client)
        resources = Deployment(machine_type="n1-standard-2", min_replicas=2, max_replicas=4,
                               service_account=f"serving@{PROJECT}.iam.gserviceaccount.com")
        new_id = traffic.deploy(ENDPOINT, f"{MODEL}@2", "challenger", 0.05, resources)
        [deploy] = fake.requests["DeployModelRequest"]
        assert dict(deploy.traffic_split) == {"0": 5, CHAMPION_ID: 95}
        assert deploy.deployed_model.model == f"{MODEL}@2"
        assert deploy.deployed_model.dedicated_resources.min_replica_count == 2
        assert deploy.deployed_model.dedicated_resources.machine_spec.machine_type == "n1-standard-2"
        assert traffic.get_weights(ENDPOINT) == {"champion": 0.95, "challenger": 0.05}
        with pytest.raises(ValueError, match="already serves"):
            traffic.deploy(ENDPOINT, f"{MODEL}@3", "challenger", 0.05, resources)

        traffic.undeploy(ENDPOINT, "challenger")
        [undeploy] = fake.requests["UndeployModelRequest"]
        assert undeploy.deployed_model_id == new_id and dict(undeploy.traffic_split) == {CHAMPION_ID: 100}
        traffic.undeploy(ENDPOINT, "challenger")  # already gone: nothing sent
        assert len(fake.requests["UndeployModelRequest"]) == 1


def test_first_model_on_an_empty_endpoint_takes_all_traffic() -> None:
    with FakeEndpointService({}, {}) as fake:
        traffic = VertexEndpointTraffic(fake.client)
        assert traffic.get_weights(ENDPOINT) == {}
        traffic.deploy(ENDPOINT, f"{MODEL}@1", "champion", 0.05, Deployment())
        assert dict(fake.requests["DeployModelRequest"][0].traffic_split) == {"0": 100}


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_guardrail_rollback_moves_all_traffic_to_the_champion_through_vertex(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unchanged A/B controller, configured for Vertex by name, rolls a harmful challenger back."""
    s3, cloudwatch = boto3.client("s3"), boto3.client("cloudwatch")
    s3.create_bucket(Bucket="decisions")
    monkeypatch.setenv("GCP_PROJECT", PROJECT)  # the stack sets both on the controller's Cloud Run job
    monkeypatch.setenv("GCP_REGION", REGION)
    endpoint_id = ENDPOINT.rsplit("/", 1)[1]
    save_experiment(s3, "decisions", "abtest", Experiment(
        experiment_id="exp-7", endpoint_name=endpoint_id, challenger_model=f"{MODEL}@2", champion_model=f"{MODEL}@1",
        started_at=NOW - timedelta(hours=26), ramp=[0.1],
    ))
    for variant, visitors, conversions in (("champion", 108_000, 5_400), ("challenger", 12_000, 480)):
        cloudwatch.put_metric_data(Namespace="MLOpsGen/ABTest", MetricData=[
            {"MetricName": name, "Value": float(value), "Timestamp": NOW - timedelta(hours=2),
             "Dimensions": [{"Name": "EndpointName", "Value": endpoint_id}, {"Name": "VariantName", "Value": variant}]}
            for name, value in (("Visitors", visitors), ("Conversions", conversions))
        ])
    settings = ControllerSettings.from_env({"ENDPOINT_NAME": endpoint_id, "DECISIONS_BUCKET": "decisions",
                                            "TRAFFIC_CONTROLLER": "vertex-endpoint"})
    with FakeEndpointService({CHAMPION_ID: 90, CHALLENGER_ID: 10}) as fake:
        monkeypatch.setattr(aiplatform_v1, "EndpointServiceClient", lambda **kwargs: fake.client)
        deps = ab_controller.Dependencies(clock=lambda: NOW)

        result = ab_controller.run(settings, deps)

        assert isinstance(deps.traffic("vertex-endpoint"), VertexEndpointTraffic)
        assert result["status"] == "rollback" and result["weights"] == {"champion": 1.0, "challenger": 0.0}
        [update] = fake.requests["UpdateEndpointRequest"]
        assert dict(update.endpoint.traffic_split) == {CHAMPION_ID: 100, CHALLENGER_ID: 0}
        experiment = load_experiment(s3, "decisions", "abtest", endpoint_id)
        assert experiment is not None and experiment.status is ExperimentStatus.ROLLED_BACK

        again = ab_controller.run(settings, deps)  # concluded: reads the split, changes nothing
        assert again["status"] == "already_rolled_back" and again["weights_match_conclusion"] is True
        assert len(fake.requests["UpdateEndpointRequest"]) == 1


def test_two_deployments_under_one_variant_name_are_refused() -> None:
    with FakeEndpointService({CHAMPION_ID: 100}) as fake:
        fake.endpoint.deployed_models.append(aiplatform_v1.DeployedModel(id="9", display_name="champion"))
        with pytest.raises(TrafficUpdateError, match="two deployed models"):
            VertexEndpointTraffic(fake.client).get_weights(ENDPOINT)


# ------------------------------------------------------------------ retraining
SETTINGS = {
    "GCP_PROJECT": PROJECT, "GCP_REGION": REGION,
    "PIPELINE_TEMPLATE_URI": f"gs://{PROJECT}-artifacts/pipelines/retraining.json",
    "PIPELINE_ROOT": f"gs://{PROJECT}-artifacts/pipeline-root",
    "PIPELINE_SERVICE_ACCOUNT": f"training@{PROJECT}.iam.gserviceaccount.com",
    "KMS_KEY_NAME": f"projects/{PROJECT}/locations/{REGION}/keyRings/mlops/cryptoKeys/platform",
    "PIPELINE_PARAMETERS": json.dumps({"epochs": 3}),
}


def pipeline_client() -> aiplatform_v1.PipelineServiceClient:
    return aiplatform_v1.PipelineServiceClient(credentials=anonymous(), client_options=client_options(LOCATION))


def test_drift_retrain_submits_one_pipeline_job_per_batch() -> None:
    client = pipeline_client()
    trigger = get_retraining_trigger("vertex-pipeline", SETTINGS)
    assert isinstance(trigger, VertexPipelineTrigger)
    trigger._client = client
    request = RetrainingRequest("churn", "Data drift in 2 of 3 features.", RetrainingRequest.key_for("churn", "3", "d"),
                                report_uri="gs://a/report.json")
    created = aiplatform_v1.PipelineJob(name=f"{LOCATION}/pipelineJobs/{VertexPipelineTrigger.job_id(request)}")
    with mock.patch.object(type(client.transport.create_pipeline_job), "__call__") as call:
        call.return_value = created
        assert trigger.trigger(request) == created.name
        call.side_effect = gexc.AlreadyExists("exists")
        assert trigger.trigger(request) == created.name  # a retried run finds the same job
    sent: aiplatform_v1.CreatePipelineJobRequest = call.call_args_list[0].args[0]
    assert sent.parent == LOCATION and sent.pipeline_job_id == VertexPipelineTrigger.job_id(request)
    job = sent.pipeline_job
    assert job.template_uri == SETTINGS["PIPELINE_TEMPLATE_URI"]
    assert job.runtime_config.gcs_output_directory == SETTINGS["PIPELINE_ROOT"]
    assert job.service_account == SETTINGS["PIPELINE_SERVICE_ACCOUNT"]
    assert job.encryption_spec.kms_key_name == SETTINGS["KMS_KEY_NAME"]
    assert dict(job.runtime_config.parameter_values)["model_name"] == "churn"
    assert dict(job.runtime_config.parameter_values)["epochs"] == "3"
    assert dict(job.labels) == {"model": "churn", "trigger": "drift"}


def test_trigger_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="GCP_PROJECT and GCP_REGION"):
        VertexPipelineTrigger.from_settings({"PIPELINE_TEMPLATE_URI": "gs://a/b.json"})
    with pytest.raises(ValueError, match="PIPELINE_TEMPLATE_URI"):
        VertexPipelineTrigger.from_settings({"GCP_PROJECT": PROJECT, "GCP_REGION": REGION})
    assert isinstance(get_traffic_controller("vertex-endpoint"), VertexEndpointTraffic)


# ------------------------------------------------------------------ registry
def test_moving_the_champion_alias_removes_it_from_the_old_version_first() -> None:
    client = aiplatform_v1.ModelServiceClient(credentials=anonymous(), client_options=client_options(MODEL))
    versions = [aiplatform_v1.Model(name=MODEL, version_id="1", version_aliases=["champion"]),
                aiplatform_v1.Model(name=MODEL, version_id="2", version_aliases=["challenger"])]
    registry = VertexModelRegistry(client)
    sent: list[tuple[str, list[str]]] = []

    def transport(request: Any, **kwargs: Any) -> Any:  # one callable type serves every method: dispatch
        if isinstance(request, aiplatform_v1.ListModelVersionsRequest):
            assert request.name == MODEL
            return aiplatform_v1.ListModelVersionsResponse(models=versions)
        sent.append((request.name, list(request.version_aliases)))
        return aiplatform_v1.Model(name=MODEL)

    with mock.patch.object(type(client.transport.list_model_versions), "__call__", side_effect=transport):
        assert [v.version_id for v in registry.versions(MODEL)] == ["1", "2"]
        assert registry.version_with_alias(MODEL, "champion").version_id == "1"  # type: ignore[union-attr]
        registry.set_alias(MODEL, "2", "champion")
        registry.set_alias(MODEL, "1", "champion")  # version 1 holds it in the listing: nothing sent
        with pytest.raises(ValueError, match="alias"):
            registry.set_alias(MODEL, "2", "default")
    assert sent == [(f"{MODEL}@1", ["-champion"]), (f"{MODEL}@2", ["champion"])]


def test_a_model_not_registered_yet_has_no_versions() -> None:
    client = aiplatform_v1.ModelServiceClient(credentials=anonymous(), client_options=client_options(MODEL))
    with mock.patch.object(type(client.transport.list_model_versions), "__call__") as listing:
        listing.side_effect = gexc.NotFound("model not found")
        assert VertexModelRegistry(client).versions(MODEL) == []


def test_drift_run_on_a_drifted_day_submits_a_vertex_pipeline_job(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unchanged drift handler, with RETRAINING_TRIGGER=vertex-pipeline, asks Vertex for one retraining job."""
    rng = np.random.default_rng(5)
    s3 = boto3.client("s3")
    for bucket in ("artifacts", "data"):
        s3.create_bucket(Bucket=bucket)
    reference = pa.table({"tenure": rng.normal(24, 12, 5000), "spend": rng.gamma(2.0, 50.0, 5000)})
    upload_baseline(compute_baseline(reference, model_name="churn", model_version="3"), s3, "artifacts",
                    "baselines/churn/3/baseline.json")
    sink = io.BytesIO()
    pq.write_table(pa.table({"tenure": rng.normal(40, 12, 3000), "spend": rng.gamma(2.0, 90.0, 3000)}), sink)
    s3.put_object(Bucket="data", Key="curated/dt=2026-11-25/part-0.parquet", Body=sink.getvalue())
    env = {**SETTINGS, "ARTIFACT_BUCKET": "artifacts", "DATA_BUCKET": "data", "MODEL_NAME": "churn",
           "BASELINE_KEY": "baselines/churn/3/baseline.json", "RETRAINING_TRIGGER": "vertex-pipeline"}
    client = pipeline_client()
    monkeypatch.setattr(aiplatform_v1, "PipelineServiceClient", lambda **kwargs: client)
    with mock.patch.object(type(client.transport.create_pipeline_job), "__call__") as call:
        call.side_effect = lambda request, **kwargs: aiplatform_v1.PipelineJob(
            name=f"{request.parent}/pipelineJobs/{request.pipeline_job_id}")

        summary = drift_monitor.run({"date": "2026-11-25"}, DriftSettings.from_env(env),
                                    drift_monitor.Dependencies(clock=lambda: NOW))

    assert summary["dataset_drift"] is True
    [sent] = [c.args[0] for c in call.call_args_list]
    assert summary["retraining"] == {"status": "started", "trigger": "vertex-pipeline",
                                     "run": f"{LOCATION}/pipelineJobs/{sent.pipeline_job_id}"}
    assert sent.pipeline_job.template_uri == SETTINGS["PIPELINE_TEMPLATE_URI"]
    assert dict(sent.pipeline_job.runtime_config.parameter_values)["report_uri"] == summary["report_uri"]


# ------------------------------------------------------------------ whole runs on GCP: GCS, Cloud Monitoring, logs
@pytest.fixture(scope="module")
def gcs_server() -> Iterator[str]:
    """An in-process Cloud Storage emulator (gcp-storage-emulator); yields its URL."""
    from gcp_storage_emulator.server import create_server

    server = create_server("127.0.0.1", 0, in_memory=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._api._httpd.server_address[1]}"  # the port the OS gave it
    finally:
        server.stop()


@pytest.fixture
def gcs(gcs_server: str, monkeypatch: pytest.MonkeyPatch) -> GcsStore:
    """A GcsStore over the emulator, with fresh buckets (the official client, anonymous credentials)."""
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server)
    client = storage.Client(project=PROJECT, credentials=anonymous())
    for bucket in ("artifacts", "data"):
        existing = client.bucket(bucket)
        if existing.exists():
            for blob in client.list_blobs(bucket):
                blob.delete()
        else:
            client.create_bucket(bucket)
    return GcsStore(client)


class FakeMonitoring:
    """A MetricServiceClient whose CreateTimeSeries / ListTimeSeries transport calls are patched: written series are
    kept and answered back by filter, as Cloud Monitoring would (an exact-match filter on type and labels).

    Every gRPC client's transport methods share one callable type, so one patch serves them all: requests of other
    services go to `other` (another fake's dispatcher)."""

    def __init__(self, other: Any = None) -> None:
        self.client = monitoring_v3.MetricServiceClient(credentials=anonymous())
        self.written: list[monitoring_v3.TimeSeries] = []
        self.filters: list[str] = []
        self.other = other

    def patch(self) -> Any:
        return mock.patch.object(type(self.client.transport.create_time_series), "__call__", side_effect=self._any)

    def _any(self, request: Any, **kwargs: Any) -> Any:
        if not type(request).__module__.startswith("google.cloud.monitoring_v3"):
            return self.other(request, **kwargs)
        if isinstance(request, monitoring_v3.CreateTimeSeriesRequest):
            assert request.name == f"projects/{PROJECT}" and len(request.time_series) <= 200
            self.written.extend(request.time_series)
            return None
        assert isinstance(request, monitoring_v3.ListTimeSeriesRequest)
        self.filters.append(request.filter)
        wanted = dict(re.findall(r'([\w.]+) = "([^"]*)"', request.filter))
        start, end = request.interval.start_time, request.interval.end_time
        found = [s for s in self.written if s.metric.type == wanted["metric.type"]
                 and all(s.metric.labels.get(k.removeprefix("metric.labels.")) == v
                         for k, v in wanted.items() if k.startswith("metric.labels."))
                 and all(start <= p.interval.end_time <= end for p in s.points)]
        return monitoring_v3.ListTimeSeriesResponse(time_series=found)


def test_gcs_store_reads_writes_lists_and_downloads_through_the_official_client(gcs: GcsStore, tmp_path: Any) -> None:
    gcs.put("data", "curated/churn/dt=2026-11-25/a.csv", b"x,y\n1,2\n", content_type="text/csv")
    gcs.put("data", "curated/churn/dt=2026-11-26/b.csv", b"x,y\n3,4\n", content_type="text/csv")
    assert gcs.get("data", "curated/churn/dt=2026-11-25/a.csv") == b"x,y\n1,2\n"
    assert gcs.keys("data", "curated/churn/dt=2026-11-26/") == ["curated/churn/dt=2026-11-26/b.csv"]
    gcs.download("data", "curated/churn/dt=2026-11-26/b.csv", str(tmp_path / "b.csv"))
    assert (tmp_path / "b.csv").read_bytes() == b"x,y\n3,4\n"
    with pytest.raises(ObjectNotFound):
        gcs.get("data", "missing.json")
    assert load_experiment(gcs, "artifacts", "experiments/churn", "4242") is None  # none started yet


def test_cloud_monitoring_metrics_are_custom_metrics_summed_over_the_window() -> None:
    fake = FakeMonitoring()
    with fake.patch():
        metrics = CloudMonitoringMetrics(PROJECT, fake.client)
        points = [MetricPoint("Visitors", 10.0, {"EndpointName": "4242", "VariantName": "champion"})]
        for hours in (30, 5, 1):  # the first is before the window
            metrics.put("MLOpsGen/ABTest", points, NOW - timedelta(hours=hours))
        [first] = fake.written[:1]
        assert first.metric.type == "custom.googleapis.com/MLOpsGen/ABTest/Visitors"
        assert dict(first.metric.labels) == {"endpoint_name": "4242", "variant_name": "champion"}
        assert first.resource.type == "global" and first.resource.labels["project_id"] == PROJECT
        series = {"v": ("Visitors", {"EndpointName": "4242", "VariantName": "champion"}),
                  "c": ("Visitors", {"EndpointName": "4242", "VariantName": "challenger"})}
        assert metrics.sums("MLOpsGen/ABTest", series, NOW - timedelta(hours=24), NOW) == {"v": 20.0, "c": 0.0}
        assert fake.filters[0] == ('metric.type = "custom.googleapis.com/MLOpsGen/ABTest/Visitors" AND '
                                   'metric.labels.endpoint_name = "4242" AND metric.labels.variant_name = "champion"')


def test_a_gcp_alert_is_a_structured_log_entry_the_stacks_alert_policy_matches() -> None:
    stream = io.StringIO()
    CloudLoggingNotifier(stream, model="churn").publish("A/B rollback: 4242", "details")
    entry = json.loads(stream.getvalue())
    assert entry["severity"] == "WARNING" and entry["subject"] == "A/B rollback: 4242"
    assert entry["logging.googleapis.com/labels"] == {ALERT_LABEL: "true", "model": "churn"}


GCP_ENV = {"GCP_PROJECT": PROJECT, "GCP_REGION": REGION, "STORAGE": "gcs", "METRICS": "cloud-monitoring",
           "NOTIFICATIONS": "cloud-logging"}


def test_on_gcp_a_guardrail_rollback_moves_all_traffic_to_the_champion(
    gcs: GcsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The A/B controller with the GCP stack's settings: experiment in Cloud Storage, counts from Cloud Monitoring,
    traffic through Vertex AI, the alert as a log entry: each through the official client library."""
    endpoint_id = ENDPOINT.rsplit("/", 1)[1]
    save_experiment(gcs, "artifacts", "experiments/churn", Experiment(
        experiment_id="exp-8", endpoint_name=endpoint_id, challenger_model=f"{MODEL}@2", champion_model=f"{MODEL}@1",
        started_at=NOW - timedelta(hours=26), ramp=[0.1],
    ))
    env = {**GCP_ENV, "ENDPOINT_NAME": endpoint_id, "DECISIONS_BUCKET": "artifacts",
           "DECISIONS_PREFIX": "experiments/churn", "TRAFFIC_CONTROLLER": "vertex-endpoint"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = ControllerSettings.from_env(env)
    alerts = io.StringIO()
    with FakeEndpointService({CHAMPION_ID: 90, CHALLENGER_ID: 10}) as vertex:
        monitoring = FakeMonitoring(other=vertex._any)
        monitoring.patch().start()
        metrics = CloudMonitoringMetrics(PROJECT, monitoring.client)
        # Conversion 5.0% on the champion, 4.0% on the challenger: a 20% relative drop, past the 5% guardrail.
        for variant, visitors, conversions in (("champion", 108_000, 5_400), ("challenger", 12_000, 480)):
            dims = {"EndpointName": endpoint_id, "VariantName": variant}
            metrics.put("MLOpsGen/ABTest", [MetricPoint("Visitors", visitors, dims),
                                            MetricPoint("Conversions", conversions, dims)], NOW - timedelta(hours=2))
        monkeypatch.setattr(aiplatform_v1, "EndpointServiceClient", lambda **kwargs: vertex.client)
        deps = ab_controller.Dependencies(store=gcs, metrics=metrics, notifier=CloudLoggingNotifier(alerts),
                                          clock=lambda: NOW)
        try:
            result = ab_controller.run(settings, deps)
        finally:
            mock.patch.stopall()

        assert result["status"] == "rollback" and result["weights"] == {"champion": 1.0, "challenger": 0.0}
        [update] = vertex.requests["UpdateEndpointRequest"]
        assert dict(update.endpoint.traffic_split) == {CHAMPION_ID: 100, CHALLENGER_ID: 0}
        assert vertex.split() == {CHAMPION_ID: 100, CHALLENGER_ID: 0}
    experiment = load_experiment(gcs, "artifacts", "experiments/churn", endpoint_id)
    assert experiment is not None and experiment.status is ExperimentStatus.ROLLED_BACK
    decision = json.loads(gcs.get("artifacts", result["decision_key"]))
    assert decision["action"] == "rollback" and decision["weights_after"] == {"champion": 1.0, "challenger": 0.0}
    assert json.loads(alerts.getvalue())["subject"] == f"A/B rollback: {endpoint_id}"
    # The controller built its adapters from the GCP settings by name, as the Cloud Run job does.
    built = ab_controller.Dependencies()
    assert isinstance(built.store(settings.adapters()), GcsStore)
    assert isinstance(built.metrics(settings.adapters()), CloudMonitoringMetrics)
    assert isinstance(built.notifier(settings.adapters()), CloudLoggingNotifier)


def test_on_gcp_a_drifted_day_submits_a_vertex_pipeline_job(gcs: GcsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drift monitor with the GCP stack's settings: data and baseline in Cloud Storage, one Vertex pipeline
    job, metrics to Cloud Monitoring, the report back in Cloud Storage, the alert as a log entry."""
    rng = np.random.default_rng(5)
    reference = pa.table({"tenure": rng.normal(24, 12, 5000), "spend": rng.gamma(2.0, 50.0, 5000)})
    baseline = compute_baseline(reference, model_name="churn", model_version="3")
    gcs.put("artifacts", "baselines/churn/current/baseline.json", baseline.to_json().encode())
    sink = io.BytesIO()
    pq.write_table(pa.table({"tenure": rng.normal(40, 12, 3000), "spend": rng.gamma(2.0, 90.0, 3000)}), sink)
    gcs.put("data", "curated/churn/dt=2026-11-25/part-0.parquet", sink.getvalue(), "application/octet-stream")
    env = {**SETTINGS, **GCP_ENV, "ARTIFACT_BUCKET": "artifacts", "DATA_BUCKET": "data", "MODEL_NAME": "churn",
           "BASELINE_KEY": "baselines/churn/current/baseline.json", "CURRENT_PREFIX": "curated/churn/",
           "REPORT_PREFIX": "reports/drift/", "RETRAINING_TRIGGER": "vertex-pipeline"}
    client = pipeline_client()
    monkeypatch.setattr(aiplatform_v1, "PipelineServiceClient", lambda **kwargs: client)
    alerts = io.StringIO()
    submitted: list[aiplatform_v1.CreatePipelineJobRequest] = []

    def create_pipeline_job(request: Any, **kwargs: Any) -> aiplatform_v1.PipelineJob:
        submitted.append(request)
        return aiplatform_v1.PipelineJob(name=f"{request.parent}/pipelineJobs/{request.pipeline_job_id}")

    monitoring = FakeMonitoring(other=create_pipeline_job)
    with monitoring.patch():
        deps = drift_monitor.Dependencies(store=gcs, metrics=CloudMonitoringMetrics(PROJECT, monitoring.client),
                                          notifier=CloudLoggingNotifier(alerts), clock=lambda: NOW)
        summary = drift_monitor.run({"date": "2026-11-25"}, DriftSettings.from_env(env), deps)

    assert summary["dataset_drift"] is True
    [sent] = submitted
    assert sent.parent == LOCATION and sent.pipeline_job.template_uri == SETTINGS["PIPELINE_TEMPLATE_URI"]
    assert summary["retraining"]["run"] == f"{LOCATION}/pipelineJobs/{sent.pipeline_job_id}"
    assert summary["report_uri"] == "gs://artifacts/reports/drift/churn/dt=2026-11-25/report.json"
    assert dict(sent.pipeline_job.runtime_config.parameter_values)["report_uri"] == summary["report_uri"]
    report = json.loads(gcs.get("artifacts", "reports/drift/churn/dt=2026-11-25/report.json"))
    assert report["dataset_drift"] is True and report["actions"]["retraining_status"] == "started"
    share = [s for s in monitoring.written if s.metric.type.endswith("/drift_share")]
    assert len(share) == 1 and share[0].metric.labels["model"] == "churn"
    assert share[0].points[0].value.double_value == pytest.approx(summary["drift_share"], abs=1e-4)
    assert json.loads(alerts.getvalue())["subject"].startswith("Drift: churn 2/2 features drifted")


def test_the_cloud_run_entry_point_runs_the_named_task(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.runtime.jobs import cloudrun

    assert cloudrun.task_handler("ab-controller") is ab_controller.handler
    with pytest.raises(SystemExit, match="unknown task"):
        cloudrun.task_handler("deploy")
    requests: list[RetrainingRequest] = []

    class Recorder:
        def trigger(self, request: RetrainingRequest) -> str:
            requests.append(request)
            return "run-1"

    monkeypatch.setenv("MODEL_NAME", "churn")
    monkeypatch.setenv("RETRAINING_TRIGGER", "vertex-pipeline")
    monkeypatch.setattr(cloudrun, "get_retraining_trigger", lambda name, settings: Recorder())
    monkeypatch.setattr(cloudrun, "utc_now", lambda: NOW)
    assert cloudrun.main(["retraining"]) == 0
    cloudrun.main(["retraining"])  # a retried execution the same day: the same run
    monkeypatch.setattr(cloudrun, "utc_now", lambda: NOW + timedelta(days=7))
    cloudrun.main(["retraining"])
    assert requests[0].idempotency_key == requests[1].idempotency_key != requests[2].idempotency_key
    assert requests[0].idempotency_key == RetrainingRequest.key_for("churn", "scheduled", "2026-11-26")
    assert requests[0].trigger == "schedule"  # the pipeline job is labelled trigger=schedule, not drift
