"""The `wandb-kubeflow` profile: EKS, Kubeflow Pipelines, KServe and W&B, previewed and deployed offline."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.offline.graph import ResourceGraph, ResourceRecord
from infra.offline.kubernetes import check_graph, manifest
from infra.offline.preview import preview
from infra.offline.sandbox import SandboxResult, SandboxSession, deploy
from infra.policy.audit import audit
from infra.profiles.loader import PROFILES_DIR, StackSpec, resolve

ROOT = Path(__file__).resolve().parents[1]
PROFILE = "wandb-kubeflow"
SEED_MODELS = ("recommender", "credit-scoring")


@pytest.fixture(scope="module")
def specs() -> dict[str, StackSpec]:
    return {env: resolve(PROFILE, env) for env in ("dev", "staging", "prod")}


@pytest.fixture(scope="module")
def prod(specs: dict[str, StackSpec]) -> ResourceGraph:
    return preview(specs["prod"])


@pytest.fixture(scope="module")
def dev(specs: dict[str, StackSpec]) -> ResourceGraph:
    return preview(specs["dev"])


def one(graph: ResourceGraph, token: str) -> ResourceRecord:
    [record] = graph.of_type(token)
    return record


def custom(graph: ResourceGraph, kind: str) -> list[ResourceRecord]:
    return [r for r in graph.resources if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}")]


def test_eks_cluster_is_pinned_private_encrypted_and_logged(prod: ResourceGraph, dev: ResourceGraph) -> None:
    cluster = one(prod, "aws:eks/cluster:Cluster").inputs
    assert cluster["version"] == "1.33"
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False
    key = one(prod, "aws:kms/key:Key")
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:")
    assert key.name == "platform-key"
    assert set(cluster["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager",
                                                       "scheduler"}
    dev_cluster = one(dev, "aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert dev_cluster["endpointPublicAccess"] is True
    assert dev_cluster["publicAccessCidrs"] and "0.0.0.0/0" not in dev_cluster["publicAccessCidrs"]
    log_group = next(r for r in prod.of_type("aws:cloudwatch/logGroup:LogGroup")
                     if r.inputs["name"] == f"/aws/eks/{cluster['name']}/cluster")
    assert log_group.inputs["kmsKeyId"]


def test_node_groups_system_on_demand_and_gpu_spot_from_zero(prod: ResourceGraph) -> None:
    groups = {r.inputs["nodeGroupName"]: r for r in prod.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert len(groups) >= 2
    assert groups["system"].inputs["capacityType"] == "ON_DEMAND"
    gpu = groups["training"]
    assert gpu.inputs["capacityType"] == "SPOT" and gpu.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
    assert gpu.inputs["scalingConfig"]["minSize"] == 0 and gpu.inputs["scalingConfig"]["desiredSize"] == 0
    assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"} in gpu.inputs["taints"]
    assert all(g.ignore_changes == ["scalingConfig.desiredSize"] for g in groups.values())


def test_kubernetes_provider_is_explicit_and_every_object_uses_it(prod: ResourceGraph) -> None:
    provider = one(prod, "pulumi:providers:kubernetes")
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "aws"
    assert kubeconfig["clusters"][0]["cluster"]["server"].startswith("https://")
    objects = [r for r in prod.custom if r.type.startswith("kubernetes:")]
    assert objects and all(r.provider and r.provider.endswith(provider.name) for r in objects)


def test_kubeflow_pipelines_on_s3_and_encrypted_rds(prod: ResourceGraph) -> None:
    directories = {r.name: r.inputs["directory"] for r in prod.of_type("kubernetes:kustomize/v2:Directory")}
    assert any(d.endswith("cluster-scoped-resources?ref=2.17.0") for d in directories.values())
    assert "infra/components/kubernetes/kubeflow" in directories.values()
    database = next(r.inputs for r in prod.of_type("aws:rds/instance:Instance") if r.inputs["engine"] == "mysql")
    assert database["storageEncrypted"] is True and database["manageMasterUserPassword"] is True
    assert database["publiclyAccessible"] is False and database["multiAz"] is True
    [config] = [r for r in prod.of_type("kubernetes:core/v1:ConfigMapPatch")
                if r.inputs["metadata"]["name"] == "pipeline-install-config"]
    assert config.inputs["data"]["mysqlHost"] == database["identifier"] + ".abcdefghijkl.us-east-1.rds.amazonaws.com"
    assert config.inputs["data"]["defaultPipelineRoot"].startswith("s3://") and config.inputs["data"]["bucketName"]
    [mysql] = [r for r in custom(prod, "ExternalSecret") if r.inputs["metadata"]["name"] == "mysql-secret"]
    assert [d["remoteRef"]["property"] for d in mysql.inputs["spec"]["data"]] == ["username", "password"]


def test_one_inference_graph_per_served_model_with_its_split(prod: ResourceGraph, specs: dict[str, Any]) -> None:
    served = [name for name, m in specs["prod"].body.models.items() if m.serving.mode != "none"]
    assert sorted(served) == sorted(SEED_MODELS)
    graphs = {r.inputs["metadata"]["name"]: r for r in custom(prod, "InferenceGraph")}
    assert sorted(graphs) == sorted(served)
    services = {r.inputs["metadata"]["name"] for r in custom(prod, "InferenceService")}
    expected = {"ab": {"champion": 100, "challenger": 0}, "single": {"champion": 100}}
    for name, graph in graphs.items():
        steps = graph.inputs["spec"]["nodes"]["root"]["steps"]
        split = expected[specs["prod"].body.models[name].serving.mode]
        assert {s["name"]: s["weight"] for s in steps} == split  # the challenger starts at 0
        assert graph.ignore_changes == ["spec.nodes.root.steps"]
        assert {f"{name}-{variant}" for variant in split} <= services
        assert all(s["serviceName"] in services for s in steps)
    assert services == {"recommender-champion", "recommender-challenger", "credit-scoring-champion"}


def test_wandb_secret_chain(prod: ResourceGraph) -> None:
    secret = next(r for r in prod.of_type("aws:secretsmanager/secret:Secret") if "wandb" in r.inputs["name"])
    assert secret.inputs["kmsKeyId"]
    [version] = [r for r in prod.of_type("aws:secretsmanager/secretVersion:SecretVersion")]
    assert version.inputs["secretString"] == "[secret]"
    synced = [r for r in custom(prod, "ExternalSecret") if r.inputs["metadata"]["name"] == "wandb"]
    assert {r.inputs["metadata"]["namespace"] for r in synced} == {"kubeflow", "mlops-jobs"}
    assert all(r.inputs["spec"]["data"][0]["secretKey"] == "WANDB_API_KEY" for r in synced)


def test_every_kubernetes_manifest_passes_its_schema_and_the_safety_rules(prod: ResourceGraph,
                                                                          dev: ResourceGraph) -> None:
    for graph in (prod, dev):
        checks, namespace_problems = check_graph(graph)
        assert namespace_problems == []
        failing = {f"{c.kind} {c.name}": c.problems for c in checks if not c.ok}
        assert failing == {}
        kinds = {c.kind for c in checks}
        assert {"Namespace", "NetworkPolicy", "CronJob", "InferenceService", "InferenceGraph", "ExternalSecret",
                "ClusterSecretStore", "Release", "Directory"} <= kinds


def test_schema_and_safety_checks_catch_bad_manifests(prod: ResourceGraph) -> None:
    """The checks can fail: a typo, a wrong type, a missing limit and a root container are each reported."""
    [job] = [r for r in custom(prod, "CronJob")][:1]
    bad = json.loads(json.dumps(job.inputs))
    pod = bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    pod["containers"][0]["resourcez"] = pod["containers"][0].pop("resources")
    pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    pod["securityContext"]["runAsNonRoot"] = False
    bad["spec"]["concurrencyPolicy"] = 3
    record = ResourceRecord(type=job.type, name="bad", parent=None, inputs=bad)
    [result], _ = check_graph(ResourceGraph("s", "p", "e", resources=[record]))
    text = "\n".join(result.problems)
    assert "resourcez: unknown field" in text and "concurrencyPolicy: expected str" in text
    assert "readOnlyRootFilesystem is not true" in text and "resources.limits lacks cpu, memory" in text
    assert "runAsNonRoot is not true" in text
    [graph] = custom(prod, "InferenceGraph")[:1]
    broken = json.loads(json.dumps(graph.inputs))
    broken["spec"]["nodes"]["root"]["routerType"] = "Splitterr"
    [result], _ = check_graph(ResourceGraph("s", "p", "e", resources=[
        ResourceRecord(type=graph.type, name="g", parent=None, inputs=broken)]))
    assert any("Splitterr" in p for p in result.problems)
    assert manifest(graph)["apiVersion"] == "serving.kserve.io/v1alpha1"


@pytest.fixture(scope="module")
def sandbox(specs: dict[str, StackSpec]) -> Iterator[tuple[SandboxSession, SandboxResult]]:
    with SandboxSession() as session:
        yield session, deploy(specs["prod"], session)


def test_sandbox_creates_most_aws_resources_and_checks_every_manifest(
    sandbox: tuple[SandboxSession, SandboxResult],
) -> None:
    session, result = sandbox
    assert result.ok, result.failed
    assert result.coverage >= 0.8, [r for r in result.recorded if r["type"].startswith("aws:")]
    cluster = session.client("eks").describe_cluster(name="wandb-kubeflow-prod-cluster")["cluster"]
    assert cluster["version"] == "1.33"
    groups = session.client("eks").list_nodegroups(clusterName=cluster["name"])["nodegroups"]
    assert sorted(groups) == ["system", "training"]
    assert result.kubernetes and all(c.ok for c in result.kubernetes), [c.to_json() for c in result.kubernetes
                                                                        if not c.ok]
    assert any(c.recorded_not_rendered for c in result.kubernetes)
    # Kubernetes objects are recorded, never counted as emulated AWS resources.
    assert not [e for e in result.emulated if not e["type"].startswith(("aws:", "docker-build:"))]


def test_a_recognisable_secret_leaks_nowhere(specs: dict[str, StackSpec], sandbox: tuple[SandboxSession, Any],
                                             caplog: pytest.LogCaptureFixture,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    secret = "wandb-LEAK-CANARY-7f3a9c1e"
    caplog.set_level(logging.DEBUG)
    graph = preview(specs["dev"], secrets={"wandbApiKey": secret})
    session, _ = sandbox
    result = deploy(specs["dev"], session, secrets={"wandbApiKey": secret})
    assert result.ok, result.failed
    stored = session.client("secretsmanager").get_secret_value(SecretId="wandb-kubeflow-dev-wandb-api-key")
    assert stored["SecretString"] == secret  # the chain carries it: to the secret store, and only there
    texts = {
        "preview listing": json.dumps(graph.to_json(), default=str),
        "program outputs": json.dumps(graph.outputs, default=str),
        "sandbox listing": json.dumps(result.to_json(), default=str),
        "kubernetes manifests": json.dumps([manifest(r) for r in result.graph.resources
                                            if r.type.startswith("kubernetes:")], default=str),
        "log lines": caplog.text,
        "printed output": "".join(capsys.readouterr()),
    }
    files = [*ROOT.joinpath("stacks").rglob("*.yaml"), *PROFILES_DIR.glob("*.yaml")]
    texts.update({f"stack or profile file {p.name}": p.read_text() for p in files})
    leaked = [where for where, text in texts.items() if secret in text]
    assert leaked == []


def test_jobs_run_the_runtime_handlers_on_the_profiles_schedules(prod: ResourceGraph) -> None:
    jobs = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in custom(prod, "CronJob")}
    assert {name: spec["schedule"] for name, spec in jobs.items()} == {
        "recommender-retrain": "0 3 * * 0", "recommender-drift-monitor": "0 6 * * *",
        "recommender-ab-controller": "0 * * * *", "recommender-ingestion": "0 2 * * *",
        "credit-scoring-retrain": "0 4 1 * *", "credit-scoring-drift-monitor": "0 7 * * *",
        "credit-scoring-ingestion": "30 2 * * *",
        "recommender-deployer": "*/15 * * * *", "credit-scoring-deployer": "*/15 * * * *",
    }
    ab = jobs["recommender-ab-controller"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in ab["containers"][0]["env"]}
    assert env["TRAFFIC_CONTROLLER"] == "kserve-inferencegraph" and env["ENDPOINT_NAME"] == "recommender"
    assert ab["containers"][0]["command"] == ["python", "-m", "infra.runtime.jobs.run", "ab-controller"]
    assert "@sha256:" in ab["containers"][0]["image"]
    drift = jobs["credit-scoring-drift-monitor"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    drift_env = {e["name"]: e["value"] for e in drift["env"]}
    assert drift_env["RETRAINING_TRIGGER"] == "kubeflow-pipeline"
    assert drift_env["KFP_PIPELINE_NAME"] == "credit-scoring-retraining"
    # RBAC: the A/B controller may patch its model's graph; the deployer its model's services and graph.
    bindings = {r.inputs["metadata"]["name"]: r.inputs["subjects"]
                for r in prod.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")}
    assert bindings == {
        "recommender-traffic": [{"kind": "ServiceAccount", "name": "recommender-ab-controller",
                                 "namespace": "mlops-jobs"}],
        "recommender-deploy": [{"kind": "ServiceAccount", "name": "recommender-deployer", "namespace": "mlops-jobs"}],
        "credit-scoring-deploy": [{"kind": "ServiceAccount", "name": "credit-scoring-deployer",
                                   "namespace": "mlops-jobs"}],
    }
    roles = {r.inputs["metadata"]["name"]: r.inputs["rules"]
             for r in prod.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")}
    assert roles["credit-scoring-deploy"][0]["resourceNames"] == ["credit-scoring-champion"]
    assert all(rule["verbs"] == ["get", "patch"] for rules in roles.values() for rule in rules)


def test_each_workload_role_is_trusted_by_pod_identity_and_scoped_to_its_model(prod: ResourceGraph) -> None:
    associations = {(r.inputs["namespace"], r.inputs["serviceAccount"])
                    for r in prod.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")}
    assert ("mlops-jobs", "credit-scoring-drift-monitor") in associations
    assert ("kubeflow", "pipeline-runner") in associations
    policies = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if "credit-scoring-drift-monitor" in r.name]
    text = json.dumps([p.inputs["policy"] for p in policies])
    assert "curated/credit-scoring/" in text and "recommender" not in text
    roles = [r for r in prod.of_type("aws:iam/role:Role") if r.name.endswith("-pod")]
    for role in roles:
        [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(":cluster/wandb-kubeflow-prod-cluster")



def test_self_managed_wandb_server_is_encrypted_and_needs_a_license(tmp_path: Path) -> None:
    """`tracking.kind: wandb-server`: Aurora MySQL (KMS, TLS only, binlog ROW), Redis with both encryptions, the
    license as a Pulumi secret through Secrets Manager and ESO, the operator chart pinned; manifests all pass."""
    profile = tmp_path / "wandb-selfhosted.yaml"
    text = (PROFILES_DIR / f"{PROFILE}.yaml").read_text()
    profile.write_text(text.replace("name: wandb-kubeflow\n", "name: wandb-selfhosted\n").replace(
        "  kind: wandb\n  base_url: https://api.wandb.ai\n",
        "  kind: wandb-server\n  hostname: wandb.mlops.example.com\n").replace(
        "schema_file: schemas/", f"schema_file: {PROFILES_DIR / 'schemas'}/"))
    license_text = "WANDB-LICENSE-CANARY-51d0"
    graph = preview(resolve(str(profile), "prod"), secrets={"wandbLicense": license_text})
    [aurora] = graph.of_type("aws:rds/cluster:Cluster")
    assert aurora.inputs["engine"] == "aurora-mysql" and aurora.inputs["storageEncrypted"] is True
    assert aurora.inputs["kmsKeyId"] and aurora.inputs["manageMasterUserPassword"] is True
    [parameters] = graph.of_type("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    assert {(p["name"], p["value"]) for p in parameters.inputs["parameters"]} == {
        ("require_secure_transport", "ON"), ("binlog_format", "ROW")}
    assert len(graph.of_type("aws:rds/clusterInstance:ClusterInstance")) == 2
    [redis] = graph.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert redis.inputs["engineVersion"] == "7.1" and redis.inputs["atRestEncryptionEnabled"] is True
    assert redis.inputs["transitEncryptionEnabled"] is True and redis.inputs["transitEncryptionMode"] == "required"
    assert redis.inputs["automaticFailoverEnabled"] is True and redis.inputs["kmsKeyId"]
    [operator] = [r for r in graph.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "operator"]
    assert operator.inputs["version"] == "1.3.7"
    [instance] = custom(graph, "WeightsAndBiases")
    values = instance.inputs["spec"]["values"]["global"]
    assert values["host"] == "https://wandb.mlops.example.com"
    assert values["licenseSecret"] == {"name": "wandb-license", "key": "license"}
    synced = {r.inputs["metadata"]["name"] for r in custom(graph, "ExternalSecret")
              if r.inputs["metadata"]["namespace"] == "wandb"}
    assert synced == {"wandb-license", "wandb-mysql"}
    settings = [r for r in graph.of_type("kubernetes:core/v1:ConfigMap") if r.inputs["metadata"]["name"] == "wandb"]
    assert {r.inputs["data"]["WANDB_BASE_URL"] for r in settings} == {"https://wandb.mlops.example.com"}
    checks, namespace_problems = check_graph(graph)
    assert namespace_problems == [] and [c.to_json() for c in checks if not c.ok] == []
    assert license_text not in json.dumps(graph.to_json(), default=str)  # a Pulumi secret: masked everywhere
    assert [(v.control, v.resource) for v in audit(graph).violations] == []


def test_model_versions_live_in_wandb_and_the_deployer_carries_the_key(prod: ResourceGraph, tmp_path: Path) -> None:
    """Registry kind `wandb-artifacts`: no SageMaker model package group; each deployer job names its W&B
    collection and gets the W&B settings and API key from the tracking chain (ConfigMap and Secret `wandb`),
    and its AWS role no SageMaker registry access. W&B artifacts without W&B tracking are refused."""
    assert prod.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup") == []
    jobs = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in custom(prod, "CronJob")}
    for model in SEED_MODELS:
        [container] = jobs[f"{model}-deployer"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert (env["MODEL_REGISTRY"], env["REGISTERED_MODEL"]) == ("wandb-artifacts",
                                                                  f"wandb-kubeflow-prod-{model}")
        assert "MODEL_PACKAGE_GROUP" not in env and "WANDB_API_KEY" not in env  # the key only through the Secret
        assert container["envFrom"] == [{"configMapRef": {"name": "wandb"}}, {"secretRef": {"name": "wandb"}}]
        policies = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if f"{model}-deployer" in r.name]
        assert policies and "sagemaker:" not in json.dumps([p.inputs["policy"] for p in policies])
    recommender = prod.outputs["models"]["recommender"]
    assert recommender["registeredModel"] == "wandb-kubeflow-prod-recommender"
    assert recommender["registry"] == {"MODEL_REGISTRY": "wandb-artifacts",
                                       "REGISTERED_MODEL": "wandb-kubeflow-prod-recommender"}
    profile = tmp_path / "wandb-registry-mlflow.yaml"
    text = (PROFILES_DIR / f"{PROFILE}.yaml").read_text()
    profile.write_text(text.replace("  kind: wandb\n  base_url: https://api.wandb.ai\n  entity: acme-ml\n",
                                    "  kind: sagemaker-mlflow\n"))
    with pytest.raises(Exception, match="registry kind 'wandb-artifacts' keeps versions in W&B"):
        resolve(str(profile), "prod")


def test_wandb_artifacts_registry_is_refused_for_models_on_sagemaker(tmp_path: Path) -> None:
    """The SageMaker pipeline and endpoint work with a model package group: W&B artifacts serve KFP/KServe models;
    `validate` says so with exit code 2 (also when tracking is not W&B)."""
    from typer.testing import CliRunner

    from infra.cli.main import app

    text = (PROFILES_DIR / "mlflow-sagemaker.yaml").read_text().replace(
        "kind: sagemaker-model-registry", "kind: wandb-artifacts").replace(
        "schema_file: schemas/", f"schema_file: {PROFILES_DIR / 'schemas'}/")
    start, end = text.index("tracking:\n"), text.index("registry:\n")
    cases = {"models": (text[:start] + "tracking:\n  kind: wandb\n  entity: acme-ml\n\n" + text[end:],
                        "model 'credit-scoring' runs on SageMaker"),
             "tracking": (text, "needs tracking.kind wandb or wandb-server, not 'mlflow-ecs'")}
    for name, (body, message) in cases.items():
        profile = tmp_path / f"sagemaker-wandb-{name}.yaml"
        profile.write_text(body)
        result = CliRunner().invoke(app, ["validate", str(profile)])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert message in " ".join(result.output.split()), result.output
