"""The pipeline's Baseline step: profile the training data into the drift baseline of the new model version.

Run by SageMaker Processing in the runtime image:
`python3 -m infra.runtime.jobs.baseline --input DIR --output DIR [--output DIR ...] --model-name GROUP
[--schema dataset-schema.json] [--config drift-config.json]`.
Every data file under --input (CSV, gzip-compressed CSV, Parquet) is read with the dataset schema's CSV
dialect by the reader ingestion and the drift monitor use (infra.runtime.drift.io) and profiled together; the
drift config's declared roles and baseline options apply. `baseline.json` is written to each --output (the
pipeline uploads one to `baselines/<group>/<execution id>/`, versioned with the model, and one to
`baselines/<group>/current/`, the one the drift monitor reads).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa
from pydantic import ValidationError

from infra.runtime.drift import io
from infra.runtime.drift.baseline import Baseline, compute_baseline
from infra.runtime.drift.config import DriftConfig, load_config
from infra.runtime.drift.dataset import CsvDialect, DatasetSchema
from infra.runtime.errors import UserError


def profile_directory(
    root: Path,
    *,
    model_name: str,
    model_version: str,
    exclude: list[str],
    dialect: CsvDialect | None = None,
    config: DriftConfig | None = None,
) -> Baseline:
    cfg = config or DriftConfig()
    files = sorted(p for p in root.rglob("*") if p.is_file() and io.source_format(p.name))
    if not files:
        raise SystemExit(f"baseline: no CSV or Parquet files under {root}")
    try:
        sources = [io.open_file(p, dialect) for p in files]
        tables = [(s.read_table(), s.typed) for s in sources]
    except io.UnreadableFile as exc:
        raise SystemExit(f"baseline: {exc}") from None
    for source in sources:
        if source.malformed_rows:
            print(f"baseline: {source.path}: {source.malformed_rows} records left out: "
                  + "; ".join(source.malformed_examples), file=sys.stderr)
    typed = all(t for _, t in tables)
    if not typed:  # CSV is read as text: profile everything as text, parsed the way a CSV-only input would be
        tables = [(t.cast(pa.schema([(f.name, pa.string()) for f in t.schema])), False) for t, _ in tables]
    merged = pa.concat_tables([t for t, _ in tables], promote_options="permissive")
    keep = [c for c in merged.column_names if c not in exclude]
    return compute_baseline(merged.select(keep), model_name=model_name, model_version=model_version, typed=typed,
                            options=cfg.baseline, declared=cfg.roles())


def _dialect(path: Path | None) -> CsvDialect | None:
    if path is None:
        return None
    try:
        return DatasetSchema.model_validate_json(path.read_bytes()).csv
    except (OSError, ValidationError) as exc:
        raise SystemExit(f"baseline: invalid dataset schema {path}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, action="append", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--model-version", default="")
    parser.add_argument("--exclude", action="append", default=[], help="columns not profiled (ids, labels)")
    parser.add_argument("--schema", type=Path, help="dataset schema JSON (its `csv` dialect is used)")
    parser.add_argument("--config", type=Path, help="DriftConfig JSON or YAML (declared roles, baseline options)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config) if args.config else None
    except UserError as exc:
        raise SystemExit(f"baseline: {exc}") from None
    baseline = profile_directory(args.input, model_name=args.model_name, model_version=args.model_version,
                                 exclude=args.exclude, dialect=_dialect(args.schema), config=config)
    for out in args.output:
        out.mkdir(parents=True, exist_ok=True)
        baseline.save(out / "baseline.json")
    print(f"baseline: {len(baseline.features)} features from {baseline.n_rows} rows -> "
          + ", ".join(str(o / "baseline.json") for o in args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
