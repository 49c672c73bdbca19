"""Drift monitor vs Evidently 0.7.23 DataDriftPreset: equal statistics, time, memory; and a 10M-row stream.

Run through benchmarks/run_drift_vs_evidently.sh (it installs Evidently into .venv-bench, never into the
project's venv).

Default mode (one run, each side in its own subprocess so that memory is measured separately):
- data: `--rows` x `--cols` numeric columns (normal, lognormal, uniform, gamma), reference and current from a
  seeded generator; in the current data every third column is shifted by 0.25 sd and every fifth (from the
  second) is scaled by 1.3. Both sides get the same float64 data from the same generator, one Fortran-ordered
  numpy matrix per input (each column contiguous), handed over without a copy: Evidently gets pandas
  DataFrames sharing the matrices, this project gets the matrices' columns as numpy views by name (its public
  in-memory API: compute_baseline / compare with array_batches), so neither pays a conversion the other avoids.
- time: compute only (imports and data generation excluded), best of `--repeat` runs. For this project both
  "baseline + compare" (what Evidently does: it starts from the raw reference; this is the speed target) and
  "compare" alone (the daily job: the baseline is computed once per model version and stored) are reported.
- memory: peak RSS of each worker process: VmHWM of a fresh Python process (getrusage's ru_maxrss would
  include the parent's size at fork), which includes the interpreter, the library's own imports, both inputs
  and the computation. The RSS after imports and after the data (VmRSS) is printed too, so the parts can be
  read. Each of this project's repeats drops the previous run's results first, so the peak is that of one
  run, as Evidently's (one run by default). pandas is hidden from this project's workers (it is installed
  here for Evidently only; the project does not depend on it, and pyarrow would import it if present).
- the same with the data at rest in Parquet (informational, not a target): Evidently reads both files into
  pandas, this project profiles the reference one column at a time and streams the current file (how each is
  deployed; reading Parquet needs pyarrow, ~45 MB of it imports).
- equivalence (a third subprocess with both libraries): Evidently with method psi, jensenshannon, wasserstein
  and ks against this project on the same bins (infra.runtime.drift.evidently_baseline: Sturges edges over
  reference + current, fine grid = every distinct value), the largest absolute difference per statistic,
  this project computing from the numpy columns (the path measured above); that every statistic is the same
  when the same data is given as Arrow tables; and the histogram error of the default streaming grid (2000
  reference-quantile bins) for Wasserstein and KS D against the exact values, with the error bounds the
  monitor reports.

Every target gets a PASS / FAIL line at the end, and the exit code is 1 when one is missed (targets that
were skipped with --skip-* are shown as NOT RUN).

Stream mode (`--stream-rows N --cols C`): writes N x C current rows to Parquet in a temporary directory in
chunks, a baseline from `--rows` reference rows, then streams the file through the monitor in a fresh
subprocess and prints its peak RSS (target < 1 GB, PASS / FAIL) and throughput.
"""

from __future__ import annotations

import argparse
import importlib.abc
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

KINDS = ("normal", "lognormal", "uniform", "gamma")
TARGET_SPEEDUP = 30.0
TARGET_MEMORY_RATIO = 0.25
TARGET_MAX_ABS_DIFF = 1e-6
TARGET_STREAM_BYTES = 1 << 30
BATCH_ROWS = 65_536  # rows per batch streamed through this project's monitor
HEAVY_MODULES = ("pyarrow", "scipy", "pandas")


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM). Not getrusage's ru_maxrss: on Linux that keeps the high-water mark
    from before exec, i.e. of the parent at fork time, which would charge the parent's memory to a worker."""
    return _status_mb("VmHWM")


def _current_rss_mb() -> float:
    return _status_mb("VmRSS")


class _HidePandas(importlib.abc.MetaPathFinder):
    """Makes `import pandas` fail, as it does where the project is deployed."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ImportError("pandas is hidden from this worker")
        return None


def column_name(j: int) -> str:
    return f"c{j}"


def fill_column(out: npt.NDArray[np.float64], j: int, seed: int, part: str, chunk: int = 0) -> None:
    """Deterministic values of column j (part: reference or current; chunk: for streamed generation)."""
    rng = np.random.default_rng([seed, 0 if part == "reference" else 1, j, chunk])
    n = out.shape[0]
    kind = KINDS[j % len(KINDS)]
    if kind == "normal":
        out[:] = rng.normal(0.0, 1.0, n)
    elif kind == "lognormal":
        out[:] = rng.lognormal(0.0, 0.5, n)
    elif kind == "uniform":
        out[:] = rng.uniform(0.0, 10.0, n)
    else:
        out[:] = rng.gamma(2.0, 2.0, n)
    if part == "current":
        if j % 3 == 0:
            out += 0.25 * float(np.std(out))
        if j % 5 == 1:
            out *= 1.3


def make_matrix(rows: int, cols: int, seed: int, part: str) -> npt.NDArray[np.float64]:
    """rows x cols, Fortran order: each column contiguous, shareable zero-copy with pandas and Arrow."""
    data = np.empty((rows, cols), dtype=np.float64, order="F")
    for j in range(cols):
        fill_column(data[:, j], j, seed, part)
    return data


def shifted_columns(cols: int) -> list[str]:
    return [column_name(j) for j in range(cols) if j % 3 == 0 or j % 5 == 1]


def to_columns(data: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """The matrix's columns by name, as views (no copy: the matrix is Fortran-ordered)."""
    return {column_name(j): data[:, j] for j in range(data.shape[1])}


def loaded_modules() -> list[str]:
    return [m for m in HEAVY_MODULES if m in sys.modules]


def to_arrow(data: npt.NDArray[np.float64]) -> Any:
    import pyarrow as pa

    return pa.table({column_name(j): pa.array(data[:, j]) for j in range(data.shape[1])})


def to_pandas(data: npt.NDArray[np.float64]) -> Any:
    import pandas as pd

    return pd.DataFrame(data, columns=[column_name(j) for j in range(data.shape[1])], copy=False)


def evidently_values(reference: Any, current: Any, method: str) -> dict[str, float]:
    """Per-column statistic of Evidently's DataDriftPreset (ValueDrift metrics)."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    kwargs = {"method": method} if method in ("psi", "jensenshannon") else {"num_method": method}
    snapshot = Report([DataDriftPreset(**kwargs)]).run(current_data=current, reference_data=reference)
    values: dict[str, float] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            values[config["column"]] = float(metric["value"])
    return values


# Workers (each in its own process) -------------------------------------------------------------------------


def worker_ours(args: argparse.Namespace) -> dict[str, Any]:
    from infra.runtime.drift import DriftConfig, array_batches, compare, compute_baseline
    from infra.runtime.drift.baseline import default_workers

    rss_imports = _current_rss_mb()
    reference = to_columns(make_matrix(args.rows, args.cols, args.seed, "reference"))
    current = to_columns(make_matrix(args.rows, args.cols, args.seed, "current"))
    config = DriftConfig(method=args.method)
    workers = args.workers or default_workers()
    rss_before = _current_rss_mb()
    baseline_s: list[float] = []
    compare_s: list[float] = []
    cpu_s: list[float] = []
    drifted: list[str] = []
    for _ in range(args.repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        baseline = compute_baseline(reference, workers=args.workers)
        t1 = time.perf_counter()
        report = compare(baseline, array_batches(current, BATCH_ROWS), config, workers=args.workers)
        t2 = time.perf_counter()
        cpu_s.append(time.process_time() - c0)
        baseline_s.append(t1 - t0)
        compare_s.append(t2 - t1)
        drifted = report.drifted_features
        del baseline, report  # the next run starts from the data alone, as one run would
    total = [b + c for b, c in zip(baseline_s, compare_s, strict=True)]
    return {
        "baseline_s": min(baseline_s),
        "compare_s": min(compare_s),
        "total_s": min(total),
        "total_all_s": total,
        "cpu_s": min(cpu_s),
        "workers": workers,
        "rss_imports_mb": rss_imports,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
        "modules": loaded_modules(),
        "drifted": drifted,
    }


def worker_evidently(args: argparse.Namespace) -> dict[str, Any]:
    import evidently
    from evidently import Report  # noqa: F401 - imported before the clock starts, like this project's modules
    from evidently.presets import DataDriftPreset  # noqa: F401

    rss_imports = _current_rss_mb()
    reference = to_pandas(make_matrix(args.rows, args.cols, args.seed, "reference"))
    current = to_pandas(make_matrix(args.rows, args.cols, args.seed, "current"))
    rss_before = _current_rss_mb()
    times: list[float] = []
    values: dict[str, float] = {}
    for _ in range(args.evidently_repeat):
        t0 = time.perf_counter()
        values = evidently_values(reference, current, args.method)
        times.append(time.perf_counter() - t0)
    threshold = 0.1 if args.method in ("psi", "jensenshannon", "wasserstein") else 0.05
    drifted = sorted(
        (c for c, v in values.items() if (v >= threshold if args.method != "ks" else v <= threshold)),
        key=lambda c: int(c[1:]),
    )
    return {
        "version": evidently.__version__,
        "compute_s": min(times),
        "compute_all_s": times,
        "rss_imports_mb": rss_imports,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
        "modules": loaded_modules(),
        "drifted": drifted,
    }


def _max_stat_diff(a: Any, b: Any) -> float:
    """Largest |difference| between two reports' statistics (inf if they do not have the same ones)."""
    diff = 0.0
    for fa, fb in zip(a.features, b.features, strict=True):
        if fa.feature != fb.feature or fa.stats.keys() != fb.stats.keys() or fa.drift != fb.drift:
            return float("inf")
        for key, value in fa.stats.items():
            diff = max(diff, abs(value - fb.stats[key]))
    return diff


def worker_equivalence(args: argparse.Namespace) -> dict[str, Any]:
    from scipy import stats as sps

    from infra.runtime.drift import DriftConfig, array_batches, compare, compute_baseline, evidently_baseline

    ref_np = make_matrix(args.rows, args.cols, args.seed, "reference")
    cur_np = make_matrix(args.rows, args.cols, args.seed, "current")
    ref_cols, cur_cols = to_columns(ref_np), to_columns(cur_np)
    ref_pa, cur_pa, ref_pd, cur_pd = to_arrow(ref_np), to_arrow(cur_np), to_pandas(ref_np), to_pandas(cur_np)
    # This project computes from the numpy columns, the path measured for speed and memory; the same data as
    # Arrow tables must give the same statistics.
    same_bins = evidently_baseline(ref_cols, cur_cols)
    same_bins_arrow = evidently_baseline(ref_pa, cur_pa)
    numpy_vs_arrow = 0.0 if same_bins.features == same_bins_arrow.features else float("inf")
    ours_stat = {"psi": "psi", "jensenshannon": "jensenshannon", "wasserstein": "wasserstein", "ks": "ks_p_value"}
    equal: dict[str, Any] = {}
    for method, key in ours_stat.items():
        theirs = evidently_values(ref_pd, cur_pd, method)
        config = DriftConfig(method=method)
        report = compare(same_bins, array_batches(cur_cols, BATCH_ROWS), config)
        from_arrow = compare(same_bins_arrow, cur_pa.to_batches(max_chunksize=BATCH_ROWS), config)
        numpy_vs_arrow = max(numpy_vs_arrow, _max_stat_diff(report, from_arrow))
        ours = {r.feature: r.stats[key] for r in report.features}
        diffs = [abs(ours[c] - theirs[c]) for c in theirs]
        threshold = 0.05 if method == "ks" else 0.1
        theirs_drift = {c for c, v in theirs.items() if (v <= threshold if method == "ks" else v >= threshold)}
        same = theirs_drift == set(report.drifted_features)
        equal[method] = {"max_abs_diff": max(diffs), "columns": len(diffs), "same_verdicts": same}
    # The default streaming grid (reference quantiles) against exact values.
    grid = compute_baseline(ref_cols)
    default = compare(grid, array_batches(cur_cols, BATCH_ROWS), DriftConfig(method="ks"))
    default_arrow = compare(
        compute_baseline(ref_pa), cur_pa.to_batches(max_chunksize=BATCH_ROWS), DriftConfig(method="ks")
    )
    numpy_vs_arrow = max(numpy_vs_arrow, _max_stat_diff(default, default_arrow))
    w_err, w_bound, d_err, d_bound, p_err = [], [], [], [], []
    for j, r in enumerate(default.features):
        ref_col, cur_col = ref_np[:, j], cur_np[:, j]
        exact_w = sps.wasserstein_distance(ref_col, cur_col) / max(float(np.std(ref_col)), 0.001)
        exact_ks = sps.ks_2samp(ref_col, cur_col)
        w_err.append(abs(r.stats["wasserstein"] - exact_w))
        w_bound.append(r.error_bounds["wasserstein"])
        d_err.append(abs(r.stats["ks_statistic"] - float(exact_ks.statistic)))
        d_bound.append(r.error_bounds["ks_statistic"])
        p_err.append(abs(r.stats["ks_p_value"] - float(exact_ks.pvalue)))
    return {
        "same_bins": equal,
        "numpy_vs_arrow_max_abs_diff": numpy_vs_arrow,
        "default_grid": {
            "fine_bins": grid.options.fine_bins,
            "wasserstein_max_abs_err": max(w_err),
            "wasserstein_max_bound": max(w_bound),
            "ks_statistic_max_abs_err": max(d_err),
            "ks_statistic_max_bound": max(d_bound),
            "ks_p_value_max_abs_err": max(p_err),
        },
    }


def worker_stream_compare(args: argparse.Namespace) -> dict[str, Any]:
    import infra.runtime.drift.io  # noqa: F401 - the file layer (pyarrow), imported before the clock
    from infra.runtime.drift import Baseline, DriftConfig, DriftMonitor

    baseline = Baseline.load(Path(args.baseline))
    rss_before = _current_rss_mb()
    t0 = time.perf_counter()
    monitor = DriftMonitor(baseline, DriftConfig())
    monitor.add_file(Path(args.data))
    report = monitor.report()
    elapsed = time.perf_counter() - t0
    return {
        "rows": report.rows,
        "compute_s": elapsed,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
        "drifted": report.drifted_features,
        "findings": [f.message for f in report.findings],
    }


def worker_ours_files(args: argparse.Namespace) -> dict[str, Any]:
    import infra.runtime.drift.io  # noqa: F401 - the file layer (pyarrow), imported before the clock
    from infra.runtime.drift import DriftConfig, DriftMonitor, baseline_from_file

    rss_before = _current_rss_mb()
    t0 = time.perf_counter()
    baseline = baseline_from_file(Path(args.reference_file))
    monitor = DriftMonitor(baseline, DriftConfig(method=args.method), workers=args.workers)
    monitor.add_file(Path(args.data))
    report = monitor.report()
    return {
        "compute_s": time.perf_counter() - t0,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
        "drifted": report.drifted_features,
    }


def worker_evidently_files(args: argparse.Namespace) -> dict[str, Any]:
    import evidently  # noqa: F401 - imported before the clock starts, like this project's modules
    import pandas as pd

    rss_before = _current_rss_mb()
    t0 = time.perf_counter()
    reference = pd.read_parquet(args.reference_file)
    current = pd.read_parquet(args.data)
    values = evidently_values(reference, current, args.method)
    return {
        "compute_s": time.perf_counter() - t0,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
        "columns": len(values),
    }


WORKERS = {
    "ours": worker_ours,
    "evidently": worker_evidently,
    "equivalence": worker_equivalence,
    "stream-compare": worker_stream_compare,
    "ours-files": worker_ours_files,
    "evidently-files": worker_evidently_files,
}


def run_worker(name: str, args: argparse.Namespace, *extra: str) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--rows",
        str(args.rows),
        "--cols",
        str(args.cols),
        "--seed",
        str(args.seed),
        "--repeat",
        str(args.repeat),
        "--evidently-repeat",
        str(args.evidently_repeat),
        "--method",
        args.method,
        *(["--workers", str(args.workers)] if args.workers else []),
        *extra,
    ]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"worker {name} failed with exit code {done.returncode}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# Modes -----------------------------------------------------------------------------------------------------


def target(results: dict[str, Any], name: str, passed: bool | None, detail: str) -> None:
    """Record one target; passed None means it was not run (a --skip-* option)."""
    results.setdefault("targets", []).append({"target": name, "passed": passed, "detail": detail})


def print_targets(results: dict[str, Any]) -> None:
    print("targets:")
    for row in results.get("targets", []):
        status = "NOT RUN" if row["passed"] is None else ("PASS" if row["passed"] else "FAIL")
        print(f"  {status:7s} {row['target']}: {row['detail']}", flush=True)


def _memory_line(who: str, row: dict[str, Any]) -> str:
    imports, before, peak = row["rss_imports_mb"], row["rss_before_mb"], row["peak_rss_mb"]
    absent = [m for m in HEAVY_MODULES if m not in row["modules"]]
    return (
        f"  {who:9s} peak {peak:4.0f} MB = imports {imports:.0f} MB + data {before - imports:.0f} MB "
        f"+ compute {peak - before:.0f} MB; loaded: {', '.join(row['modules']) or '-'}"
        f"{'; not loaded: ' + ', '.join(absent) if absent else ''}"
    )


def compare_mode(args: argparse.Namespace) -> dict[str, Any]:
    data_mb = 2 * args.rows * args.cols * 8 / 2**20
    print(
        f"data: {args.rows:,} rows x {args.cols} numeric columns, reference and current (seed {args.seed}); "
        f"shifted in current: {', '.join(shifted_columns(args.cols))}",
        flush=True,
    )
    ours = run_worker("ours", args)
    results: dict[str, Any] = {"ours": ours}
    print(
        f"mlopsgen  baseline+compare {ours['total_s']:.3f} s (baseline {ours['baseline_s']:.3f} s, "
        f"compare {ours['compare_s']:.3f} s; best of {args.repeat}; {ours['workers']} threads, "
        f"{ours['cpu_s']:.3f} s CPU); peak RSS {ours['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    if args.skip_evidently:
        target(results, f"speed >= {TARGET_SPEEDUP:.0f}x DataDriftPreset", None, "--skip-evidently")
        target(results, f"peak RSS <= {TARGET_MEMORY_RATIO} of DataDriftPreset's", None, "--skip-evidently")
    else:
        theirs = run_worker("evidently", args)
        print(
            f"evidently {theirs['version']} DataDriftPreset(method={args.method}) {theirs['compute_s']:.3f} s "
            f"(best of {args.evidently_repeat}); peak RSS {theirs['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        speedup_total = theirs["compute_s"] / ours["total_s"]
        speedup_compare = theirs["compute_s"] / ours["compare_s"]
        memory_ratio = ours["peak_rss_mb"] / theirs["peak_rss_mb"]
        print(
            f"speed (compute only, imports and data generation excluded): {speedup_total:.1f}x "
            f"(baseline+compare, the target), {speedup_compare:.1f}x (compare only, baseline stored)"
        )
        print(
            "memory: peak RSS = VmHWM of each worker, a fresh Python process holding its interpreter, its "
            f"library's own imports, the same two float64 inputs ({data_mb:.0f} MB; Evidently: pandas DataFrames, "
            "mlopsgen: numpy column views, both sharing the generated matrices) and the computation:"
        )
        print(_memory_line("mlopsgen", ours))
        print(_memory_line("evidently", theirs))
        print(f"  ratio {memory_ratio:.3f} ({ours['peak_rss_mb']:.0f} / {theirs['peak_rss_mb']:.0f} MB)")
        print(
            f"drifted by {args.method}: mlopsgen {', '.join(ours['drifted']) or '-'} (its recorded bins); "
            f"evidently {', '.join(theirs['drifted']) or '-'}",
            flush=True,
        )
        results.update(
            evidently=theirs,
            speedup_total=speedup_total,
            speedup_compare=speedup_compare,
            memory_ratio=memory_ratio,
        )
        target(
            results,
            f"speed >= {TARGET_SPEEDUP:.0f}x DataDriftPreset",
            speedup_total >= TARGET_SPEEDUP,
            f"{speedup_total:.1f}x (baseline+compare {ours['total_s']:.3f} s vs {theirs['compute_s']:.3f} s)",
        )
        target(
            results,
            f"peak RSS <= {TARGET_MEMORY_RATIO} of DataDriftPreset's",
            memory_ratio <= TARGET_MEMORY_RATIO,
            f"{memory_ratio:.3f} ({ours['peak_rss_mb']:.0f} MB vs {theirs['peak_rss_mb']:.0f} MB, in memory)",
        )
        results["files"] = files_comparison(args)
    name = f"statistics equal within {TARGET_MAX_ABS_DIFF:g} on the same data and bins"
    if args.skip_equivalence or args.skip_evidently:
        target(results, name, None, "--skip-equivalence" if args.skip_equivalence else "--skip-evidently")
        target(results, "numpy path = Arrow path", None, "equivalence not run")
        return results
    eq = run_worker("equivalence", args)
    print("equivalence on the same data and bins (largest |ours - evidently| over all columns):")
    for method, row in eq["same_bins"].items():
        print(
            f"  {method:14s} {row['max_abs_diff']:.3e}  ({row['columns']} columns; target <= {TARGET_MAX_ABS_DIFF:g}; "
            f"same drift verdicts: {row['same_verdicts']})"
        )
    g = eq["default_grid"]
    print(
        f"default streaming grid ({g['fine_bins']} reference-quantile bins) vs exact (scipy): "
        f"wasserstein err {g['wasserstein_max_abs_err']:.2e} (bound {g['wasserstein_max_bound']:.2e}), "
        f"KS D err {g['ks_statistic_max_abs_err']:.2e} (bound {g['ks_statistic_max_bound']:.2e}), "
        f"KS p err {g['ks_p_value_max_abs_err']:.2e}"
    )
    print(
        f"numpy columns vs the same data as Arrow tables: largest |difference| of any statistic "
        f"{eq['numpy_vs_arrow_max_abs_diff']:.3e}",
        flush=True,
    )
    results["equivalence"] = eq
    worst = max(eq["same_bins"].items(), key=lambda kv: kv[1]["max_abs_diff"])
    target(
        results,
        name,
        all(row["max_abs_diff"] <= TARGET_MAX_ABS_DIFF for row in eq["same_bins"].values()),
        f"largest {worst[1]['max_abs_diff']:.3e} ({worst[0]}; psi, jensenshannon, wasserstein, ks)",
    )
    target(
        results,
        "numpy path = Arrow path",
        eq["numpy_vs_arrow_max_abs_diff"] == 0.0,
        f"largest difference {eq['numpy_vs_arrow_max_abs_diff']:.3e}",
    )
    return results


def files_comparison(args: argparse.Namespace) -> dict[str, Any]:
    """The same data at rest in Parquet: each tool reads it the way it is deployed (Evidently into pandas;
    this project profiles the reference one column at a time and streams the current file). Informational:
    the issue's targets are on the in-memory comparison."""
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        paths = {part: Path(tmp) / f"{part}.parquet" for part in ("reference", "current")}
        for part, path in paths.items():
            pq.write_table(to_arrow(make_matrix(args.rows, args.cols, args.seed, part)), path, row_group_size=65_536)
        extra = ("--reference-file", str(paths["reference"]), "--data", str(paths["current"]))
        ours = run_worker("ours-files", args, *extra)
        theirs = run_worker("evidently-files", args, *extra)
    ratio = ours["peak_rss_mb"] / theirs["peak_rss_mb"]
    print(
        f"from Parquet files (informational): mlopsgen {ours['compute_s']:.3f} s, peak RSS "
        f"{ours['peak_rss_mb']:.0f} MB (imports {ours['rss_before_mb']:.0f} MB, with pyarrow); evidently "
        f"(pandas.read_parquet + preset) {theirs['compute_s']:.3f} s, peak RSS {theirs['peak_rss_mb']:.0f} MB "
        f"(imports {theirs['rss_before_mb']:.0f} MB); peak ratio {ratio:.3f}",
        flush=True,
    )
    return {"ours": ours, "evidently": theirs, "memory_ratio": ratio}


def stream_mode(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from infra.runtime.drift import compute_baseline

    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        data_path = Path(tmp) / "current.parquet"
        baseline_path = Path(tmp) / "baseline.json"
        reference = to_columns(make_matrix(args.rows, args.cols, args.seed, "reference"))
        compute_baseline(reference).save(baseline_path)
        del reference
        names = [column_name(j) for j in range(args.cols)]
        schema = pa.schema([(n, pa.float64()) for n in names])
        t0 = time.perf_counter()
        with pq.ParquetWriter(data_path, schema) as writer:
            for k, start in enumerate(range(0, args.stream_rows, args.chunk_rows)):
                rows = min(args.chunk_rows, args.stream_rows - start)
                chunk = np.empty((rows, args.cols), dtype=np.float64, order="F")
                for j in range(args.cols):
                    fill_column(chunk[:, j], j, args.seed, "current", chunk=k + 1)
                writer.write_table(to_arrow(chunk), row_group_size=args.row_group_rows)
        size_mb = data_path.stat().st_size / 2**20
        print(
            f"wrote {args.stream_rows:,} x {args.cols} current rows to Parquet ({size_mb:.0f} MB, "
            f"row groups of {args.row_group_rows:,}) in {time.perf_counter() - t0:.1f} s; "
            f"baseline from {args.rows:,} reference rows",
            flush=True,
        )
        out = run_worker("stream-compare", args, "--baseline", str(baseline_path), "--data", str(data_path))
    ok = out["peak_rss_mb"] * 2**20 < TARGET_STREAM_BYTES
    print(
        f"streamed {out['rows']:,} rows in {out['compute_s']:.1f} s "
        f"({out['rows'] * args.cols / out['compute_s'] / 1e6:.1f} M values/s); "
        f"peak RSS {out['peak_rss_mb']:.0f} MB (VmHWM of the worker process; before streaming "
        f"{out['rss_before_mb']:.0f} MB); drifted: {', '.join(out['drifted'])}",
        flush=True,
    )
    results: dict[str, Any] = {"stream": out, "under_1gb": ok}
    target(
        results,
        f"streaming {out['rows']:,} x {args.cols} from Parquet: peak RSS < 1 GB",
        ok,
        f"{out['peak_rss_mb']:.0f} MB",
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="reference (and current) rows")
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5, help="runs of this project's monitor (best is kept)")
    parser.add_argument("--evidently-repeat", type=int, default=1, help="runs of Evidently (best is kept)")
    parser.add_argument("--workers", type=int, default=None, help="threads of this project's monitor (default: CPUs)")
    parser.add_argument("--method", default="psi", choices=["psi", "jensenshannon", "wasserstein", "ks"])
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-equivalence", action="store_true")
    parser.add_argument("--stream-rows", type=int, default=0, help="stream mode: current rows in Parquet")
    parser.add_argument("--chunk-rows", type=int, default=500_000, help="stream mode: rows generated at once")
    parser.add_argument("--row-group-rows", type=int, default=131_072, help="stream mode: Parquet row groups")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--baseline", help=argparse.SUPPRESS)
    parser.add_argument("--reference-file", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if args.worker:
        if args.worker in ("ours", "ours-files", "stream-compare"):
            # pandas is in this venv for Evidently only; it is no dependency of the project, but pyarrow imports
            # it when present (+30 MB RSS). Hide it so this project's worker runs as it would be deployed.
            sys.meta_path.insert(0, _HidePandas())
        print(json.dumps(WORKERS[args.worker](args), default=float))
        return
    results = stream_mode(args) if args.stream_rows else compare_mode(args)
    print_targets(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2, default=float))
    if any(row["passed"] is False for row in results["targets"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
