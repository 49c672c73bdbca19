"""`mlopsgen simulate`: both seed stories in one run, every model of the stack at once, with the real handlers.

The recommender (`ab`): daily ingestion, weekly retraining, an 8%-worse challenger rolled back, drift, an
equal challenger promoted. The credit-scoring model (`serverless` in dev): drift injected, alerted, retrained,
and the approved version deployed by its mode, with its version model card.
"""

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
    # Day 0 a Monday: the recommender's weekly retraining (Sundays) falls on days 6, 13, 20 and 27, around the
    # drift on day 12; the credit-scoring model's monthly one (the 1st) on day 27.
    result = CliRunner().invoke(app, ["simulate", "--stack", "dev", "--days", "30", "--json", "--chart", str(chart),
                                      "--start", "2026-01-05"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert Path(doc["chart"]) == chart
    return doc


def kinds(doc: dict, kind: str, model: str | None = None) -> list[dict]:
    return [e for e in doc["events"] if e["kind"] == kind and (model is None or e["model"] == model)]


def test_all_models_run_at_once_on_their_own_schedules(timeline: dict) -> None:
    assert timeline["models"] == {"recommender": "ab", "credit-scoring": "serverless"}
    for model, ingestion_at, retraining_days, retraining_at in (
        ("recommender", "02:00", [6, 13, 20, 27], "03:00"),  # cron(0 2 * * ? *), cron(0 3 ? * SUN *)
        ("credit-scoring", "02:30", [27], "04:00"),  # cron(30 2 * * ? *), cron(0 4 1 * ? *)
    ):
        ingested = kinds(timeline, "ingestion", model)
        assert len(ingested) == 30 and {e["at"][11:16] for e in ingested} == {ingestion_at}
        assert all(e["detail"].startswith("1 file(s) curated") for e in ingested)
        scheduled = kinds(timeline, "retraining", model)
        assert [e["day"] for e in scheduled] == retraining_days
        assert {e["at"][11:16] for e in scheduled} == {retraining_at}
        assert [e["day"] for e in kinds(timeline, "first-training", model)] == [0]
        assert len([d for d in timeline["daily"] if d["model"] == model]) == 30
    assert {date.fromisoformat(e["at"][:10]).weekday() for e in kinds(timeline, "retraining", "recommender")} == {6}


def test_the_guardrail_looks_on_its_schedule(timeline: dict) -> None:
    looks = [e for kind in ("advance", "rollback", "promote") for e in kinds(timeline, kind)]
    assert looks and {e["model"] for e in looks} == {"recommender"}
    assert {e["at"][14:16] for e in looks} == {"00"}  # rate(1 hour) from the deploy at 00:00


def test_recommender_worse_challenger_is_rolled_back_within_days(timeline: dict) -> None:
    assert kinds(timeline, "first-model", "recommender")[0]["day"] == 0
    deployed = next(e for e in kinds(timeline, "challenger", "recommender") if "version 2 " in e["detail"])
    rollback = kinds(timeline, "rollback")
    assert len(rollback) == 1 and rollback[0]["model"] == "recommender"
    assert 0 <= rollback[0]["day"] - deployed["day"] <= 4
    assert "challenger worse" in rollback[0]["detail"]
    assert any(a["at"] == rollback[0]["at"] for a in kinds(timeline, "alert", "recommender"))  # alerted at once


@pytest.mark.parametrize("model", ["recommender", "credit-scoring"])
def test_drift_raises_an_alarm_and_triggers_retraining(timeline: dict, model: str) -> None:
    drift = kinds(timeline, "drift", model)
    assert [e["day"] for e in drift] == [12]
    assert "retraining started" in drift[0]["detail"]
    alarms = [e for e in kinds(timeline, "alarm", model)
              if "dataset-drift" in e["detail"] and "-> ALARM" in e["detail"]]
    assert [e["day"] for e in alarms] == [12]
    assert f"mlflow-sagemaker-dev-{model}-dataset-drift" in alarms[0]["detail"]
    # the drift-triggered execution produced a version, registered the same day (v1 day 0; recommender v2 day 6)
    registered = [e for e in kinds(timeline, "registered", model) if e["day"] == 12]
    version = {"recommender": 3, "credit-scoring": 2}[model]
    assert registered and f"version {version}" in registered[0]["detail"]
    drift_alerts = [a for a in kinds(timeline, "alert", model)
                    if a["detail"].startswith(f"Drift: mlflow-sagemaker-dev-{model} ")]
    # the monitor's alert carries the time the monitor ran, not the end of the day
    assert drift_alerts and drift_alerts[0]["at"] == drift[0]["at"]


def test_credit_scoring_versions_are_deployed_by_its_mode_with_a_card(timeline: dict) -> None:
    deployed = kinds(timeline, "deployed", "credit-scoring")
    after_drift = next(e for e in deployed if e["day"] == 12)
    assert "version 2 live on the serverless endpoint (replaced)" in after_drift["detail"]
    assert "model card mlflow-sagemaker-dev-credit-scoring-v2" in after_drift["detail"]
    assert not kinds(timeline, "challenger", "credit-scoring") and not kinds(timeline, "rollback", "credit-scoring")


def test_recommender_equal_challenger_is_promoted(timeline: dict) -> None:
    promoted = kinds(timeline, "promote", "recommender")
    assert promoted and promoted[0]["day"] > 12
    last = [d for d in timeline["daily"] if d["model"] == "recommender"][-1]
    assert last["drift_share"] < 0.5  # the retrained baseline follows the new distribution


def test_chart_is_a_png(timeline: dict) -> None:
    assert Path(timeline["chart"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_must_be_png() -> None:
    result = CliRunner().invoke(app, ["simulate", "--stack", "dev", "--chart", "timeline.svg"])
    assert result.exit_code == 2 and "PNG" in result.output


def test_model_option_narrows_to_one_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--stack", "dev", "--days", "2", "--json", "--model",
                                      "credit-scoring", "--chart", str(tmp_path / "one.png")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["models"] == {"credit-scoring": "serverless"}
    assert {e["model"] for e in doc["events"]} <= {None, "credit-scoring"}
    unknown = CliRunner().invoke(app, ["simulate", "--stack", "dev", "--model", "churn"])
    assert unknown.exit_code == 2 and "no model 'churn'" in unknown.output


@pytest.fixture(scope="module")
def berlin(tmp_path_factory: pytest.TempPathFactory) -> Timeline:
    """The recommender retrained Mondays 04:00, drift 07:30, guardrail every 30 minutes, in Europe/Berlin, across
    the switch to summer time (2026-03-29)."""
    text = (PROFILES_DIR / "mlflow-sagemaker.yaml").read_text().replace("name: mlflow-sagemaker", "name: berlin")
    text = text.replace("timezone: UTC", "timezone: Europe/Berlin")
    text = text.replace("schedule: cron(0 3 ? * SUN *)", "schedule: cron(0 4 ? * MON *)")
    text = text.replace("drift_schedule: cron(0 6 * * ? *)", "drift_schedule: cron(30 7 * * ? *)")
    text = text.replace("guardrail_schedule: rate(1 hour)", "guardrail_schedule: rate(30 minutes)")
    profile = tmp_path_factory.mktemp("berlin") / "berlin.yaml"
    profile.write_text(text)
    scenario = Scenario(days=10, drift_day=6, start=date(2026, 3, 22), models=("recommender",))
    return simulate(resolve(str(profile), "dev"), scenario)


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


def test_chart_shows_versions_marks_the_injection_and_separates_markers(berlin: Timeline) -> None:
    shares = model_shares(berlin, "recommender")
    served = [s for s in berlin.splits if s.model == "recommender"]
    assert all(abs(sum(values[i] for values in shares.values()) - 1) < 1e-9 for i in range(len(served)))
    promoted = [e for e in berlin.events if e.kind == "promote"]
    if promoted:  # after a promotion the promoted version serves everything, whichever variant holds it
        last = shares[max(shares, key=lambda label: shares[label][-1])]
        assert last[-1] == 1.0
    fig = figure(berlin)
    events = fig.axes[0]  # the recommender's panel: events, traffic share, conversion, drift
    rows = [label.get_text() for label in events.get_yticklabels()]
    assert "drift detected" in rows and "training started" in rows and "drift injected" in rows
    assert len(set(rows)) == len(rows)  # one row per kind: a drift and the retraining it starts never overlap
    spans = [p for p in fig.axes[3].patches if p.get_label() == "after drift injection"]
    assert spans and spans[0].get_x() == berlin.scenario.drift_day


def test_the_chart_has_a_panel_per_model(timeline: dict) -> None:
    from matplotlib.image import imread

    height = imread(timeline["chart"]).shape[0]
    # six panels (recommender: events, traffic, conversion, drift; credit-scoring: events, drift), not four
    assert height >= 1200


def test_the_cli_table_shows_every_event_the_summary_counts(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--stack", "dev", "--days", "3", "--chart",
                                      str(tmp_path / "c.png")], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    summary = next(line for line in result.output.splitlines() if line.startswith("deploy 1, "))
    for part in summary.split(";")[0].split(", "):
        kind, count = part.rsplit(" ", 1)
        assert sum(1 for row in rows if f"│ {kind} " in row) == int(count), kind
    assert "time (UTC)" in result.output
    assert sum(1 for row in rows if "│ credit-scoring " in row) > 3
    assert any(line.startswith("recommender (ab): deployments") for line in result.output.splitlines())
