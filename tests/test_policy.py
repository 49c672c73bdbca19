"""The policy pack: every control passes on a real resource and fails on a broken one; the built-in stacks are
clean; the offline audit and the pack run the same policies."""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.offline.graph import ResourceGraph
from infra.offline.preview import preview
from infra.policy import registry
from infra.policy.audit import audit
from infra.policy.registry import Control, controls, enforcement
from infra.profiles.loader import PROFILES_DIR, resolve

POLICY_DIR = Path(__file__).resolve().parents[1] / "infra" / "policy"
REQUIRED_SERVICES = {"S3", "KMS", "IAM", "VPC", "ELB", "RDS", "ECS", "ECR", "Lambda", "SageMaker", "CloudWatch",
                     "Secrets Manager", "SNS", "EventBridge Scheduler"}

Mutation = Callable[[ResourceGraph], str]  # breaks the graph, returns the name of the resource it broke


def _inputs(graph: ResourceGraph, name: str) -> dict[str, Any]:
    return graph.named(name).inputs


def _set(name: str, **values: Any) -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        _inputs(graph, name).update(values)
        return name
    return mutate


def _drop(name: str, *keys: str) -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        for key in keys:
            _inputs(graph, name).pop(key, None)
        return name
    return mutate


def _remove(name: str, broken: str) -> Mutation:
    """Delete resource `name`; the violation is reported on `broken` (what now lacks it)."""
    def mutate(graph: ResourceGraph) -> str:
        graph.resources.remove(graph.named(name))
        return broken
    return mutate


def _reported_on(broken: str, mutation: Mutation) -> Mutation:
    """`mutation`, whose violation is reported on `broken` (the resource that now lacks something)."""
    def mutate(graph: ResourceGraph) -> str:
        mutation(graph)
        return broken
    return mutate


def _policy(name: str, statement: dict[str, Any], key: str = "policy") -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        inputs = _inputs(graph, name)
        doc = json.loads(inputs[key])
        doc["Statement"] = [*doc["Statement"], statement] if isinstance(doc["Statement"], list) else [statement]
        inputs[key] = json.dumps(doc)
        return name
    return mutate


def _replace_policy(name: str, statements: list[dict[str, Any]], key: str = "policy") -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        _inputs(graph, name)[key] = json.dumps({"Version": "2012-10-17", "Statement": statements})
        return name
    return mutate


def _container(**values: Any) -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        inputs = _inputs(graph, "mlflow-task")
        containers = json.loads(inputs["containerDefinitions"])
        containers[0].update(values)
        inputs["containerDefinitions"] = json.dumps(containers)
        return "mlflow-task"
    return mutate


def _pipeline(step: str, edit: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        inputs = _inputs(graph, "recommender-training-pipeline")
        definition = json.loads(inputs["pipelineDefinition"])
        edit(next(s for s in definition["Steps"] if s["Name"] == step)["Arguments"])
        inputs["pipelineDefinition"] = json.dumps(definition)
        return "recommender-training-pipeline"
    return mutate


def _schedule_target(**values: Any) -> Mutation:
    def mutate(graph: ResourceGraph) -> str:
        target = _inputs(graph, "recommender-drift-daily")["target"]
        for key, value in values.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
        return "recommender-drift-daily"
    return mutate


OPEN = "0.0.0.0/0"
ROLE_POLICY = "recommender-drift-monitor-role-metrics"
# One way to break each control, applied to the prod graph (which passes them all).
BREAKS: dict[str, Mutation] = {
    "aws-s3-block-public-access": _set("store-data-public-access-block", blockPublicPolicy=False),
    "aws-s3-public-access-block-present": _remove("store-data-public-access-block", "store-data"),
    "aws-s3-default-encryption": _set("store-data-encryption", rules=[
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]),
    "aws-s3-tls-only": _replace_policy("store-data-policy", [
        {"Sid": "Other", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "*"}]),
    "aws-s3-policy-not-public": _policy("store-data-policy", {
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}),
    "aws-s3-no-acls": _set("store-data-ownership", rule={"objectOwnership": "ObjectWriter"}),
    "aws-s3-versioning": _set("store-data-versioning", versioningConfiguration={"status": "Suspended"}),
    "aws-s3-lifecycle": _remove("store-artifacts-lifecycle", "store-artifacts"),
    "aws-s3-access-logging": _remove("store-data-access-logs", "store-data"),
    "aws-kms-key-rotation": _set("platform-key", enableKeyRotation=False),
    "aws-kms-key-policy-not-public": _policy("platform-key", {
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}),
    "aws-kms-deletion-window": _set("platform-key", deletionWindowInDays=7),
    "aws-data-protected": _set("mlflow-db", skipFinalSnapshot=True),
    "aws-iam-no-admin": _policy(ROLE_POLICY, {"Effect": "Allow", "Action": "*", "Resource": "*"}),
    "aws-iam-no-service-wildcards": _policy(ROLE_POLICY, {
        "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::x"}),
    "aws-iam-resource-scoped": _policy(ROLE_POLICY, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
    "aws-iam-pass-role-scoped": _policy(ROLE_POLICY, {
        "Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/x"}),
    "aws-iam-trust-services-only": _replace_policy("mlflow-task-role", [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sts:AssumeRole"}],
        key="assumeRolePolicy"),
    "aws-iam-session-duration": _set("mlflow-task-role", maxSessionDuration=43200),
    "aws-iam-no-inline-role-policies": _set("mlflow-task-role", managedPolicyArns=[
        "arn:aws:iam::aws:policy/AmazonS3FullAccess"]),
    "aws-secrets-cmk": _drop("mlflow-admin-password", "kmsKeyId"),
    "aws-secrets-rotation": _remove("mlflow-admin-password-rotation", "mlflow-admin-password"),
    "aws-secrets-rotation-period": _set("mlflow-admin-password-rotation",
                                        rotationRules={"automaticallyAfterDays": 365}),
    "aws-ec2-default-sg-closed": _set("network-default-sg", egress=[
        {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": [OPEN], "description": "all"}]),
    "aws-ec2-default-sg-managed": _remove("network-default-sg", "network-vpc"),
    "aws-ec2-flow-logs": _remove("network-flow-log", "network-vpc"),
    "aws-ec2-no-public-ingress": _set("mlflow-alb-from-vpc-443", cidrIpv4=OPEN),
    "aws-ec2-least-egress": _set("recommender-serving-sg-to-endpoints", cidrIpv4=OPEN, ipProtocol="-1",
                                 referencedSecurityGroupId=None),
    "aws-ec2-rule-descriptions": _drop("mlflow-task-to-db", "description"),
    "aws-ec2-subnet-no-public-ip": _set("network-private-us-east-1a", mapPublicIpOnLaunch=True),
    "aws-ec2-s3-gateway-endpoint": _remove("network-s3-endpoint", "network-vpc"),
    "aws-elb-https-redirect": _set("mlflow-http-redirect", defaultActions=[
        {"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:tg"}]),
    "aws-elb-tls-policy": _set("mlflow-https-listener", sslPolicy="ELBSecurityPolicy-2016-08"),
    "aws-elb-drop-invalid-headers": _set("mlflow-alb", dropInvalidHeaderFields=False),
    "aws-elb-access-logs": _drop("mlflow-alb", "accessLogs"),
    "aws-elb-internal": _set("mlflow-alb", internal=False),
    "aws-rds-encrypted": _set("mlflow-db", storageEncrypted=False),
    "aws-rds-private": _set("mlflow-db", publiclyAccessible=True),
    "aws-rds-deletion-protection": _set("mlflow-db", deletionProtection=False),
    "aws-rds-backups": _set("mlflow-db", backupRetentionPeriod=3),
    "aws-rds-enhanced-monitoring": _drop("mlflow-db", "monitoringInterval", "monitoringRoleArn"),
    "aws-rds-log-exports": _set("mlflow-db", enabledCloudwatchLogsExports=["upgrade"]),
    "aws-rds-performance-insights": _set("mlflow-db", performanceInsightsEnabled=False),
    "aws-rds-minor-upgrades": _set("mlflow-db", autoMinorVersionUpgrade=False),
    "aws-rds-copy-tags": _set("mlflow-db", copyTagsToSnapshot=False),
    "aws-rds-iam-auth": _set("mlflow-db", iamDatabaseAuthenticationEnabled=False),
    "aws-rds-force-tls": _reported_on("mlflow-db", _set("mlflow-db-parameters", parameters=[
        {"name": "rds.force_ssl", "value": "0"}])),
    "aws-logs-cmk": _drop("mlflow-logs", "kmsKeyId"),
    "aws-logs-retention": _drop("mlflow-logs", "retentionInDays"),
    "aws-cloudwatch-alarm-actions": _set("recommender-monitoring-dataset-drift", alarmActions=[]),
    "aws-sns-encrypted": _drop("monitoring-alerts", "kmsMasterKeyId"),
    "aws-sns-tls-only": _replace_policy("monitoring-alerts-policy", []),
    "aws-sqs-encrypted": _drop("recommender-ingestion-dlq", "kmsMasterKeyId"),
    "aws-scheduler-cmk": _drop("recommender-drift-daily", "kmsKeyArn"),
    "aws-scheduler-dead-letters": _schedule_target(deadLetterConfig=None),
    "aws-ecs-read-only-root": _container(readonlyRootFilesystem=False),
    "aws-ecs-not-privileged": _container(privileged=True),
    "aws-ecs-no-secrets-in-env": _container(environment=[{"name": "DB_PASSWORD", "value": "hunter2"}]),
    "aws-ecs-logging": _container(logConfiguration=None),
    "aws-ecs-no-public-ip": _set("mlflow-service", networkConfiguration={"subnets": [], "assignPublicIp": True}),
    "aws-ecs-container-insights": _set("mlflow-cluster", settings=[]),
    "aws-ecr-scan-on-push": _set("registry-mlflow-repo", imageScanningConfiguration={"scanOnPush": False}),
    "aws-ecr-immutable-tags": _set("registry-mlflow-repo", imageTagMutability="MUTABLE"),
    "aws-ecr-lifecycle": _remove("registry-mlflow-lifecycle", "registry-mlflow-repo"),
    "aws-ecr-cmk": _set("registry-mlflow-repo", encryptionConfigurations=[{"encryptionType": "AES256"}]),
    "aws-images-pinned": _pipeline("Train", lambda a: a["AlgorithmSpecification"].update(
        TrainingImage="123456789012.dkr.ecr.us-east-1.amazonaws.com/training:latest")),
    "aws-lambda-dead-letters": _drop("recommender-ingestion", "deadLetterConfig"),
    "aws-lambda-tracing": _set("recommender-ingestion", tracingConfig={"mode": "PassThrough"}),
    "aws-lambda-concurrency": _drop("recommender-ingestion", "reservedConcurrentExecutions"),
    "aws-lambda-env-cmk": _drop("recommender-ingestion", "kmsKeyArn"),
    "aws-lambda-permission-scoped": _drop("recommender-deployer-from-events", "sourceArn"),
    "aws-lambda-error-alarm": _remove("recommender-ingestion-errors", "recommender-ingestion"),
    "aws-sagemaker-network-isolation": _set("recommender-serving-bootstrap", enableNetworkIsolation=False),
    "aws-sagemaker-model-in-vpc": _drop("recommender-serving-bootstrap", "vpcConfig"),
    "aws-sagemaker-endpoint-cmk": _drop("recommender-serving-config", "kmsKeyArn"),
    "aws-sagemaker-jobs-private": _pipeline("Baseline", lambda a: a["NetworkConfig"].update(
        EnableInterContainerTrafficEncryption=False)),
}


def _container_of(name: str, **values: Any) -> Mutation:
    """Set fields of the first container of CronJob `name` (None deletes the field)."""
    def mutate(graph: ResourceGraph) -> str:
        pod = _inputs(graph, name)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        for key, value in values.items():
            if value is None:
                pod["containers"][0].pop(key, None)
            else:
                pod["containers"][0][key] = value
        return name
    return mutate


# Controls of resources only the Kubernetes profile has: broken on the wandb-kubeflow prod graph.
KUBERNETES_BREAKS: dict[str, Mutation] = {
    "aws-eks-private-endpoint": _set("cluster-cluster", vpcConfig={"endpointPublicAccess": True,
                                                                    "publicAccessCidrs": [OPEN]}),
    "aws-eks-secrets-encryption": _drop("cluster-cluster", "encryptionConfig"),
    "aws-eks-audit-logging": _set("cluster-cluster", enabledClusterLogTypes=["api"]),
    "aws-eks-supported-version": _set("cluster-cluster", version="1.27"),
    "aws-eks-access-entries": _set("cluster-cluster", accessConfig={"authenticationMode": "CONFIG_MAP"}),
    "aws-eks-nodes-no-ssh": _set("cluster-training-nodes", remoteAccess={"ec2SshKey": "ops"}),
    "aws-eks-pod-identity-scoped": _replace_policy("recommender-drift-monitor-pod", [
        {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
         "Action": ["sts:AssumeRole", "sts:TagSession"]}], key="assumeRolePolicy"),
    "k8s-workload-restricted": _container_of("recommender-drift-monitor", securityContext={"runAsNonRoot": True}),
    "k8s-workload-resources": _container_of("recommender-drift-monitor", resources=None),
    "k8s-images-pinned": _container_of("recommender-drift-monitor", image="python"),
    "k8s-namespace-restricted": _set("ns-mlops-jobs", metadata={"name": "mlops-jobs"}),
    "k8s-namespace-default-deny": _remove("mlops-jobs-default-deny", "ns-mlops-jobs"),
}
BREAKS.update(KUBERNETES_BREAKS)


@pytest.fixture(scope="module")
def kubernetes_graphs() -> dict[str, ResourceGraph]:
    return {env: preview(resolve("wandb-kubeflow", env)) for env in ("staging", "prod")}


def _broken(graph: ResourceGraph, *mutations: Mutation) -> tuple[ResourceGraph, list[str]]:
    copied = copy.deepcopy(graph)
    return copied, [mutate(copied) for mutate in mutations]


def test_the_pack_has_at_least_40_documented_controls_over_every_required_service() -> None:
    catalog = controls()
    assert len(catalog) >= 40
    services = {s.strip() for c in catalog for s in c.service.split(",")}
    assert services >= REQUIRED_SERVICES, REQUIRED_SERVICES - services
    for c in catalog:
        assert c.title and c.source, c.id
        assert all(ref.startswith(("FSBP ", "CIS ")) for ref in c.refs), c.id
        assert c.refs or c.source.startswith("mlopsgen"), f"{c.id}: a control without a framework ID says why"
    assert sum(1 for c in catalog if c.refs) >= 40, "framework IDs wherever one exists"


def aws_controls() -> list[Control]:
    """The controls whose passing and broken cases are resources of the AWS stacks (EKS and Kubernetes included;
    the GCP controls' are in test_policy_gcp.py)."""
    return [c for c in controls() if c.cloud != "gcp"]


def test_every_control_has_a_failing_case() -> None:
    assert set(BREAKS) == {c.id for c in aws_controls()}


@pytest.mark.parametrize("control", aws_controls(), ids=lambda c: c.id)
def test_each_control_passes_on_prod_and_fails_on_the_broken_resource(
    graphs: dict[str, ResourceGraph], kubernetes_graphs: dict[str, ResourceGraph], control: Control
) -> None:
    prod = (kubernetes_graphs if control.id in KUBERNETES_BREAKS else graphs)["prod"]
    if control.kind == "resource":  # the passing resource really is one the control checks
        assert {r.type for r in prod.custom} & set(control.resource_types), control.id
    assert audit(prod, [control]).violations == []
    broken, names = _broken(prod, BREAKS[control.id])
    violations = audit(broken, [control]).violations
    assert violations, f"{control.id} did not notice the broken resource"
    assert {v.resource for v in violations} == set(names)
    assert all(v.control == control.id and v.message for v in violations)


def test_six_mutations_of_prod_give_one_violation_each_naming_resource_and_control(
    graphs: dict[str, ResourceGraph]
) -> None:
    mutations = {
        "HTTP listener": (_set("mlflow-https-listener", protocol="HTTP", port=80, certificateArn=None,
                               sslPolicy=None), "aws-elb-https-redirect"),
        "* on *": (_policy("recommender-training-execution-role-jobs",
                           {"Effect": "Allow", "Action": "*", "Resource": "*"}), "aws-iam-no-admin"),
        "public bucket": (_set("store-artifacts-public-access-block", blockPublicAcls=False, blockPublicPolicy=False,
                               ignorePublicAcls=False, restrictPublicBuckets=False), "aws-s3-block-public-access"),
        "unencrypted database": (_set("mlflow-db", storageEncrypted=False, kmsKeyId=None), "aws-rds-encrypted"),
        "mutable ECR tags": (_set("registry-training-repo", imageTagMutability="MUTABLE"), "aws-ecr-immutable-tags"),
        "open egress": (_set("recommender-training-sg-to-s3", ipProtocol="-1", fromPort=None, toPort=None,
                             prefixListId=None, cidrIpv4=OPEN), "aws-ec2-least-egress"),
    }
    broken, names = _broken(graphs["prod"], *(m for m, _ in mutations.values()))
    got = sorted((v.resource, v.control) for v in audit(broken).violations)
    expected = sorted(zip(names, (control for _, control in mutations.values()), strict=True))
    assert got == expected


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_are_clean(graphs: dict[str, ResourceGraph], env: str) -> None:
    report = audit(graphs[env])
    assert len(report.controls) >= 40 and report.violations == []
    assert report.enforcement.value == "mandatory"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_kubernetes_profile_is_clean_under_every_control(kubernetes_graphs: dict[str, ResourceGraph],
                                                             env: str) -> None:
    report = audit(kubernetes_graphs[env])
    assert report.violations == []
    checked = {c.id for c in report.controls}
    assert set(KUBERNETES_BREAKS) <= checked  # the EKS and Kubernetes controls are in the same pack


def test_dev_violations_are_exactly_its_reported_loosened_defaults(graphs: dict[str, ResourceGraph]) -> None:
    dev = graphs["dev"]
    report = audit(dev)
    assert report.enforcement.value == "advisory" and not report.blocking
    loosened_fields = {line.split(" ", 1)[0] for line in dev.loosened}
    assert report.violations and all(v.loosened in loosened_fields for v in report.violations), [
        v for v in report.violations if v.loosened not in loosened_fields]
    # each loosened default a control watches shows up as a violation of that control
    expected = {c.id for c in report.controls if set(c.loosened_by) & loosened_fields}
    assert {v.control for v in report.violations} == expected
    assert {v.loosened for v in report.violations} == {
        "tracking.require_https", "tracking.database.deletion_protection", "tracking.database.backup_retention_days",
        "tracking.database.enhanced_monitoring", "tracking.database.performance_insights", "security.protect_data"}


def test_audit_cli_json(graphs: dict[str, ResourceGraph]) -> None:
    runner = CliRunner()
    for args in (["--stack", "prod"], ["--profile", "mlflow-sagemaker", "--env", "staging"]):
        result = runner.invoke(app, ["audit", *args, "--json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.output)
        assert doc["controls"] >= 40 and doc["violations"] == [] and doc["enforcement"] == "mandatory"
        assert len(doc["catalog"]) == doc["controls"]
    dev = runner.invoke(app, ["audit", "--stack", "dev", "--json"])
    assert dev.exit_code == 0, dev.output  # advisory
    doc = json.loads(dev.output)
    assert doc["violations"] and all(v["loosenedDefault"] and v["resource"] and v["control"]
                                     for v in doc["violations"])


def test_a_mandatory_violation_fails_the_audit(tmp_path: Path) -> None:
    profile = tmp_path / "loose.yaml"
    text = (PROFILES_DIR / "mlflow-sagemaker.yaml").read_text()
    profile.write_text(text.replace("  kms_key_rotation: true", "  kms_key_rotation: false")
                       .replace("name: mlflow-sagemaker\n", "name: mlflow-loose\n"))
    result = CliRunner().invoke(app, ["audit", "--profile", str(profile), "--env", "prod", "--json"])
    assert result.exit_code == 1
    violations = json.loads(result.output)["violations"]
    assert [(v["control"], v["resource"], v["loosenedDefault"]) for v in violations] == [
        ("aws-kms-key-rotation", "platform-key", "security.kms_key_rotation")]


def test_the_pack_builds_its_policies_from_the_registry() -> None:
    tree = ast.parse((POLICY_DIR / "__main__.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PolicyPack"]
    assert len(calls) == 1
    keywords = {k.arg: k.value for k in calls[0].keywords}
    assert isinstance(keywords["policies"], ast.Call) and getattr(keywords["policies"].func, "id", "") == "policies"
    assert ast.unparse(keywords["enforcement_level"]) == "EnforcementLevel.MANDATORY"
    assert json.loads((POLICY_DIR / "dev.json").read_text()) == {"all": enforcement("dev").value}
    assert "name: mlopsgen" in (POLICY_DIR / "PulumiPolicy.yaml").read_text()
    names = [p.name for p in registry.policies()]
    assert len(names) == len(set(names)) == len(controls())


def test_controls_of_another_cloud_join_beside_the_aws_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "CONTROLS", dict(registry.CONTROLS))

    @registry.resource_control("k8s-no-privileged-pods", "Pods are not privileged", "kubernetes:core/v1:Pod",
                               service="Kubernetes", cloud="kubernetes", source=registry.OWN)
    def _check(args: Any, report: Any) -> None:
        if any((c.get("securityContext") or {}).get("privileged") for c in args.props["spec"]["containers"]):
            report("privileged container")

    catalog = registry.controls()
    assert "k8s-no-privileged-pods" in {c.id for c in catalog} and "aws-s3-versioning" in {c.id for c in catalog}
    graph = ResourceGraph(stack="x", profile="p", environment="prod")
    from infra.offline.graph import ResourceRecord
    graph.resources.append(ResourceRecord("kubernetes:core/v1:Pod", "pod", None,
                                          {"spec": {"containers": [{"securityContext": {"privileged": True}}]}},
                                          urn="urn:pulumi:x::mlopsgen::kubernetes:core/v1:Pod::pod"))
    assert [(v.control, v.resource) for v in audit(graph).violations] == [("k8s-no-privileged-pods", "pod")]
    with pytest.raises(ValueError, match="two controls"):
        registry.resource_control("k8s-no-privileged-pods", "again", "x", service="Kubernetes")(_check)
