"""Data-drift monitoring: a versioned baseline per model, one streaming comparison pass, a JSON report.

Library used by the drift Lambda (infra.runtime.handlers.drift_monitor), the `mlopsgen drift` command and the
benchmark against Evidently. See baseline.py (what is recorded), stats.py (how each statistic is computed from
counts, and its error bound), monitor.py (the pass) and config.py (methods, thresholds, rules).

Data: Arrow tables / record batches and CSV / Parquet files (io.py: the one reader ingestion and the Baseline
step use too, with the dataset schema's CSV dialect, dataset.py), or in-memory numpy columns by name
(arrays.py). Each column's role (roles.py) decides its test, or why it is not tested. Importing this package
does not import pyarrow (nor scipy): they are loaded on first use of Arrow data or files (resp. of a p-value
test), so a process comparing numpy arrays never pays for them.
"""

from infra.runtime.drift.arrays import BATCH_ROWS, array_batches
from infra.runtime.drift.baseline import (
    Baseline,
    CategoricalProfile,
    NumericProfile,
    baseline_from_file,
    baseline_key,
    compute_baseline,
    download_baseline,
    upload_baseline,
)
from infra.runtime.drift.config import (
    BaselineOptions,
    Correction,
    DriftConfig,
    FeatureOverride,
    Method,
    Rule,
    load_config,
    parse_config,
    parse_config_text,
)
from infra.runtime.drift.dataset import CsvDialect, DatasetSchema
from infra.runtime.drift.monitor import (
    DriftMonitor,
    compare,
    compare_files,
    compare_in_memory,
    evidently_baseline,
)
from infra.runtime.drift.report import DriftReport, FeatureResult, Finding, FindingKind, Severity, Status
from infra.runtime.drift.roles import Role

__all__ = [
    "BATCH_ROWS",
    "Baseline",
    "BaselineOptions",
    "CategoricalProfile",
    "Correction",
    "CsvDialect",
    "DatasetSchema",
    "DriftConfig",
    "DriftMonitor",
    "DriftReport",
    "FeatureOverride",
    "FeatureResult",
    "Finding",
    "FindingKind",
    "Method",
    "NumericProfile",
    "Role",
    "Rule",
    "Severity",
    "Status",
    "array_batches",
    "baseline_from_file",
    "baseline_key",
    "compare",
    "compare_files",
    "compare_in_memory",
    "compute_baseline",
    "download_baseline",
    "evidently_baseline",
    "load_config",
    "parse_config",
    "parse_config_text",
    "upload_baseline",
]
