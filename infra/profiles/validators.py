"""Field checks AWS would make at deploy time but moto does not, so mistakes surface at validation."""

from __future__ import annotations

import re

ENVIRONMENTS = ("dev", "staging", "prod")

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#L W-]+$")
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
# (low, high, names) per AWS cron field: minutes hours day-of-month month day-of-week year
_CRON_RANGES: list[tuple[int, int, str]] = [
    (0, 59, ""),
    (0, 23, ""),
    (1, 31, ""),
    (1, 12, _MONTHS),
    (1, 7, _DAYS),
    (1970, 2199, ""),
]
_CRON_NAMES = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")


def _check_cron_field(value: str, low: int, high: int, names: str, label: str) -> None:
    if value in ("*", "?"):
        return
    if not _CRON_FIELD.match(value):
        raise ValueError(f"cron {label} field {value!r} has characters AWS does not accept")
    token_pattern = rf"(\d+|{names})" if names else r"(\d+)"
    for part in value.split(","):
        core = part.split("/")[0].rstrip("L").split("#")[0].rstrip("W")
        if core in ("*", ""):
            continue
        for bound in core.split("-"):
            if not re.fullmatch(token_pattern, bound):
                raise ValueError(f"cron {label} field {value!r} is not valid")
            if bound.isdigit() and not low <= int(bound) <= high:
                raise ValueError(f"cron {label} value {bound} is outside {low}-{high}")


def check_schedule_expression(value: str) -> str:
    """Validate an EventBridge Scheduler expression: rate(...), cron(6 fields) or at(...)."""
    value = value.strip()
    if m := _RATE.match(value):
        amount, unit = int(m.group(1)), m.group(2)
        if amount < 1:
            raise ValueError("rate must be at least 1")
        if (amount == 1) != (not unit.endswith("s")):
            raise ValueError(f"use 'rate(1 {unit.rstrip('s')})' for one and plural units above one")
        return value
    if _AT.match(value):
        return value
    if value.startswith("cron(") and value.endswith(")"):
        fields = value[5:-1].split()
        if len(fields) != 6:
            raise ValueError(
                f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
            )
        for field_value, (low, high, names), label in zip(fields, _CRON_RANGES, _CRON_NAMES, strict=True):
            _check_cron_field(field_value, low, high, names, label)
        if (fields[2] == "?") == (fields[4] == "?"):
            raise ValueError("cron needs '?' in exactly one of day-of-month and day-of-week")
        return value
    raise ValueError(f"{value!r} is not a schedule expression: use rate(...), cron(...) or at(...)")


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
