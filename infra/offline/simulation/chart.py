"""The simulation's timeline as a PNG: traffic split, conversion per variant, drift, and the events."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from infra.offline.simulation.engine import Timeline  # noqa: E402

MARKERS = {  # event kind -> (colour, label)
    "challenger": ("tab:blue", "challenger deployed"),
    "rollback": ("tab:red", "rolled back"),
    "promote": ("tab:green", "promoted"),
    "drift": ("tab:orange", "drift detected"),
    "retraining": ("tab:gray", "retraining started"),
}


def render(timeline: Timeline, path: Path) -> Path:
    """Write the chart atomically (a temporary file moved into place) and return its path."""
    days = [d.day for d in timeline.days]
    fig, (split, conv, drift) = plt.subplots(3, 1, figsize=(11, 9), sharex=True, constrained_layout=True)
    start = timeline.splits[0].at if timeline.splits else None
    if start is not None:
        at = [(s.at - start).total_seconds() / 86400 for s in timeline.splits]
        split.step(at, [s.weights.get("challenger", 0.0) for s in timeline.splits], where="post",
                   color="tab:blue", label="challenger share")
    split.set_ylabel("challenger traffic share")
    split.set_ylim(-0.02, 1.02)
    for variant, colour in (("champion", "black"), ("challenger", "tab:blue")):
        rates = [d.conversions[variant] / d.visitors[variant] if d.visitors[variant] else float("nan")
                 for d in timeline.days]
        conv.plot(days, rates, marker=".", color=colour, label=variant)
    conv.set_ylabel("daily conversion rate")
    drift.bar(days, [d.drift_share or 0.0 for d in timeline.days], color="tab:orange", alpha=0.7,
              label="share of drifted features")
    threshold = timeline.drift_threshold
    drift.axhline(threshold, color="tab:red", linestyle="--", linewidth=1, label="dataset drift threshold")
    drift.set_ylabel("drift share")
    drift.set_xlabel(f"day (day 0 = {timeline.start.isoformat()})")
    seen: set[str] = set()
    for event in timeline.events:
        if event.kind not in MARKERS:
            continue
        colour, label = MARKERS[event.kind]
        x = event.day + event.at.hour / 24
        for axis in (split, conv, drift):
            axis.axvline(x, color=colour, alpha=0.5, linewidth=1,
                         label=label if axis is split and event.kind not in seen else None)
        seen.add(event.kind)
    for axis in (split, conv, drift):
        axis.legend(loc="upper left", fontsize=8)
        axis.grid(alpha=0.3)
    fig.suptitle(f"{timeline.stack}: {timeline.scenario.days} simulated days in the sandbox")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
