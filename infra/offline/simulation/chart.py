"""The simulation's timeline as a PNG, a panel per model: its events (one row per kind), traffic share and daily
conversion per model version (models in `ab` mode), and its drift share, with the days after the drift
injection shaded.

Traffic and conversion are drawn per model version, not per variant: after a promotion the endpoint may serve
the new champion from either variant, and a per-variant line would vanish or jump to 1.0. Events sit on their
own rows, so two at the same time (drift detected and the retraining it starts) stay distinguishable.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

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
    "challenger": ("version deployed", "tab:blue", "^"),
    "deployed": ("version deployed", "tab:blue", "^"),
    "first-model": ("version deployed", "tab:blue", "^"),
    "rollback": ("rolled back", "tab:red", "X"),
    "promote": ("promoted", "tab:green", "*"),
}
_VERSION = re.compile(r"-(v\d+)-[0-9a-f]+$")


def model_label(name: str) -> str:
    """`<endpoint>-v3-<hash>` -> `v3`; the bootstrap model keeps a short name."""
    if name.endswith("bootstrap"):
        return "bootstrap"
    match = _VERSION.search(name)
    return match.group(1) if match else name


def _days(timeline: Timeline, at: datetime) -> float:
    origin = datetime.combine(timeline.start, datetime.min.time(), at.tzinfo)
    return (at - origin).total_seconds() / 86400


def model_shares(timeline: Timeline, model: str) -> dict[str, list[float]]:
    """Traffic share of each version of `model` at each hour it served (the variants serving it added up)."""
    splits = [s for s in timeline.splits if s.model == model]
    shares: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(splits))
    for i, split in enumerate(splits):
        for variant, weight in split.weights.items():
            shares[model_label(split.versions.get(variant, variant))][i] += weight
    return dict(shares)


def _rows(timeline: Timeline) -> list[tuple[str, str]]:
    """(model, panel) top to bottom: events, then traffic and conversion for A/B models, then drift."""
    rows: list[tuple[str, str]] = []
    for model, mode in timeline.models.items():
        rows.append((model, "events"))
        if mode == "ab":
            rows += [(model, "share"), (model, "conversion")]
        rows.append((model, "drift"))
    return rows


def _panel(axis: Any, timeline: Timeline, model: str, panel: str) -> None:
    days = [d for d in timeline.days if d.model == model]
    if panel == "events":
        kinds = list(dict.fromkeys(label for label, _, _ in EVENTS.values()))
        for event in timeline.events:
            if event.model == model and event.kind in EVENTS:
                label, colour, marker = EVENTS[event.kind]
                axis.scatter([_days(timeline, event.at)], [len(kinds) - 1 - kinds.index(label)], color=colour,
                             marker=marker, s=40, zorder=3)
        axis.set_yticks(range(len(kinds)), list(reversed(kinds)), fontsize=7)
        axis.set_ylim(-0.7, len(kinds) - 0.3)
        axis.set_title(f"{model} ({timeline.models[model]})", loc="left", fontsize=10, fontweight="bold")
    elif panel == "share":
        at = [_days(timeline, s.at) for s in timeline.splits if s.model == model]
        for label, values in sorted(model_shares(timeline, model).items(), key=lambda kv: (len(kv[0]), kv[0])):
            axis.step(at, values, where="post", label=label)
        axis.set_ylabel("traffic share\nper version", fontsize=8)
        axis.set_ylim(-0.02, 1.02)
    elif panel == "conversion":
        rates: dict[str, dict[int, float]] = defaultdict(dict)
        for day in days:
            for name, (visitors, conversions) in day.by_version.items():
                if visitors:
                    rates[model_label(name)][day.day] = conversions / visitors
        for label, by_day in sorted(rates.items(), key=lambda kv: (len(kv[0]), kv[0])):
            axis.plot(list(by_day), list(by_day.values()), marker=".", label=label)
        axis.set_ylabel("daily\nconversion", fontsize=8)
    else:
        axis.bar([d.day for d in days], [d.drift_share or 0.0 for d in days], color="tab:orange", alpha=0.7,
                 label="share of drifted features")
        axis.axhline(timeline.drift_thresholds[model], color="tab:red", linestyle="--", linewidth=1,
                     label="dataset drift threshold")
        axis.set_ylabel("drift share", fontsize=8)
    injected = timeline.scenario.drift_day
    if injected < timeline.scenario.days:
        axis.axvspan(injected, timeline.scenario.days, color="tab:brown", alpha=0.07,
                     label="after drift injection" if panel == "drift" else None)
    if panel != "events":
        axis.legend(loc="upper left", fontsize=7, ncol=4)
    axis.grid(alpha=0.3)


def figure(timeline: Timeline) -> Figure:
    """A panel per model sharing the day axis (see the module docstring)."""
    rows = _rows(timeline)
    ratios = [1.2 if panel == "events" else 1.5 for _, panel in rows]
    fig, axes = plt.subplots(len(rows), 1, figsize=(11, 1.9 * len(rows) + 1), sharex=True, squeeze=False,
                             constrained_layout=True, gridspec_kw={"height_ratios": ratios})
    for axis, (model, panel) in zip(axes[:, 0], rows, strict=True):
        _panel(axis, timeline, model, panel)
    axes[-1, 0].set_xlabel(f"day (day 0 = {timeline.start.isoformat()}, UTC)")
    fig.suptitle(f"{timeline.stack}: {timeline.scenario.days} simulated days in the sandbox, "
                 f"{len(timeline.models)} model(s)")
    return fig


def render(timeline: Timeline, path: Path) -> Path:
    """Write the chart atomically (a temporary file moved into place) and return its path."""
    fig = figure(timeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path
