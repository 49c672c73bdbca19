"""EventBridge Scheduler expressions: parse `rate(...)`, `cron(...)` and `at(...)`, and list when they fire.

Grammar and semantics follow AWS's "Schedule types in EventBridge Scheduler":

- `cron(minutes hours day-of-month month day-of-week year)`: six fields, `?` in exactly one of the two day
  fields, `L`, `W` and `#`; evaluated on the wall clock of the schedule's time zone. The six-field form is
  parsed and iterated by aws-croniter (AWS's flavour, not Unix cron).
- `rate(value unit)`: `minute(s)`, `hour(s)`, `day(s)`, singular for one; without a start date the schedule
  invokes its target at once and then every interval.
- `at(yyyy-mm-ddThh:mm:ss)`: once, at that wall-clock time in the schedule's time zone.

Times a wall clock skips or repeats (daylight saving) map as Python's `zoneinfo` maps them (fold 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from aws_croniter import AwsCroniter

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
CRON_FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")


@dataclass(frozen=True)
class ScheduleExpression:
    """A parsed schedule expression: `kind` is "cron", "rate" or "at"."""

    text: str
    kind: str
    interval: timedelta | None = None
    at: datetime | None = None  # naive: a wall-clock time in the schedule's time zone
    cron: AwsCroniter | None = field(default=None, compare=False, repr=False)

    def fire_times(self, start: datetime, end: datetime, zone: tzinfo) -> list[datetime]:
        """Every time in [start, end) the schedule invokes its target, as aware UTC datetimes, in order.

        `start` is also when the schedule was created (the first invocation of a rate schedule); both bounds
        must be aware. Raises ValueError for naive bounds.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        if self.interval is not None:
            steps = max(0, -(-(end - start) // self.interval))
            return [(start + i * self.interval).astimezone(UTC) for i in range(steps)]
        if self.at is not None:
            when = self.at.replace(tzinfo=zone).astimezone(UTC)
            return [when] if start <= when < end else []
        assert self.cron is not None
        # aws-croniter iterates UTC datetimes: give it the wall clock dressed as UTC, then place each wall time
        # in the schedule's zone.
        first = start.astimezone(zone).replace(tzinfo=UTC)
        last = end.astimezone(zone).replace(tzinfo=UTC)
        times = (t.replace(tzinfo=zone).astimezone(UTC)
                 for t in self.cron.get_all_schedule_bw_dates(first, last) if t is not None)
        return sorted({t for t in times if start <= t < end})


def parse(text: str) -> ScheduleExpression:
    """Parse an EventBridge Scheduler expression; raises ValueError with a message fit for a user."""
    value = text.strip()
    if m := _RATE.match(value):
        amount, unit = int(m.group(1)), m.group(2)
        if amount < 1:
            raise ValueError("rate must be at least 1")
        if (amount == 1) != (not unit.endswith("s")):
            raise ValueError(f"use 'rate(1 {unit.rstrip('s')})' for one and plural units above one")
        return ScheduleExpression(value, "rate", interval=amount * _UNITS[unit.rstrip("s")])
    if m := _AT.match(value):
        try:
            when = datetime.fromisoformat(m.group(1))
        except ValueError as exc:
            raise ValueError(f"at(...) holds no valid date and time: {exc}") from None
        return ScheduleExpression(value, "at", at=when)
    if value.startswith("cron(") and value.endswith(")"):
        fields = value[5:-1].split()
        if len(fields) != 6:
            raise ValueError(f"cron needs 6 fields ({' '.join(CRON_FIELDS)}), got {len(fields)}")
        if (fields[2] == "?") == (fields[4] == "?"):
            raise ValueError("cron needs '?' in exactly one of day-of-month and day-of-week")
        _check_days_exist(fields[2], fields[3])
        try:
            cron = AwsCroniter(" ".join(fields))
        except Exception as exc:  # aws-croniter raises its own classes, and a few plain ones on odd input
            raise ValueError(f"cron is not valid: {_croniter_message(exc)}") from None
        return ScheduleExpression(value, "cron", cron=cron)
    raise ValueError(f"{value!r} is not a schedule expression: use rate(...), cron(...) or at(...)")


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February counts its leap day


def _check_days_exist(day_of_month: str, month: str) -> None:
    """Reject a cron whose listed days of the month fall in none of its listed months (30 FEB): it never fires.

    Only plain lists of numbers (and month names) are judged; ranges, steps, L and W always have a day.
    """
    if not re.fullmatch(r"\d{1,2}(,\d{1,2})*", day_of_month):
        return
    if month == "*":
        months = list(range(1, 13))
    elif re.fullmatch(r"(\d{1,2}|[A-Za-z]{3})(,(\d{1,2}|[A-Za-z]{3}))*", month):
        months = [int(m) if m.isdigit() else _MONTHS.index(m.upper()) + 1 if m.upper() in _MONTHS else 0
                  for m in month.split(",")]
        if not all(1 <= m <= 12 for m in months):
            return  # aws-croniter names the bad month
    else:
        return
    days = [int(d) for d in day_of_month.split(",")]
    if days and all(d > _MONTH_DAYS[m - 1] for d in days for m in months):
        names = ", ".join(_MONTHS[m - 1] for m in months)
        raise ValueError(f"cron never fires: day {day_of_month} does not exist in {names}")


def _croniter_message(exc: Exception) -> str:
    message = str(exc).strip() or type(exc).__name__
    return message.replace("'.One", "'. One")
