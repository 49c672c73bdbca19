"""The policy pack's GCP controls: each passes on the vertex-managed prod stack and fails on a broken resource;
prod and staging are clean; dev's violations are exactly the defaults it loosens; `mlopsgen audit` on GCP."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.offline.graph import ResourceGraph, ResourceRecord
from infra.offline.preview import preview
from infra.policy.audit import audit
from infra.policy.registry import Control, controls
from infra.profiles.loader import load_stack

Mutation = Callable[[ResourceGraph], str]  # breaks the graph, returns the name of the resource it broke
GCP_CONTROLS = [c for c in controls() if c.cloud == "gcp"]


@pytest.fixture(scope="module")
def vertex() -> dict[str, ResourceGraph]:
    return {env: preview(load_stack(f"vertex-{env}")) for env in ("dev", "staging", "prod")}


def _set(name: str, **values: Any) -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        graph.named(name).inputs.update(values)
        return name
    return mutate


def _drop(name: str, key: str) -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        graph.named(name).inputs.pop(key)
        return name
    return mutate


def _job(name: str, **values: Any) -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        graph.named(name).inputs["template"]["template"].update(values)
        return name
    return mutate


def _add_key(graph: ResourceGraph) -> str:
    graph.resources.append(ResourceRecord("gcp:serviceaccount/key:Key", "drift-key", None,
                                          {"serviceAccountId": "x"}, urn="urn:pulumi:prod::mlopsgen::key::drift-key"))
    return "drift-key"


BINDING = "recommender-drift-logging-logwriter"
BREAKS: dict[str, Mutation] = {
    "gcp-iam-no-basic-roles": _set("store-data-recommender-ingest-read-write", role="roles/editor"),
    "gcp-iam-no-project-admin": _set(BINDING, role="roles/storage.admin"),
    "gcp-iam-no-project-act-as": _set(BINDING, role="roles/iam.serviceAccountUser"),
    "gcp-iam-no-public-members": _set("store-data-recommender-ingest-read-write", member="allUsers"),
    "gcp-iam-no-user-managed-keys": _add_key,
    "gcp-storage-uniform-access": _set("store-data", uniformBucketLevelAccess=False),
    "gcp-storage-public-access-prevention": _set("store-data", publicAccessPrevention="inherited"),
    "gcp-storage-cmek": _drop("store-data", "encryption"),
    "gcp-storage-recoverable": _set("store-data", retentionPolicy=None, versioning={"enabled": False}),
    "gcp-kms-rotation": _drop("platform-key", "rotationPeriod"),
    "gcp-bigquery-dataset-cmek": _drop("recommender-prediction-logs", "defaultEncryptionConfiguration"),
    "gcp-vertex-cmek": _drop("recommender-endpoint", "encryptionSpec"),
    "gcp-artifactregistry-cmek": _drop("registry-images", "kmsKeyName"),
    "gcp-artifactregistry-immutable-tags": _drop("registry-images", "dockerConfig"),
    "gcp-logging-bucket-cmek": _drop("monitoring-logs", "cmekSettings"),
    "gcp-vpc-flow-logs": _drop("network-jobs", "logConfig"),
    "gcp-vpc-private-google-access": _set("network-jobs", privateIpGoogleAccess=False),
    "gcp-vpc-no-default-network": _set("network-vpc", autoCreateSubnetworks=True),
    "gcp-run-private-egress": _job("recommender-drift-job", vpcAccess={"egress": "PRIVATE_RANGES_ONLY"}),
    "gcp-run-own-service-account": _job("recommender-drift-job",
                                        serviceAccount="123456789012-compute@developer.gserviceaccount.com"),
}


def test_every_gcp_control_has_a_failing_case_and_a_source() -> None:
    assert set(BREAKS) == {c.id for c in GCP_CONTROLS}
    assert sum(1 for c in GCP_CONTROLS if c.refs) >= 8  # CIS Google Cloud benchmark IDs where one exists
    for c in GCP_CONTROLS:
        assert all(ref.startswith("CIS ") for ref in c.refs) and c.source, c.id
        assert c.refs or c.source.startswith("mlopsgen"), c.id


@pytest.mark.parametrize("control", GCP_CONTROLS, ids=lambda c: c.id)
def test_each_gcp_control_passes_on_prod_and_fails_on_the_broken_resource(
    vertex: dict[str, ResourceGraph], control: Control
) -> None:
    prod = vertex["prod"]
    if control.kind == "resource":  # the passing resource really is one the control checks
        assert {r.type for r in prod.custom} & set(control.resource_types), control.id
    assert audit(prod, [control]).violations == []
    broken = copy.deepcopy(prod)
    name = BREAKS[control.id](broken)
    violations = audit(broken, [control]).violations
    assert {v.resource for v in violations} == {name}, violations
    assert all(v.control == control.id and v.message for v in violations)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_gcp_staging_and_prod_are_clean_under_every_control(vertex: dict[str, ResourceGraph], env: str) -> None:
    report = audit(vertex[env])
    assert report.violations == [] and report.enforcement.value == "mandatory"
    assert len(report.controls) == len(controls())  # the whole pack ran, AWS controls included


def test_gcp_dev_violations_are_exactly_its_loosened_defaults(vertex: dict[str, ResourceGraph]) -> None:
    dev = vertex["dev"]
    report = audit(dev)
    assert not report.blocking
    assert sorted((v.control, v.resource, v.loosened) for v in report.violations) == [
        ("gcp-vpc-flow-logs", "network-jobs", "networking.flow_logs")]


def test_audit_cli_on_the_vertex_profile() -> None:
    result = CliRunner().invoke(app, ["audit", "--profile", "vertex-managed", "--env", "prod", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["violations"] == [] and doc["enforcement"] == "mandatory"
    assert {c["id"] for c in doc["catalog"]} >= set(BREAKS)
