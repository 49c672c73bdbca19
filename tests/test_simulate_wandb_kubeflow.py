"""`mlopsgen simulate` on the wandb-kubeflow profile: the same seed stories as on SageMaker, through the KServe
deployer and traffic adapter and the Kubeflow Pipelines trigger (no cluster offline: see the timeline's notes)."""

from __future__ import annotations

from datetime import date

from infra.offline.simulation.engine import Scenario, simulate
from infra.profiles.loader import resolve

PROFILE = "wandb-kubeflow"
SEED_MODELS = ("recommender", "credit-scoring")


def test_simulate_tells_the_seed_stories_on_kserve_and_kubeflow() -> None:
    """The same two stories as the SageMaker profile, through the KServe deployer and adapter and the KFP trigger:
    the recommender's 8%-worse challenger is rolled back; drift on day 12 alerts, alarms and retrains both models,
    and the new credit-scoring version is deployed."""
    spec = resolve(PROFILE, "dev")
    timeline = simulate(spec, Scenario(days=14, start=date(2026, 1, 5)))

    def days(kind: str, model: str) -> list[int]:
        return [e.day for e in timeline.events if e.kind == kind and e.model == model]

    assert timeline.models == {"recommender": "ab", "credit-scoring": "single"}
    assert days("first-model", "recommender") == days("first-model", "credit-scoring") == [0]
    assert days("challenger", "recommender")[0] == 6  # version 2 from the Sunday retraining (a KFP run)
    [rollback] = [e for e in timeline.events if e.kind == "rollback"]
    assert rollback.model == "recommender" and rollback.day - 6 <= 4 and "challenger worse" in rollback.detail
    for model in SEED_MODELS:
        [drift] = [e for e in timeline.events if e.kind == "drift" and e.model == model]
        assert drift.day == 12 and "retraining started" in drift.detail
        assert 12 in [e.day for e in timeline.events if e.kind == "alarm" and e.model == model
                      and "dataset-drift" in e.detail and "-> ALARM" in e.detail]
    assert 12 in days("deployed", "credit-scoring")  # the drift-triggered version, live on its InferenceService
    split = [s for s in timeline.splits if s.model == "recommender" and s.at.date() == date(2026, 1, 12)]
    assert split[-1].weights == {"champion": 1.0, "challenger": 0.0}  # after the rollback, through the graph
    assert any("Kubernetes" in note for note in timeline.notes)
    # Versions are W&B artifacts (registry kind wandb-artifacts): registered by the pipeline's register step,
    # found by the deployer through the `approved` alias (W&B's version indexes start at v0).
    for model in SEED_MODELS:
        registered = [e.detail for e in timeline.events if e.kind == "registered" and e.model == model]
        assert registered and all(f"in W&B acme-ml/wandb-kubeflow-dev/wandb-kubeflow-dev-{model}" in d
                                  for d in registered)
        assert registered[0].startswith("model version 1") and f"wandb-kubeflow-dev-{model}-v0 in" in registered[0]
    assert "wandb-kubeflow-dev-recommender-v1" in timeline.lifts  # the challenger the guardrail rolled back
    assert any("W&B is answered in memory" in note for note in timeline.notes)
