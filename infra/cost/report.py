"""Write a comparison as Markdown and HTML (Jinja2 templates in templates/compare/, shipped in the package as
infra.templates) with matplotlib charts.

Charts are SVG: inline in the HTML, beside the Markdown as files. The SVG is made reproducible (fixed hash salt,
no date, text kept as text) so a committed report can be checked for staleness byte for byte.
"""

from __future__ import annotations

import io
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2

from infra.cost.compare import Comparison, onboarding_monthly
from infra.cost.estimate import CATEGORIES, cents
from infra.offline.runtime import gc_paused

TEMPLATES_DIR = Path(str(files("infra.templates").joinpath("compare")))
COMPARISONS_DIR = Path("comparisons")  # default output: relative to the working directory
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def charts(c: Comparison) -> dict[str, str]:
    """name -> SVG text: cost by category, cost against models, against requests, TCO against team, sensitivity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "mlopsgen", "svg.fonttype": "none", "font.size": 9})
    colors = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(c.costs)}
    out: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(7, 3.2))
    bottom = [0.0] * len(c.costs)
    for i, category in enumerate(CATEGORIES):
        values = [float(cost.estimate.by_category[category]) for cost in c.costs.values()]
        ax.barh(list(c.costs), values, left=bottom, label=category, color=plt.get_cmap("tab10")(i))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xlabel("USD a month")
    ax.set_title(f"Monthly cost by category ({c.scenario.name})")
    ax.legend(fontsize=7, loc="lower right")
    out["categories"] = _svg(fig)

    for sweep in c.sweeps:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        for p, ys in sweep.series.items():
            ax.plot(sweep.xs, ys, marker="o", markersize=3, label=p, color=colors[p])
        for x in sweep.crossovers:
            ax.axvline(x["at"], color="grey", linestyle=":", linewidth=1)
        if sweep.name == "requests":
            ax.set_xscale("log")
        ax.set_xlabel(sweep.axis)
        ax.set_ylabel("USD a month")
        ax.set_title({"models": "Cost against models", "requests": "Cost against traffic",
                      "team": "Total cost of ownership against team size"}[sweep.name])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        out[sweep.name] = _svg(fig)

    best = c.recommended
    base = float(c.costs[best].estimate.total)
    rows = sorted(c.sensitivity, key=lambda s: abs(s.totals[best][1] - s.totals[best][0]))
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    for i, s in enumerate(rows):
        low, high = s.totals[best]
        ax.barh(i, low - base, left=base, color="#2ca02c" if low < base else "#d62728")
        ax.barh(i, high - base, left=base, color="#d62728" if high > base else "#2ca02c")
    ax.set_yticks(range(len(rows)), [_plain(f"{s.variable} ({s.low} .. {s.high})") for s in rows], fontsize=7)
    ax.axvline(base, color="black", linewidth=1)
    ax.set_xlabel(_plain(f"{best}: USD a month (base ${base:,.2f})"))
    ax.set_title("Sensitivity: one assumption at a time, low and high")
    out["sensitivity"] = _svg(fig)
    return out


def _plain(label: str) -> str:
    """A label as text: matplotlib reads what stands between two dollar signs ("$50 .. $200") as mathtext."""
    return label.replace("$", r"\$")


def _money(value: Decimal | float) -> str:
    return f"${cents(Decimal(str(value))):,.2f}"


def context(c: Comparison, chart_svgs: dict[str, str], chart_dir: str) -> dict[str, Any]:
    data = c.to_json()
    return {
        "c": c, "data": data, "charts": chart_svgs, "chart_dir": chart_dir, "categories": CATEGORIES,
        "money": _money, "onboarding": {p: onboarding_monthly(cost, c.scenario) for p, cost in c.costs.items()},
        "unsourced": sorted({(x.price_id, x.unit_price, x.source, x.read) for cost in c.costs.values()
                             for x in cost.estimate.unsourced_lines}),
        "catalog_used": sorted({(x.price_id, x.unit_price, x.unit, x.grade, x.source, x.read)
                                for cost in c.costs.values() for x in cost.estimate.lines
                                if x.category != "people"}),
    }


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), undefined=jinja2.StrictUndefined,
                              autoescape=jinja2.select_autoescape(["html"]), keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True)


def render(c: Comparison) -> dict[str, str]:
    """Relative path -> text of every file the report consists of (Markdown, HTML, chart SVGs)."""
    with gc_paused():  # matplotlib's and Jinja2's many small objects beside the cloud SDKs': see gc_paused
        chart_svgs = charts(c)
        chart_dir = chart_dir_name(c.scenario.name)
        env = environment()
        ctx = context(c, chart_svgs, chart_dir)
        files = {f"{c.scenario.name}.md": env.get_template("report.md.j2").render(ctx),
                 f"{c.scenario.name}.html": env.get_template("report.html.j2").render(ctx)}
    for name, svg in chart_svgs.items():
        files[f"{chart_dir}/{name}.svg"] = svg
    return files


def chart_dir_name(scenario: str) -> str:
    """The folder, beside the reports, that holds a scenario's chart files."""
    return f"{scenario}-charts"


def report_paths(scenario: str, directory: Path = COMPARISONS_DIR) -> list[Path]:
    """Where `write` puts a scenario's reports and a file of its chart folder (checked by the CLI before any work)."""
    charts = directory / chart_dir_name(scenario)
    return [directory / f"{scenario}.md", directory / f"{scenario}.html", charts / "categories.svg"]


def write(files: dict[str, str], directory: Path = COMPARISONS_DIR) -> list[Path]:
    """Write every file (each through a temporary file, so none is left half-written)."""
    written = []
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written
