"""`mlopsgen drift`: compare a current data file with a reference file, locally, with the Lambda's code.

Exit code 0 whether or not drift is found: drift is a finding about the data, not a failure of the command
(scripts read `dataset_drift` from `--json`). Exit code 2 for bad input: a missing or unreadable file, or a
config that does not parse or validate; the message names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import JustifyMethod
from rich.table import Table

from infra.cli.common import console, user_errors
from infra.errors import UserError
from infra.runtime.drift import io
from infra.runtime.drift.baseline import baseline_from_file
from infra.runtime.drift.config import DriftConfig, load_config
from infra.runtime.drift.monitor import DriftMonitor
from infra.runtime.drift.report import DriftReport, Severity

ReferenceOpt = Annotated[Path, typer.Option("--reference", metavar="FILE", help="Reference data (.csv or .parquet)")]
CurrentOpt = Annotated[
    Path, typer.Option("--current", metavar="FILE", help="Current data to judge (.csv or .parquet)")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", metavar="FILE", help="DriftConfig as JSON or YAML (methods, thresholds, rules)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the full report as JSON")]

_SEVERITY_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)


def _check_data_file(path: Path, option: str) -> None:
    """Exists, has a known suffix and its header/footer can be read (mid-file damage becomes a finding)."""
    if not path.is_file():
        raise UserError.single(str(path), "file not found", field=option)
    fmt = io.source_format(path.name)
    if fmt is None:
        raise UserError.single(str(path), "expected a .csv or .parquet file", field=option)
    try:
        if fmt == "parquet":
            pq.ParquetFile(path).schema_arrow  # noqa: B018 - reading the footer is the check
        elif not io.csv_header(path):
            raise UserError.single(str(path), "empty CSV file (no header row)", field=option)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise UserError.single(str(path), f"cannot read {fmt}: {exc}", field=option) from None


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def render(report: DriftReport) -> None:
    """A table per feature, the findings, and the verdict."""
    table = Table(title=f"Drift: {report.rows} current rows, {report.n_tested}/{report.n_features} features tested")
    columns: list[tuple[str, JustifyMethod]] = [
        ("feature", "left"),
        ("test", "left"),
        ("value", "right"),
        ("threshold", "right"),
        ("drift", "center"),
        ("psi", "right"),
        ("missing", "right"),
    ]
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")
    for r in report.features:
        if not r.tested:
            table.add_row(r.feature, "[dim]not tested[/]", "", "", "", "", str(r.missing_current))
            continue
        value = r.adjusted_p_value if r.adjusted_p_value is not None else r.value
        table.add_row(
            r.feature,
            r.statistic or "",
            _fmt(value),
            _fmt(r.threshold),
            "[bold red]yes[/]" if r.drift else "[green]no[/]",
            _fmt(r.stats.get("psi")),
            str(r.missing_current),
        )
    console.print(table)
    for f in report.findings:
        style = _SEVERITY_STYLE[f.severity]
        where = f"{f.feature}: " if f.feature else ""
        console.print(f"[{style}]{f.severity.value}[/] {f.kind.value}: {where}{f.message}", highlight=False)
    verdict = "[bold red]DRIFT[/]" if report.dataset_drift else "[green]no dataset drift[/]"
    console.print(
        f"{verdict}: {report.n_drifted} of {report.n_tested} tested features drifted "
        f"({report.drift_share:.0%}; the rule is >= {report.drift_share_threshold:.0%})",
        highlight=False,
    )


@user_errors
def drift(reference: ReferenceOpt, current: CurrentOpt, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Compare CURRENT with REFERENCE (CSV or Parquet) per feature; exit 0 whether or not drift is found."""
    _check_data_file(reference, "--reference")
    _check_data_file(current, "--current")
    cfg = load_config(config) if config is not None else DriftConfig()
    try:
        baseline = baseline_from_file(reference, options=cfg.baseline)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise UserError.single(str(reference), f"cannot read: {exc}", field="--reference") from None
    if not baseline.features:
        reasons = "; ".join(f"{k}: {v}" for k, v in baseline.skipped.items()) or "no columns"
        raise UserError.single(str(reference), f"no column can be profiled ({reasons})", field="--reference")
    monitor = DriftMonitor(baseline, cfg)
    monitor.add_file(current)
    report = monitor.report()
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    render(report)
