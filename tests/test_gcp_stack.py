"""The vertex-managed profile (cloud: gcp): the program's resource graph under the mock runtime, its labels, its
IAM, the dev/prod differences, and profile validation for GCP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.components.base import tag_property
from infra.components.gcp.context import forbidden_project_role
from infra.errors import UserError
from infra.offline.graph import ResourceGraph, ResourceRecord
from infra.offline.preview import preview
from infra.offline.tokens import resource_class
from infra.profiles.loader import load_stack, resolve
from infra.profiles.validators import unix_cron

MODELS = ("recommender", "credit-scoring")
LABELS = ("project", "environment", "profile", "capability")
# What issue 12 asks the stack to declare, by type token.
REQUIRED = (
    "gcp:projects/service:Service", "gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp:storage/bucket:Bucket",
    "gcp:artifactregistry/repository:Repository", "gcp:serviceaccount/account:Account",
    "gcp:vertex/aiMetadataStore:AiMetadataStore", "gcp:vertex/aiTensorboard:AiTensorboard",
    "gcp:vertex/aiEndpoint:AiEndpoint", "gcp:bigquery/dataset:Dataset", "gcp:monitoring/alertPolicy:AlertPolicy",
    "gcp:monitoring/notificationChannel:NotificationChannel", "gcp:cloudscheduler/job:Job", "gcp:cloudrunv2/job:Job",
)
# Every way the program binds a role to a member.
IAM_TOKENS = {
    "gcp:projects/iAMMember:IAMMember", "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:serviceaccount/iAMMember:IAMMember", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp:cloudrunv2/jobIamMember:JobIamMember",
    "gcp:bigquery/datasetIamMember:DatasetIamMember",
}
PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"


@pytest.fixture(scope="module")
def vertex() -> dict[str, ResourceGraph]:
    return {env: preview(load_stack(f"vertex-{env}")) for env in ("dev", "prod")}


def labels(record: ResourceRecord) -> dict[str, str] | None:
    """The labels a resource carries, or None for a GCP type that takes none (IAM bindings, services, ...)."""
    cls = resource_class(record.type)
    style = tag_property(cls) if cls is not None else None
    if style is None:
        return None
    return dict(record.inputs.get("userLabels" if style[0] == "user_labels" else "labels") or {})


def model_of(graph: ResourceGraph, record: ResourceRecord) -> str | None:
    """The model whose `mlopsgen:gcp:Model` component holds the resource (None: the shared platform)."""
    by_name = {r.name: r for r in graph.resources}
    parent = record.parent
    while parent is not None:
        if by_name[parent].type == "mlopsgen:gcp:Model":
            return parent
        parent = by_name[parent].parent
    return None


def of_model(graph: ResourceGraph, token: str, model: str) -> list[ResourceRecord]:
    return [r for r in graph.of_type(token) if model_of(graph, r) == model]


# ---------------------------------------------------------------- preview and labels
def test_preview_json_lists_every_resource_the_issue_names_with_the_standard_labels() -> None:
    result = CliRunner().invoke(app, ["preview", "--profile", "vertex-managed", "--env", "prod", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    graph = ResourceGraph(stack=listed["stack"], profile=listed["profile"], environment=listed["environment"])
    for r in listed["resources"]:
        graph.resources.append(ResourceRecord(r["type"], r["name"], r["parent"], r["inputs"],
                                              custom=not r["type"].startswith("mlopsgen:")))
    assert {r.type for r in graph.custom} >= set(REQUIRED)
    labelled = [(r, found) for r in graph.custom if r.type.startswith("gcp:") and (found := labels(r)) is not None]
    assert len(labelled) >= 20
    for r, found in labelled:
        assert {k: found.get(k) for k in ("project", "environment", "profile")} == {
            "project": "mlopsgen", "environment": "prod", "profile": "vertex-managed"}, r.name
        assert found["capability"], r.name
        model = model_of(graph, r)
        assert found.get("model") == model, f"{r.type} {r.name}: {found}"
    # Per model: endpoint, prediction log, its jobs; the endpoints, log datasets and jobs are all per model.
    for model in MODELS:
        for token in ("gcp:vertex/aiEndpoint:AiEndpoint", "gcp:bigquery/dataset:Dataset"):
            assert len(of_model(graph, token, model)) == 1, (model, token)
    jobs = {m: sorted(r.name for r in of_model(graph, "gcp:cloudrunv2/job:Job", m)) for m in MODELS}
    assert jobs == {
        "recommender": ["recommender-ab-job", "recommender-deployer-job", "recommender-drift-job",
                        "recommender-ingestion-job", "recommender-retraining-job"],
        "credit-scoring": ["credit-scoring-deployer-job", "credit-scoring-drift-job", "credit-scoring-ingestion-job",
                           "credit-scoring-retraining-job"],
    }
    assert {found["capability"] for _, found in labelled} >= {
        "security", "artifact-store", "registry", "tracking", "serving", "monitoring", "automation"}


def test_a_notification_channels_settings_are_not_overwritten_by_the_labels(vertex: dict[str, ResourceGraph]) -> None:
    [channel] = vertex["prod"].of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    assert channel.inputs["labels"] == {"email_address": "mlops-oncall@example.com"}
    assert channel.inputs["userLabels"]["capability"] == "monitoring"


def test_each_schedule_starts_its_job_with_the_profiles_expression_in_unix_cron(
    vertex: dict[str, ResourceGraph],
) -> None:
    graph = vertex["prod"]
    schedules = {r.name.removesuffix("-schedule"): r.inputs for r in graph.of_type("gcp:cloudscheduler/job:Job")}
    assert schedules["recommender-ingestion"]["schedule"] == "0 2 * * *"
    assert schedules["credit-scoring-ingestion"]["schedule"] == "30 2 * * *"
    assert schedules["recommender-retraining"]["schedule"] == "0 3 * * SUN"
    assert schedules["credit-scoring-retraining"]["schedule"] == "0 4 1 * *"
    assert schedules["recommender-ab"]["schedule"] == "0 * * * *"
    assert schedules["credit-scoring-drift"]["schedule"] == "0 7 * * *"
    jobs = {r.inputs["name"]: r for r in graph.of_type("gcp:cloudrunv2/job:Job")}
    for name, schedule in schedules.items():
        job_name = schedule["httpTarget"]["uri"].rsplit("/jobs/", 1)[1].removesuffix(":run")
        container = jobs[job_name].inputs["template"]["template"]["containers"][0]
        assert container["commands"] == ["python", "-m", "infra.runtime.jobs.cloudrun"], name
        assert schedule["timeZone"] == "UTC"
    ab = jobs["vertex-managed-prod-recommender-ab"].inputs["template"]["template"]["containers"][0]
    env = {e["name"]: e["value"] for e in ab["envs"]}
    assert env["TRAFFIC_CONTROLLER"] == "vertex-endpoint"
    assert json.loads(env["GUARDRAIL_POLICY"])["max_relative_drop"] == 0.05


def test_endpoints_ignore_the_traffic_split_the_runtime_owns(vertex: dict[str, ResourceGraph]) -> None:
    for endpoint in vertex["prod"].of_type("gcp:vertex/aiEndpoint:AiEndpoint"):
        assert "trafficSplit" not in endpoint.inputs
        assert endpoint.inputs["encryptionSpec"]["kmsKeyName"].endswith("/cryptoKeys/platform")
        assert re.fullmatch(r"[1-9]\d{9}", endpoint.inputs["name"])


# ---------------------------------------------------------------- dev and prod
def _by_model(graph: ResourceGraph, token: str, read: Any) -> dict[str | None, Any]:
    return {model_of(graph, r): read(r.inputs) for r in graph.of_type(token)}


def test_dev_and_prod_differ_in_sizes_retention_deletion_protection_and_minimum_replicas(
    vertex: dict[str, ResourceGraph],
) -> None:
    dev, prod = vertex["dev"], vertex["prod"]
    pool = "gcp:vertex/aiDeploymentResourcePool:AiDeploymentResourcePool"
    replicas = lambda i: (i["dedicatedResources"]["minReplicaCount"],  # noqa: E731
                          i["dedicatedResources"]["machineSpec"]["machineType"])
    assert _by_model(dev, pool, replicas) == {"recommender": (1, "n1-standard-2"),
                                              "credit-scoring": (1, "n1-standard-2")}
    assert _by_model(prod, pool, replicas) == {"recommender": (2, "n1-standard-4"),
                                               "credit-scoring": (2, "n1-standard-4")}
    # Retention: bucket retention policy (30 days in prod; none in dev, which keeps versions instead), prediction
    # log expiry, job log retention.
    for bucket in prod.of_type("gcp:storage/bucket:Bucket"):
        assert bucket.inputs["retentionPolicy"] == {"retentionPeriod": 30 * 86400}
        assert bucket.inputs["versioning"] == {"enabled": False}
    for bucket in dev.of_type("gcp:storage/bucket:Bucket"):
        assert "retentionPolicy" not in bucket.inputs and bucket.inputs["versioning"] == {"enabled": True}
    expiry = lambda i: i["defaultTableExpirationMs"] // 86_400_000  # noqa: E731
    assert set(_by_model(dev, "gcp:bigquery/dataset:Dataset", expiry).values()) == {30}
    assert set(_by_model(prod, "gcp:bigquery/dataset:Dataset", expiry).values()) == {400}
    [dev_logs], [prod_logs] = (g.of_type("gcp:logging/projectBucketConfig:ProjectBucketConfig") for g in (dev, prod))
    assert (dev_logs.inputs["retentionDays"], prod_logs.inputs["retentionDays"]) == (14, 365)
    # Deletion protection: stores protected and retained in prod only; jobs deletion-protected in prod only.
    stores = ("gcp:storage/bucket:Bucket", "gcp:bigquery/dataset:Dataset", "gcp:kms/cryptoKey:CryptoKey",
              "gcp:kms/keyRing:KeyRing", "gcp:vertex/aiMetadataStore:AiMetadataStore")
    for token in stores:
        assert all(r.protect and r.retain_on_delete for r in prod.of_type(token)), token
        assert not any(r.protect or r.retain_on_delete for r in dev.of_type(token)), token
    assert {b.inputs["forceDestroy"] for b in prod.of_type("gcp:storage/bucket:Bucket")} == {False}
    assert {b.inputs["forceDestroy"] for b in dev.of_type("gcp:storage/bucket:Bucket")} == {True}
    assert {d.inputs["deleteContentsOnDestroy"] for d in prod.of_type("gcp:bigquery/dataset:Dataset")} == {False}
    assert {j.inputs["deletionProtection"] for j in prod.of_type("gcp:cloudrunv2/job:Job")} == {True}
    assert {j.inputs["deletionProtection"] for j in dev.of_type("gcp:cloudrunv2/job:Job")} == {False}
    # Dev says what it loosened.
    assert any(line.startswith("models.recommender.serving.min_replicas is 1") for line in dev.loosened)
    assert any(line.startswith("security.protect_data is off") for line in dev.loosened)
    assert prod.loosened == []


# ---------------------------------------------------------------- IAM
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_iam_binding_has_a_basic_role_or_a_project_level_admin_role(
    vertex: dict[str, ResourceGraph], env: str,
) -> None:
    graph = vertex[env]
    bindings = [r for r in graph.custom if "IAMMember" in r.type or "IamMember" in r.type]
    assert {r.type for r in bindings} == IAM_TOKENS  # every kind of binding the program makes is checked here
    assert len(bindings) >= 60
    for r in bindings:
        role, member = r.inputs["role"], r.inputs["member"]
        assert role not in ("roles/owner", "roles/editor", "roles/viewer"), f"{r.name}: {role}"
        if r.type == PROJECT_IAM:
            assert not role.split("/")[-1].lower().endswith("admin"), f"{r.name}: {role} at project level"
        # Only the stack's own workload accounts and Google's service agents are granted anything.
        assert re.fullmatch(r"serviceAccount:[a-z0-9-]+@[a-z0-9.-]+\.gserviceaccount\.com", member), member
    project_roles = {r.inputs["role"] for r in bindings if r.type == PROJECT_IAM}
    assert project_roles == {"roles/aiplatform.user", "roles/logging.logWriter", "roles/monitoring.metricWriter",
                             "roles/monitoring.viewer"}


def test_each_models_accounts_reach_only_that_models_objects(vertex: dict[str, ResourceGraph]) -> None:
    graph = vertex["prod"]
    accounts = {r.name.removesuffix("-sa"): r.inputs["accountId"]
                for r in graph.of_type("gcp:serviceaccount/account:Account")}
    assert set(accounts) == {"scheduler", *(f"{m}-{w}" for m in MODELS
                                          for w in ("trainer", "serving", "drift", "ingest", "retrain", "deploy")),
                             "recommender-abctl"}
    assert all(re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", a) for a in accounts.values())
    assert len(set(accounts.values())) == len(accounts)
    for grant in graph.of_type("gcp:storage/bucketIAMMember:BucketIAMMember"):
        model = model_of(graph, grant)
        assert model in MODELS, grant.name  # no account of the shared platform reads or writes objects
        expression = grant.inputs["condition"]["expression"]
        prefixes = re.findall(r'objects/([^"]+)"', expression)
        assert prefixes and all(p.endswith(f"/{model}/") for p in prefixes), (grant.name, prefixes)
        listed = re.findall(r'objectListPrefix", ""\)\.startsWith\("([^"]+)"', expression)
        assert sorted(listed) == sorted(prefixes)


def test_the_role_rule_itself() -> None:
    for role in ("roles/owner", "roles/editor", "roles/viewer"):
        assert forbidden_project_role(role) == "a basic role"
    for role in ("roles/aiplatform.admin", "roles/storage.admin", "roles/iam.serviceAccountAdmin"):
        assert forbidden_project_role(role) == "an admin role"
    assert forbidden_project_role("roles/aiplatform.user") is None


# ---------------------------------------------------------------- profile validation
@pytest.mark.parametrize(("expression", "unix"), [
    ("cron(0 2 * * ? *)", "0 2 * * *"),
    ("cron(0 3 ? * SUN *)", "0 3 * * SUN"),
    ("cron(15 10 ? * 2-6 *)", "15 10 * * 1-5"),  # EventBridge MON-FRI is 2-6; unix cron's is 1-5
    ("rate(1 hour)", "0 * * * *"),
    ("rate(15 minutes)", "*/15 * * * *"),
    ("rate(6 hours)", "0 */6 * * *"),
])
def test_profile_schedules_become_unix_cron(expression: str, unix: str) -> None:
    assert unix_cron(expression) == unix


@pytest.mark.parametrize("expression", ["at(2030-01-01T00:00:00)", "cron(0 2 L * ? *)", "cron(0 2 * * ? 2030)",
                                        "rate(7 minutes)"])
def test_what_unix_cron_cannot_say_is_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        unix_cron(expression)


def _profile(tmp_path: Path, edit: str) -> Path:
    text = (Path(__file__).resolve().parents[1] / "infra/profiles/builtin/vertex-managed.yaml").read_text()
    text = text.replace("name: vertex-managed", "name: my-vertex")
    old, new = edit.split(" => ")
    assert old in text
    path = tmp_path / "p.yaml"
    path.write_text(text.replace(old, new, 1))
    for schema in ("recommender", "credit-scoring"):
        (tmp_path / "schemas").mkdir(exist_ok=True)
        (tmp_path / "schemas" / f"{schema}.yaml").write_text(
            (Path(__file__).resolve().parents[1] / f"infra/profiles/builtin/schemas/{schema}.yaml").read_text())
    return path


@pytest.mark.parametrize(("edit", "field", "message"), [
    ("project: mlopsgen-prod => project: Bad_Project", "project", "does not match the pattern"),
    ("region: europe-west4 => region: eu-west-1", "region", "not a GCP region name"),
    ("      drift_schedule: cron(0 6 * * ? *) => \n      drift_schedule: at(2030-01-01T00:00:00)",
     "models.recommender.monitoring.drift_schedule", "recurring schedules only"),
    ("      machine_type: n1-standard-4\n      min_replicas: 2 => \n      machine_type: ml.m5.large\n"
     "      min_replicas: 2", "models.recommender.serving.machine_type", "not a Compute Engine machine type"),
])
def test_gcp_profile_errors_name_file_line_and_field(tmp_path: Path, edit: str, field: str, message: str) -> None:
    path = _profile(tmp_path, edit)
    with pytest.raises(UserError) as caught:
        resolve(str(path), "prod")
    problems = caught.value.problems
    assert any(p.field.startswith(field) and message in p.message and p.line for p in problems), problems
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_gcp_profile_needs_its_project(tmp_path: Path) -> None:
    path = _profile(tmp_path, "project: mlopsgen-prod\n => \n")
    text = path.read_text().replace("    project: mlopsgen-dev\n", "").replace("    project: mlopsgen-staging\n", "")
    path.write_text(text)
    with pytest.raises(UserError, match="required when cloud is gcp"):
        resolve(str(path), "dev")


@pytest.mark.parametrize("override", [
    {"artifact_store": {"kind": "s3"}},
    {"models": {"recommender": {"serving": {"kind": "sagemaker-endpoint"}}}},
])
def test_a_gcp_profile_refuses_aws_kinds(override: dict[str, Any]) -> None:
    with pytest.raises(UserError, match="runs on aws; this profile's cloud is gcp"):
        resolve("vertex-managed", "dev", overrides=_layer(override))


def test_an_aws_profile_may_not_name_a_gcp_project() -> None:
    with pytest.raises(UserError, match="only for cloud gcp"):
        resolve("mlflow-sagemaker", "dev", overrides=_layer({"project": "some-project"}))


def _layer(data: dict[str, Any]) -> Any:
    from infra.profiles.loader import Layer

    return Layer("Pulumi.test.yaml", data, {(k,): 3 for k in data}, prefix="mlopsgen:overrides.")


def test_the_stack_files_gcp_settings_name_the_project_and_region() -> None:
    spec = load_stack("vertex-staging")
    assert (spec.cloud, spec.body.project, spec.body.region) == ("gcp", "mlopsgen-staging", "europe-west4")


# ---------------------------------------------------------------- sandbox: recorded and checked structurally
def test_sandbox_checks_every_gcp_resource_structurally_and_says_so() -> None:
    result = CliRunner().invoke(app, ["sandbox", "up", "--stack", "vertex-dev", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["emulated"] == [] and doc["failed"] == []
    gcp = [r for r in doc["recorded"] if r["type"].startswith("gcp:")]
    assert len(gcp) >= 140 and all(r["reason"].startswith("no emulator; checked structurally: ") for r in gcp)
    [image] = [r for r in doc["recorded"] if not r["type"].startswith("gcp:")]
    assert image["type"] == "docker-build:index:Image"


@pytest.mark.parametrize(("token", "inputs", "message"), [
    (PROJECT_IAM, {"role": "roles/storage.admin", "member": "serviceAccount:a@p.iam.gserviceaccount.com"},
     "admin role"),
    ("gcp:storage/bucketIAMMember:BucketIAMMember",
     {"role": "roles/editor", "member": "serviceAccount:a@p.iam.gserviceaccount.com"}, "basic role"),
    ("gcp:storage/bucket:Bucket", {
        "name": "b-data", "uniformBucketLevelAccess": True, "publicAccessPrevention": "enforced",
        "encryption": {"defaultKmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
        "retentionPolicy": {"retentionPeriod": 86400}, "versioning": {"enabled": True}},
     "versioning and a retention policy"),
    ("gcp:cloudscheduler/job:Job", {"name": "j", "schedule": "0 3 * * 8", "httpTarget": {}}, "outside 0-7"),
    ("gcp:monitoring/alertPolicy:AlertPolicy", {"combiner": "OR", "conditions": [
        {"conditionMatchedLog": {"filter": "x"}}]}, "notification rate limit"),
])
def test_a_structural_check_refuses_what_gcp_would(token: str, inputs: dict[str, Any], message: str) -> None:
    from infra.offline import gcp_checks

    with pytest.raises(gcp_checks.StructuralError, match=message):
        gcp_checks.CHECKS[token](inputs)
