"""`decide`: the pure guardrail decision from cumulative counts, safe to call at every look.

Order of checks, and why:
1. Sample-ratio mismatch (SRM): the observed visitor split against the configured weights, by default with an
   anytime-valid test (see `SrmTest`; chi-square is an option). A mismatch (p < policy.srm_p_value, 0.001 by
   default) means the assignment or the logging is broken, so no lift estimate can be trusted. The decision is
   SRM_HALT; the controller answers it exactly like a rollback (all traffic back to the champion) and alerts,
   because serving an experiment whose data is broken is the unsafe state.
2. Minimum sample: no lift decision before `min_visitors_per_arm` visitors in each arm and
   `min_champion_conversions` conversions in the champion arm (the normal approximation behind the bounds needs
   it). The challenger's conversions are deliberately not required: a broken challenger with no conversions at
   all must still be rolled back.
3. Rollback, per metric at alpha / len(metrics) (Bonferroni): harm-first (default) or strict, see
   `RollbackRule`. Any metric rolling back rolls the experiment back.
4. Promote: once both arms reached `planned_visitors_per_arm`, when every metric is shown not worse, i.e. its
   always-valid lower bound of r is above -noninferiority_margin.
5. Otherwise CONTINUE; the guard keeps watching, since the bounds stay valid at every later look.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from infra.runtime.abtest import sequential
from infra.runtime.abtest.policy import GuardrailPolicy, RollbackRule, SrmTest


class Action(StrEnum):
    """What the controller should do with the experiment's traffic."""

    CONTINUE = "continue"
    ROLLBACK = "rollback"
    PROMOTE = "promote"
    SRM_HALT = "srm_halt"


class ArmCounts(BaseModel):
    """Cumulative visitors and conversions (successes of one metric) of one arm."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    visitors: Annotated[int, Field(ge=0)]
    conversions: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _conversions_within_visitors(self) -> Self:
        if self.conversions > self.visitors:
            raise ValueError(f"conversions ({self.conversions}) exceed visitors ({self.visitors})")
        return self


class MetricResult(BaseModel):
    """The estimate and the always-valid interval of one guardrail metric at this look."""

    model_config = ConfigDict(frozen=True)

    metric: str
    control: ArmCounts
    treatment: ArmCounts
    relative_lift: float
    lower: float
    upper: float
    alpha: float
    harmful: bool
    noninferior: bool


class Decision(BaseModel):
    """Outcome of one look: the action, why, and the numbers behind it (stored as the audit record)."""

    model_config = ConfigDict(frozen=True)

    action: Action
    reason: str
    rule: RollbackRule
    metric: str | None = Field(description="The metric that decided, or the one closest to the guardrail.")
    estimate: float | None = Field(description="Relative lift r = pB/pA - 1 of `metric`.")
    interval: tuple[float, float] | None = Field(description="Always-valid one-sided bounds (lower, upper) of r.")
    srm_p_value: float | None
    sample_ready: bool = Field(description="The minimum sample was reached, so the lift was actually judged.")
    treatment_share: float
    control_visitors: int
    treatment_visitors: int
    metrics: list[MetricResult]


def decide(
    control: ArmCounts,
    treatment: ArmCounts,
    policy: GuardrailPolicy | None = None,
    *,
    treatment_share: float = 0.5,
) -> Decision:
    """Decide for a single-metric policy (the default: conversions). `treatment_share` is the configured
    challenger weight / (sum of both weights), the split the SRM check expects."""
    policy = policy or GuardrailPolicy()
    if len(policy.metrics) != 1:
        raise ValueError("decide() takes one metric; use decide_all() for a policy with several metrics")
    return decide_all({policy.metrics[0]: (control, treatment)}, policy, treatment_share=treatment_share)


def decide_all(
    counts: Mapping[str, tuple[ArmCounts, ArmCounts]],
    policy: GuardrailPolicy,
    *,
    treatment_share: float = 0.5,
) -> Decision:
    """Decide from (control, treatment) counts of every metric in `policy.metrics` (same visitors per arm)."""
    if set(counts) != set(policy.metrics):
        raise ValueError(f"counts cover {sorted(counts)} but the policy guards {sorted(policy.metrics)}")
    if not 0.0 < treatment_share < 1.0:
        raise ValueError("treatment_share must be strictly between 0 and 1")
    ordered = [(name, *counts[name]) for name in policy.metrics]
    n_a = ordered[0][1].visitors
    n_b = ordered[0][2].visitors
    if any(c.visitors != n_a or t.visitors != n_b for _, c, t in ordered):
        raise ValueError("every metric must be counted over the same visitors per arm")

    short = [
        f"{name}: champion has {c.conversions} < {policy.min_champion_conversions} conversions"
        for name, c, _ in ordered
        if c.conversions < policy.min_champion_conversions
    ]
    if min(n_a, n_b) < policy.min_visitors_per_arm:
        short.insert(0, f"{min(n_a, n_b)} < {policy.min_visitors_per_arm} visitors in the smaller arm")

    results = [_metric_result(name, c, t, policy) for name, c, t in ordered] if n_a and n_b else []

    def outcome(action: Action, reason: str, srm_p: float | None, focus: MetricResult | None) -> Decision:
        return Decision(
            action=action,
            reason=reason,
            rule=policy.rollback_rule,
            metric=focus.metric if focus else None,
            estimate=focus.relative_lift if focus else None,
            interval=(focus.lower, focus.upper) if focus else None,
            srm_p_value=srm_p,
            sample_ready=not short,
            treatment_share=treatment_share,
            control_visitors=n_a,
            treatment_visitors=n_b,
            metrics=results,
        )

    closest = min(results, key=lambda m: m.upper) if results else None
    srm_p = (
        sample_ratio_p_value(
            n_a, n_b, treatment_share, test=policy.srm_test, concentration=policy.srm_prior_concentration
        )
        if n_a + n_b >= policy.srm_min_visitors
        else None
    )
    if srm_p is not None and srm_p < policy.srm_p_value:
        observed = n_b / (n_a + n_b)
        reason = (
            f"sample ratio mismatch: challenger got {observed:.4f} of {n_a + n_b} visitors, configured "
            f"{treatment_share:.4f} ({policy.srm_test.value} p={srm_p:.2e} < {policy.srm_p_value}); assignment "
            "or logging is broken, traffic goes back to the champion"
        )
        return outcome(Action.SRM_HALT, reason, srm_p, closest)
    if short:
        return outcome(Action.CONTINUE, "waiting for the minimum sample: " + "; ".join(short), srm_p, closest)

    harmful = [m for m in results if m.harmful]
    if harmful:
        worst = min(harmful, key=lambda m: m.upper)
        if policy.rollback_rule is RollbackRule.HARM_FIRST:
            why = (
                f"upper bound {worst.upper:+.2%} < 0 and estimate {worst.relative_lift:+.2%} <= "
                f"-{policy.max_relative_drop:.0%}"
            )
        else:
            why = f"upper bound {worst.upper:+.2%} < -{policy.max_relative_drop:.0%}"
        reason = f"{worst.metric}: challenger worse ({policy.rollback_rule.value} rule: {why})"
        return outcome(Action.ROLLBACK, reason, srm_p, worst)

    planned = min(n_a, n_b) >= policy.planned_visitors_per_arm
    if planned and all(m.noninferior for m in results):
        weakest = min(results, key=lambda m: m.lower)
        reason = (
            f"planned sample reached and every metric not worse: lowest lower bound {weakest.lower:+.2%} "
            f"({weakest.metric}) > -{policy.noninferiority_margin:.0%}"
        )
        return outcome(Action.PROMOTE, reason, srm_p, weakest)

    if planned:
        reason = "planned sample reached; non-inferiority not shown yet, the guard keeps watching"
    else:
        reason = f"no harm detected; {min(n_a, n_b)} of {policy.planned_visitors_per_arm} planned visitors per arm"
    return outcome(Action.CONTINUE, reason, srm_p, closest)


def sample_ratio_p_value(
    control_visitors: int,
    treatment_visitors: int,
    treatment_share: float,
    *,
    test: SrmTest = SrmTest.SEQUENTIAL,
    concentration: float = 1_000.0,
) -> float:
    """p-value of the observed split against the configured share.

    SEQUENTIAL: anytime-valid Bayes factor test (`sequential.srm_p_value`). CHI_SQUARE: goodness-of-fit test,
    valid for a single look.
    """
    total = control_visitors + treatment_visitors
    if total == 0:
        return 1.0
    if test is SrmTest.CHI_SQUARE:
        from scipy import stats  # on first use: see sequential.mixture_boundary

        expected = np.array([1.0 - treatment_share, treatment_share]) * total
        result = stats.chisquare([control_visitors, treatment_visitors], f_exp=expected)
        return float(result.pvalue)
    return float(sequential.srm_p_value(control_visitors, treatment_visitors, treatment_share, concentration))


def _metric_result(name: str, control: ArmCounts, treatment: ArmCounts, policy: GuardrailPolicy) -> MetricResult:
    alpha = policy.alpha_per_metric
    theta_hat, variance = sequential.log_lift_estimate(
        control.visitors,
        control.conversions,
        treatment.visitors,
        treatment.conversions,
        variance_floor_ratio=policy.variance_floor_ratio,
    )
    lower_t, upper_t = sequential.always_valid_bounds(theta_hat, variance, policy.mixture_tau, alpha)
    r_hat, lower, upper = (float(sequential.relative_lift(x)) for x in (theta_hat, lower_t, upper_t))
    return MetricResult(
        metric=name,
        control=control,
        treatment=treatment,
        relative_lift=r_hat,
        lower=lower,
        upper=upper,
        alpha=alpha,
        harmful=bool(rollback_condition(theta_hat, upper_t, policy)),
        noninferior=bool(lower_t > sequential.log_ratio(-policy.noninferiority_margin)),
    )


def rollback_condition(
    theta_hat: sequential.ArrayLike, upper_theta: sequential.ArrayLike, policy: GuardrailPolicy
) -> np.ndarray:
    """The rollback rule on the theta = log(pB/pA) scale, vectorised (shared with the simulation)."""
    drop = sequential.log_ratio(-policy.max_relative_drop)
    theta_hat = np.asarray(theta_hat)
    upper_theta = np.asarray(upper_theta)
    if policy.rollback_rule is RollbackRule.HARM_FIRST:
        return np.asarray((upper_theta < 0.0) & (theta_hat <= drop))
    return np.asarray(upper_theta < drop)
