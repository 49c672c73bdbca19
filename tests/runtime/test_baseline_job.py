"""The retraining pipeline's Baseline step (run by SageMaker Processing in the runtime image)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from infra.offline.simulation.data import DEFAULT_SCHEMA, synthetic_batch, to_csv
from infra.runtime.drift.baseline import Baseline
from infra.runtime.jobs import baseline as job


def test_profiles_every_file_under_input_into_each_output(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    (tmp_path / "in" / "dt=2026-11-01").mkdir(parents=True)
    day = to_csv(synthetic_batch(DEFAULT_SCHEMA, rng, 300, drifted=False))
    (tmp_path / "in" / "dt=2026-11-01" / "a.csv").write_bytes(day)
    pq.write_table(synthetic_batch(DEFAULT_SCHEMA, rng, 200, drifted=False), tmp_path / "in" / "b.parquet")
    outs = [tmp_path / "out" / "versioned", tmp_path / "out" / "current"]
    code = job.main(["--input", str(tmp_path / "in"), "--output", str(outs[0]), "--output", str(outs[1]),
                     "--model-name", "recommender", "--model-version", "4", "--exclude", "user_id"])
    assert code == 0
    first, second = (Baseline.load(o / "baseline.json") for o in outs)
    assert first.n_rows == 500 and first.model_version == "4" and first.model_name == "recommender"
    assert "user_id" not in first.features and {"basket_value", "device"} <= set(first.features)
    assert first.features == second.features


def test_empty_input_fails_the_step(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    with pytest.raises(SystemExit, match="no CSV or Parquet"):
        job.main(["--input", str(tmp_path / "in"), "--output", str(tmp_path / "o"), "--model-name", "m"])
