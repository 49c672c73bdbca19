"""Structural checks of GCP resources: no emulator exists for Vertex AI, Cloud Monitoring, Cloud Run, Cloud
Scheduler, KMS or IAM on GCP, so the sandbox records these resources and checks their inputs against the
rules GCP applies at create time (names, formats, ranges, references) and the stack's own invariants (CMEK,
uniform access, no basic or project-level admin roles). A failed check fails the deploy, as GCP would.

One table, token -> check; each check returns the names of what it verified.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from infra.components.gcp.context import forbidden_project_role


class StructuralError(Exception):
    """An input GCP would reject, or a stack invariant broken."""


Check = Callable[[dict[str, Any]], list[str]]

_KEY_NAME = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
_MEMBER = re.compile(r"^(serviceAccount|user|group|domain):[^\s@]*@?[a-z0-9.-]+\.[a-z]+$")
_ROLE = re.compile(r"^roles/[a-zA-Z]+(\.[a-zA-Z]+)*$")
_DURATION = re.compile(r"^(\d+)s$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_DAY_NAMES = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
_MONTH_NAMES = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}


def require(condition: object, message: str) -> None:
    if not condition:
        raise StructuralError(message)


def _matches(value: Any, pattern: str, what: str) -> None:
    require(isinstance(value, str) and re.fullmatch(pattern, value), f"{what} {value!r} is not valid")


def _seconds(value: Any, what: str) -> int:
    match = _DURATION.match(str(value or ""))
    require(match, f"{what} {value!r} is not a duration in seconds (e.g. 300s)")
    assert match is not None
    return int(match.group(1))


def unix_cron_ok(expression: str) -> None:
    """Cloud Scheduler's unix cron: 5 fields, numbers in range, names for months and days."""
    fields = expression.split()
    require(len(fields) == 5, f"schedule {expression!r} needs 5 fields")
    for value, (low, high), names in zip(fields, _CRON_RANGES, (set(), set(), set(), _MONTH_NAMES, _DAY_NAMES),
                                         strict=True):
        for part in value.split(","):
            base, _, step = part.partition("/")
            require(not step or step.isdigit(), f"schedule {expression!r}: bad step in {part!r}")
            if base == "*":
                continue
            for bound in base.split("-"):
                if bound.upper() in names:
                    continue
                require(bound.isdigit() and low <= int(bound) <= high,
                        f"schedule {expression!r}: {bound!r} is outside {low}-{high}")


def bucket(inputs: dict[str, Any]) -> list[str]:
    name = str(inputs.get("name", ""))
    require(re.fullmatch(r"[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]", name) and not name.startswith("goog")
            and "google" not in name, f"bucket name {name!r} is not valid")
    require(inputs.get("uniformBucketLevelAccess") is True, "uniform bucket-level access is off")
    require(inputs.get("publicAccessPrevention") in ("enforced", "inherited"), "publicAccessPrevention is not valid")
    key = (inputs.get("encryption") or {}).get("defaultKmsKeyName", "")
    require(_KEY_NAME.match(str(key)), f"default KMS key {key!r} is not a crypto key name")
    retention = inputs.get("retentionPolicy")
    if retention:
        require(0 < int(retention.get("retentionPeriod", 0)) <= 3_155_760_000, "retention period out of range")
        # Cloud Storage refuses Object Versioning on a bucket with a retention policy.
        require(not (inputs.get("versioning") or {}).get("enabled"), "versioning and a retention policy together")
    for rule in inputs.get("lifecycleRules") or []:
        require(rule["action"]["type"] in ("Delete", "SetStorageClass", "AbortIncompleteMultipartUpload"),
                f"lifecycle action {rule['action']['type']!r} is not valid")
    soft = (inputs.get("softDeletePolicy") or {}).get("retentionDurationSeconds")
    require(soft is None or soft == 0 or 604_800 <= int(soft) <= 7_776_000, "soft delete outside 7-90 days")
    return ["name", "uniform access", "public access prevention", "CMEK key", "retention or versioning", "lifecycle",
            "soft delete"]


def key_ring(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("name"), r"[a-zA-Z0-9_-]{1,63}", "key ring name")
    require(inputs.get("location"), "key ring has no location")
    return ["name", "location"]


def crypto_key(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("name"), r"[a-zA-Z0-9_-]{1,63}", "key name")
    if inputs.get("rotationPeriod"):
        require(_seconds(inputs["rotationPeriod"], "rotation period") >= 86400, "rotation period under one day")
    days = _seconds(inputs.get("destroyScheduledDuration", "2592000s"), "destroy delay") / 86400
    require(1 <= days <= 120, f"destroy delay of {days} days is outside 1-120")
    require(inputs.get("purpose", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT", "not a symmetric encryption key")
    return ["name", "rotation period", "destroy delay", "purpose"]


def iam_member(project_level: bool) -> Check:
    def check(inputs: dict[str, Any]) -> list[str]:
        role, member = str(inputs.get("role", "")), str(inputs.get("member", ""))
        require(_ROLE.match(role), f"role {role!r} is not valid")
        require(_MEMBER.match(member), f"member {member!r} is not valid")
        problem = forbidden_project_role(role)
        require(not (problem and (project_level or problem == "a basic role")),
                f"{role} is {problem}: not allowed {'at project level' if project_level else ''}".strip())
        return ["role", "member", "no basic role" + (", no admin role at project level" if project_level else "")]

    return check


def service_account(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("accountId"), r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "service account id")
    return ["account id"]


def scheduler_job(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("name"), r"[a-zA-Z0-9_-]{1,500}", "scheduler job name")
    unix_cron_ok(str(inputs.get("schedule", "")))
    try:
        ZoneInfo(str(inputs.get("timeZone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        raise StructuralError(f"time zone {inputs.get('timeZone')!r} is not an IANA zone") from None
    target = inputs.get("httpTarget") or {}
    require(str(target.get("uri", "")).startswith("https://run.googleapis.com/v2/projects/")
            and str(target.get("uri", "")).endswith(":run"), "the target is not a Cloud Run job run call")
    require((target.get("oauthToken") or {}).get("serviceAccountEmail"), "the call is not authenticated (OAuth)")
    return ["unix cron", "time zone", "Cloud Run run URI", "OAuth identity"]


def cloud_run_job(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("name"), r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", "job name")
    template = (inputs.get("template") or {}).get("template") or {}
    require(template.get("serviceAccount"), "the job runs as the default compute account")
    [container] = template.get("containers") or [{}]
    require(container.get("image"), "the job has no image")
    _seconds(template.get("timeout", "600s"), "timeout")
    egress = (template.get("vpcAccess") or {}).get("egress")
    require(egress == "ALL_TRAFFIC", "job traffic does not leave through the private subnetwork")
    return ["name", "own service account", "image", "timeout", "private egress"]


def endpoint(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("name"), r"[1-9]\d{0,9}", "endpoint id")
    require(inputs.get("location") == inputs.get("region"), "endpoint location and region differ")
    require(_KEY_NAME.match(str((inputs.get("encryptionSpec") or {}).get("kmsKeyName", ""))), "endpoint has no CMEK")
    logging_config = inputs.get("predictRequestResponseLoggingConfig") or {}
    if logging_config.get("enabled"):
        require(0 < float(logging_config.get("samplingRate", 0)) <= 1, "sampling rate outside (0, 1]")
        uri = str((logging_config.get("bigqueryDestination") or {}).get("outputUri", ""))
        require(re.fullmatch(r"bq://[a-z][a-z0-9-]+\.[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?", uri), f"BigQuery URI {uri!r}")
    return ["endpoint id", "region", "CMEK", "prediction logging"]


def resource_pool(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("name"), r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", "resource pool id")
    resources = inputs.get("dedicatedResources") or {}
    low, high = int(resources.get("minReplicaCount", 0)), int(resources.get("maxReplicaCount", 0))
    require(1 <= low <= high, f"replicas {low}-{high}: need 1 <= min <= max")
    require((resources.get("machineSpec") or {}).get("machineType"), "no machine type")
    return ["pool id", "replica bounds", "machine type"]


def encrypted(what: str) -> Check:
    def check(inputs: dict[str, Any]) -> list[str]:
        spec = inputs.get("encryptionSpec") or {}
        require(_KEY_NAME.match(str(spec.get("kmsKeyName", ""))), f"{what} has no CMEK")
        return ["CMEK"]

    return check


def dataset(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("datasetId"), r"[A-Za-z0-9_]{1,1024}", "dataset id")
    key = (inputs.get("defaultEncryptionConfiguration") or {}).get("kmsKeyName", "")
    require(_KEY_NAME.match(str(key)), "dataset has no CMEK")
    expiration = inputs.get("defaultTableExpirationMs")
    require(expiration is None or int(expiration) >= 3_600_000, "table expiration under one hour")
    return ["dataset id", "CMEK", "table expiration"]


def repository(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("repositoryId"), r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", "repository id")
    require(inputs.get("format") == "DOCKER", "not a Docker repository")
    require(_KEY_NAME.match(str(inputs.get("kmsKeyName", ""))), "repository has no CMEK")
    return ["repository id", "format", "CMEK"]


def alert_policy(inputs: dict[str, Any]) -> list[str]:
    require(inputs.get("combiner") in ("OR", "AND", "AND_WITH_MATCHING_RESOURCE"), "combiner is not valid")
    conditions = inputs.get("conditions") or []
    require(conditions, "no condition")
    for condition in conditions:
        if "conditionMatchedLog" in condition:
            # A log-match condition: only one per policy, and the policy must limit its notification rate.
            require(len(conditions) == 1, "a log-match condition must be the policy's only condition")
            require(condition["conditionMatchedLog"].get("filter"), "a log-match condition has no filter")
            rate = ((inputs.get("alertStrategy") or {}).get("notificationRateLimit") or {}).get("period")
            _seconds(rate, "log-match notification rate limit")
            continue
        threshold = condition.get("conditionThreshold") or {}
        require("metric.type" in threshold.get("filter", ""), "a condition filter names no metric")
        require(threshold.get("comparison") in ("COMPARISON_GT", "COMPARISON_LT"), "comparison is not valid")
        _seconds(threshold.get("duration"), "condition duration")
    return ["combiner", "conditions (metric thresholds, log matches)", "comparisons", "durations"]


def notification_channel(inputs: dict[str, Any]) -> list[str]:
    require(inputs.get("type") == "email", "only email channels are declared")
    _matches((inputs.get("labels") or {}).get("email_address"), r"[^@\s]+@[^@\s]+\.[^@\s]+", "email address")
    return ["type", "email address"]


def subnetwork(inputs: dict[str, Any]) -> list[str]:
    network = ipaddress.ip_network(str(inputs.get("ipCidrRange")), strict=True)
    require(network.is_private, f"{network} is not a private range")
    require(inputs.get("privateIpGoogleAccess") is True, "Private Google Access is off")
    return ["private CIDR", "Private Google Access"]


def log_bucket(inputs: dict[str, Any]) -> list[str]:
    require(1 <= int(inputs.get("retentionDays", 30)) <= 3650, "log retention outside 1-3650 days")
    return ["retention"]


def bucket_object(inputs: dict[str, Any]) -> list[str]:
    """A JSON object the stack writes (dataset schema, pipeline template): valid JSON; a pipeline also valid IR."""
    require(inputs.get("contentType") == "application/json", "the stack writes JSON objects only")
    try:
        json.loads(str(inputs.get("content", "")))
    except ValueError as exc:
        raise StructuralError(f"content is not JSON: {exc}") from None
    if str(inputs.get("name", "")).endswith("/retraining.json"):
        return ["JSON", *pipeline_template(inputs)]
    return ["JSON"]


def pipeline_template(inputs: dict[str, Any]) -> list[str]:
    """The compiled pipeline: every task's component exists, every component's executor exists and has an image,
    every input a task passes is a root parameter."""
    spec = json.loads(str(inputs.get("content", "")))
    require(spec.get("schemaVersion") == "2.1.0", "not KFP pipeline IR 2.1.0")
    components, executors = spec.get("components", {}), spec["deploymentSpec"]["executors"]
    params = set(spec["root"]["inputDefinitions"]["parameters"])
    for name, task in spec["root"]["dag"]["tasks"].items():
        component = components.get(task["componentRef"]["name"])
        require(component, f"task {name} refers to a missing component")
        require(executors.get(component["executorLabel"], {}).get("container", {}).get("image"),
                f"task {name} has no container image")
        for value in task.get("inputs", {}).get("parameters", {}).values():
            require(value.get("componentInputParameter") in params, f"task {name} uses an undeclared parameter")
        for dependency in task.get("dependentTasks", []):
            require(dependency in spec["root"]["dag"]["tasks"], f"task {name} depends on a missing task")
    return ["KFP IR", "components", "executors", "parameters", "dependencies"]


def service(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("service"), r"[a-z]+\.googleapis\.com", "service")
    require(inputs.get("disableOnDestroy") is False, "destroying the stack would disable an API others may use")
    return ["service name", "kept on destroy"]


def network(inputs: dict[str, Any]) -> list[str]:
    _matches(inputs.get("name"), r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", "network name")
    require(inputs.get("autoCreateSubnetworks") is False, "an auto-mode network (subnetworks in every region)")
    return ["name", "custom mode"]


def log_sink(inputs: dict[str, Any]) -> list[str]:
    require(str(inputs.get("destination", "")).startswith("logging.googleapis.com/projects/"),
            "the sink's destination is not a log bucket")
    require(inputs.get("filter"), "the sink has no filter (it would copy every log of the project)")
    return ["log bucket destination", "filter"]


PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"
RESOURCE_IAM = (
    "gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:serviceaccount/iAMMember:IAMMember", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:bigquery/datasetIamMember:DatasetIamMember", "gcp:cloudrunv2/jobIamMember:JobIamMember",
)
IAM_TOKENS = frozenset({PROJECT_IAM, *RESOURCE_IAM})

CHECKS: dict[str, Check] = {
    PROJECT_IAM: iam_member(project_level=True),
    **dict.fromkeys(RESOURCE_IAM, iam_member(project_level=False)),
    "gcp:storage/bucket:Bucket": bucket,
    "gcp:storage/bucketObject:BucketObject": bucket_object,
    "gcp:kms/keyRing:KeyRing": key_ring,
    "gcp:kms/cryptoKey:CryptoKey": crypto_key,
    "gcp:serviceaccount/account:Account": service_account,
    "gcp:cloudscheduler/job:Job": scheduler_job,
    "gcp:cloudrunv2/job:Job": cloud_run_job,
    "gcp:vertex/aiEndpoint:AiEndpoint": endpoint,
    "gcp:vertex/aiDeploymentResourcePool:AiDeploymentResourcePool": resource_pool,
    "gcp:vertex/aiMetadataStore:AiMetadataStore": encrypted("metadata store"),
    "gcp:vertex/aiTensorboard:AiTensorboard": encrypted("TensorBoard"),
    "gcp:bigquery/dataset:Dataset": dataset,
    "gcp:artifactregistry/repository:Repository": repository,
    "gcp:monitoring/alertPolicy:AlertPolicy": alert_policy,
    "gcp:monitoring/notificationChannel:NotificationChannel": notification_channel,
    "gcp:compute/subnetwork:Subnetwork": subnetwork,
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": log_bucket,
    "gcp:logging/projectSink:ProjectSink": log_sink,
    "gcp:projects/service:Service": service,
    "gcp:compute/network:Network": network,
}
