"""Benchmark: the whole comparison for the startup scenario, under 10 seconds.

Times, in one process: synthesizing each profile's graph once (the real program under Pulumi's mock runtime,
including the first import of the cloud SDKs), pricing, the three sweeps (models 1-50, requests 1e4-1e9 a month,
team 1-30), the sensitivity analysis, and rendering the Markdown/HTML report with its charts (written to a
temporary directory). Also prints how many times the graphs were priced (each synthesized once). Exits 1 above
the target. Wall time depends on what else the machine runs; CPU time is printed beside it.

The peer: Infracost (the anchors' cost tool) reads a Terraform plan only: no Pulumi program (infracost#187,
open since 2020), and it prices no SageMaker endpoint or training job (infracost#2733) and no Vertex AI. It
cannot run this comparison at all; what it would leave out is printed: each profile's monthly cost in
resource types it has no price for.

Usage: python benchmarks/compare_startup.py [--scenario startup] [--target 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

# Resource types Infracost has no price for (infracost#2733 for SageMaker; Vertex AI is not covered at all).
INFRACOST_BLIND = ("aws:sagemaker/", "gcp:vertex/")


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the synthesis workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="startup")
    parser.add_argument("--target", type=float, default=10.0)
    args = parser.parse_args()
    wall0, cpu0 = time.perf_counter(), _cpu()

    from infra.cost.catalog import load_catalog
    from infra.cost.compare import compare, synthesize
    from infra.cost.report import render, write
    from infra.cost.scenario import load_scenario

    scenario, catalog = load_scenario(args.scenario), load_catalog()
    phases: list[tuple[str, float]] = []
    t = time.perf_counter()
    synthesized = synthesize(scenario)
    phases.append((f"synthesize {len(synthesized.graphs)} graph(s), imports included", time.perf_counter() - t))
    t = time.perf_counter()
    result = compare(synthesized, scenario, catalog)
    phases.append((f"price, sweep, sensitivity ({result.pricings} pricings)", time.perf_counter() - t))
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write(render(result), Path(tmp))
    phases.append(("render report and charts", time.perf_counter() - t))
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    for name, seconds in phases:
        print(f"  {name:<52} {seconds:6.2f} s")
    print(f"compared {', '.join(result.costs)}; not compared: {', '.join(result.missing) or 'none'}")
    print("peer: Infracost reads no Pulumi program (infracost#187) and prices no SageMaker (#2733) or Vertex AI;")
    for name, cost in result.costs.items():
        cloud = [x for x in cost.estimate.lines if x.category not in ("people", "SaaS")]
        bill = sum((x.monthly for x in cloud), Decimal(0))
        blind = sum((x.monthly for x in cloud if x.type.startswith(INFRACOST_BLIND)), Decimal(0))
        print(f"  {name}: ${blind:,.2f} of its ${bill:,.2f} cloud bill a month ({blind / bill:.0%}) is in resources "
              "it cannot price")
    verdict = "PASS" if wall < args.target else "FAIL"
    print(f"{verdict}: whole comparison {wall:.2f} s wall ({cpu:.2f} s CPU, synthesis workers included), "
          f"target < {args.target:g} s")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
