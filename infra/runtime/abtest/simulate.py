"""Monte Carlo of the guardrail against the naive "one-sided z-test p < 0.05 at every daily look" rule.

Why it lives in the library: the benchmark (1,000 runs) and a fast test (a few hundred runs) run the same
code, and the guardrail side uses the very functions `decide` uses (`sequential` bounds,
`rollback_condition`), so the figures describe the shipped rule, not a re-implementation.

Each run draws daily conversions of both arms as binomials, accumulates them, and evaluates both rules at
every daily look; runs are vectorised (arrays of runs x days). Both rules see the same simulated paths (a
paired comparison). The guardrail keeps watching for the whole horizon even after it could promote, so its
rollback rate is the worst case for a guard left on; promotions are reported separately. Visitors are split
exactly evenly, so the sample-ratio check never fires here (it has its own tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from infra.runtime.abtest import sequential
from infra.runtime.abtest.guardrail import rollback_condition
from infra.runtime.abtest.policy import GuardrailPolicy

BoolMatrix = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SimulationConfig:
    """The simulated traffic: daily looks, equal arms, a fixed baseline conversion rate."""

    runs: int = 1_000
    days: int = 30
    baseline: float = 0.05
    visitors_per_arm_per_day: int = 20_000
    naive_alpha: float = 0.05
    seed: int = 20_260_601


@dataclass(frozen=True)
class RuleStats:
    """How one rule behaved over the runs of one scenario."""

    rollback_rate: float
    median_rollback_day: float | None  # over the runs that rolled back; None if none did
    promote_rate: float | None  # guardrail only: promoted before any rollback


@dataclass(frozen=True)
class ScenarioResult:
    """Both rules on the same simulated paths for one true relative lift."""

    relative_lift: float
    guardrail: RuleStats
    naive: RuleStats


@dataclass(frozen=True)
class Paths:
    """Cumulative counts at each daily look: visitors (days,), conversions (runs, days) per arm."""

    visitors: npt.NDArray[np.int64]
    control_conversions: npt.NDArray[np.int64]
    treatment_conversions: npt.NDArray[np.int64]


def simulate_paths(relative_lift: float, config: SimulationConfig, rng: np.random.Generator) -> Paths:
    """Draw `config.runs` experiments with treatment rate baseline * (1 + relative_lift)."""
    p_b = config.baseline * (1.0 + relative_lift)
    if not 0.0 < p_b < 1.0:
        raise ValueError("the treatment conversion rate must be in (0, 1)")
    shape = (config.runs, config.days)
    daily_a = rng.binomial(config.visitors_per_arm_per_day, config.baseline, size=shape)
    daily_b = rng.binomial(config.visitors_per_arm_per_day, p_b, size=shape)
    visitors = config.visitors_per_arm_per_day * np.arange(1, config.days + 1, dtype=np.int64)
    return Paths(visitors, np.cumsum(daily_a, axis=1), np.cumsum(daily_b, axis=1))


def guardrail_looks(paths: Paths, policy: GuardrailPolicy) -> tuple[BoolMatrix, BoolMatrix]:
    """(rollback, promote) at every look, the single-metric `decide` rule vectorised over runs x days."""
    n = np.broadcast_to(paths.visitors, paths.control_conversions.shape)
    theta_hat, variance = sequential.log_lift_estimate(
        n,
        paths.control_conversions,
        n,
        paths.treatment_conversions,
        variance_floor_ratio=policy.variance_floor_ratio,
    )
    lower, upper = sequential.always_valid_bounds(theta_hat, variance, policy.mixture_tau, policy.alpha_per_metric)
    eligible = (n >= policy.min_visitors_per_arm) & (paths.control_conversions >= policy.min_champion_conversions)
    rollback = eligible & rollback_condition(theta_hat, upper, policy)
    noninferior = lower > sequential.log_ratio(-policy.noninferiority_margin)
    promote = eligible & ~rollback & (n >= policy.planned_visitors_per_arm) & noninferior
    return rollback, promote


def naive_looks(paths: Paths, alpha: float) -> BoolMatrix:
    """Pooled two-proportion z-test, one-sided (challenger worse), p < alpha at every look."""
    n = paths.visitors.astype(np.float64)
    p_a = paths.control_conversions / n
    p_b = paths.treatment_conversions / n
    pooled = (paths.control_conversions + paths.treatment_conversions) / (2.0 * n)
    se = np.sqrt(pooled * (1.0 - pooled) * (2.0 / n))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p_b - p_a) / se, 0.0)
    return np.asarray(stats.norm.cdf(z) < alpha)


def first_look(events: BoolMatrix) -> npt.NDArray[np.int64]:
    """1-based day of the first True per run, 0 when the event never happened."""
    hit = events.any(axis=1)
    return np.where(hit, events.argmax(axis=1) + 1, 0).astype(np.int64)


def rule_stats(rollback: BoolMatrix, promote: BoolMatrix | None = None) -> RuleStats:
    """Rollback rate, median rollback day, and (if given) the rate of promotions that came first."""
    day = first_look(rollback)
    rolled = day > 0
    median = float(np.median(day[rolled])) if rolled.any() else None
    promote_rate = None
    if promote is not None:
        promote_day = first_look(promote)
        promoted_first = (promote_day > 0) & (~rolled | (promote_day < day))
        promote_rate = float(promoted_first.mean())
    return RuleStats(rollback_rate=float(rolled.mean()), median_rollback_day=median, promote_rate=promote_rate)


def run_scenarios(
    policy: GuardrailPolicy,
    config: SimulationConfig,
    relative_lifts: tuple[float, ...] = (0.0, -0.08, -0.02),
) -> list[ScenarioResult]:
    """Simulate every scenario with its own reproducible random stream (spawned from `config.seed`)."""
    if len(policy.metrics) != 1:
        raise ValueError("the simulation models a single guardrail metric")
    streams = np.random.SeedSequence(config.seed).spawn(len(relative_lifts))
    results = []
    for lift, stream in zip(relative_lifts, streams, strict=True):
        paths = simulate_paths(lift, config, np.random.default_rng(stream))
        rollback, promote = guardrail_looks(paths, policy)
        results.append(
            ScenarioResult(
                relative_lift=lift,
                guardrail=rule_stats(rollback, promote),
                naive=rule_stats(naive_looks(paths, config.naive_alpha)),
            )
        )
    return results
