"""The simulation's timeline as a PNG: traffic per model version, conversion per model version, drift, events.

Traffic and conversion are drawn per model version, not per variant: after a promotion the endpoint may serve
the new champion from either variant, and a per-variant line would vanish or jump to 1.0. Events sit on their
own rows, so two at the same time (drift detected and the retraining it starts) stay distinguishable, and the
days after the drift injection are shaded.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from infra.offline.simulation.engine import Timeline  # noqa: E402

EVENTS = {  # event kind -> (row label, colour, marker), top row first
    "drift-injected": ("drift injected", "tab:brown", "v"),
    "drift": ("drift detected", "tab:orange", "D"),
    "first-training": ("training started", "tab:gray", "s"),
    "retraining": ("training started", "tab:gray", "s"),
    "challenger": ("challenger deployed", "tab:blue", "^"),
    "rollback": ("rolled back", "tab:red", "X"),
    "promote": ("promoted", "tab:green", "*"),
}
_VERSION = re.compile(r"-(v\d+)-[0-9a-f]+$")


def model_label(name: str) -> str:
    """`<endpoint>-v3-<hash>` -> `v3`; the bootstrap model keeps a short name."""
    if name.endswith("bootstrap-model"):
        return "bootstrap"
    match = _VERSION.search(name)
    return match.group(1) if match else name


def _days(timeline: Timeline, at: datetime) -> float:
    origin = datetime.combine(timeline.start, datetime.min.time(), at.tzinfo)
    return (at - origin).total_seconds() / 86400


def model_shares(timeline: Timeline) -> dict[str, list[float]]:
    """Traffic share of each model version at each served hour (the variants serving it added up)."""
    shares: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(timeline.splits))
    for i, split in enumerate(timeline.splits):
        for variant, weight in split.weights.items():
            shares[model_label(split.models.get(variant, variant))][i] += weight
    return dict(shares)


def figure(timeline: Timeline) -> Figure:
    """Four panels sharing the day axis: events (one row per kind), traffic share and daily conversion per model
    version, drift share."""
    fig, (events, share, conv, drift) = plt.subplots(
        4, 1, figsize=(11, 11), sharex=True, constrained_layout=True, gridspec_kw={"height_ratios": [1, 2, 2, 2]})
    at = [_days(timeline, s.at) for s in timeline.splits]
    for label, values in sorted(model_shares(timeline).items(), key=lambda kv: (len(kv[0]), kv[0])):
        share.step(at, values, where="post", label=label)
    share.set_ylabel("traffic share per model")
    share.set_ylim(-0.02, 1.02)
    # Daily conversion per model version.
    rates: dict[str, dict[int, float]] = defaultdict(dict)
    for day in timeline.days:
        for name, (visitors, conversions) in day.by_model.items():
            if visitors:
                rates[model_label(name)][day.day] = conversions / visitors
    for label, by_day in sorted(rates.items(), key=lambda kv: (len(kv[0]), kv[0])):
        conv.plot(list(by_day), list(by_day.values()), marker=".", label=label)
    conv.set_ylabel("daily conversion rate")
    days = [d.day for d in timeline.days]
    drift.bar(days, [d.drift_share or 0.0 for d in timeline.days], color="tab:orange", alpha=0.7,
              label="share of drifted features")
    drift.axhline(timeline.drift_threshold, color="tab:red", linestyle="--", linewidth=1,
                  label="dataset drift threshold")
    drift.set_ylabel("drift share")
    drift.set_xlabel(f"day (day 0 = {timeline.start.isoformat()}, UTC)")
    # One row per kind of event.
    rows = list(dict.fromkeys(label for label, _, _ in EVENTS.values()))
    for event in timeline.events:
        if event.kind in EVENTS:
            label, colour, marker = EVENTS[event.kind]
            events.scatter([_days(timeline, event.at)], [len(rows) - 1 - rows.index(label)], color=colour,
                           marker=marker, s=60, zorder=3)
    events.set_yticks(range(len(rows)), list(reversed(rows)), fontsize=8)
    events.set_ylim(-0.7, len(rows) - 0.3)
    injected = timeline.scenario.drift_day
    if injected < timeline.scenario.days:
        for axis in (events, share, conv, drift):
            axis.axvspan(injected, timeline.scenario.days, color="tab:brown", alpha=0.07,
                         label="after drift injection" if axis is drift else None)
    for axis in (share, conv, drift):
        axis.legend(loc="upper left", fontsize=8, ncol=4)
    for axis in (events, share, conv, drift):
        axis.grid(alpha=0.3)
    fig.suptitle(f"{timeline.stack}: {timeline.scenario.days} simulated days in the sandbox")
    return fig


def render(timeline: Timeline, path: Path) -> Path:
    """Write the chart atomically (a temporary file moved into place) and return its path."""
    fig = figure(timeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
