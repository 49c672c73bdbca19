"""ECS, ECR, Lambda and SageMaker controls."""

from __future__ import annotations

import json
import re
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.policy.helpers import as_list, document, of_type, referenced
from infra.policy.registry import OWN, Report, StackReport, resource_control, stack_control

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
CLUSTER = "aws:ecs/cluster:Cluster"
REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
IMAGE = "docker-build:index:Image"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
PIPELINE = "aws:sagemaker/pipeline:Pipeline"
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|ACCESS_KEY)", re.IGNORECASE)


def _containers(args: ResourceValidationArgs) -> list[dict[str, Any]]:
    """Container definitions: the input is a JSON string (a list when a program passes one already parsed)."""
    raw = args.props.get("containerDefinitions")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return []
    return [c for c in as_list(raw) if isinstance(c, dict)]


def _latest(image: Any) -> bool:
    text = str(image or "")
    if not text or "@sha256:" in text:
        return False
    last = text.rsplit("/", 1)[-1]
    return ":" not in last or last.endswith(":latest")


@resource_control("aws-ecs-read-only-root", "Containers run with a read-only root filesystem", TASK_DEFINITION,
                  service="ECS", refs=("FSBP ECS.5",))
def read_only_root(args: ResourceValidationArgs, report: Report) -> None:
    for c in _containers(args):
        if c.get("readonlyRootFilesystem") is not True:
            report(f"container {c.get('name')} can write to its root filesystem")


@resource_control("aws-ecs-not-privileged", "Containers are not privileged", TASK_DEFINITION, service="ECS",
                  refs=("FSBP ECS.4",))
def not_privileged(args: ResourceValidationArgs, report: Report) -> None:
    for c in _containers(args):
        if c.get("privileged"):
            report(f"container {c.get('name')} is privileged")


@resource_control("aws-ecs-no-secrets-in-env", "Secrets reach containers from Secrets Manager, not plain "
                  "environment variables", TASK_DEFINITION, service="ECS", refs=("FSBP ECS.8",))
def no_secrets_in_env(args: ResourceValidationArgs, report: Report) -> None:
    for c in _containers(args):
        leaked = [e.get("name") for e in as_list(c.get("environment")) if SECRET_NAME.search(str(e.get("name")))]
        if leaked:
            report(f"container {c.get('name')} gets {', '.join(map(str, leaked))} as plain environment variables")


@resource_control("aws-ecs-logging", "Containers send their logs somewhere", TASK_DEFINITION, service="ECS",
                  refs=("FSBP ECS.9",))
def container_logging(args: ResourceValidationArgs, report: Report) -> None:
    for c in _containers(args):
        if not (c.get("logConfiguration") or {}).get("logDriver"):
            report(f"container {c.get('name')} has no log configuration")


@resource_control("aws-ecs-no-public-ip", "ECS services do not assign public IP addresses", SERVICE, service="ECS",
                  refs=("FSBP ECS.2",))
def no_public_ip(args: ResourceValidationArgs, report: Report) -> None:
    if (args.props.get("networkConfiguration") or {}).get("assignPublicIp"):
        report("tasks get public IP addresses")


@resource_control("aws-ecs-container-insights", "ECS clusters use Container Insights", CLUSTER, service="ECS",
                  refs=("FSBP ECS.12",))
def container_insights(args: ResourceValidationArgs, report: Report) -> None:
    settings = {s.get("name"): s.get("value") for s in as_list(args.props.get("settings"))}
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        report("Container Insights is off")


@resource_control("aws-ecr-scan-on-push", "ECR repositories scan images on push", REPOSITORY, service="ECR",
                  refs=("FSBP ECR.1",))
def scan_on_push(args: ResourceValidationArgs, report: Report) -> None:
    if (args.props.get("imageScanningConfiguration") or {}).get("scanOnPush") is not True:
        report("images are not scanned on push")


@resource_control("aws-ecr-immutable-tags", "ECR repositories have immutable tags", REPOSITORY, service="ECR",
                  refs=("FSBP ECR.2",))
def immutable_tags(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("imageTagMutability") not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        report("tags are mutable: a tag can be moved to another image")


@stack_control("aws-ecr-lifecycle", "Every ECR repository has a lifecycle policy", service="ECR",
               refs=("FSBP ECR.3",))
def ecr_lifecycle(args: StackValidationArgs, report: StackReport) -> None:
    covered = referenced(of_type(args, LIFECYCLE), "repository")
    for repo in of_type(args, REPOSITORY):
        if repo.urn not in covered:
            report(f"repository {repo.name} keeps every image forever", repo.urn)


@resource_control("aws-ecr-cmk", "ECR repositories are encrypted with the stack's KMS key", REPOSITORY,
                  service="ECR", source=OWN + ": Amazon ECR user guide, 'Encryption at rest' (KMS)")
def ecr_cmk(args: ResourceValidationArgs, report: Report) -> None:
    configs = as_list(args.props.get("encryptionConfigurations"))
    if not any(c.get("encryptionType") == "KMS" and c.get("kmsKey") for c in configs):
        report("images are encrypted with AES-256 instead of the stack's key")


@resource_control("aws-images-pinned", "No image is referenced by the moving tag 'latest'", MODEL, PIPELINE,
                  TASK_DEFINITION, IMAGE, service="ECR, SageMaker, ECS",
                  source=OWN + ": Amazon ECR user guide, 'Image tag mutability'; reproducible deployments")
def images_pinned(args: ResourceValidationArgs, report: Report) -> None:
    props = args.props
    images: list[Any] = []
    if args.resource_type == MODEL:
        images = [(props.get("primaryContainer") or {}).get("image"),
                  *[c.get("image") for c in as_list(props.get("containers"))]]
    elif args.resource_type == TASK_DEFINITION:
        images = [c.get("image") for c in _containers(args)]
    elif args.resource_type == IMAGE:
        images = as_list(props.get("tags"))
    else:
        definition = document(props.get("pipelineDefinition"))
        images = re.findall(r'"(?:TrainingImage|ImageUri|Image)":\s*"([^"]+)"', json.dumps(definition))
    moving = [str(i) for i in images if _latest(i)]
    if moving:
        report(f"unpinned image(s): {', '.join(moving)}")


@resource_control("aws-lambda-dead-letters", "Functions keep events they could not process (dead-letter queue)",
                  FUNCTION, service="Lambda", source=OWN + ": AWS Lambda developer guide, 'Capturing records of "
                  "Lambda asynchronous invocations' (dead-letter queues, on-failure destinations)")
def lambda_dead_letters(args: ResourceValidationArgs, report: Report) -> None:
    if not (args.props.get("deadLetterConfig") or {}).get("targetArn"):
        report("failed asynchronous invocations are dropped")


@resource_control("aws-lambda-tracing", "Functions are traced with X-Ray", FUNCTION, service="Lambda",
                  source=OWN + ": AWS Lambda developer guide, 'Visualize Lambda function invocations using X-Ray'")
def lambda_tracing(args: ResourceValidationArgs, report: Report) -> None:
    if (args.props.get("tracingConfig") or {}).get("mode") != "Active":
        report("active tracing is off")


@resource_control("aws-lambda-concurrency", "Functions have reserved concurrency", FUNCTION, service="Lambda",
                  source=OWN + ": AWS Lambda developer guide, 'Configuring reserved concurrency'")
def lambda_concurrency(args: ResourceValidationArgs, report: Report) -> None:
    reserved = args.props.get("reservedConcurrentExecutions")
    if reserved is None or reserved < 0:
        report("no concurrency limit")


@resource_control("aws-lambda-env-cmk", "Function environments are encrypted with the stack's KMS key", FUNCTION,
                  service="Lambda", source=OWN + ": AWS Lambda developer guide, 'Securing environment variables'")
def lambda_env_cmk(args: ResourceValidationArgs, report: Report) -> None:
    if (args.props.get("environment") or {}).get("variables") and not args.props.get("kmsKeyArn"):
        report("environment variables are encrypted with the AWS managed key")


@resource_control("aws-lambda-permission-scoped", "Functions may be invoked only by a named source", PERMISSION,
                  service="Lambda", refs=("FSBP Lambda.1",))
def lambda_permission_scoped(args: ResourceValidationArgs, report: Report) -> None:
    principal = str(args.props.get("principal", ""))
    if principal == "*" or (principal.endswith(".amazonaws.com") and not args.props.get("sourceArn")):
        report(f"{principal} may invoke the function from any source")


@stack_control("aws-lambda-error-alarm", "Every function has an error alarm", service="Lambda",
               source=OWN + ": AWS Lambda developer guide, 'Monitoring functions' (Errors metric)")
def lambda_error_alarm(args: StackValidationArgs, report: StackReport) -> None:
    alarmed = {urn for alarm in of_type(args, ALARM) if alarm.props.get("metricName") == "Errors"
               and alarm.props.get("namespace") == "AWS/Lambda"
               for urn in referenced([alarm], "dimensions")}
    for function in of_type(args, FUNCTION):
        if function.urn not in alarmed:
            report(f"function {function.name} fails silently (no Errors alarm)", function.urn)


@resource_control("aws-sagemaker-network-isolation", "SageMaker models run with network isolation", MODEL,
                  service="SageMaker", refs=("FSBP SageMaker.5",))
def sagemaker_network_isolation(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("enableNetworkIsolation") is not True:
        report("the model's containers can make network calls")


@resource_control("aws-sagemaker-model-in-vpc", "SageMaker models run in the stack's VPC", MODEL,
                  service="SageMaker", source=OWN + ": Amazon SageMaker developer guide, 'Give SageMaker hosted "
                  "endpoints access to resources in your Amazon VPC'")
def sagemaker_model_in_vpc(args: ResourceValidationArgs, report: Report) -> None:
    vpc = args.props.get("vpcConfig") or {}
    if not vpc.get("subnets") or not vpc.get("securityGroupIds"):
        report("the model runs outside the VPC")


@resource_control("aws-sagemaker-endpoint-cmk", "Endpoint volumes and captured data are encrypted with the "
                  "stack's KMS key", ENDPOINT_CONFIG, service="SageMaker",
                  source=OWN + ": Amazon SageMaker developer guide, 'Protect data at rest using encryption'")
def sagemaker_endpoint_cmk(args: ResourceValidationArgs, report: Report) -> None:
    capture = args.props.get("dataCaptureConfig") or {}
    variants = as_list(args.props.get("productionVariants"))
    # Serverless endpoints have no instance storage and accept no KmsKeyId (SageMaker API, CreateEndpointConfig)
    serverless = bool(variants) and all((v or {}).get("serverlessConfig") for v in variants)
    if (not args.props.get("kmsKeyArn") and not serverless) or \
            (capture.get("enableCapture") and not capture.get("kmsKeyId")):
        report("endpoint storage or captured requests are not encrypted with the stack's key")


@resource_control("aws-sagemaker-jobs-private", "Pipeline jobs run in the VPC, encrypt volumes, outputs and "
                  "traffic between instances", PIPELINE, service="SageMaker",
                  source=OWN + ": Amazon SageMaker developer guide, 'Protect training jobs by using an Amazon VPC'; "
                  "'Protect communications between ML compute instances in a distributed training job'")
def sagemaker_jobs_private(args: ResourceValidationArgs, report: Report) -> None:
    for step in as_list(document(args.props.get("pipelineDefinition")).get("Steps")):
        arguments = (step or {}).get("Arguments") or {}
        name, kind = step.get("Name"), step.get("Type")
        if kind == "Training":
            vpc = arguments.get("VpcConfig") or {}
            volume = (arguments.get("ResourceConfig") or {}).get("VolumeKmsKeyId")
            output = (arguments.get("OutputDataConfig") or {}).get("KmsKeyId")
            encrypted = arguments.get("EnableInterContainerTrafficEncryption") is True
        elif kind == "Processing":
            network = arguments.get("NetworkConfig") or {}
            vpc = network.get("VpcConfig") or {}
            volume = ((arguments.get("ProcessingResources") or {}).get("ClusterConfig") or {}).get("VolumeKmsKeyId")
            output = (arguments.get("ProcessingOutputConfig") or {}).get("KmsKeyId")
            encrypted = network.get("EnableInterContainerTrafficEncryption") is True
        else:
            continue
        missing = [what for what, ok in (("VPC", vpc.get("Subnets")), ("volume key", volume),
                                         ("output key", output), ("traffic encryption", encrypted)) if not ok]
        if missing:
            report(f"step {name} lacks {', '.join(missing)}")
