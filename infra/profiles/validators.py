"""Field checks AWS would make at deploy time but moto does not, so mistakes surface at validation."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import botocore.session

from infra.profiles.schedule import parse as parse_schedule
from infra.profiles.wording import did_you_mean

ENVIRONMENTS = ("dev", "staging", "prod")



def check_schedule_expression(value: str) -> str:
    """Validate an EventBridge Scheduler expression: rate(...), cron(6 fields) or at(...) (see `schedule`)."""
    return parse_schedule(value).text


def check_timezone(value: str) -> str:
    """An IANA time zone name, as EventBridge Scheduler's ScheduleExpressionTimezone takes (zoneinfo's database)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(value, available_timezones()) or "; for example UTC, Europe/Berlin or America/New_York"
        raise ValueError(f"{value!r} is not an IANA time zone{hint}") from None
    return value


def check_cidr(value: str) -> str:
    """A private IPv4 network between /16 and /24 given by its network address (RFC 1918)."""
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 network such as 10.42.0.0/16 ({exc})") from None
    if not 16 <= network.prefixlen <= 24:
        raise ValueError(f"{value!r}: the VPC's prefix length must be between /16 and /24")
    if not any(network.subnet_of(private) for private in _PRIVATE):
        raise ValueError(f"{value!r} is not in a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
    return value


_PRIVATE = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


@cache
def aws_regions() -> frozenset[str]:
    """Regions in which SageMaker runs, in every AWS partition, from botocore's endpoint data (the pinned
    botocore's `endpoints.json`): a region newer than that data needs a newer botocore."""
    session = botocore.session.get_session()
    return frozenset(region for partition in session.get_available_partitions()
                     for region in session.get_available_regions("sagemaker", partition_name=partition))


def _aws_region(value: str) -> str:
    """An AWS region where SageMaker runs (see `aws_regions`); a near miss gets a did-you-mean."""
    if value not in aws_regions():
        # Region names share most letters ('europe-west4' is 0.69 like 'eu-isoe-west-1'): only a near miss is a hint.
        hint = did_you_mean(value, aws_regions(), cutoff=0.8) or "; for example us-east-1 or eu-central-1"
        raise ValueError(f"{value!r} is not an AWS region with SageMaker{hint}")
    return value


_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+\d{1,2}$")


def _gcp_region(value: str) -> str:
    if not _GCP_REGION.match(value):
        raise ValueError(f"{value!r} is not a GCP region name such as europe-west4 or us-central1")
    return value


# Each cloud's region check, by the profile's `cloud`.
REGION_CHECKS = {"aws": _aws_region, "gcp": _gcp_region}


def check_region(value: str, cloud: str = "aws") -> str:
    return REGION_CHECKS[cloud](value)


_RATE_UNITS = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")


def _unix_day_of_week(field: str) -> str:
    """EventBridge day-of-week (1-7 = SUN-SAT, or names) -> unix cron (0-6 = SUN-SAT)."""
    if field in ("?", "*"):
        return "*"

    def one(token: str) -> str:
        return str(int(token) - 1) if token.isdigit() else token

    return ",".join("-".join(one(b) for b in part.split("-")) for part in field.split(","))


def unix_cron(expression: str) -> str:
    """A profile schedule (EventBridge grammar: rate(...) or 6-field cron(...)) as unix cron (Cloud Scheduler).

    `rate(n minutes|hours|days)` becomes `*/n` in that field (n must divide the field's range evenly to keep
    the interval exact: 60 minutes, 24 hours); `cron(m h dom mon dow *)` drops the year and maps the day of
    week from 1-7 (SUN-SAT) to 0-6. Raises ValueError for what unix cron cannot say: at(...) one-offs, a year
    other than `*`, the `L`, `W` and `#` day modifiers, and uneven rates.
    Source: Cloud Scheduler "Configure cron job schedules" (unix-cron format).
    """
    expression = check_schedule_expression(expression)
    if m := _RATE_UNITS.match(expression):
        amount, unit = int(m.group(1)), m.group(2)
        span = {"minute": 60, "hour": 24, "day": 0}[unit]
        if span and span % amount:
            raise ValueError(f"{expression}: unix cron repeats every {amount} {unit}s only if {amount} divides "
                             f"{span}; use a cron(...) expression")
        every = "*" if amount == 1 else f"*/{amount}"
        return {"minute": f"{every} * * * *", "hour": f"0 {every} * * *", "day": f"0 0 {every} * *"}[unit]
    if expression.startswith("cron("):
        minutes, hours, dom, month, dow, year = expression[5:-1].split()
        if year != "*":
            raise ValueError(f"{expression}: Cloud Scheduler has no year field; use * for the year")
        if any(mark in f for f in (dom, dow) for mark in ("L", "W", "#")):
            raise ValueError(f"{expression}: Cloud Scheduler's unix cron has no L, W or # day modifiers")
        return " ".join((minutes, hours, "*" if dom == "?" else dom, month, _unix_day_of_week(dow)))
    raise ValueError(f"{expression}: Cloud Scheduler runs recurring schedules only (rate(...) or cron(...))")


def check_unix_cron(expression: str) -> str:
    """A schedule a GCP stack runs on Cloud Scheduler: it must translate to unix cron (see `unix_cron`)."""
    unix_cron(expression)
    return expression


_GCE_TYPE = re.compile(r"^[a-z][a-z0-9]*-(standard|highmem|highcpu|megamem|ultramem|custom)(-\d+)?(-\d+)?$")


def check_gce_machine_type(value: str) -> str:
    """Compute Engine machine types Vertex AI trains and serves on, e.g. n1-standard-4, e2-highmem-8."""
    if not _GCE_TYPE.match(value):
        raise ValueError(f"{value!r} is not a Compute Engine machine type (for example n1-standard-4)")
    return value


_BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$")


def check_bucket_prefix(value: str | None) -> str | None:
    """S3 names: 3-63 lowercase letters, digits and hyphens; the prefix leaves room for '-artifacts'."""
    if value is None:
        return value
    if not _BUCKET_PREFIX.match(value) or "--" in value or value.startswith("xn--"):
        raise ValueError(
            f"{value!r} is not a valid bucket name prefix: 3-42 lowercase letters, digits and single hyphens, "
            "starting and ending with a letter or digit"
        )
    return value


_FAMILY = r"[a-z][a-z0-9-]*\d[a-z0-9-]*"
_SIZE = r"(nano|micro|small|medium|large|xlarge|\d+xlarge|metal(-\d+xl)?)"
_SAGEMAKER_TYPE = re.compile(rf"^ml\.{_FAMILY}\.{_SIZE}$")
_RDS_CLASS = re.compile(rf"^db\.{_FAMILY}\.{_SIZE}$")


def check_sagemaker_instance_type(value: str) -> str:
    if not _SAGEMAKER_TYPE.match(value):
        raise ValueError(f"{value!r} is not a SageMaker instance type (for example ml.m5.large)")
    return value


# Burstable families serve notebooks and small endpoints; SageMaker training jobs reject them
# ("Instance type ml.t3.medium is not supported for training", the CreateTrainingJob ResourceConfig list).
_NOT_FOR_TRAINING = ("ml.t2.", "ml.t3.", "ml.t4g.")


def check_training_instance_type(value: str) -> str:
    """A SageMaker instance type a training job accepts: not a burstable (t2, t3, t4g) type."""
    check_sagemaker_instance_type(value)
    if value.startswith(_NOT_FOR_TRAINING):
        raise ValueError(f"{value!r} is burstable: SageMaker training jobs do not run on t2, t3 or t4g "
                         "instances; for example ml.m5.xlarge")
    return value


# Fargate task sizes (ECS developer guide, "Task CPU and memory"): memory MiB allowed for each CPU value.
FARGATE_MEMORY_MIB: dict[int, Sequence[int]] = {
    256: (512, 1024, 2048),
    512: range(1024, 4096 + 1, 1024),
    1024: range(2048, 8192 + 1, 1024),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
}


def check_fargate_size(cpu: int, memory_mib: int) -> None:
    """Raise ValueError unless (cpu units, memory MiB) is a Fargate task size (`FARGATE_MEMORY_MIB`)."""
    allowed = FARGATE_MEMORY_MIB[cpu]
    if memory_mib not in allowed:
        listed = (f"{allowed.start} to {allowed.stop - 1} in steps of {allowed.step}" if isinstance(allowed, range)
                  else ", ".join(str(m) for m in allowed))
        raise ValueError(f"Fargate has no task with cpu {cpu} and memory_mib {memory_mib}: with cpu {cpu}, "
                         f"memory_mib is {listed}")


_EC2_TYPE = re.compile(rf"^{_FAMILY}\.{_SIZE}$")
# EC2's accelerated-computing families with NVIDIA GPUs are the G and P families (g4dn, g5, g6, p4d, p5, ...);
# inf and trn carry AWS's own chips, which the NVIDIA AMI does not drive.
_NVIDIA_FAMILY = re.compile(r"^[gp]\d")


def check_ec2_instance_type(value: str, *, gpu: bool = False) -> str:
    """An EC2 instance type such as m6i.large (not a SageMaker `ml.` type); with `gpu`, an NVIDIA G or P type."""
    if value.startswith("ml."):
        raise ValueError(f"{value!r} is a SageMaker instance type; node groups take EC2 types such as "
                         f"{value.removeprefix('ml.')}")
    if not _EC2_TYPE.match(value):
        raise ValueError(f"{value!r} is not an EC2 instance type (for example m6i.large or g5.xlarge)")
    if gpu and not _NVIDIA_FAMILY.match(value):
        raise ValueError(f"{value!r} has no NVIDIA GPU: a gpu node group takes G or P types such as g5.xlarge")
    return value


def check_rds_instance_class(value: str) -> str:
    if not _RDS_CLASS.match(value):
        raise ValueError(f"{value!r} is not an RDS instance class (for example db.t4g.small)")
    return value
