"""Field checks AWS would make at deploy time but moto does not, so mistakes surface at validation."""

from __future__ import annotations

import ipaddress
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

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
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


def check_region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"{value!r} is not an AWS region name such as us-east-1 or eu-central-1")
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


def check_rds_instance_class(value: str) -> str:
    if not _RDS_CLASS.match(value):
        raise ValueError(f"{value!r} is not an RDS instance class (for example db.t4g.small)")
    return value
