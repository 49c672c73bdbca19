"""`mlopsgen drift` on CSV and Parquet: table or JSON, exit 0 with or without drift, exit 2 for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.runtime.drift import DriftReport

runner = CliRunner()


def _table(n: int, seed: int, shift: float) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "amount": rng.lognormal(3 + shift, 0.4, n),
            "age": rng.normal(40, 8, n),
            "channel": rng.choice(["web", "app", "store"], n),
        }
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "ref.parquet": _table(3000, 0, 0.0),
        "ref.csv": _table(3000, 0, 0.0),
        "same.csv": _table(2000, 1, 0.0),
        "drifted.parquet": _table(2000, 2, 0.5),
    }
    out: dict[str, Path] = {}
    for name, table in paths.items():
        out[name] = tmp_path / name
        if name.endswith(".csv"):
            pacsv.write_csv(table, out[name])
        else:
            pq.write_table(table, out[name])
    return out


def test_json_report_on_parquet_and_csv(files: dict[str, Path]) -> None:
    drifted = runner.invoke(
        app, ["drift", "--reference", str(files["ref.csv"]), "--current", str(files["drifted.parquet"]), "--json"]
    )
    assert drifted.exit_code == 0, drifted.output
    report = DriftReport.model_validate_json(drifted.stdout)
    assert report.drifted_features == ["amount"] and report.rows == 2000 and not report.dataset_drift
    same = runner.invoke(
        app, ["drift", "--reference", str(files["ref.parquet"]), "--current", str(files["same.csv"]), "--json"]
    )
    assert same.exit_code == 0, same.output
    assert DriftReport.model_validate_json(same.stdout).drifted_features == []


def test_table_and_config(files: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "drift.yaml"
    config.write_text("drift_share: 0.3\nfeatures:\n  age:\n    method: psi\n")
    result = runner.invoke(
        app,
        [
            "drift",
            "--reference",
            str(files["ref.parquet"]),
            "--current",
            str(files["drifted.parquet"]),
            "--config",
            str(config),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "amount" in result.stdout and "wasserstein" in result.stdout and "psi" in result.stdout
    assert "DRIFT: 1 of 3 tested features drifted (33%; the rule is >= 30%)" in result.stdout


@pytest.mark.parametrize(
    ("case", "needles"),
    [
        ("missing-reference", ["nope.parquet", "--reference", "file not found"]),
        ("missing-current", ["nope.csv", "--current", "file not found"]),
        ("bad-suffix", ["data.xlsx", "--current", ".csv, .tsv, .csv.gz or .parquet"]),
        ("broken-parquet", ["broken.parquet", "--current", "cannot read parquet"]),
        ("config-field", ["drift.json:3: drift_share", "less than or equal to 1"]),
        ("config-unknown-method", ["drift.json:2: features.age.method"]),
        ("config-syntax", ["drift.json:2:", "not valid JSON"]),
        ("config-yaml", ["drift.json:5: features.age.threshold", "greater than 0"]),
        ("missing-config", ["absent.yaml", "cannot read config"]),
    ],
)
def test_bad_input_exits_2_naming_file_and_field(
    files: dict[str, Path], tmp_path: Path, case: str, needles: list[str]
) -> None:
    reference, current = files["ref.parquet"], files["same.csv"]
    extra: list[str] = []
    config = tmp_path / "drift.json"
    if case == "missing-reference":
        reference = tmp_path / "nope.parquet"
    elif case == "missing-current":
        current = tmp_path / "nope.csv"
    elif case == "bad-suffix":
        current = tmp_path / "data.xlsx"
        current.write_text("a,b\n1,2\n")
    elif case == "broken-parquet":
        current = tmp_path / "broken.parquet"
        current.write_bytes(b"not parquet at all")
    elif case == "config-field":
        config.write_text('{\n  "method": "ks",\n  "drift_share": 2\n}')
        extra = ["--config", str(config)]
    elif case == "config-unknown-method":
        config.write_text('{"features":\n  {"age": {"method": "magic"}}}')
        extra = ["--config", str(config)]
    elif case == "config-syntax":
        config.write_text('{"drift_share":\n ')
        extra = ["--config", str(config)]
    elif case == "config-yaml":  # YAML, the line of the bad value's key
        config.write_text("# drift settings\ndrift_share: 0.5\nfeatures:\n  age:\n    threshold: -1\n")
        extra = ["--config", str(config)]
    elif case == "missing-config":
        extra = ["--config", str(tmp_path / "absent.yaml")]
    result = runner.invoke(app, ["drift", "--reference", str(reference), "--current", str(current), *extra])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    for needle in needles:
        assert needle in message, (needle, message)
    assert "Traceback" not in result.output
