"""`mlopsgen simulate`: the seed's two operational examples, end to end in the sandbox with the real handlers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.main import app


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    chart = tmp_path_factory.mktemp("sim") / "timeline.png"
    result = CliRunner().invoke(app, ["simulate", "--stack", "dev", "--days", "30", "--json", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert Path(doc["chart"]) == chart
    return doc


def kinds(doc: dict, kind: str) -> list[dict]:
    return [e for e in doc["events"] if e["kind"] == kind]


def test_daily_ingestion_and_weekly_retraining(timeline: dict) -> None:
    assert len(kinds(timeline, "ingestion")) == 30
    assert all(e["detail"].startswith("1 file(s) curated") for e in kinds(timeline, "ingestion"))
    scheduled = [e["day"] for e in kinds(timeline, "retraining")]
    assert scheduled == [0, 7, 14, 21, 28]
    assert kinds(timeline, "first-model")[0]["day"] == 0


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
