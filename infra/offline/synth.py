"""Outputs for a declared resource when no cloud (or emulator) creates it: shaped like AWS's or GCP's.

Physical names are taken from the inputs the program set (it names everything), so ARNs and URLs computed
from them are the ones AWS would produce for the same names.
"""

from __future__ import annotations

import hashlib
from typing import Any

# type token -> (ARN service, ARN resource pattern, name input)
ARN_SHAPES: dict[str, tuple[str, str, str]] = {
    "aws:iam/role:Role": ("iam", "role/{}", "name"),
    "aws:lambda/function:Function": ("lambda", "function:{}", "name"),
    "aws:sns/topic:Topic": ("sns", "{}", "name"),
    "aws:sagemaker/pipeline:Pipeline": ("sagemaker", "pipeline/{}", "pipelineName"),
    "aws:sagemaker/model:Model": ("sagemaker", "model/{}", "name"),
    "aws:sagemaker/endpoint:Endpoint": ("sagemaker", "endpoint/{}", "name"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ("sagemaker", "endpoint-config/{}", "name"),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": (
        "sagemaker", "model-package-group/{}", "modelPackageGroupName"),
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": (
        "sagemaker", "mlflow-tracking-server/{}", "trackingServerName"),
    "aws:ecr/repository:Repository": ("ecr", "repository/{}", "name"),
    "aws:ecs/cluster:Cluster": ("ecs", "cluster/{}", "name"),
    "aws:eks/cluster:Cluster": ("eks", "cluster/{}", "name"),
    "aws:ecs/taskDefinition:TaskDefinition": ("ecs", "task-definition/{}:1", "family"),
    "aws:ecs/service:Service": ("ecs", "service/{}", "name"),
    "aws:rds/instance:Instance": ("rds", "db:{}", "identifier"),
    "aws:rds/cluster:Cluster": ("rds", "cluster:{}", "clusterIdentifier"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("elasticache", "replicationgroup:{}",
                                                          "replicationGroupId"),
    "aws:secretsmanager/secret:Secret": ("secretsmanager", "secret:{}-AbCdEf", "name"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "log-group:{}", "name"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "alarm:{}", "name"),
    "aws:cloudwatch/eventRule:EventRule": ("events", "rule/{}", "name"),
    "aws:scheduler/schedule:Schedule": ("scheduler", "schedule/default/{}", "name"),
    "aws:scheduler/scheduleGroup:ScheduleGroup": ("scheduler", "schedule-group/{}", "name"),
    "aws:lb/loadBalancer:LoadBalancer": ("elasticloadbalancing", "loadbalancer/app/{}/0123456789abcdef", "name"),
    "aws:lb/targetGroup:TargetGroup": ("elasticloadbalancing", "targetgroup/{}/0123456789abcdef", "name"),
}
GLOBAL_SERVICES = {"iam"}


def fake_id(typ: str, name: str) -> str:
    return hashlib.sha1(f"{typ}/{name}".encode()).hexdigest()[:17]


def arn(service: str, resource: str, account: str, region: str) -> str:
    region_part = "" if service in GLOBAL_SERVICES else region
    return f"arn:aws:{service}:{region_part}:{account}:{resource}"


def project_number(project: str) -> str:
    """A stable, well-formed (12-digit) project number for a project id, for offline runs."""
    return str(100_000_000_000 + int(hashlib.sha1(project.encode()).hexdigest(), 16) % 900_000_000_000)


# GCP resources: the id (resource name) pattern the provider reports, filled from the inputs.
GCP_IDS: dict[str, str] = {
    "gcp:kms/keyRing:KeyRing": "projects/{project}/locations/{location}/keyRings/{name}",
    "gcp:kms/cryptoKey:CryptoKey": "{keyRing}/cryptoKeys/{name}",
    "gcp:storage/bucket:Bucket": "{name}",
    "gcp:storage/bucketObject:BucketObject": "{bucket}-{name}",
    "gcp:artifactregistry/repository:Repository": "projects/{project}/locations/{location}/repositories/{repositoryId}",
    "gcp:vertex/aiEndpoint:AiEndpoint": "projects/{project}/locations/{location}/endpoints/{name}",
    "gcp:vertex/aiMetadataStore:AiMetadataStore": "projects/{project}/locations/{region}/metadataStores/{name}",
    "gcp:vertex/aiDeploymentResourcePool:AiDeploymentResourcePool":
        "projects/{project}/locations/{region}/deploymentResourcePools/{name}",
    "gcp:bigquery/dataset:Dataset": "projects/{project}/datasets/{datasetId}",
    "gcp:cloudrunv2/job:Job": "projects/{project}/locations/{location}/jobs/{name}",
    "gcp:cloudscheduler/job:Job": "projects/{project}/locations/{region}/jobs/{name}",
    "gcp:compute/network:Network": "projects/{project}/global/networks/{name}",
    "gcp:compute/subnetwork:Subnetwork": "projects/{project}/regions/{region}/subnetworks/{name}",
    "gcp:projects/service:Service": "{project}/{service}",
}


def synthesize_gcp(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Id and computed outputs of a GCP resource, shaped like the provider's (names from the inputs)."""
    state = dict(inputs)
    fields = {k: v for k, v in inputs.items() if isinstance(v, str)}
    try:
        rid = GCP_IDS[typ].format(**fields) if typ in GCP_IDS else ""
    except KeyError:
        rid = ""
    rid = rid or f"{typ.rsplit(':', 1)[-1].lower()}-{fake_id(typ, name)}"
    project = fields.get("project", "offline-project")
    if typ == "gcp:serviceaccount/account:Account":
        email = f"{fields.get('accountId', name)}@{project}.iam.gserviceaccount.com"
        rid = f"projects/{project}/serviceAccounts/{email}"
        state.update(email=email, name=rid, member=f"serviceAccount:{email}", uniqueId=fake_id(typ, name))
    elif typ == "gcp:storage/bucket:Bucket":
        state.update(url=f"gs://{rid}", selfLink=f"https://www.googleapis.com/storage/v1/b/{rid}")
    elif typ == "gcp:vertex/aiTensorboard:AiTensorboard":
        number = int(fake_id(typ, name), 16) % 10**10
        rid = f"projects/{project}/locations/{fields.get('region', '')}/tensorboards/{number}"
        state["name"] = rid
    elif typ in ("gcp:monitoring/notificationChannel:NotificationChannel", "gcp:monitoring/alertPolicy:AlertPolicy"):
        kind = "notificationChannels" if "notification" in typ else "alertPolicies"
        rid = f"projects/{project}/{kind}/{int(fake_id(typ, name), 16) % 10**12}"
        state["name"] = rid
    elif typ == "gcp:artifactregistry/repository:Repository":
        state["name"] = fields.get("repositoryId", name)
    elif typ == "gcp:vertex/aiEndpoint:AiEndpoint":
        state["deployedModels"] = []  # an empty project: models are deployed at run time
    state.setdefault("id", rid)
    return rid, state


def synthesize(typ: str, name: str, inputs: dict[str, Any], account: str, region: str) -> tuple[str, dict[str, Any]]:
    """Id and state for a resource nobody created; the state echoes the inputs plus computed outputs."""
    if typ.startswith("gcp:"):
        return synthesize_gcp(typ, name, inputs)
    state = dict(inputs)
    physical = name
    if typ in ARN_SHAPES:
        service, pattern, key = ARN_SHAPES[typ]
        physical = str(inputs.get(key) or name)
        state["arn"] = arn(service, pattern.format(physical), account, region)
    rid = physical if typ in ARN_SHAPES else fake_id(typ, name)
    if typ == "aws:s3/bucket:Bucket":
        bucket = str(inputs.get("bucket") or name)
        rid = bucket
        state.update(arn=f"arn:aws:s3:::{bucket}", bucket=bucket, bucketRegionalDomainName=f"{bucket}.s3.amazonaws.com")
    elif typ == "aws:kms/key:Key":
        rid = f"{fake_id(typ, name)[:8]}-0000-4000-8000-{fake_id(typ, name)[:12]}"
        state.update(keyId=rid, arn=arn("kms", f"key/{rid}", account, region))
    elif typ == "aws:ecr/repository:Repository":
        state["repositoryUrl"] = f"{account}.dkr.ecr.{region}.amazonaws.com/{physical}"
    elif typ == "aws:lb/loadBalancer:LoadBalancer":
        state["dnsName"] = f"internal-{physical}-123456.{region}.elb.amazonaws.com"
    elif typ == "aws:rds/instance:Instance":
        state["address"] = f"{physical}.abcdefghijkl.{region}.rds.amazonaws.com"
        state["port"] = 3306 if str(inputs.get("engine", "")).startswith("mysql") else 5432
        state["endpoint"] = f"{state['address']}:{state['port']}"
        if inputs.get("manageMasterUserPassword"):
            state["masterUserSecrets"] = [{
                "secretArn": arn("secretsmanager", f"secret:rds!db-{fake_id(typ, name)}-AbCdEf", account, region),
                "secretStatus": "active", "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
            }]
    elif typ == "aws:rds/cluster:Cluster":
        state["endpoint"] = f"{physical}.cluster-abcdefghijkl.{region}.rds.amazonaws.com"
        state["readerEndpoint"] = f"{physical}.cluster-ro-abcdefghijkl.{region}.rds.amazonaws.com"
        if inputs.get("manageMasterUserPassword"):
            state["masterUserSecrets"] = [{
                "secretArn": arn("secretsmanager", f"secret:rds!cluster-{fake_id(typ, name)}-AbCdEf", account,
                                 region),
                "secretStatus": "active", "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
            }]
    elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
        state["primaryEndpointAddress"] = f"master.{physical}.abcdef.cache.amazonaws.com"
    elif typ == "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer":
        state["trackingServerUrl"] = f"https://{physical}.{region}.experiments.sagemaker.aws"
    elif typ == "docker-build:index:Image":
        # The tag the program asked for, pinned to a digest derived from the build inputs' identity.
        digest = hashlib.sha256(f"{typ}/{name}".encode()).hexdigest()
        tag = (inputs.get("tags") or [name])[0]
        state.update(ref=f"{tag.rsplit(':', 1)[0]}@sha256:{digest}", digest=f"sha256:{digest}")
    elif typ == "aws:eks/cluster:Cluster":
        # What a kubeconfig, IRSA trust conditions and security-group rules read from a cluster.
        token = fake_id(typ, name).upper()
        state.update(
            endpoint=f"https://{token}.gr7.{region}.eks.amazonaws.com",
            certificateAuthority={"data": "T0ZGTElORSBDTFVTVEVSIENB"},  # base64 "OFFLINE CLUSTER CA"
            identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{token}"}]}],
            vpcConfig={**(inputs.get("vpcConfig") or {}), "clusterSecurityGroupId": f"sg-{fake_id(typ, name)}"},
            status="ACTIVE",
        )
    elif typ == "aws:eks/nodeGroup:NodeGroup":
        group = str(inputs.get("nodeGroupName") or name)
        rid = f"{inputs.get('clusterName')}:{group}"
        state["arn"] = arn("eks", f"nodegroup/{inputs.get('clusterName')}/{group}/{fake_id(typ, name)}", account,
                           region)
    elif typ.startswith("kubernetes:"):
        metadata = inputs.get("metadata") or {}
        rid = "/".join(p for p in (metadata.get("namespace"), metadata.get("name") or inputs.get("name") or name) if p)
    elif typ == "aws:ec2/vpc:Vpc":
        rid = f"vpc-{fake_id(typ, name)}"
    elif typ == "aws:ec2/subnet:Subnet":
        rid = f"subnet-{fake_id(typ, name)}"
    elif typ == "aws:ec2/securityGroup:SecurityGroup":
        rid = f"sg-{fake_id(typ, name)}"
    elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint" and inputs.get("vpcEndpointType", "Gateway") == "Gateway":
        state["prefixListId"] = f"pl-{fake_id(typ, name)}"
    elif typ == "aws:sqs/queue:Queue":
        queue = str(inputs.get("name") or name)
        state.update(arn=arn("sqs", queue, account, region), url=f"https://sqs.{region}.amazonaws.com/{account}/{queue}")
    state.setdefault("id", rid)
    return rid, state
