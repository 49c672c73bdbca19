"""Benchmark: the always-valid conversion guardrail vs a naive "p < 0.05 at each daily look" rule.

30 daily looks, 5% baseline conversion, 20,000 visitors per arm per day, 1,000 runs per scenario (seeded).
Scenarios: A/A (no change), a true 8% relative drop, a true 2% relative drop. The guardrail is the shipped
default policy (harm-first); the strict rule is shown too, to justify the default. Exits 1 if a guardrail
target is missed:
  A/A false rollbacks <= 2%; 8% drop: rollback in >= 95% of runs, median day <= 4; 2% drop: rollback <= 10%.

Usage: python benchmarks/ab_guardrail.py [--runs 1000] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
import time

from infra.runtime.abtest.policy import GuardrailPolicy, RollbackRule
from infra.runtime.abtest.simulate import ScenarioResult, SimulationConfig, run_scenarios

LIFTS = (0.0, -0.08, -0.02)


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:6.1%}"


def _day(x: float | None) -> str:
    return "never" if x is None else f"{x:g}"


def check_targets(results: list[ScenarioResult]) -> list[str]:
    """Guardrail targets that do not hold (empty when all hold)."""
    by_lift = {r.relative_lift: r.guardrail for r in results}
    aa, big, small = by_lift[0.0], by_lift[-0.08], by_lift[-0.02]
    failures = []
    if aa.rollback_rate > 0.02:
        failures.append(f"A/A false rollbacks {aa.rollback_rate:.1%} > 2%")
    if big.rollback_rate < 0.95:
        failures.append(f"8% drop rolled back in {big.rollback_rate:.1%} < 95% of runs")
    if big.median_rollback_day is None or big.median_rollback_day > 4:
        failures.append(f"8% drop median rollback day {_day(big.median_rollback_day)} > 4")
    if small.rollback_rate > 0.10:
        failures.append(f"2% drop rolled back in {small.rollback_rate:.1%} > 10% of runs")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=SimulationConfig.seed)
    args = parser.parse_args(argv)
    config = SimulationConfig(runs=args.runs, seed=args.seed)

    started = time.perf_counter()
    default = run_scenarios(GuardrailPolicy(), config, LIFTS)
    strict = run_scenarios(GuardrailPolicy(rollback_rule=RollbackRule.STRICT), config, LIFTS)
    elapsed = time.perf_counter() - started

    policy = GuardrailPolicy()
    print(
        f"{config.runs} runs x {config.days} daily looks, baseline {config.baseline:.0%}, "
        f"{config.visitors_per_arm_per_day:,} visitors/arm/day, seed {config.seed}"
    )
    print(
        f"guardrail: {policy.rollback_rule.value}, alpha {policy.alpha} one-sided, mixture tau "
        f"{policy.mixture_tau}, min {policy.min_visitors_per_arm:,} visitors/arm; naive: one-sided pooled "
        f"z-test p < {config.naive_alpha} at every look"
    )
    header = f"{'scenario':<16}{'':<22}{'guardrail':>12}{'naive':>10}{'strict':>10}"
    print(header)
    print("-" * len(header))
    names = {0.0: "A/A", -0.08: "8% drop", -0.02: "2% drop"}
    rows = (
        ("rollback rate", "rollback_rate", _rate),
        ("median rollback day", "median_rollback_day", _day),
        ("promoted (no rollback)", "promote_rate", _rate),
    )
    for d, st in zip(default, strict, strict=True):
        for i, (label, attr, fmt) in enumerate(rows):
            cells = [fmt(getattr(stats, attr)) for stats in (d.guardrail, d.naive, st.guardrail)]
            scenario = names[d.relative_lift] if i == 0 else ""
            print(f"{scenario:<16}{label:<22}{cells[0]:>12}{cells[1]:>10}{cells[2]:>10}")
    print(f"simulated in {elapsed:.2f} s")

    failures = check_targets(default)
    if failures:
        print("guardrail targets MISSED: " + "; ".join(failures))
        return 1
    print("guardrail targets met: A/A <= 2%, 8% drop >= 95% with median <= 4 days, 2% drop <= 10%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
