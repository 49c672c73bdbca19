"""`mlopsgen simulate`: the seed's two operational examples, end to end in the sandbox with the real handlers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.offline.simulation.chart import figure, model_shares
from infra.offline.simulation.engine import Scenario, Timeline, simulate
from infra.profiles.loader import PROFILES_DIR, resolve


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    chart = tmp_path_factory.mktemp("sim") / "timeline.png"
    # Day 0 a Monday: the weekly retraining (Sundays) falls on days 6, 13, 20 and 27, around the drift on day 12.
    result = CliRunner().invoke(app, ["simulate", "--stack", "dev", "--days", "30", "--json", "--chart", str(chart),
                                      "--start", "2026-01-05"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert Path(doc["chart"]) == chart
    return doc


def kinds(doc: dict, kind: str) -> list[dict]:
    return [e for e in doc["events"] if e["kind"] == kind]


def test_daily_ingestion_and_weekly_retraining(timeline: dict) -> None:
    assert len(kinds(timeline, "ingestion")) == 30
    assert all(e["detail"].startswith("1 file(s) curated") for e in kinds(timeline, "ingestion"))
    assert {e["at"][11:16] for e in kinds(timeline, "ingestion")} == {"02:00"}  # cron(0 2 * * ? *), UTC
    scheduled = kinds(timeline, "retraining")
    assert [e["day"] for e in scheduled] == [6, 13, 20, 27]  # cron(0 3 ? * SUN *) from Monday 2026-01-05
    assert {date.fromisoformat(e["at"][:10]).weekday() for e in scheduled} == {6}
    assert {e["at"][11:16] for e in scheduled} == {"03:00"}
    assert [e["day"] for e in kinds(timeline, "first-training")] == [0]
    assert kinds(timeline, "first-model")[0]["day"] == 0


def test_the_guardrail_looks_on_its_schedule(timeline: dict) -> None:
    looks = [e for kind in ("advance", "rollback", "promote") for e in kinds(timeline, kind)]
    assert looks and {e["at"][14:16] for e in looks} == {"00"}  # rate(1 hour) from the deploy at 00:00


def test_worse_challenger_is_rolled_back_within_days(timeline: dict) -> None:
    deployed = next(e for e in kinds(timeline, "challenger") if "version 2 " in e["detail"])
    rollback = kinds(timeline, "rollback")
    assert len(rollback) == 1 and 0 <= rollback[0]["day"] - deployed["day"] <= 4
    assert "challenger worse" in rollback[0]["detail"]


def test_drift_raises_an_alarm_and_triggers_retraining(timeline: dict) -> None:
    drift = kinds(timeline, "drift")
    assert [e["day"] for e in drift] == [12]
    assert "retraining started" in drift[0]["detail"]
    alarms = [e for e in kinds(timeline, "alarm") if "dataset-drift" in e["detail"] and "-> ALARM" in e["detail"]]
    assert [e["day"] for e in alarms] == [12]
    # the drift-triggered execution produced version 3, which went to the challenger the same day
    registered = [e for e in kinds(timeline, "registered") if e["day"] == 12]
    assert registered and "version 3" in registered[0]["detail"]
    assert any(a["detail"].startswith("Drift:") for a in kinds(timeline, "alert"))


def test_equal_challenger_is_promoted(timeline: dict) -> None:
    promoted = kinds(timeline, "promote")
    assert promoted and promoted[0]["day"] > 12
    assert timeline["daily"][-1]["drift_share"] < 0.5  # the retrained baseline follows the new distribution


def test_chart_is_a_png(timeline: dict) -> None:
    assert Path(timeline["chart"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_must_be_png() -> None:
    result = CliRunner().invoke(app, ["simulate", "--stack", "dev", "--chart", "timeline.svg"])
    assert result.exit_code == 2 and "PNG" in result.output


@pytest.fixture(scope="module")
def berlin(tmp_path_factory: pytest.TempPathFactory) -> Timeline:
    """Retraining Mondays 04:00, drift 07:30, guardrail every 30 minutes, in Europe/Berlin, across the switch to
    summer time (2026-03-29)."""
    text = (PROFILES_DIR / "mlflow-sagemaker.yaml").read_text().replace("name: mlflow-sagemaker", "name: berlin")
    text = text.replace("retraining_schedule: cron(0 3 ? * SUN *)",
                        "retraining_schedule: cron(0 4 ? * MON *)\n  timezone: Europe/Berlin")
    text = text.replace("drift_schedule: cron(0 6 * * ? *)", "drift_schedule: cron(30 7 * * ? *)")
    text = text.replace("ab_guardrail_schedule: rate(1 hour)", "ab_guardrail_schedule: rate(30 minutes)")
    profile = tmp_path_factory.mktemp("berlin") / "berlin.yaml"
    profile.write_text(text)
    return simulate(resolve(str(profile), "dev"), Scenario(days=10, drift_day=6, start=date(2026, 3, 22)))


def test_schedules_fire_at_their_times_in_their_time_zone(berlin: Timeline) -> None:
    zone = ZoneInfo("Europe/Berlin")
    retraining = [e.at for e in berlin.events if e.kind == "retraining"]
    assert retraining == [datetime(2026, 3, 23, 3, tzinfo=UTC), datetime(2026, 3, 30, 2, tzinfo=UTC)]
    assert {t.astimezone(zone).strftime("%a %H:%M") for t in retraining} == {"Mon 04:00"}
    drift = [e.at for e in berlin.events if e.kind == "drift"]
    assert drift and {t.astimezone(zone).strftime("%H:%M") for t in drift} == {"07:30"}
    looks = [e.at for e in berlin.events if e.kind in ("advance", "rollback", "promote")]
    assert looks and {t.minute for t in looks} <= {0, 30}
    assert berlin.to_json()["events"][0]["local"].endswith("+01:00")


def test_chart_shows_models_marks_the_injection_and_separates_markers(berlin: Timeline) -> None:
    shares = model_shares(berlin)
    assert all(abs(sum(values[i] for values in shares.values()) - 1) < 1e-9 for i in range(len(berlin.splits)))
    promoted = [e for e in berlin.events if e.kind == "promote"]
    if promoted:  # after a promotion the promoted version serves everything, whichever variant holds it
        last = shares[max(shares, key=lambda label: shares[label][-1])]
        assert last[-1] == 1.0
    fig = figure(berlin)
    events = fig.axes[0]
    rows = [label.get_text() for label in events.get_yticklabels()]
    assert "drift detected" in rows and "training started" in rows and "drift injected" in rows
    assert len(set(rows)) == len(rows)  # one row per kind: a drift and the retraining it starts never overlap
    spans = [p for p in fig.axes[3].patches if p.get_label() == "after drift injection"]
    assert spans and spans[0].get_x() == berlin.scenario.drift_day


def test_the_cli_table_shows_every_event_the_summary_counts(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--stack", "dev", "--days", "3", "--chart",
                                      str(tmp_path / "c.png")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    summary = next(line for line in result.output.splitlines() if line.startswith("deploy 1, "))
    for part in summary.split(";")[0].split(", "):
        kind, count = part.rsplit(" ", 1)
        assert sum(1 for row in rows if f"│ {kind} " in row) == int(count), kind
    assert "time (UTC)" in result.output
