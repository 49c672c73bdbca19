"""The W&B model registry adapter at its HTTP boundary: the real `requests` session, answered by `responses`
with an in-memory W&B (infra.offline.simulation.wandb, the same one the simulation uses) behind the GraphQL
endpoint and the manifest upload URL. The KServe deployer then deploys the W&B champion."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import responses
from moto import mock_aws

from infra.offline.simulation.cluster import merge_patch
from infra.offline.simulation.wandb import UPLOAD_HOST, WandbApi
from infra.runtime.abtest.experiment import ExperimentStatus, load_experiment, save_experiment
from infra.runtime.adapters.registry import (
    APPROVED,
    CHALLENGER,
    CHAMPION,
    ModelVersion,
    SageMakerModelRegistry,
    get_model_registry,
)
from infra.runtime.adapters.wandb import WandbModelRegistry, WandbRegistryError
from infra.runtime.handlers import kserve_deployer

BASE = "https://wandb.example.test"
KEY = "wandb-key-0123456789abcdef0123456789abcdef"
SETTINGS = {"MODEL_REGISTRY": "wandb-artifacts", "REGISTERED_MODEL": "stack-recommender",
            "WANDB_BASE_URL": BASE, "WANDB_ENTITY": "acme-ml", "WANDB_PROJECT": "stack", "WANDB_API_KEY": KEY}


def uri(version: int) -> str:
    return f"s3://artifacts/models/recommender/v{version}/model.tar.gz"


@pytest.fixture
def aws() -> Iterator[None]:
    """moto, started before `wandb` when a test asks for both (its own `responses` patch must not be the outer one)."""
    with mock_aws():
        yield


@pytest.fixture
def wandb() -> Iterator[tuple[WandbApi, list[dict[str, Any]]]]:
    """The fake behind `responses`; also yields every GraphQL body sent, with its Authorization header."""
    api, sent = WandbApi(KEY), []

    def graphql(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        sent.append({**body, "authorization": request.headers.get("Authorization")})
        user, _, key = base64.b64decode(request.headers["Authorization"].split()[1]).decode().partition(":")
        answer = api.request("POST", request.url, json=body, auth=(user, key))
        return answer.status_code, {}, answer.text

    def upload(request: Any) -> tuple[int, dict[str, str], str]:
        answer = api.request("PUT", request.url, data=request.body)
        return answer.status_code, {}, answer.text

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.POST, f"{BASE}/graphql", callback=graphql)
        mocked.add_callback(responses.PUT, re.compile(f"{re.escape(UPLOAD_HOST)}/manifests/.+"), callback=upload)
        yield api, sent


def test_register_creates_a_committed_model_artifact_with_an_s3_reference(wandb: Any) -> None:
    api, sent = wandb
    registry = get_model_registry(SETTINGS)
    assert isinstance(registry, WandbModelRegistry)
    version = registry.register(uri(1), description="trained by run-1", metadata={"validation_auc": 0.81})
    assert (version.model, version.version, version.uri, version.label) == (
        "stack-recommender", 0, uri(1), "stack-recommender-v0")
    assert [op for _, op in api.requests] == ["UpsertBucket", "CreateArtifact", "CreateArtifactManifest",
                                              "/manifests/artifact-1", "CommitArtifact", "ModelVersionById"]
    expected_auth = "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()
    assert all(body["authorization"] == expected_auth for body in sent)
    create = next(b["variables"] for b in sent if b["query"].startswith("mutation CreateArtifact("))
    # The client's manifest digest, computed here from its definition: MD5 of the header and `path:digest\n`.
    digest = hashlib.md5(f"wandb-artifact-manifest-v1\nmodel.tar.gz:{uri(1)}\n".encode()).hexdigest()
    assert (create["artifactTypeName"], create["artifactCollectionNames"], create["digest"]) == (
        "model", ["stack-recommender"], digest)
    assert json.loads(create["metadata"]) == {"storage_uri": uri(1), "validation_auc": 0.81}
    assert api.versions["artifact-1"].manifest["contents"] == {"model.tar.gz": {"digest": uri(1), "ref": uri(1)}}
    assert api.holder("stack-recommender", "latest") == 0
    assert registry.latest_approved() is None  # registered is not approved
    assert KEY not in repr(registry)


def test_the_same_archive_registered_twice_is_one_version(wandb: Any) -> None:
    api, _ = wandb
    registry = get_model_registry(SETTINGS)
    first = registry.register(uri(1))
    again = registry.register(uri(1))
    assert again.ref == first.ref and len(api.versions) == 1
    assert [op for _, op in api.requests].count("CommitArtifact") == 1  # deduplicated: nothing uploaded again


def test_approved_latest_and_champion_move_between_versions(wandb: Any) -> None:
    api, _ = wandb
    registry = get_model_registry(SETTINGS)
    v0 = registry.register(uri(1))
    registry.mark(v0, APPROVED)
    v1 = registry.register(uri(2), approved=True)
    registry.register(uri(3))  # registered, not approved
    latest = registry.latest_approved()
    assert latest is not None and (latest.version, latest.uri) == (1, uri(2))
    assert api.holder("stack-recommender", APPROVED) == 1  # the alias left v0
    registry.mark(v0, CHAMPION)
    registry.mark(v1, CHAMPION)  # promote v1
    champion = registry.version_with_alias(CHAMPION)
    assert champion is not None and champion.version == 1 and CHAMPION in champion.aliases
    assert CHAMPION not in api.versions[v0.ref].aliases
    assert registry.version_with_alias(CHALLENGER) is None
    with pytest.raises(ValueError, match="unknown registry alias"):
        registry.mark(v1, "production")


def test_errors_name_the_operation_and_never_the_key(wandb: Any) -> None:
    registry = get_model_registry({**SETTINGS, "WANDB_API_KEY": "a-wrong-key"})
    with pytest.raises(WandbRegistryError, match="HTTP 401") as refused:
        registry.latest_approved()
    assert "a-wrong-key" not in str(refused.value)
    good = get_model_registry(SETTINGS)
    with pytest.raises(WandbRegistryError, match="not found"):
        good.mark(ModelVersion("stack-recommender", 9, uri(9), "artifact-404"), CHAMPION)
    with pytest.raises(ValueError, match="WANDB_API_KEY"):
        get_model_registry({k: v for k, v in SETTINGS.items() if k != "WANDB_API_KEY"})
    assert isinstance(get_model_registry({"MODEL_PACKAGE_GROUP": "g"}), SageMakerModelRegistry)
    with pytest.raises(ValueError, match="unknown model registry"):
        get_model_registry({"MODEL_REGISTRY": "mlflow"})


class CustomObjects:
    """The two CustomObjectsApi calls the deployer makes (get, JSON merge patch), on objects kept in dicts."""

    def __init__(self, bootstrap: str) -> None:
        self.objects: dict[str, dict[str, Any]] = {
            f"recommender-{v}": {"spec": {"predictor": {"model": {"storageUri": bootstrap}}}}
            for v in ("champion", "challenger")}
        self.objects["recommender"] = {"metadata": {"resourceVersion": "1"}, "spec": {"nodes": {"root": {
            "routerType": "Splitter", "steps": [
                {"name": "champion", "serviceName": "recommender-champion", "weight": 100},
                {"name": "challenger", "serviceName": "recommender-challenger", "weight": 0}]}}}}

    def get_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, name: str) -> Any:
        return json.loads(json.dumps(self.objects[name]))

    def patch_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, name: str,
                                       body: Any) -> Any:
        self.objects[name] = merge_patch(self.objects[name], body)
        return self.objects[name]

    def served(self, variant: str) -> str:
        return str(self.objects[f"recommender-{variant}"]["spec"]["predictor"]["model"]["storageUri"])


def test_the_kserve_deployer_deploys_the_wandb_champion_and_marks_the_challenger(aws: None, wandb: Any) -> None:
    api, _ = wandb
    bootstrap = "s3://artifacts/models/recommender/current/"
    kube = CustomObjects(bootstrap)
    env = {**SETTINGS, "KSERVE_NAMESPACE": "mlops-serving", "ENDPOINT_NAME": "recommender", "SERVING_MODE": "ab",
           "BOOTSTRAP_URI": bootstrap, "DECISIONS_BUCKET": "artifacts", "RAMP": "[0.1, 0.5]"}
    settings = kserve_deployer.KServeDeploySettings.from_env(env)
    assert KEY not in repr(settings)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    deps = kserve_deployer.Dependencies(s3=s3, api=kube, clock=lambda: datetime(2026, 1, 5, tzinfo=UTC))
    registry = WandbModelRegistry.from_settings(SETTINGS)
    registry.register(uri(1))
    assert kserve_deployer.run(settings, deps)["status"] == "no_approved_version"  # registered only

    registry.mark(registry.register(uri(1)), APPROVED)  # the reviewer approves v0
    first = kserve_deployer.run(settings, deps)
    assert (first["status"], first["model_name"]) == ("first_model", "stack-recommender-v0")
    assert kube.served("champion") == uri(1) and api.holder("stack-recommender", CHAMPION) == 0
    assert kserve_deployer.run(settings, deps)["status"] == "already_champion"

    registry.register(uri(2), approved=True)
    second = kserve_deployer.run(settings, deps)
    assert second["status"] == "deployed" and second["weights"] == {"champion": 0.9, "challenger": 0.1}
    assert (kube.served("champion"), kube.served("challenger")) == (uri(1), uri(2))
    assert (api.holder("stack-recommender", CHAMPION), api.holder("stack-recommender", CHALLENGER)) == (0, 1)

    # The A/B controller promotes the challenger; the next approved version makes the winner the champion.
    experiment = load_experiment(s3, "artifacts", "experiments", "recommender")
    assert experiment is not None and experiment.challenger_model == "stack-recommender-v1"
    save_experiment(s3, "artifacts", "experiments", experiment.model_copy(update={
        "status": ExperimentStatus.PROMOTED, "concluded_at": experiment.started_at}))
    registry.register(uri(3), approved=True)
    assert kserve_deployer.run(settings, deps)["status"] == "deployed"
    assert (kube.served("champion"), kube.served("challenger")) == (uri(2), uri(3))
    assert (api.holder("stack-recommender", CHAMPION), api.holder("stack-recommender", CHALLENGER)) == (1, 2)


def test_the_pipelines_register_step_registers_an_approved_version(wandb: Any, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m infra.runtime.jobs.run register-model`, as a retraining pipeline's last step runs it."""
    from infra.runtime.jobs import run

    api, _ = wandb
    for key, value in {**SETTINGS, "MODEL_URI": uri(4), "APPROVE": "true",
                       "METADATA": json.dumps({"validation_auc": "0.8"})}.items():
        monkeypatch.setenv(key, value)
    assert run.main(["register-model"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["model"], printed["version"], printed["uri"]) == ("stack-recommender", 0, uri(4))
    assert set(printed["aliases"]) == {"latest", APPROVED} and api.holder("stack-recommender", APPROVED) == 0
    monkeypatch.setenv("MODEL_URI", "/local/model.tar.gz")
    assert run.main(["register-model"]) == 1  # a failed Job: the archive must be in S3
    assert len(api.versions) == 1


def test_the_sagemaker_registry_answers_the_same_interface(aws: None) -> None:
    """Registry kind sagemaker-model-registry: `approved` is the approval status; champion / challenger are kept
    by the endpoint and the experiment record, not in SageMaker."""
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    sagemaker.create_model_package_group(ModelPackageGroupName="stack-credit")
    registry = get_model_registry({"MODEL_PACKAGE_GROUP": "stack-credit", "SERVING_IMAGE": "serving:1"},
                                  sagemaker=sagemaker)
    first = registry.register(uri(1))
    assert (first.version, first.label, first.aliases) == (1, "stack-credit-v1", ())
    assert registry.latest_approved() is None
    registry.mark(first, APPROVED)
    registry.register(uri(2))  # pending: the approved latest stays version 1
    latest = registry.latest_approved()
    assert latest is not None and (latest.version, latest.uri, latest.aliases) == (1, uri(1), (APPROVED,))
    registry.mark(first, CHAMPION)
    assert registry.version_with_alias(CHAMPION) is None
