"""AWS pricers: Pulumi AWS type token -> cost components, priced from the catalog (`aws.*` entries).

Quantities come from the resource's own inputs (instance type and count, retention, memory, capacity) and,
for usage, from the scenario. Sizing rules are stated where they are made so a reader can check them.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from infra.cost.estimate import Placed, PriceContext, dec, free, pricer, runs_per_month, serving_replicas

GB_PER_KB = Decimal(1) / Decimal(1024 * 1024)  # AWS bills data in GiB

free("IAM is not billed", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy",
     "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
free("VPC plumbing is not billed", "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable",
     "aws:ec2/route:Route", "aws:ec2/routeTableAssociation:RouteTableAssociation",
     "aws:ec2/internetGateway:InternetGateway", "aws:ec2/securityGroup:SecurityGroup",
     "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
     "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
free("flow logs are billed as log ingestion on their log group", "aws:ec2/flowLog:FlowLog")
free("bucket settings are not billed (storage and requests are priced on the bucket)",
     "aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketPolicy:BucketPolicy",
     "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
     "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
     "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:s3/bucketObjectv2:BucketObjectv2",
     "aws:s3/bucketLogging:BucketLogging")
free("a KMS alias is not billed", "aws:kms/alias:Alias")
free("a secret version is part of its secret's monthly price", "aws:secretsmanager/secretVersion:SecretVersion")
free("repository settings are not billed (storage is priced on the repository)",
     "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:ecr/repositoryPolicy:RepositoryPolicy")
free("an image build runs on the deployer's machine; its storage is priced on the ECR repository",
     "docker-build:index:Image")
free("an ECS cluster is not billed (its Fargate tasks are priced on the service)", "aws:ecs/cluster:Cluster")
free("a task definition is not billed (priced through the service that runs it)",
     "aws:ecs/taskDefinition:TaskDefinition")
free("listeners and target groups are part of the load balancer's price", "aws:lb/listener:Listener",
     "aws:lb/targetGroup:TargetGroup")
free("a DB subnet group is not billed", "aws:rds/subnetGroup:SubnetGroup")
free("a DB parameter group is not billed", "aws:rds/parameterGroup:ParameterGroup")
free("SQS: the first million requests a month are free; the functions' dead-letter queues stay far below",
     "aws:sqs/queue:Queue", "aws:sqs/queuePolicy:QueuePolicy")
free("a rotation schedule is not billed (the rotator's runs are priced on its function)",
     "aws:secretsmanager/secretRotation:SecretRotation")
free("a SageMaker model, endpoint, model package group or model card is not billed (instances are priced on "
     "the endpoint configuration)", "aws:sagemaker/model:Model", "aws:sagemaker/endpoint:Endpoint",
     "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:sagemaker/modelCard:ModelCard")
free("Application Auto Scaling is not billed", "aws:appautoscaling/target:Target", "aws:appautoscaling/policy:Policy")
free("EventBridge rules on AWS service events and their targets are not billed", "aws:cloudwatch/eventRule:EventRule",
     "aws:cloudwatch/eventTarget:EventTarget")
free("EventBridge Scheduler's first 14 million invocations a month are free; a stack's schedules stay far below",
     "aws:scheduler/schedule:Schedule", "aws:scheduler/scheduleGroup:ScheduleGroup")
free("SNS: the first million publishes and 1,000 e-mails a month are free; alerts stay far below",
     "aws:sns/topic:Topic", "aws:sns/topicPolicy:TopicPolicy", "aws:sns/topicSubscription:TopicSubscription")
free("Lambda permissions are not billed", "aws:lambda/permission:Permission")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pricer("aws:kms/key:Key")
def kms_key(ctx: PriceContext, p: Placed) -> None:
    ctx.add("customer managed key", "monthly", 1, "key-month", "aws.kms.key")


@pricer("aws:secretsmanager/secret:Secret")
def secret(ctx: PriceContext, p: Placed) -> None:
    ctx.add("secret", "monthly", 1, "secret-month", "aws.secretsmanager.secret")


@pricer("aws:ec2/natGateway:NatGateway")
def nat_gateway(ctx: PriceContext, p: Placed) -> None:
    n = len(ctx.records(p.record.type)) or 1
    ctx.add("NAT gateway", "hourly", ctx.hours, "hour", "aws.vpc.nat_gateway.hours")
    ctx.add("data processed (scenario, split across NAT gateways)", "usage",
            dec(ctx.scenario.operations.nat_gb_per_month) / n, "GB", "aws.vpc.nat_gateway.gb")


@pricer("aws:ec2/eip:Eip")
def elastic_ip(ctx: PriceContext, p: Placed) -> None:
    ctx.add("public IPv4 address", "hourly", ctx.hours, "hour", "aws.vpc.public_ipv4")


@pricer("aws:ec2/vpcEndpoint:VpcEndpoint")
def vpc_endpoint(ctx: PriceContext, p: Placed) -> None:
    if p.record.inputs.get("vpcEndpointType", "Gateway") != "Interface":
        ctx.estimate.free.append((p.record.name, p.record.type, "gateway endpoints (S3, DynamoDB) are not billed"))
        return
    azs = len(p.record.inputs.get("subnetIds") or [1])
    interface = [x for x in ctx.records(p.record.type) if x.record.inputs.get("vpcEndpointType") == "Interface"]
    ctx.add(f"interface endpoint ({azs} AZs)", "hourly", ctx.hours * azs, "hour", "aws.vpc.interface_endpoint.hours")
    ctx.add("data processed (scenario, split across interface endpoints)", "usage",
            dec(ctx.scenario.operations.endpoint_gb_per_month) / len(interface), "GB", "aws.vpc.interface_endpoint.gb")


@pricer("aws:lb/loadBalancer:LoadBalancer")
def load_balancer(ctx: PriceContext, p: Placed) -> None:
    if p.record.inputs.get("loadBalancerType", "application") != "application":
        ctx.unpriced("load balancer", f"no catalog price for a {p.record.inputs.get('loadBalancerType')} load balancer")
        return
    ctx.add("application load balancer", "hourly", ctx.hours, "hour", "aws.elb.alb.hours")
    ctx.add("load balancer capacity units (scenario)", "usage", ctx.hours * dec(ctx.scenario.operations.alb_lcu),
            "LCU-hour", "aws.elb.alb.lcu")


@pricer("aws:ecs/service:Service")
def fargate_service(ctx: PriceContext, p: Placed) -> None:
    """Fargate: desired tasks x (vCPU-hours + GB-hours) of the task definition the service runs."""
    family = str(p.record.inputs.get("taskDefinition", "")).rsplit("/", 1)[-1].split(":")[0]
    task = next((x.record for x in ctx.records("aws:ecs/taskDefinition:TaskDefinition")
                 if x.record.inputs.get("family") == family), None)
    if task is None or p.record.inputs.get("launchType", "FARGATE") != "FARGATE":
        ctx.unpriced("tasks", "only Fargate services whose task definition is in the stack are priced")
        return
    count = dec(p.record.inputs.get("desiredCount", 1))
    vcpu = dec(task.inputs.get("cpu", 256)) / 1024
    gb = dec(task.inputs.get("memory", 512)) / 1024
    ctx.add(f"Fargate vCPU ({count} tasks x {vcpu} vCPU)", "hourly", ctx.hours * count * vcpu, "vCPU-hour",
            "aws.fargate.vcpu")
    ctx.add(f"Fargate memory ({count} tasks x {gb} GB)", "hourly", ctx.hours * count * gb, "GB-hour",
            "aws.fargate.memory")


@pricer("aws:rds/instance:Instance")
def rds_instance(ctx: PriceContext, p: Placed) -> None:
    i = p.record.inputs
    engine = {"postgres": "postgres", "mysql": "mysql"}.get(str(i.get("engine")), str(i.get("engine")))
    multi_az = bool(i.get("multiAz"))
    factor_entry = ctx.catalog.get("aws.rds.multi_az_factor")
    factor = factor_entry.price if multi_az and factor_entry and factor_entry.price else Decimal(1)
    az = "multi-AZ: x" + str(factor) if multi_az else "single-AZ"
    ctx.add(f"database instance {i.get('instanceClass')} ({az})", "hourly", ctx.hours, "hour",
            f"aws.rds.{engine}.{i.get('instanceClass')}", factor=factor)
    ctx.add(f"gp3 storage ({az})", "monthly", dec(i.get("allocatedStorage", 20)), "GB-month", "aws.rds.gp3_storage",
            factor=factor)
    if i.get("manageMasterUserPassword"):
        ctx.add("master password secret managed by RDS", "monthly", 1, "secret-month", "aws.secretsmanager.secret")


@pricer("aws:s3/bucket:Bucket")
def bucket(ctx: PriceContext, p: Placed) -> None:
    """The bucket named ...data holds the scenario's datasets and takes its requests; any other bucket holds
    model artifacts (the scenario's artifacts_gb, split across them)."""
    name = str(p.record.inputs.get("bucket") or p.record.name)
    data, ops = ctx.scenario.data, ctx.scenario.operations
    if name.endswith("data"):
        ctx.add(f"S3 Standard storage (datasets: {data.ingest_gb_per_month} GB/month kept "
                f"{data.retention_months} months)", "usage", dec(data.stored_gb), "GB-month",
                "aws.s3.standard_storage")
        ctx.add("PUT/COPY/POST/LIST requests (scenario)", "usage", dec(ops.s3_put_requests_per_month) / 1000,
                "1k requests", "aws.s3.put_requests")
        ctx.add("GET requests (scenario)", "usage", dec(ops.s3_get_requests_per_month) / 1000, "1k requests",
                "aws.s3.get_requests")
        return
    others = [x for x in ctx.records(p.record.type)
              if not str(x.record.inputs.get("bucket") or x.record.name).endswith("data")]
    ctx.add("S3 Standard storage (model artifacts)", "usage", dec(data.artifacts_gb) / len(others), "GB-month",
            "aws.s3.standard_storage")


@pricer("aws:ecr/repository:Repository")
def ecr_repository(ctx: PriceContext, p: Placed) -> None:
    ctx.add("image storage (scenario)", "usage", dec(ctx.scenario.operations.image_gb_per_repository), "GB-month",
            "aws.ecr.storage")


@pricer("aws:cloudwatch/logGroup:LogGroup")
def log_group(ctx: PriceContext, p: Placed) -> None:
    """Ingest a month from the scenario; stored = ingest x retention in months (12 when logs never expire)."""
    ingest = dec(ctx.scenario.operations.logs_gb_per_log_group)
    days = p.record.inputs.get("retentionInDays")
    months = dec(days) * 12 / 365 if days else Decimal(12)
    ctx.add("log ingestion (scenario)", "usage", ingest, "GB", "aws.cloudwatch.logs_ingest")
    ctx.add(f"log storage ({days or 'no'} days retention)", "usage", ingest * months, "GB-month",
            "aws.cloudwatch.logs_storage")


@pricer("aws:cloudwatch/metricAlarm:MetricAlarm")
def metric_alarm(ctx: PriceContext, p: Placed) -> None:
    """An alarm; an alarm on a custom namespace also means a custom metric (counted once per metric)."""
    ctx.add("standard-resolution alarm", "monthly", 1, "alarm-month", "aws.cloudwatch.alarm")
    i = p.record.inputs
    namespace = str(i.get("namespace", "AWS/"))
    if namespace.startswith("AWS/"):
        return
    key = ("custom metric", namespace, i.get("metricName"), json.dumps(i.get("dimensions"), sort_keys=True), p.group)
    if key not in ctx.seen:
        ctx.seen.add(key)
        ctx.add(f"custom metric {namespace}/{i.get('metricName')}", "monthly", 1, "metric-month",
                "aws.cloudwatch.custom_metric")


@pricer("aws:cloudwatch/dashboard:Dashboard")
def dashboard(ctx: PriceContext, p: Placed) -> None:
    ctx.add("dashboard", "monthly", 1, "dashboard-month", "aws.cloudwatch.dashboard")


@pricer("aws:lambda/function:Function")
def lambda_function(ctx: PriceContext, p: Placed) -> None:
    """Runs a month = the schedules (every placed copy) that target this function; each run lasts the
    scenario's function_seconds_per_run at the function's memory size."""
    name = p.record.inputs.get("name") or p.record.name
    runs = Decimal(0)
    for s in ctx.related("aws:scheduler/schedule:Schedule", p):
        target = s.record.inputs.get("target") or {}
        if str(target.get("arn", "")).endswith(f":function:{name}"):
            runs += runs_per_month(str(s.record.inputs.get("scheduleExpression", "")), ctx.hours)
    memory_gb = dec(p.record.inputs.get("memorySize", 128)) / 1024
    seconds = dec(ctx.scenario.operations.function_seconds_per_run)
    ctx.add(f"compute ({runs.quantize(Decimal('0.01')).normalize():f} scheduled runs x {seconds} s x {memory_gb} GB)",
            "usage",
            runs * seconds * memory_gb, "GB-second", "aws.lambda.gb_second")
    ctx.add("requests", "usage", runs / 1_000_000, "1M requests", "aws.lambda.requests")


def _instance_type(declared: str, choice: str | None) -> str:
    return choice or declared


@pricer("aws:sagemaker/pipeline:Pipeline")
def sagemaker_pipeline(ctx: PriceContext, p: Placed) -> None:
    """Training steps: runs x hours a run x instances, billed hours x (1 - spot saving) for managed spot;
    processing steps: runs x the scenario's processing hours. Runs and hours come from the model's usage."""
    if p.usage is None:
        ctx.unpriced("pipeline steps", "a pipeline outside any model has no training usage in the scenario")
        return
    definition = _json(p.record.inputs.get("pipelineDefinition")) or {}
    training = p.usage.training
    (runs, source), hours = ctx.training_runs(p.group, p.usage), dec(training.hours_per_run)
    runs = runs.normalize()
    saving = dec(ctx.scenario.assumptions.spot_saving)
    for step in definition.get("Steps", []):
        args = step.get("Arguments", {})
        if step.get("Type") == "Training":
            config = args.get("ResourceConfig", {})
            itype = _instance_type(str(config.get("InstanceType")), training.instance_type.aws)
            count = dec(config.get("InstanceCount", 1))
            spot = bool(args.get("EnableManagedSpotTraining"))
            billed = runs * hours * count * ((1 - saving) if spot else 1)
            how = f"managed spot: {runs:f} runs x {hours} h x {count} x (1 - {saving})" if spot else \
                f"{runs:f} runs x {hours} h x {count}"
            how += f"; runs from {source}"
            ctx.add(f"training {step.get('Name')} {itype} ({how})", "usage", billed, "instance-hour",
                    f"aws.sagemaker.training.{itype}")
        elif step.get("Type") == "Processing":
            config = args.get("ProcessingResources", {}).get("ClusterConfig", {})
            itype, count = str(config.get("InstanceType")), dec(config.get("InstanceCount", 1))
            proc = dec(training.processing_hours_per_run)
            ctx.add(f"processing {step.get('Name')} {itype} ({runs:f} runs x {proc} h x {count})", "usage",
                    runs * proc * count, "instance-hour", f"aws.sagemaker.processing.{itype}")


@pricer("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
def endpoint_configuration(ctx: PriceContext, p: Placed) -> None:
    """Real-time variants: instances for the model's peak traffic x the variant's traffic share over the
    autoscaling target (invocations per instance a minute), within the variant's [min, max] capacity, billed
    every hour (`serving_replicas`).
    Serverless variants: requests x latency x memory (GB-seconds) plus data processed."""
    if p.usage is None:
        ctx.unpriced("instances", "an endpoint outside any model has no traffic in the scenario")
        return
    inference = p.usage.inference
    variants = p.record.inputs.get("productionVariants") or []
    total_weight = sum(dec(v.get("initialVariantWeight", 1)) for v in variants) or Decimal(1)
    endpoint = _endpoint_name(ctx, p)
    if not all(v.get("serverlessConfig") for v in variants):
        ctx.batch_served_real_time(p, "a SageMaker real-time endpoint (the profile's `batch` serving mode, a "
                                      "scheduled Batch Transform, is not what it deploys for this model)")
    for v in variants:
        share = dec(v.get("initialVariantWeight", 1)) / total_weight
        name = v.get("variantName", "variant")
        serverless = v.get("serverlessConfig")
        if serverless:
            memory_gb = dec(serverless.get("memorySizeInMb", 2048)) / 1024
            requests = dec(inference.requests_per_month) * share
            seconds = requests * dec(inference.latency_ms) / 1000
            ctx.add(f"serverless {name} ({requests.normalize():f} requests x {inference.latency_ms} ms x "
                    f"{memory_gb} GB)", "usage", seconds * memory_gb, "GB-second", "aws.sagemaker.serverless.gb_second")
            ctx.add(f"serverless {name} data processed", "usage", requests * dec(inference.payload_kb) * GB_PER_KB,
                    "GB", "aws.sagemaker.serverless.gb_processed")
            continue
        itype = _instance_type(str(v.get("instanceType")), inference.instance_type.aws)
        low, high, target = _scaling(ctx, endpoint, name, int(v.get("initialInstanceCount", 1)))
        replicas = serving_replicas(ctx, p, name, low, high, share, target if target.is_finite() else None,
                                    "instances")
        if low > 0:
            ctx.limit(f"SageMaker real-time endpoints do not scale to zero: '{name}' keeps {low} instance(s)")
        ctx.add(f"{name} variant {itype} ({replicas.describe('instances')})", "hourly",
                ctx.hours * replicas.priced, "instance-hour", f"aws.sagemaker.hosting.{itype}")


def _endpoint_name(ctx: PriceContext, p: Placed) -> str | None:
    config = p.record.inputs.get("name")
    for e in ctx.records("aws:sagemaker/endpoint:Endpoint"):
        if e.group == p.group and (config is None or e.record.inputs.get("endpointConfigName") == config):
            return str(e.record.inputs.get("name"))
    return None


def _scaling(ctx: PriceContext, endpoint: str | None, variant: str, initial: int) -> tuple[int, int, Decimal]:
    """(min, max, target invocations per instance a minute) of a variant; without autoscaling: fixed count."""
    resource_id = f"endpoint/{endpoint}/variant/{variant}"
    low, high, target = initial, initial, Decimal(0)
    for t in ctx.records("aws:appautoscaling/target:Target"):
        if t.record.inputs.get("resourceId") == resource_id:
            low = int(t.record.inputs.get("minCapacity", initial))
            high = int(t.record.inputs.get("maxCapacity", initial))
    for pol in ctx.records("aws:appautoscaling/policy:Policy"):
        if pol.record.inputs.get("resourceId") == resource_id:
            config = pol.record.inputs.get("targetTrackingScalingPolicyConfiguration") or {}
            target = dec(config.get("targetValue", 0))
    return low, high, target if target > 0 else Decimal("Infinity")


@pricer("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer")
def managed_mlflow(ctx: PriceContext, p: Placed) -> None:
    size = p.record.inputs.get("trackingServerSize", "Small")
    ctx.add(f"managed MLflow tracking server ({size})", "hourly", ctx.hours, "hour", f"aws.sagemaker.mlflow.{size}")


# ------------------------------------------------------------------ EKS (the Kubernetes profiles)
free("EKS add-ons and Pod Identity associations are not billed (their pods run on the node groups)",
     "aws:eks/addon:Addon", "aws:eks/podIdentityAssociation:PodIdentityAssociation",
     "aws:eks/accessEntry:AccessEntry", "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
     "aws:ec2/launchTemplate:LaunchTemplate")


@pricer("aws:eks/cluster:Cluster")
def eks_cluster(ctx: PriceContext, p: Placed) -> None:
    ctx.add("EKS control plane (standard support)", "hourly", ctx.hours, "hour", "aws.eks.cluster")


@pricer("aws:eks/nodeGroup:NodeGroup")
def eks_node_group(ctx: PriceContext, p: Placed) -> None:
    """Desired nodes every hour at the first instance type's on-demand price; a group that scales from zero
    runs the training jobs: every model's training hours on it. Spot capacity is billed x (1 - spot_saving)."""
    i = p.record.inputs
    scaling = i.get("scalingConfig") or {}
    itype = str((i.get("instanceTypes") or ["?"])[0])
    spot = i.get("capacityType") == "SPOT"
    factor = (1 - dec(ctx.scenario.assumptions.spot_saving)) if spot else Decimal(1)
    how = f"spot x (1 - {ctx.scenario.assumptions.spot_saving})" if spot else "on-demand"
    desired = int(scaling.get("desiredSize", scaling.get("minSize", 1)))
    if desired:
        ctx.add(f"{desired} x {itype} nodes ({how})", "hourly", ctx.hours * desired, "instance-hour",
                f"aws.ec2.{itype}", factor=factor)
    if int(scaling.get("minSize", desired)) == 0:
        hours = sum((ctx.training_runs(m.name, m)[0] * dec(m.training.hours_per_run) for m in ctx.scenario.models),
                    Decimal(0))
        ctx.add(f"training on {itype} nodes scaled from zero ({hours.normalize():f} h, all models; {how})", "usage",
                hours, "instance-hour", f"aws.ec2.{itype}", factor=factor, category="training")
        ctx.limit(f"node group '{p.record.name}' scales from zero: training waits for nodes to start")


# ------------------------------------------------------------------ Kubernetes workloads on the EKS nodes
# vCPUs and GiB of memory per instance type (Amazon EC2 instance types, "General purpose" and "Accelerated
# computing" specification tables: official documentation, grade A), to turn a pod's requests into node share.
INSTANCE_SPECS = {"m5.large": (2, 8), "m5.xlarge": (4, 16), "m6i.large": (2, 8), "m6i.xlarge": (4, 16),
                  "t3.medium": (2, 4), "g4dn.xlarge": (4, 16), "g5.xlarge": (4, 16)}
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G)?$")
_SCALE = {None: Decimal(1), "m": Decimal("0.001"), "k": Decimal(1000), "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
          "Ki": Decimal(1024), "Mi": Decimal(1024) ** 2, "Gi": Decimal(1024) ** 3, "Ti": Decimal(1024) ** 4}


def _k8s_quantity(value: Any, unit: Decimal = Decimal(1)) -> Decimal:
    """A Kubernetes resource quantity ("500m" CPU, "1Gi" memory) in `unit`s (1 for CPU, 1024^3 for GiB)."""
    found = _QUANTITY.match(str(value))
    return dec(found.group(1)) * _SCALE[found.group(2)] / unit if found else Decimal(0)


def _requests(container: Any) -> tuple[Decimal, Decimal]:
    """(vCPU, GiB) a container requests (its limits when it states no requests)."""
    resources = (container or {}).get("resources") or {}
    asked = resources.get("requests") or resources.get("limits") or {}
    return _k8s_quantity(asked.get("cpu", 0)), _k8s_quantity(asked.get("memory", 0), Decimal(1024) ** 3)


def _always_on_nodes(ctx: PriceContext) -> Placed | None:
    """The node group long-running pods land on: the first with nodes up all the time and no NoSchedule taint."""
    for g in ctx.records("aws:eks/nodeGroup:NodeGroup"):
        i = g.record.inputs
        tainted = any(t.get("effect") in ("NO_SCHEDULE", "NoSchedule") for t in i.get("taints") or [])
        if int((i.get("scalingConfig") or {}).get("desiredSize", 0)) > 0 and not tainted:
            return g
    return None


def _pod_share(ctx: PriceContext, p: Placed, pods: Decimal, cpu: Decimal, gib: Decimal, hours: Decimal,
               what: str, category: str) -> None:
    """`pods` pods requesting `cpu` vCPU and `gib` GiB for `hours` a month, priced as the share of a node of the
    cluster's always-on group they take (the larger of the CPU and memory shares), as Kubecost allocates a node's
    cost: the group's desired nodes carry the platform, the cluster autoscaler adds nodes for these pods."""
    group = _always_on_nodes(ctx)
    if group is None:
        ctx.unpriced(what, "no always-on EKS node group in the stack to run its pods")
        return
    i = group.record.inputs
    itype = str((i.get("instanceTypes") or ["?"])[0])
    if itype not in INSTANCE_SPECS:
        ctx.unpriced(what, f"vCPUs and memory of {itype} are not known to the pricer")
        return
    node_cpu, node_gib = INSTANCE_SPECS[itype]
    share = max(cpu / node_cpu, gib / node_gib)
    spot = i.get("capacityType") == "SPOT"
    factor = (1 - dec(ctx.scenario.assumptions.spot_saving)) if spot else Decimal(1)
    ctx.add(f"{what}: {pods.normalize():f} pod(s) x {cpu.normalize():f} vCPU / {gib.normalize():f} GiB = "
            f"{share.quantize(Decimal('0.001')).normalize():f} of a {itype} node", "usage", pods * share * hours,
            "instance-hour", f"aws.ec2.{itype}", factor=factor, category=category)


@pricer("kubernetes:serving.kserve.io/v1beta1:InferenceService")
def inference_service(ctx: PriceContext, p: Placed) -> None:
    """KServe predictor: pods for its share of the model's peak traffic (the weight its InferenceGraph gives it;
    all of it without one), within its [minReplicas, maxReplicas] (KServe's defaults 1, 1), at the model
    container's requests, all month (`serving_replicas`)."""
    spec = p.record.inputs.get("spec") or {}
    predictor = spec.get("predictor") or {}
    container = predictor.get("model") or (predictor.get("containers") or [{}])[0]
    cpu, gib = _requests(container)
    low = int(predictor.get("minReplicas", 1))
    high = max(int(predictor.get("maxReplicas", low) or low), low)
    name = str((p.record.inputs.get("metadata") or {}).get("name") or p.record.name)
    ctx.batch_served_real_time(p, "KServe InferenceServices (the profile deploys no batch jobs)")
    if p.usage is None:
        replicas, what = Decimal(low), "predictor pods (min replicas: no traffic outside a model)"
    else:
        r = serving_replicas(ctx, p, name, low, high, _graph_share(ctx, p, name), unit="pods")
        replicas, what = Decimal(r.priced), f"predictor pods ({r.describe('pods')})"
    _pod_share(ctx, p, replicas, cpu, gib, ctx.hours, what, "serving")


def _graph_share(ctx: PriceContext, p: Placed, service: str) -> Decimal:
    """The traffic weight the model's InferenceGraph routes to `service` (1 when no graph names it)."""
    for g in ctx.related("kubernetes:serving.kserve.io/v1alpha1:InferenceGraph", p):
        steps = (((g.record.inputs.get("spec") or {}).get("nodes") or {}).get("root") or {}).get("steps") or []
        total = sum(dec(s.get("weight", 0)) for s in steps)
        for step in steps:
            if step.get("serviceName") == service and total > 0:
                return dec(step.get("weight", 0)) / total
    return Decimal(1)


@pricer("kubernetes:serving.kserve.io/v1alpha1:InferenceGraph")
def inference_graph(ctx: PriceContext, p: Placed) -> None:
    """KServe router (the A/B splitter): minReplicas pods at its requests, all month."""
    spec = p.record.inputs.get("spec") or {}
    cpu, gib = _requests(spec)
    _pod_share(ctx, p, dec(spec.get("minReplicas", 1)), cpu, gib, ctx.hours, "router pods (min replicas)", "serving")


@pricer("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
def workload(ctx: PriceContext, p: Placed) -> None:
    spec = p.record.inputs.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    cpu = sum((_requests(c)[0] for c in containers), Decimal(0))
    gib = sum((_requests(c)[1] for c in containers), Decimal(0))
    _pod_share(ctx, p, dec(spec.get("replicas", 1)), cpu, gib, ctx.hours, "pods (replicas)",
               ctx.category(p.record))


# What a scheduled job does, by the name the profile gives it; anything else is platform plumbing.
JOB_CATEGORY = {"drift-monitor": "monitoring", "ab-controller": "monitoring", "retrain": "training",
                "ingestion": "networking and platform"}


@pricer("kubernetes:batch/v1:CronJob")
def cron_job(ctx: PriceContext, p: Placed) -> None:
    """Runs a month from its unix cron schedule, each lasting the scenario's function_seconds_per_run (as for
    the Lambda and Cloud Run jobs of the other profiles), at the job pod's requests."""
    spec = p.record.inputs.get("spec") or {}
    runs = runs_per_month(f"cron({spec.get('schedule', '')} *)", ctx.hours) if spec.get("schedule") else Decimal(0)
    pod = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    cpu = sum((_requests(c)[0] for c in containers), Decimal(0))
    gib = sum((_requests(c)[1] for c in containers), Decimal(0))
    hours = runs * dec(ctx.scenario.operations.function_seconds_per_run) / 3600
    job = str(((p.record.inputs.get("metadata") or {}).get("labels") or {}).get("mlopsgen.io/job", ""))
    _pod_share(ctx, p, Decimal(1), cpu, gib, hours,
               f"job pod ({runs.quantize(Decimal('0.01')).normalize():f} runs)",
               JOB_CATEGORY.get(job, ctx.category(p.record)))
