"""`mlopsgen drift`: compare a current data file with a reference file, locally, with the Lambda's code.

Exit codes: 0 when the dataset was evaluated, whether or not drift is found: drift is a finding about the data,
not a failure of the command (scripts read `status` / `dataset_drift` from `--json`). 3 when nothing could be
tested (status `not evaluated`: a header-only current file, no column in common ...), so that a script never
reads "no drift" for want of data. 2 for bad input: a missing or unreadable file, a dataset schema or config that
does not parse or validate; the message names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import JustifyMethod
from rich.table import Table

from infra.cli.common import console, user_errors
from infra.errors import Problem, UserError
from infra.runtime.drift import io
from infra.runtime.drift.baseline import baseline_from_file
from infra.runtime.drift.config import DriftConfig, load_config
from infra.runtime.drift.dataset import CsvDialect, DatasetSchema
from infra.runtime.drift.monitor import DriftMonitor
from infra.runtime.drift.report import DriftReport, Severity, Status

ReferenceOpt = Annotated[
    Path, typer.Option("--reference", metavar="FILE", help="Reference data (.csv, .csv.gz or .parquet)")
]
CurrentOpt = Annotated[
    Path, typer.Option("--current", metavar="FILE", help="Current data to judge (.csv, .csv.gz or .parquet)")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", metavar="FILE", help="DriftConfig as JSON or YAML (methods, thresholds, rules)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the full report as JSON")]
SchemaOpt = Annotated[
    Path | None,
    typer.Option(
        "--schema", metavar="FILE", help="Dataset schema JSON: its `csv` section (delimiter, null tokens, encoding)"
    ),
]

NOT_EVALUATED_EXIT = 3
"""Exit code when no feature could be tested (report status `not evaluated`)."""

_SEVERITY_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)


def _check_data_file(path: Path, option: str, dialect: CsvDialect) -> None:
    """Exists, has a known suffix and its header/footer can be read (mid-file damage becomes a finding)."""
    if not path.is_file():
        raise UserError.single(str(path), "file not found", field=option)
    if io.source_format(path.name) is None:
        raise UserError.single(str(path), "expected a .csv, .tsv, .csv.gz or .parquet file", field=option)
    try:
        source = io.open_file(path, dialect)
    except io.UnreadableFile as exc:
        raise UserError.single(str(path), exc.reason, field=option) from None
    if not source.names:
        raise UserError.single(str(path), "empty CSV file (no header row)", field=option)


def _load_dialect(path: Path | None) -> CsvDialect:
    if path is None:
        return CsvDialect()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError.single(str(path), f"cannot read dataset schema: {exc}", field="--schema") from None
    try:
        return DatasetSchema.model_validate_json(text).csv
    except ValidationError as exc:
        raise UserError(
            [
                Problem(file=str(path), line=None, field=".".join(str(p) for p in e["loc"]) or "(root)",
                        message=e["msg"])
                for e in exc.errors()
            ]
        ) from None


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
            why = "; ".join(r.reasons)
            table.add_row(r.feature, f"[dim]not evaluated: {why}[/]", "", "", "", "", str(r.missing_current))
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
    if report.status is Status.NOT_EVALUATED:
        console.print(f"[bold yellow]NOT EVALUATED[/]: {'; '.join(report.reasons)}", highlight=False)
        return
    verdict = "[bold red]DRIFT[/]" if report.dataset_drift else "[green]no dataset drift[/]"
    console.print(
        f"{verdict}: {report.n_drifted} of {report.n_tested} tested features drifted "
        f"({report.drift_share:.0%}; the rule is >= {report.drift_share_threshold:.0%})",
        highlight=False,
    )


@user_errors
def drift(
    reference: ReferenceOpt,
    current: CurrentOpt,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    schema: SchemaOpt = None,
) -> None:
    """Compare CURRENT with REFERENCE (CSV or Parquet) per feature. Exit 0 whether or not drift is found, 3 when
    nothing could be tested (not evaluated), 2 for bad input."""
    dialect = _load_dialect(schema)
    _check_data_file(reference, "--reference", dialect)
    _check_data_file(current, "--current", dialect)
    cfg = load_config(config) if config is not None else DriftConfig()
    try:
        baseline = baseline_from_file(reference, options=cfg.baseline, dialect=dialect, declared=cfg.roles())
    except io.UnreadableFile as exc:
        raise UserError.single(str(reference), exc.reason, field="--reference") from None
    monitor = DriftMonitor(baseline, cfg, dialect=dialect)
    monitor.add_file(current)
    report = monitor.report()
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render(report)
    if report.status is Status.NOT_EVALUATED:
        raise typer.Exit(NOT_EVALUATED_EXIT)
