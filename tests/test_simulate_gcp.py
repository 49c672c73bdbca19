"""`mlopsgen simulate --profile vertex-managed --env dev`: the two seed stories on GCP, every model at once, the
real handlers through the GCP adapters (the Google services behind them are in-process doubles, and the output
says so).

The recommender (`ab`): first model, an 8%-worse challenger deployed at the first ramp stage and rolled back to
the champion on conversion. The credit-scoring model (`single`): drift injected, detected, alerted, a Vertex
pipeline job submitted, its version deployed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.main import app


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    chart = tmp_path_factory.mktemp("sim") / "timeline.png"
    # Day 0 a Monday: the recommender's weekly retraining (Sundays) falls on day 6; drift on day 8.
    result = CliRunner().invoke(app, ["simulate", "--profile", "vertex-managed", "--env", "dev", "--days", "10",
                                      "--drift-day", "8", "--start", "2026-01-05", "--json", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def kinds(doc: dict, kind: str, model: str | None = None) -> list[dict]:
    return [e for e in doc["events"] if e["kind"] == kind and (model is None or e["model"] == model)]


def test_both_models_run_on_their_cloud_scheduler_times(timeline: dict) -> None:
    assert timeline["models"] == {"recommender": "ab", "credit-scoring": "single"}
    for model, at in (("recommender", "02:00"), ("credit-scoring", "02:30")):
        ingested = kinds(timeline, "ingestion", model)
        assert len(ingested) == 10 and {e["at"][11:16] for e in ingested} == {at}
        assert all(e["detail"] == "1 file(s) curated, 0 quarantined" for e in ingested)
        assert [e["day"] for e in kinds(timeline, "first-model", model)] == [0]
    assert [e["day"] for e in kinds(timeline, "retraining", "recommender")] == [6]  # cron(0 3 ? * SUN *)


def test_recommender_worse_challenger_is_rolled_back_to_the_champion(timeline: dict) -> None:
    challenger = kinds(timeline, "challenger", "recommender")[0]
    assert challenger["day"] == 6 and "version 2 deployed as the challenger at 5%" in challenger["detail"]
    [rollback] = kinds(timeline, "rollback", "recommender")
    assert challenger["day"] <= rollback["day"] <= challenger["day"] + 3
    assert "challenger worse" in rollback["detail"]
    # From the rollback on, version 2 serves nobody (the Vertex traffic split gives the champion all of it) while
    # version 1 keeps serving; before it, version 2 had its ramp share.
    served = {d["day"]: {name.split("-v")[-1].split("-")[0]: v["visitors"] for name, v in d["by_version"].items()}
              for d in timeline["daily"] if d["model"] == "recommender"}
    assert served[challenger["day"] + 1]["2"] > 0
    after = [day for day in served if day > rollback["day"]]
    assert after and all(served[day].get("2", 0) == 0 and served[day]["1"] > 0 for day in after)
    assert any(e["detail"].startswith("A/B rollback") for e in kinds(timeline, "alert", "recommender"))


def test_credit_scoring_drift_is_alerted_and_retrains_through_a_vertex_pipeline_job(timeline: dict) -> None:
    [drift] = kinds(timeline, "drift", "credit-scoring")
    assert drift["day"] == 8 and drift["detail"].endswith("retraining started")
    registered = [e for e in kinds(timeline, "registered", "credit-scoring") if e["day"] == 8]
    assert registered and "pipeline job retrain-" in registered[0]["detail"]
    assert [e["day"] for e in kinds(timeline, "deployed", "credit-scoring")] == [8]
    assert any(e["detail"].startswith("Drift: vertex-managed-dev-credit-scoring") and e["day"] == 8
               for e in kinds(timeline, "alert", "credit-scoring"))
    shares = [d["drift_share"] for d in timeline["daily"] if d["model"] == "credit-scoring"]
    assert shares[7] < 0.3 <= shares[8]  # the model's drift_share threshold, crossed on the drift day


def test_the_output_says_what_is_simulated_in_gcps_place(timeline: dict) -> None:
    notes = " ".join(timeline["notes"])
    assert "no emulator for Vertex AI" in notes and "in-process doubles" in notes
    [deploy] = kinds(timeline, "deploy")
    assert "GCP resources recorded" in deploy["detail"]
    assert Path(timeline["chart"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
