"""decide(): minimum sample, rollback rules, promotion, SRM, several metrics, and the policy model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.runtime.abtest.guardrail import Action, ArmCounts, decide, decide_all, sample_ratio_p_value
from infra.runtime.abtest.policy import GuardrailPolicy, RollbackRule, SrmTest, required_visitors_per_arm

HARM_FIRST = GuardrailPolicy()
STRICT = GuardrailPolicy(rollback_rule=RollbackRule.STRICT)


def arms(n: int, p_a: float, p_b: float, n_b: int | None = None) -> tuple[ArmCounts, ArmCounts]:
    n_b = n if n_b is None else n_b
    return ArmCounts(visitors=n, conversions=round(n * p_a)), ArmCounts(visitors=n_b, conversions=round(n_b * p_b))


def test_default_rule_is_harm_first_at_alpha_0025_with_5_percent_margin() -> None:
    assert HARM_FIRST.rollback_rule is RollbackRule.HARM_FIRST
    assert HARM_FIRST.max_relative_drop == 0.05
    assert HARM_FIRST.alpha == 0.025


def test_no_decision_before_the_minimum_sample_even_for_a_large_drop() -> None:
    control, treatment = arms(9_000, 0.05, 0.025)  # a 50% drop, but below 10,000 visitors per arm
    decision = decide(control, treatment)
    assert decision.action is Action.CONTINUE
    assert not decision.sample_ready
    assert "minimum sample" in decision.reason
    # The same drop with the minimum sample is rolled back.
    assert decide(*arms(10_000, 0.05, 0.025)).action is Action.ROLLBACK


def test_champion_conversions_below_the_minimum_also_wait() -> None:
    policy = GuardrailPolicy(min_champion_conversions=600)
    decision = decide(*arms(10_000, 0.05, 0.02), policy)
    assert decision.action is Action.CONTINUE and "conversions" in decision.reason


def test_clear_harm_rolls_back_with_estimate_and_interval() -> None:
    decision = decide(*arms(60_000, 0.05, 0.045))  # true-looking 10% drop
    assert decision.action is Action.ROLLBACK
    assert decision.estimate == pytest.approx(-0.10, abs=1e-9)
    assert decision.interval is not None and decision.estimate is not None
    lower, upper = decision.interval
    assert lower < decision.estimate < upper < 0
    assert "harm-first" in decision.reason and decision.metric == "Conversions"


@pytest.mark.parametrize("conversions", [0, 5, 30])
def test_a_collapsed_challenger_is_rolled_back_at_the_first_look(conversions: int) -> None:
    """Without the variance floor, the log-scale variance of ~0 conversions would keep the bound open."""
    control = ArmCounts(visitors=12_000, conversions=600)
    treatment = ArmCounts(visitors=12_000, conversions=conversions)
    assert decide(control, treatment).action is Action.ROLLBACK


def test_equal_arms_never_roll_back_and_are_promoted_after_the_planned_sample() -> None:
    actions = []
    for n in range(10_000, 160_001, 10_000):
        decision = decide(*arms(n, 0.05, 0.05))
        actions.append(decision.action)
        assert decision.action is not Action.ROLLBACK
        if n < HARM_FIRST.planned_visitors_per_arm:
            assert decision.action is Action.CONTINUE
    assert actions[-1] is Action.PROMOTE
    first_promote = actions.index(Action.PROMOTE)
    assert all(a is Action.PROMOTE for a in actions[first_promote:])


def test_no_promotion_when_non_inferiority_is_not_shown() -> None:
    # A 4% drop at the planned sample: not proven harmful beyond 5%, but not proven within 5% either.
    decision = decide(*arms(100_000, 0.05, 0.048))
    assert decision.action is Action.CONTINUE
    assert decision.interval is not None and decision.interval[0] < -0.05


def test_harm_first_and_strict_differ_exactly_where_they_should() -> None:
    # Estimate -8%, upper bound between -5% and 0: harm-first rolls back, strict keeps watching.
    moderate = arms(60_000, 0.05, 0.046)
    hf, st = decide(*moderate, HARM_FIRST), decide(*moderate, STRICT)
    assert hf.interval is not None and -0.05 < hf.interval[1] < 0
    assert hf.action is Action.ROLLBACK
    assert st.action is Action.CONTINUE
    # Significant but small drop (-3%, upper < 0): harm-first waits for the point estimate to reach -5%.
    small = arms(1_000_000, 0.05, 0.0485)
    hf_small = decide(*small, HARM_FIRST)
    assert hf_small.interval is not None and hf_small.interval[1] < 0
    assert hf_small.action is not Action.ROLLBACK
    assert decide(*small, STRICT).action is not Action.ROLLBACK
    # A drop proven beyond the margin is rolled back by both.
    large = arms(400_000, 0.05, 0.045)
    assert decide(*large, HARM_FIRST).action is Action.ROLLBACK
    strict_large = decide(*large, STRICT)
    assert strict_large.action is Action.ROLLBACK and "strict" in strict_large.reason


def test_sample_ratio_mismatch_halts_even_when_the_lift_looks_fine() -> None:
    control, treatment = arms(50_000, 0.05, 0.05, n_b=48_500)  # 49.24% instead of 50%
    decision = decide(control, treatment)
    assert decision.action is Action.SRM_HALT
    assert decision.srm_p_value is not None and decision.srm_p_value < 0.001
    assert "sample ratio mismatch" in decision.reason


def test_srm_uses_the_configured_split() -> None:
    control, treatment = arms(90_000, 0.05, 0.05, n_b=10_000)
    assert decide(control, treatment, treatment_share=0.1).action is not Action.SRM_HALT
    assert decide(control, treatment, treatment_share=0.5).action is Action.SRM_HALT
    assert sample_ratio_p_value(90_000, 10_000, 0.1) == pytest.approx(1.0)


def test_srm_is_checked_before_the_minimum_sample_but_not_on_tiny_counts() -> None:
    assert decide(*arms(3_000, 0.05, 0.05, n_b=2_000)).action is Action.SRM_HALT
    assert decide(*arms(300, 0.05, 0.05, n_b=200)).action is Action.CONTINUE  # < srm_min_visitors


def test_several_metrics_share_alpha_and_any_harm_rolls_back() -> None:
    policy = GuardrailPolicy(metrics=["Conversions", "Signups"])
    assert policy.alpha_per_metric == pytest.approx(0.0125)
    conv = arms(60_000, 0.05, 0.05)
    signups = arms(60_000, 0.10, 0.085)
    decision = decide_all({"Conversions": conv, "Signups": signups}, policy)
    assert decision.action is Action.ROLLBACK and decision.metric == "Signups"
    assert [m.alpha for m in decision.metrics] == [0.0125, 0.0125]
    # Bonferroni widens each interval compared with a single-metric policy.
    single = decide(*signups)
    assert single.interval is not None and decision.interval is not None
    assert decision.interval[1] > single.interval[1]


def test_promotion_needs_every_metric_non_inferior() -> None:
    policy = GuardrailPolicy(metrics=["Conversions", "Signups"])
    fine = arms(200_000, 0.05, 0.05)
    assert decide_all({"Conversions": fine, "Signups": fine}, policy).action is Action.PROMOTE
    unclear = arms(200_000, 0.10, 0.097)
    assert decide_all({"Conversions": fine, "Signups": unclear}, policy).action is Action.CONTINUE


def test_inputs_are_validated() -> None:
    with pytest.raises(ValidationError):
        ArmCounts(visitors=10, conversions=11)
    with pytest.raises(ValueError, match="decide_all"):
        decide(*arms(10_000, 0.05, 0.05), GuardrailPolicy(metrics=["A", "B"]))
    with pytest.raises(ValueError, match="policy guards"):
        decide_all({"Other": arms(10_000, 0.05, 0.05)}, HARM_FIRST)
    with pytest.raises(ValueError, match="same visitors"):
        policy = GuardrailPolicy(metrics=["A", "B"])
        decide_all({"A": arms(10_000, 0.05, 0.05), "B": arms(11_000, 0.05, 0.05)}, policy)
    with pytest.raises(ValueError):
        decide(*arms(10_000, 0.05, 0.05), treatment_share=1.0)


def test_policy_round_trips_as_json_and_rejects_unknown_keys() -> None:
    policy = GuardrailPolicy(rollback_rule=RollbackRule.STRICT, alpha=0.05, metrics=["Conversions", "Signups"])
    assert GuardrailPolicy.model_validate_json(policy.model_dump_json()) == policy
    assert GuardrailPolicy.model_validate_json('{"rollback_rule": "strict"}').rollback_rule is RollbackRule.STRICT
    for bad in ('{"alpah": 0.05}', '{"alpha": 0.7}', '{"metrics": ["Visitors"]}', '{"metrics": ["A", "A"]}'):
        with pytest.raises(ValidationError):
            GuardrailPolicy.model_validate_json(bad)
    with pytest.raises(ValidationError):
        GuardrailPolicy(min_visitors_per_arm=200_000)  # above the planned sample


@pytest.mark.parametrize(("baseline", "expected"), [(0.02, 236_000), (0.05, 92_000), (0.10, 44_000), (0.20, 19_000)])
def test_planning_sample_sizes_match_the_project_standard(baseline: float, expected: int) -> None:
    # The standard quotes them rounded to thousands.
    assert round(required_visitors_per_arm(baseline, 0.05), -3) == expected


def test_chi_square_srm_is_available_and_matches_scipy() -> None:
    from scipy import stats

    policy = GuardrailPolicy(srm_test=SrmTest.CHI_SQUARE)
    decision = decide(*arms(50_000, 0.05, 0.05, n_b=48_500), policy)
    assert decision.action is Action.SRM_HALT and "chi-square" in decision.reason
    expected = stats.chisquare([50_000, 48_500], [49_250, 49_250]).pvalue
    assert decision.srm_p_value == pytest.approx(expected)
    # A 0.4-point imbalance at 1M visitors per arm: both tests flag it; a 0.1-point one neither.
    big = 1_000_000
    assert sample_ratio_p_value(big, big - 8_000, 0.5) < 0.001
    assert sample_ratio_p_value(big, big - 8_000, 0.5, test=SrmTest.CHI_SQUARE) < 0.001
    assert sample_ratio_p_value(big, big - 2_000, 0.5) > 0.001


def test_the_stack_profile_guardrail_section_is_the_policy() -> None:
    """A model's `serving.ab.guardrail` is this model; the Pulumi side passes it as GUARDRAIL_POLICY."""
    from infra.profiles.model import AbTest

    section = AbTest.model_validate(
        {"guardrail": {"rollback_rule": "strict", "max_relative_drop": 0.08, "min_visitors_per_arm": 20_000}}
    ).guardrail
    policy = GuardrailPolicy.model_validate_json(section.model_dump_json())
    assert policy.rollback_rule is RollbackRule.STRICT
    assert policy.max_relative_drop == 0.08 and policy.min_visitors_per_arm == 20_000
