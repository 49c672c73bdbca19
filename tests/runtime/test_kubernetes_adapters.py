"""The Kubernetes-side adapters at their HTTP boundaries.

- KServe traffic: the real `kubernetes` client talks HTTP to a fake Kubernetes API server on 127.0.0.1 that
  keeps InferenceGraph objects, applies JSON merge patches (RFC 7386) only when sent as
  `application/merge-patch+json`, and enforces `metadata.resourceVersion` (409 Conflict), as the API server does.
- Kubeflow Pipelines: the trigger's HTTP calls are answered by `responses` with the KFP v2beta1 shapes.
The A/B controller and the drift monitor run end to end on moto with these adapters, picked by name from the
environment exactly as in the deployed CronJobs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import responses
from moto import mock_aws

from infra.runtime.abtest.experiment import Experiment, ExperimentStatus, load_experiment, save_experiment
from infra.runtime.adapters.kserve import KServeGraphTraffic, percentages
from infra.runtime.adapters.kubeflow import KubeflowPipelineTrigger
from infra.runtime.adapters.retraining import RetrainingRequest, get_retraining_trigger
from infra.runtime.adapters.traffic import RetryPolicy, TrafficUpdateError
from infra.runtime.handlers import ab_controller

NAMESPACE = "mlops-serving"
GRAPH = "recommender"
GRAPH_PATH = f"/apis/serving.kserve.io/v1alpha1/namespaces/{NAMESPACE}/inferencegraphs/{GRAPH}"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else (lists included) replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeKubernetes(ThreadingHTTPServer):
    """Custom objects by path; GET and PATCH (merge patch) with resourceVersion semantics."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str, Any]] = []  # method, path, content type, body
        self.conflicts_to_inject = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def put(self, path: str, obj: dict[str, Any]) -> None:
        self.objects[path] = merge_patch(obj, {"metadata": {"resourceVersion": "1"}})

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        return path


class _Handler(BaseHTTPRequestHandler):
    server: FakeKubernetes

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str) -> None:
        self._send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code})

    def do_GET(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        with self.server.lock:
            self.server.requests.append(("GET", path, "", None))
            obj = self.server.objects.get(path)
        if obj is None:
            self._status(404, "NotFound")
        else:
            self._send(200, obj)

    def do_PATCH(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        content_type = self.headers.get("Content-Type", "")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with self.server.lock:
            self.server.requests.append(("PATCH", path, content_type, body))
            obj = self.server.objects.get(path)
            if obj is None:
                return self._status(404, "NotFound")
            if content_type != "application/merge-patch+json":
                return self._status(415, "UnsupportedMediaType")
            version = obj["metadata"]["resourceVersion"]
            asked = (body.get("metadata") or {}).get("resourceVersion")
            if self.server.conflicts_to_inject > 0:
                self.server.conflicts_to_inject -= 1
                obj = merge_patch(obj, {"metadata": {"resourceVersion": str(int(version) + 1)}})
                self.server.objects[path] = obj
                return self._status(409, "Conflict")
            if asked is not None and asked != version:
                return self._status(409, "Conflict")
            updated = merge_patch(obj, body)
            updated["metadata"]["resourceVersion"] = str(int(version) + 1)
            self.server.objects[path] = updated
        self._send(200, updated)


def splitter(champion: int, challenger: int) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": GRAPH, "namespace": NAMESPACE},
        "spec": {"nodes": {"root": {"routerType": "Splitter", "steps": [
            {"name": "champion", "serviceName": f"{GRAPH}-champion", "weight": champion},
            {"name": "challenger", "serviceName": f"{GRAPH}-challenger", "weight": challenger},
        ]}}},
    }


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKubernetes]:
    server = FakeKubernetes()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)  # not in a pod: the kubeconfig is used
    monkeypatch.setenv("KSERVE_NAMESPACE", NAMESPACE)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def graph_weights(kube: FakeKubernetes) -> dict[str, int]:
    return {s["name"]: s["weight"] for s in kube.objects[GRAPH_PATH]["spec"]["nodes"]["root"]["steps"]}


def test_percentages_sum_to_100_by_largest_remainder() -> None:
    assert percentages({"champion": 0.95, "challenger": 0.05}) == {"champion": 95, "challenger": 5}
    assert percentages({"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert percentages({"champion": 1.0, "challenger": 0.0}) == {"champion": 100, "challenger": 0}
    with pytest.raises(ValueError):
        percentages({"champion": 0.0, "challenger": 0.0})


def test_kserve_adapter_reads_and_moves_the_split_with_a_merge_patch(kube: FakeKubernetes) -> None:
    kube.put(GRAPH_PATH, splitter(95, 5))
    traffic = ab_controller.get_traffic_controller("kserve-inferencegraph")
    assert isinstance(traffic, KServeGraphTraffic)
    assert traffic.get_weights(GRAPH) == {"champion": 0.95, "challenger": 0.05}

    traffic.set_weights(GRAPH, {"champion": 0.75, "challenger": 0.25})

    assert graph_weights(kube) == {"champion": 75, "challenger": 25}
    [patch] = [r for r in kube.requests if r[0] == "PATCH"]
    assert patch[2] == "application/merge-patch+json"
    assert patch[3]["metadata"]["resourceVersion"] == "1"  # optimistic concurrency on what was read
    steps = kube.objects[GRAPH_PATH]["spec"]["nodes"]["root"]["steps"]
    assert [s["serviceName"] for s in steps] == [f"{GRAPH}-champion", f"{GRAPH}-challenger"]  # not lost

    before = len(kube.requests)
    traffic.set_weights(GRAPH, {"champion": 3, "challenger": 1})  # same split, relative weights: no PATCH
    assert [r[0] for r in kube.requests[before:]] == ["GET"]


def test_kserve_adapter_rereads_after_a_conflict_and_rejects_unknown_variants(kube: FakeKubernetes) -> None:
    kube.put(GRAPH_PATH, splitter(50, 50))
    kube.conflicts_to_inject = 1  # someone else changed the graph between our GET and PATCH
    sleeps: list[float] = []
    traffic = KServeGraphTraffic(NAMESPACE, retry=RetryPolicy(max_attempts=3, base_delay=0.5), sleep=sleeps.append)
    traffic.set_weights(GRAPH, {"champion": 1.0, "challenger": 0.0})
    assert graph_weights(kube) == {"champion": 100, "challenger": 0}
    assert sleeps == [0.5] and traffic.retries == 1
    with pytest.raises(ValueError, match="no step"):
        traffic.set_weights(GRAPH, {"shadow": 1.0})
    with pytest.raises(TrafficUpdateError, match="cannot read"):
        traffic.get_weights("missing-graph")


def test_guardrail_rollback_sets_the_challenger_to_zero_through_kserve(
    kube: FakeKubernetes, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # fixed: no dependence on the wall clock
    kube.put(GRAPH_PATH, splitter(90, 10))
    with mock_aws():
        s3, sns, sqs = boto3.client("s3"), boto3.client("sns"), boto3.client("sqs")
        cloudwatch = boto3.client("cloudwatch")
        s3.create_bucket(Bucket="decisions")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        save_experiment(s3, "decisions", "abtest", Experiment(
            experiment_id="exp-k8s", endpoint_name=GRAPH, challenger_model="v2", champion_model="v1",
            started_at=now - timedelta(hours=26), ramp=[0.1],
        ))
        for variant, visitors, conversions in (("champion", 108_000, 5_400), ("challenger", 12_000, 480)):
            cloudwatch.put_metric_data(Namespace="MLOpsGen/ABTest", MetricData=[
                {"MetricName": name, "Value": float(value), "Unit": "Count", "Timestamp": now - timedelta(hours=2),
                 "Dimensions": [{"Name": "EndpointName", "Value": GRAPH}, {"Name": "VariantName", "Value": variant}]}
                for name, value in (("Visitors", visitors), ("Conversions", conversions))
            ])
        for key, value in {"ENDPOINT_NAME": GRAPH, "DECISIONS_BUCKET": "decisions", "ALERT_TOPIC_ARN": topic,
                           "TRAFFIC_CONTROLLER": "kserve-inferencegraph"}.items():
            monkeypatch.setenv(key, value)

        result = ab_controller.handler({}, None)  # the CronJob's entry point: everything from the environment

        assert result["status"] == "rollback" and result["changed"] is True
        assert graph_weights(kube) == {"champion": 100, "challenger": 0}
        patches = [r for r in kube.requests if r[0] == "PATCH"]
        assert len(patches) == 1 and patches[0][1] == GRAPH_PATH
        experiment = load_experiment(s3, "decisions", "abtest", GRAPH)
        assert experiment is not None and experiment.status is ExperimentStatus.ROLLED_BACK
        again = ab_controller.handler({}, None)
        assert again["status"] == "already_rolled_back" and again["weights_match_conclusion"] is True
        assert len([r for r in kube.requests if r[0] == "PATCH"]) == 1


KFP = "http://kfp.test:8888"


def _request(key: str = "a" * 64) -> RetrainingRequest:
    return RetrainingRequest(model_name="credit scoring", reason="dataset drift: 3/5 features",
                             idempotency_key=key, report_uri="s3://artifacts/drift/report.json")


@responses.activate
def test_kfp_trigger_starts_one_run_per_request_key() -> None:
    runs: list[dict[str, Any]] = []

    def list_runs(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlparse(request.url).query)
        [predicate] = json.loads(query["filter"][0])["predicates"]
        found = [r for r in runs if r["display_name"] == predicate["string_value"]]
        return 200, {}, json.dumps({"runs": found[:1], "total_size": len(found)} if found else {})

    def create_run(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        run = {**body, "run_id": f"run-{len(runs) + 1}", "state": "PENDING"}
        runs.append(run)
        return 200, {}, json.dumps(run)

    responses.add_callback(responses.GET, f"{KFP}/apis/v2beta1/runs", callback=list_runs)
    responses.add_callback(responses.POST, f"{KFP}/apis/v2beta1/runs", callback=create_run)
    trigger = get_retraining_trigger("kubeflow-pipeline", {
        "KFP_HOST": KFP, "KFP_PIPELINE_ID": "pipe-1", "KFP_EXPERIMENT_ID": "exp-1",
        "PIPELINE_PARAMETERS": json.dumps({"model": "credit-scoring"}),
    })
    assert isinstance(trigger, KubeflowPipelineTrigger)

    first = trigger.trigger(_request())
    again = trigger.trigger(_request())  # a retried job for the same batch
    other = trigger.trigger(_request("b" * 64))

    assert (first, again, other) == ("run-1", "run-1", "run-2")
    assert len(runs) == 2
    assert runs[0]["display_name"] == "drift-credit-scoring-aaaaaaaaaaaaaaaa"
    assert runs[0]["pipeline_version_reference"] == {"pipeline_id": "pipe-1"}
    assert runs[0]["runtime_config"] == {"parameters": {"model": "credit-scoring"}}
    assert runs[0]["experiment_id"] == "exp-1"
    assert "s3://artifacts/drift/report.json" in runs[0]["description"]


@responses.activate
def test_kfp_errors_are_raised_with_the_status() -> None:
    responses.add(responses.GET, f"{KFP}/apis/v2beta1/runs", json={})
    responses.add(responses.POST, f"{KFP}/apis/v2beta1/runs", status=400, json={"error": "pipeline not found"})
    trigger = KubeflowPipelineTrigger("missing", host=KFP)
    with pytest.raises(RuntimeError, match="HTTP 400"):
        trigger.trigger(_request())
    with pytest.raises(ValueError, match="KFP_PIPELINE_ID"):
        KubeflowPipelineTrigger.from_settings({})


@responses.activate
def test_drift_triggered_retrain_starts_a_kfp_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from infra.runtime.drift import baseline_key, compute_baseline, upload_baseline
    from infra.runtime.handlers import drift_monitor

    def table(n: int, seed: int, shift: float = 0.0) -> pa.Table:
        rng = np.random.default_rng(seed)
        return pa.table({"income": rng.normal(50 + shift * 20, 10, n), "debt": rng.gamma(2.0, 5.0 * (1 + shift), n)})

    created: list[dict[str, Any]] = []
    responses.add(responses.GET, f"{KFP}/apis/v2beta1/runs", json={})
    responses.add_callback(responses.POST, f"{KFP}/apis/v2beta1/runs", callback=lambda r: (
        created.append(json.loads(r.body)) or (200, {}, json.dumps({"run_id": "run-42", "state": "PENDING"}))))
    responses.add_passthru("https://")  # moto intercepts boto3 below responses' adapter
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("artifacts", "data"):
            s3.create_bucket(Bucket=bucket)
        key = baseline_key("credit-scoring", 1)
        upload_baseline(compute_baseline(table(20_000, 0), model_name="credit-scoring", model_version="1"),
                        s3, "artifacts", key)
        sink = io.BytesIO()
        pq.write_table(table(4000, 1, shift=0.8), sink)
        s3.put_object(Bucket="data", Key="curated/dt=2026-11-25/part-0.parquet", Body=sink.getvalue())
        env = {"ARTIFACT_BUCKET": "artifacts", "DATA_BUCKET": "data", "MODEL_NAME": "credit-scoring",
               "BASELINE_KEY": key, "CURRENT_PREFIX": "curated/", "REPORT_PREFIX": "drift-reports/",
               "RETRAINING_TRIGGER": "kubeflow-pipeline", "KFP_HOST": KFP, "KFP_PIPELINE_ID": "retrain-credit"}
        for name, value in env.items():
            monkeypatch.setenv(name, value)

        summary = drift_monitor.handler({"date": "2026-11-25"}, None)

    assert summary["dataset_drift"] is True
    assert summary["retraining"]["status"] == "started" and summary["retraining"]["run"] == "run-42"
    [run] = created
    assert run["pipeline_version_reference"] == {"pipeline_id": "retrain-credit"}
    assert run["display_name"].startswith("drift-credit-scoring-")


@responses.activate
def test_scheduled_retrain_job_resolves_the_pipeline_by_name_once_per_day() -> None:
    from infra.runtime.jobs import retrain

    created: list[dict[str, Any]] = []
    responses.add(responses.GET, f"{KFP}/apis/v2beta1/pipelines",
                  json={"pipelines": [{"pipeline_id": "p-77", "display_name": "credit-scoring-retraining"}]})
    responses.add_callback(responses.GET, f"{KFP}/apis/v2beta1/runs", callback=lambda r: (
        200, {}, json.dumps({"runs": [{"run_id": "run-1"}]} if created else {})))
    responses.add_callback(responses.POST, f"{KFP}/apis/v2beta1/runs", callback=lambda r: (
        created.append(json.loads(r.body)) or (200, {}, json.dumps({"run_id": "run-1"}))))
    env = {"MODEL_NAME": "credit-scoring", "RETRAINING_TRIGGER": "kubeflow-pipeline", "KFP_HOST": KFP,
           "KFP_PIPELINE_NAME": "credit-scoring-retraining"}
    day = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)

    first = retrain.handler({}, None, env=env, now=day)
    again = retrain.handler({}, None, env=env, now=day + timedelta(hours=1))  # the Job retried the same day

    assert first == again == {"model": "credit-scoring", "run": "run-1", "day": "2026-12-01"}
    [run] = created
    assert run["pipeline_version_reference"] == {"pipeline_id": "p-77"}
    [lookup] = [c.request for c in responses.calls if "/pipelines" in c.request.url]
    assert "credit-scoring-retraining" in parse_qs(urlparse(lookup.url).query)["filter"][0]


def test_job_runner_runs_a_handler_and_reports_failures(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from infra.runtime.jobs import run

    assert run.main(["no-such-handler"]) == 2
    monkeypatch.delenv("MODEL_NAME", raising=False)
    assert run.main(["retrain"]) == 1  # missing settings: a failed Job, not a silent success
    assert set(run.HANDLERS) == {"drift-monitor", "ab-controller", "ingestion", "retrain", "kserve-deployer",
                                 "register-model"}
    capsys.readouterr()


def _isvc_path(variant: str) -> str:
    return f"/apis/serving.kserve.io/v1beta1/namespaces/{NAMESPACE}/inferenceservices/{GRAPH}-{variant}"


def _served(kube: FakeKubernetes, variant: str) -> str:
    return str(kube.objects[_isvc_path(variant)]["spec"]["predictor"]["model"]["storageUri"])


def test_kserve_deployer_puts_each_approved_version_on_the_right_variant(kube: FakeKubernetes) -> None:
    """First version on the champion; the next on the challenger at the first ramp stage with a new experiment;
    a version approved while it runs waits; after a promotion the winner becomes champion first."""
    from infra.runtime.handlers import kserve_deployer

    bootstrap = "s3://artifacts/models/recommender/current/"
    kube.put(GRAPH_PATH, splitter(100, 0))
    for variant in ("champion", "challenger"):
        kube.put(_isvc_path(variant), {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                                       "metadata": {"name": f"{GRAPH}-{variant}", "namespace": NAMESPACE},
                                       "spec": {"predictor": {"model": {"storageUri": bootstrap}}}})
    now = datetime(2026, 1, 5, 3, tzinfo=UTC)
    with mock_aws():
        s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
        s3.create_bucket(Bucket="artifacts")
        sagemaker.create_model_package_group(ModelPackageGroupName="stack-recommender")
        settings = kserve_deployer.KServeDeploySettings.from_env({
            "MODEL_PACKAGE_GROUP": "stack-recommender", "KSERVE_NAMESPACE": NAMESPACE, "ENDPOINT_NAME": GRAPH,
            "SERVING_MODE": "ab", "BOOTSTRAP_URI": bootstrap, "DECISIONS_BUCKET": "artifacts", "RAMP": "[0.05, 0.5]"})
        deps = kserve_deployer.Dependencies(sagemaker=sagemaker, s3=s3, clock=lambda: now)

        def approve(version: int) -> str:
            uri = f"s3://artifacts/models/recommender/v{version}/model.tar.gz"
            arn = sagemaker.create_model_package(
                ModelPackageGroupName="stack-recommender", ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={"Containers": [{"Image": "serving:1", "ModelDataUrl": uri}],
                                        "SupportedContentTypes": ["text/csv"],
                                        "SupportedResponseMIMETypes": ["text/csv"]})["ModelPackageArn"]
            sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
            return uri

        assert kserve_deployer.run(settings, deps)["status"] == "no_approved_version"
        v1 = approve(1)
        assert kserve_deployer.run(settings, deps)["status"] == "first_model"
        assert _served(kube, "champion") == v1 and graph_weights(kube) == {"champion": 100, "challenger": 0}
        assert kserve_deployer.run(settings, deps)["status"] == "already_champion"  # the next poll: no change

        v2 = approve(2)
        deployed = kserve_deployer.run(settings, deps)
        assert deployed["status"] == "deployed" and deployed["model_name"] == "stack-recommender-v2"
        assert (_served(kube, "champion"), _served(kube, "challenger")) == (v1, v2)
        assert graph_weights(kube) == {"champion": 95, "challenger": 5}
        experiment = load_experiment(s3, "artifacts", "experiments", GRAPH)
        assert experiment is not None and experiment.challenger_model == "stack-recommender-v2"
        assert experiment.status is ExperimentStatus.RUNNING

        v3 = approve(3)
        assert kserve_deployer.run(settings, deps)["status"] == "held"
        assert _served(kube, "challenger") == v2 and graph_weights(kube) == {"champion": 95, "challenger": 5}

        # The A/B controller promotes v2 (weights only), then the deployer's next poll acts on v3.
        kube.put(GRAPH_PATH, splitter(0, 100))
        save_experiment(s3, "artifacts", "experiments", experiment.model_copy(update={
            "status": ExperimentStatus.PROMOTED, "concluded_at": now}))
        assert kserve_deployer.run(settings, deps)["status"] == "deployed"
        assert (_served(kube, "champion"), _served(kube, "challenger")) == (v2, v3)
        assert graph_weights(kube) == {"champion": 95, "challenger": 5}
        patches = [r for r in kube.requests if r[0] == "PATCH"]
        assert all(content_type == "application/merge-patch+json" for _, _, content_type, _ in patches)
