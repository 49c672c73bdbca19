"""The benchmark's simulation core: the guardrail targets on fewer runs, and agreement with decide()."""

from __future__ import annotations

import numpy as np
import pytest

from infra.runtime.abtest.guardrail import Action, ArmCounts, decide
from infra.runtime.abtest.policy import GuardrailPolicy, RollbackRule
from infra.runtime.abtest.simulate import (
    ScenarioResult,
    SimulationConfig,
    first_look,
    guardrail_looks,
    naive_looks,
    rule_stats,
    run_scenarios,
    simulate_paths,
)

CONFIG = SimulationConfig(runs=200, seed=11)


@pytest.fixture(scope="module")
def default_results() -> dict[float, ScenarioResult]:
    return {r.relative_lift: r for r in run_scenarios(GuardrailPolicy(), CONFIG)}


def test_guardrail_targets_hold_on_200_runs(default_results: dict[float, ScenarioResult]) -> None:
    aa, big, small = (default_results[k] for k in (0.0, -0.08, -0.02))
    # Targets: A/A <= 2%, 8% drop >= 95% with median <= 4 days, 2% drop <= 10%; with Monte Carlo margin.
    assert aa.guardrail.rollback_rate <= 0.03
    assert big.guardrail.rollback_rate >= 0.95
    assert big.guardrail.median_rollback_day is not None and big.guardrail.median_rollback_day <= 4
    assert small.guardrail.rollback_rate <= 0.12


def test_naive_rule_inflates_false_rollbacks_and_reacts_to_small_drops(
    default_results: dict[float, ScenarioResult],
) -> None:
    aa, small = default_results[0.0], default_results[-0.02]
    assert aa.naive.rollback_rate > 0.12
    assert small.naive.rollback_rate > 0.6


def test_strict_rule_is_too_slow_for_the_latency_target() -> None:
    results = {r.relative_lift: r for r in run_scenarios(GuardrailPolicy(rollback_rule=RollbackRule.STRICT), CONFIG)}
    big = results[-0.08].guardrail
    assert big.median_rollback_day is not None and big.median_rollback_day > 4
    assert results[-0.02].guardrail.rollback_rate <= 0.02


def test_simulated_looks_agree_with_decide_look_by_look() -> None:
    policy = GuardrailPolicy()
    config = SimulationConfig(runs=4, days=12, seed=3)
    for lift in (-0.08, -0.02, 0.0):
        paths = simulate_paths(lift, config, np.random.default_rng(5))
        rollback, promote = guardrail_looks(paths, policy)
        for run in range(config.runs):
            for day in range(config.days):
                n = int(paths.visitors[day])
                decision = decide(
                    ArmCounts(visitors=n, conversions=int(paths.control_conversions[run, day])),
                    ArmCounts(visitors=n, conversions=int(paths.treatment_conversions[run, day])),
                    policy,
                )
                assert (decision.action is Action.ROLLBACK) == bool(rollback[run, day])
                assert (decision.action is Action.PROMOTE) == bool(promote[run, day])


def test_naive_rule_matches_a_one_sided_pooled_z_test() -> None:
    from scipy import stats

    config = SimulationConfig(runs=3, days=5, seed=1)
    paths = simulate_paths(-0.05, config, np.random.default_rng(2))
    flags = naive_looks(paths, 0.05)
    for run in range(3):
        for day in range(5):
            n = paths.visitors[day]
            x_a, x_b = paths.control_conversions[run, day], paths.treatment_conversions[run, day]
            pooled = (x_a + x_b) / (2 * n)
            z = (x_b / n - x_a / n) / np.sqrt(pooled * (1 - pooled) * 2 / n)
            assert bool(flags[run, day]) == (stats.norm.cdf(z) < 0.05)


def test_first_look_and_stats_bookkeeping() -> None:
    events = np.array([[False, True, True], [False, False, False], [True, False, False]])
    assert first_look(events).tolist() == [2, 0, 1]
    promote = np.array([[True, False, False], [False, False, True], [False, True, False]])
    stats_ = rule_stats(events, promote)
    assert stats_.rollback_rate == pytest.approx(2 / 3)
    assert stats_.median_rollback_day == 1.5
    assert stats_.promote_rate == pytest.approx(2 / 3)  # run 0 promoted before rolling back, run 1 promoted


def test_runs_are_reproducible_and_validated() -> None:
    first = run_scenarios(GuardrailPolicy(), SimulationConfig(runs=50, seed=9), (-0.02,))
    again = run_scenarios(GuardrailPolicy(), SimulationConfig(runs=50, seed=9), (-0.02,))
    assert first == again
    with pytest.raises(ValueError):
        run_scenarios(GuardrailPolicy(metrics=["A", "B"]), CONFIG)
    with pytest.raises(ValueError):
        simulate_paths(25.0, CONFIG, np.random.default_rng(0))
