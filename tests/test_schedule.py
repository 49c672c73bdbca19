"""EventBridge Scheduler expressions: AWS's documented examples fire when AWS says; time zones and DST hold.

Expected times are computed independently: by walking every minute of the window and applying the example's
English description from AWS's "Schedule types in EventBridge Scheduler" page.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from infra.profiles.schedule import parse

START = datetime(2026, 3, 1, tzinfo=UTC)  # a Sunday
END = datetime(2026, 4, 1, tzinfo=UTC)


def minutes(start: datetime, end: datetime) -> list[datetime]:
    return [start + timedelta(minutes=i) for i in range(int((end - start).total_seconds() // 60))]


def expected(rule: Callable[[datetime], bool]) -> list[datetime]:
    return [t for t in minutes(START, END) if rule(t)]


def weekday(t: datetime) -> bool:
    return t.weekday() < 5


# (expression, AWS's description as a rule on a UTC minute)
DOCUMENTED = [
    ("cron(0 10 * * ? *)", lambda t: t.hour == 10 and t.minute == 0),  # 10:00 am every day
    ("cron(15 12 * * ? *)", lambda t: t.hour == 12 and t.minute == 15),  # 12:15 pm every day
    ("cron(0 18 ? * MON-FRI *)", lambda t: weekday(t) and t.hour == 18 and t.minute == 0),
    ("cron(0 8 1 * ? *)", lambda t: t.day == 1 and t.hour == 8 and t.minute == 0),  # 8:00 am on the 1st
    ("cron(0/15 * * * ? *)", lambda t: t.minute % 15 == 0),  # every 15 minutes
    ("cron(0/10 * ? * MON-FRI *)", lambda t: weekday(t) and t.minute % 10 == 0),
    ("cron(0/5 8-17 ? * MON-FRI *)", lambda t: weekday(t) and 8 <= t.hour <= 17 and t.minute % 5 == 0),
    ("cron(0 9 ? * 2#1 *)", lambda t: t.weekday() == 0 and t.day <= 7 and t.hour == 9 and t.minute == 0),
    ("cron(0 0 L * ? *)", lambda t: t.day == calendar.monthrange(t.year, t.month)[1] and t.hour == t.minute == 0),
    ("rate(5 minutes)", lambda t: t.minute % 5 == 0),
    ("rate(1 hour)", lambda t: t.minute == 0),
    ("rate(7 days)", lambda t: (t - START).days % 7 == 0 and t.hour == t.minute == 0),
]


@pytest.mark.parametrize(("expression", "rule"), DOCUMENTED, ids=[e for e, _ in DOCUMENTED])
def test_documented_examples_fire_when_aws_says(expression: str, rule: Callable[[datetime], bool]) -> None:
    assert parse(expression).fire_times(START, END, UTC) == expected(rule)


def test_cron_follows_the_time_zone_through_daylight_saving() -> None:
    # Europe/Berlin moves from UTC+1 to UTC+2 on 2026-03-29: Monday 04:00 local is 03:00 UTC, then 02:00 UTC.
    times = parse("cron(0 4 ? * MON *)").fire_times(START, END, ZoneInfo("Europe/Berlin"))
    assert times == [datetime(2026, 3, d, h, tzinfo=UTC) for d, h in ((2, 3), (9, 3), (16, 3), (23, 3), (30, 2))]
    assert {t.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M") for t in times} == {"Mon 04:00"}


def test_rate_starts_when_the_schedule_is_created() -> None:
    created = datetime(2026, 3, 1, 9, 10, tzinfo=UTC)
    times = parse("rate(30 minutes)").fire_times(created, created + timedelta(hours=2), UTC)
    assert [t.strftime("%H:%M") for t in times] == ["09:10", "09:40", "10:10", "10:40"]


def test_at_fires_once_in_its_time_zone() -> None:
    at = parse("at(2026-03-10T08:30:00)")
    assert at.fire_times(START, END, ZoneInfo("America/New_York")) == [datetime(2026, 3, 10, 12, 30, tzinfo=UTC)]
    assert at.fire_times(END, END + timedelta(days=30), UTC) == []


def test_nearest_weekday() -> None:
    # 2026-03-15 is a Sunday: 15W fires on Monday the 16th.
    assert parse("cron(0 9 15W * ? *)").fire_times(START, END, UTC) == [datetime(2026, 3, 16, 9, tzinfo=UTC)]


@pytest.mark.parametrize("expression", [
    "cron(0 2 * * * *)", "cron(0 2 ? * ? *)", "cron(61 2 * * ? *)", "cron(0 24 * * ? *)", "cron(0 2 * * ?)",
    "cron(0 2 ? * FUNDAY *)", "cron(0 2 32 * ? *)", "rate(0 minutes)", "rate(1 days)", "rate(2 hour)",
    "rate(5 weeks)", "at(2026-02-30T00:00:00)", "at(2026-03-01 00:00:00)", "daily", "",
])
def test_invalid_expressions_are_rejected_with_a_reason(expression: str) -> None:
    with pytest.raises(ValueError) as info:
        parse(expression)
    assert str(info.value)


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        parse("rate(1 hour)").fire_times(datetime(2026, 3, 1), datetime(2026, 3, 2), UTC)
