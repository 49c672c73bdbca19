"""The pipeline's Baseline step: profile the training data into the drift baseline of the new model version.

Run by SageMaker Processing in the runtime image:
`python3 -m infra.runtime.jobs.baseline --input DIR --output DIR [--output DIR ...] --model-name GROUP`.
Every CSV or Parquet file under --input is profiled together; `baseline.json` is written to each --output
(the pipeline uploads one to `baselines/<group>/<execution id>/`, versioned with the model, and one to
`baselines/<group>/current/`, the one the drift monitor reads).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa

from infra.runtime.drift import io
from infra.runtime.drift.baseline import Baseline, compute_baseline


def profile_directory(root: Path, *, model_name: str, model_version: str, exclude: list[str]) -> Baseline:
    files = sorted(p for p in root.rglob("*") if p.is_file() and io.source_format(p.name))
    if not files:
        raise SystemExit(f"baseline: no CSV or Parquet files under {root}")
    tables = [io.read_table(p) for p in files]
    typed = all(t for _, t in tables)
    if not typed:  # CSV is read as text: profile everything as text, parsed the way a CSV-only input would be
        tables = [(t.cast(pa.schema([(f.name, pa.string()) for f in t.schema])), False) for t, _ in tables]
    merged = pa.concat_tables([t for t, _ in tables], promote_options="permissive")
    keep = [c for c in merged.column_names if c not in exclude]
    return compute_baseline(merged.select(keep), model_name=model_name, model_version=model_version, typed=typed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, action="append", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--model-version", default="")
    parser.add_argument("--exclude", action="append", default=[], help="columns not profiled (ids, labels)")
    args = parser.parse_args(argv)
    baseline = profile_directory(args.input, model_name=args.model_name, model_version=args.model_version,
                                 exclude=args.exclude)
    for out in args.output:
        out.mkdir(parents=True, exist_ok=True)
        baseline.save(out / "baseline.json")
    print(f"baseline: {len(baseline.features)} features from {baseline.n_rows} rows -> "
          + ", ".join(str(o / "baseline.json") for o in args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
