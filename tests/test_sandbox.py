"""Sandbox deploys: the real program with its AWS resources created in moto, then read back from moto.

dev and prod are deployed into one session (moto keeps one state per process; their names differ), which
stays open while the class's tests read the resources back with boto3.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest

import infra.program
from infra.offline.emulators.assets import archive_zip
from infra.offline.runtime import GraphMocks, run_program
from infra.offline.sandbox import (
    SandboxMocks,
    SandboxResourceError,
    SandboxResult,
    SandboxSession,
    _ignore_reported_failures,
    deploy,
)
from infra.profiles.loader import StackSpec, load_stack, resolve

MANAGED_MLFLOW = Path(__file__).parent / "fixtures" / "managed-mlflow.yaml"
FUNCTIONS = ("recommender-drift-monitor", "recommender-ab-controller", "recommender-ingestion",
             "recommender-deployer", "credit-scoring-drift-monitor", "credit-scoring-ingestion",
             "credit-scoring-deployer")


@dataclass
class Deployed:
    spec: StackSpec
    session: SandboxSession
    result: SandboxResult

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def physical(self, suffix: str) -> str:
        return f"{self.spec.profile_name}-{self.spec.environment}-{suffix}"


@pytest.fixture(scope="class")
def stacks() -> Iterator[dict[str, Deployed]]:
    with SandboxSession() as session:
        yield {stack: Deployed(spec, session, deploy(spec, session))
               for stack, spec in ((s, load_stack(s)) for s in ("dev", "prod"))}


class TestDeployedStacks:
    """What the deploys left in moto, read back with boto3 in the same session."""

    @pytest.fixture(params=["dev", "prod"])
    def deployed(self, request: pytest.FixtureRequest, stacks: dict[str, Deployed]) -> Deployed:
        return stacks[request.param]

    @pytest.fixture
    def dev(self, stacks: dict[str, Deployed]) -> Deployed:
        return stacks["dev"]

    @pytest.fixture
    def prod(self, stacks: dict[str, Deployed]) -> Deployed:
        return stacks["prod"]

    def test_most_of_the_stack_is_created_in_moto(self, deployed: Deployed) -> None:
        result = deployed.result
        assert result.ok, result.failed
        assert result.coverage >= 0.9, result.recorded
        custom = {(r.type, r.name) for r in result.graph.custom}
        outcomes = [(e["type"], e["name"]) for e in result.emulated + result.recorded]
        assert sorted(outcomes) == sorted(custom), "every custom resource is emulated or recorded, once"
        assert all(e["reason"] for e in result.recorded)
        assert all(e["check"] and e["id"] for e in result.emulated), "emulated means read back by a describe call"

    def test_to_json(self, deployed: Deployed) -> None:
        doc = json.loads(json.dumps(deployed.result.to_json()))
        assert {"stack", "profile", "environment", "emulated", "recorded", "coverage"} <= set(doc)
        assert doc["stack"] == deployed.spec.stack and doc["environment"] == deployed.spec.environment
        assert doc["coverage"] == pytest.approx(deployed.result.coverage, abs=1e-4)

    def test_runtime_image_and_its_functions_are_recorded_not_faked(self, deployed: Deployed) -> None:
        """No Docker offline: the image is not built, so the functions that run it cannot exist either."""
        recorded = {(e["type"], e["name"]): e["reason"] for e in deployed.result.recorded}
        assert "not built offline" in recorded[("docker-build:index:Image", "runtime-image")]
        lam = deployed.client("lambda")
        for function in FUNCTIONS:
            assert "runtime-image" in recorded[("aws:lambda/function:Function", function)]
            with pytest.raises(lam.exceptions.ResourceNotFoundException):
                lam.get_function(FunctionName=deployed.physical(function))
        assert "deployer" in recorded[("aws:lambda/permission:Permission", "recommender-deployer-from-events")]
        # The repository the image would be pushed to exists, empty.
        images = deployed.client("ecr").list_images(repositoryName=f"{deployed.spec.profile_name}-"
                                                    f"{deployed.spec.environment}/runtime")["imageIds"]
        assert images == []

    def test_data_bucket_is_kms_encrypted_private_and_tls_only(self, deployed: Deployed) -> None:
        s3 = deployed.client("s3")
        bucket = deployed.result.state("store-data", "aws:s3/bucket:Bucket")["bucket"]
        key_arn = deployed.result.state("platform-key", "aws:kms/key:Key")["arn"]
        assert key_arn == deployed.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"]
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert block == dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                       "RestrictPublicBuckets"), True)
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    def test_tls_only_policy_is_declared_but_not_put_into_moto(self, deployed: Deployed) -> None:
        """moto would deny every object request under the conditional Deny; the policy is recorded, with why."""
        recorded = {e["name"]: e["reason"] for e in deployed.result.recorded}
        assert "no request context" in recorded["store-data-policy"]
        policy = json.loads(deployed.result.state("store-data-policy")["policy"])
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in policy["Statement"])
        s3 = deployed.client("s3")
        bucket = deployed.result.state("store-data", "aws:s3/bucket:Bucket")["bucket"]
        with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
            s3.get_bucket_policy(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="landing/probe.csv", Body=b"a\n1\n", ServerSideEncryption="aws:kms")
        assert s3.get_object(Bucket=bucket, Key="landing/probe.csv")["Body"].read() == b"a\n1\n"

    def test_bootstrap_model_is_uploaded(self, deployed: Deployed) -> None:
        artifacts = deployed.result.state("store-artifacts", "aws:s3/bucket:Bucket")["bucket"]
        head = deployed.client("s3").head_object(Bucket=artifacts, Key="models/recommender/bootstrap/model.tar.gz")
        source = deployed.result.graph.named("recommender-serving-bootstrap-model").inputs["source"]["FileAsset"]
        assert head["ContentLength"] == Path(source).stat().st_size
        assert head["ServerSideEncryption"] == "aws:kms"

    def test_prod_database_is_multi_az_and_deletion_protected(self, prod: Deployed) -> None:
        db = prod.client("rds").describe_db_instances(DBInstanceIdentifier=prod.physical("mlflow-db"))["DBInstances"][0]
        assert db["MultiAZ"] is True and db["DeletionProtection"] is True and db["StorageEncrypted"] is True
        secret = db["MasterUserSecret"]["SecretArn"]
        assert prod.client("secretsmanager").describe_secret(SecretId=secret)["ARN"] == secret
        # The task definition reads the password from the secret RDS created, not a synthesized ARN.
        task = prod.client("ecs").describe_task_definition(taskDefinition=prod.physical("mlflow"))["taskDefinition"]
        secrets = {s["name"]: s["valueFrom"] for s in task["containerDefinitions"][0]["secrets"]}
        assert secrets["DB_PASSWORD"] == f"{secret}:password::"

    def test_endpoint_has_champion_and_challenger(self, deployed: Deployed) -> None:
        sagemaker = deployed.client("sagemaker")
        config_name = deployed.physical("recommender-bootstrap-config")
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        assert [v["VariantName"] for v in config["ProductionVariants"]] == ["champion", "challenger"]
        endpoint = sagemaker.describe_endpoint(EndpointName=deployed.physical("recommender"))
        assert endpoint["EndpointConfigName"] == config_name
        resource_ids = [f"endpoint/{deployed.physical('recommender')}/variant/{v}" for v in ("champion", "challenger")]
        targets = deployed.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=resource_ids)["ScalableTargets"]
        assert sorted(t["ResourceId"] for t in targets) == sorted(resource_ids)

    def test_schedules_match_the_profile(self, deployed: Deployed) -> None:
        body = deployed.spec.body
        scheduler = deployed.client("scheduler")
        expected = {}
        for name, model in body.models.items():
            expected.update({
                (name, f"{name}-drift-daily"): model.monitoring.drift_schedule,
                (name, f"{name}-daily-ingestion"): model.dataset.ingestion_schedule,
                (name, f"{name}-retraining"): model.training.schedule,
            })
        expected[("recommender", "recommender-ab-guardrail")] = body.models["recommender"].serving.ab.guardrail_schedule
        for (group, name), expression in expected.items():
            got = scheduler.get_schedule(Name=deployed.physical(name), GroupName=deployed.physical(group))
            assert got["ScheduleExpression"] == expression
            assert got["ScheduleExpressionTimezone"] == body.automation.timezone

    def test_model_cards_and_rollback_alarms_exist(self, deployed: Deployed) -> None:
        sagemaker = deployed.client("sagemaker")
        card = sagemaker.describe_model_card(ModelCardName=deployed.physical("credit-scoring"))
        assert json.loads(card["Content"])["intended_uses"]["risk_rating"] == "High"
        if deployed.spec.environment == "prod":  # single mode: blue/green rolled back by the variant's alarms
            alarms = deployed.client("cloudwatch").describe_alarms(
                AlarmNamePrefix=deployed.physical("credit-scoring-primary-"))["MetricAlarms"]
            assert {a["MetricName"] for a in alarms} == {"Invocation5XXErrors", "ModelLatency"}
            emulated = {(e["type"], e["name"]) for e in deployed.result.emulated}
            assert ("aws:sagemaker/endpoint:Endpoint", "credit-scoring-serving-endpoint") in emulated

    def test_default_security_group_is_emptied(self, deployed: Deployed) -> None:
        vpc_id = next(e["id"] for e in deployed.result.emulated if e["name"] == "network-vpc")
        group = deployed.client("ec2").describe_security_groups(Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
        assert group["IpPermissions"] == [] and group["IpPermissionsEgress"] == []


def test_five_model_example_is_at_least_90_percent_emulated() -> None:
    spec = resolve(str(Path(__file__).parents[1] / "stacks" / "examples" / "startup.yaml"), "prod")
    with SandboxSession(spec.body.region) as session:
        result = deploy(spec, session)
        assert result.ok, result.failed
        assert result.coverage >= 0.9, result.recorded
        assert all(e["reason"] for e in result.recorded)
        cards = session.client("sagemaker", spec.body.region).list_model_cards()["ModelCardSummaries"]
        assert len(cards) == 5 == len(spec.body.models)
        # batch models serve no endpoint; the three real-time or serverless ones do
        endpoints = session.client("sagemaker", spec.body.region).list_endpoints()["Endpoints"]
        assert sorted(e["EndpointName"] for e in endpoints) == [
            f"startup-prod-{m}" for m in ("credit-scoring", "fraud-detection", "recommender")]


def test_managed_mlflow_is_recorded_because_moto_lacks_the_api() -> None:
    spec = resolve(str(MANAGED_MLFLOW), "prod")
    with SandboxSession(spec.body.region) as session:
        result = deploy(spec, session)
    assert result.ok, result.failed
    reasons = {e["name"]: e["reason"] for e in result.recorded}
    assert "does not implement" in reasons["mlflow-server"]
    assert result.state("mlflow-server")["trackingServerUrl"].startswith("https://")
    assert result.coverage >= 0.8


def test_invalid_policy_fails_the_deploy_naming_the_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy AWS would reject (no vendor prefix on the action) is an error of the program, not 'recorded'."""
    original = infra.program.tagging_transformation

    def breaking(spec: StackSpec) -> Any:
        tag = original(spec)

        def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
            tagged = tag(args)
            if args.type_ != "aws:iam/rolePolicy:RolePolicy" or args.name != "recommender-drift-monitor-role-metrics":
                return tagged  # type: ignore[no-any-return]
            props = tagged.props if tagged else args.props
            bad = json.dumps({"Version": "2012-10-17",
                              "Statement": [{"Effect": "Allow", "Action": "PutMetricData", "Resource": "*"}]})
            return pulumi.ResourceTransformationResult({**props, "policy": bad}, args.opts)

        return transform

    monkeypatch.setattr(infra.program, "tagging_transformation", breaking)
    seen: list[tuple[str, str, str]] = []
    spec = load_stack("dev")
    with SandboxSession(spec.body.region) as session:
        result = deploy(spec, session, on_resource=lambda *event: seen.append(event))
    assert not result.ok
    assert [(f["type"], f["name"]) for f in result.failed] == [("aws:iam/rolePolicy:RolePolicy",
                                                                  "recommender-drift-monitor-role-metrics")]
    assert "MalformedPolicyDocument" in result.failed[0]["reason"]
    assert "vendor" in result.failed[0]["reason"]
    assert ("failed", "aws:iam/rolePolicy:RolePolicy", "recommender-drift-monitor-role-metrics") in seen
    assert len(seen) == len(result.emulated) + len(result.recorded) + len(result.failed)
    assert result.emulated, "resources that do not depend on the failure are still created"


def test_a_failed_registration_waits_for_those_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_program returns only once every registration already handed to a thread has finished.

    The registrations that are in flight when another one fails take far longer than the failure; before the fix
    the run stopped at once and the summary missed them (the flaky count in the sandbox test above).
    """
    finished: list[str] = []

    class SlowAndFailing(GraphMocks):
        def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            if name == "fails":
                raise SandboxResourceError(typ, name, "rejected")
            time.sleep(0.5)
            finished.append(name)
            return name, {}

    def build(spec: StackSpec) -> None:
        for name in ("slow-1", "slow-2", "fails"):
            pulumi.CustomResource("test:index:Thing", name, {})

    monkeypatch.setattr(infra.program, "build", build)
    with pytest.raises(SandboxResourceError):
        run_program(load_stack("dev"), SlowAndFailing())
    assert sorted(finished) == ["slow-1", "slow-2"]


def test_reported_failures_are_not_logged_again_by_asyncio(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        _ignore_reported_failures(loop)
        _ignore_reported_failures(loop)  # idempotent: one filter
        failure = SandboxResourceError("aws:iam/rolePolicy:RolePolicy", "p", "MalformedPolicyDocument")
        loop.call_exception_handler({"message": "Future exception was never retrieved", "exception": failure})
        loop.call_exception_handler({"message": "Future exception was never retrieved", "exception": KeyError("x")})
    finally:
        loop.close()
    logged = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert len(logged) == 1 and "never retrieved" in logged[0]


@pytest.fixture
def mocks() -> Iterator[SandboxMocks]:
    with SandboxSession() as session:
        yield SandboxMocks(session, "us-east-1")


def test_unknown_type_and_unmapped_inputs_are_recorded_with_a_reason(mocks: SandboxMocks) -> None:
    mocks.create("aws:eks/addon:Addon", "addon", {"clusterName": "c", "addonName": "vpc-cni"})
    mocks.create("aws:iam/role:Role", "legacy", {"name": "legacy", "assumeRolePolicy": "{}",
                                                 "managedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]})
    reasons = {e["name"]: e["reason"] for e in mocks.recorded}
    assert reasons["addon"] == "no emulator for aws:eks/addon:Addon"
    assert "managedPolicyArns" in reasons["legacy"]
    assert not mocks.emulated


def test_moto_rejection_raises_and_is_listed(mocks: SandboxMocks) -> None:
    with pytest.raises(SandboxResourceError, match="aws:s3/bucketPolicy:BucketPolicy orphan-policy"):
        mocks.create("aws:s3/bucketPolicy:BucketPolicy", "orphan-policy",
                     {"bucket": "no-such-bucket", "policy": json.dumps({"Version": "2012-10-17", "Statement": []})})
    assert mocks.failed[0]["name"] == "orphan-policy" and "NoSuchBucket" in mocks.failed[0]["reason"]


def test_session_restores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-elses")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "outer")
    with SandboxSession("eu-west-1") as session:
        assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_ACCESS_KEY_ID"] != "outer"  # moto's own fake while it runs
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
        assert session.account_id == session.client("sts").get_caller_identity()["Account"]
        with pytest.raises(RuntimeError, match="another sandbox session"):
            SandboxSession().start()  # moto has one state per process: a second session would share it
    assert os.environ["AWS_PROFILE"] == "someone-elses" and os.environ["AWS_ACCESS_KEY_ID"] == "outer"
    assert not session.active


LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _role(mocks: SandboxMocks) -> str:
    return mocks.create("aws:iam/role:Role", "fn-role", {"name": "fn-role", "assumeRolePolicy": LAMBDA_TRUST})[1]["arn"]


def test_zip_function_is_created_from_its_assets_with_its_layer(mocks: SandboxMocks, tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    (package / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"bytecode")
    layer_zip = tmp_path / "deps.zip"
    with zipfile.ZipFile(layer_zip, "w") as zf:
        zf.writestr("python/dep.py", "X = 1\n")
    layer = mocks.create("aws:lambda/layerVersion:LayerVersion", "deps", {
        "layerName": "deps", "code": pulumi.FileArchive(str(layer_zip)), "compatibleRuntimes": ["python3.11"]})[1]
    mocks.create("aws:lambda/layerVersion:LayerVersion", "unbuilt", {
        "layerName": "unbuilt", "code": pulumi.FileArchive(str(tmp_path / "unbuilt.zip"))})
    code = pulumi.AssetArchive({"app/__init__.py": pulumi.StringAsset(""), "app/pkg": pulumi.FileArchive(str(package))})
    mocks.create("aws:lambda/function:Function", "fn", {
        "name": "fn", "role": _role(mocks), "runtime": "python3.11", "handler": "app.pkg.handler.handler",
        "code": code, "layers": [layer["arn"]], "environment": {"variables": {"A": "1"}}})

    emulated = {e["name"]: e["check"] for e in mocks.emulated}
    assert "lambda.get_function" in emulated["fn"] and "lambda.get_layer_version" in emulated["deps"]
    assert {e["name"]: e["reason"] for e in mocks.recorded} == {"unbuilt": "layer archive unbuilt.zip not built"}
    config = mocks.session.client("lambda").get_function(FunctionName="fn")["Configuration"]
    assert [x["Arn"] for x in config["Layers"]] == [layer["arn"]]
    zipped = zipfile.ZipFile(io.BytesIO(archive_zip(code)))
    assert zipped.namelist() == ["app/__init__.py", "app/pkg/handler.py"]  # bytecode caches are not shipped
    assert config["CodeSize"] == len(archive_zip(code))


def test_image_function_needs_its_image_in_ecr(mocks: SandboxMocks) -> None:
    ecr = mocks.session.client("ecr")
    ecr.create_repository(repositoryName="team/runtime")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                                      "digest": "sha256:" + "0" * 64}, "layers": []})
    digest = ecr.put_image(repositoryName="team/runtime", imageManifest=manifest,
                           imageTag="v1")["image"]["imageId"]["imageDigest"]
    registry = f"{mocks.account_id}.dkr.ecr.us-east-1.amazonaws.com/team/runtime"
    role = _role(mocks)
    common = {"role": role, "packageType": "Image", "imageConfig": {"commands": ["app.handler"]}}
    mocks.create("aws:lambda/function:Function", "pushed", {"name": "pushed", "imageUri": f"{registry}@{digest}",
                                                             **common})
    with pytest.raises(SandboxResourceError, match="not found in ECR"):
        mocks.create("aws:lambda/function:Function", "unpushed", {"name": "unpushed",
                                                                   "imageUri": f"{registry}:v2", **common})
    config = mocks.session.client("lambda").get_function(FunctionName="pushed")["Configuration"]
    assert config["ImageConfigResponse"]["ImageConfig"]["Command"] == ["app.handler"]
