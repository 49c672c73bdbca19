"""Synthetic daily batches for the simulation, from a model's dataset schema, with drift on demand.

Every column's distribution is fixed by its name (a hash), so a model's data is the same for the same seed
whatever other models the stack has. Drift shifts numeric columns by most of a standard deviation and moves
categorical mass to the first category; id columns (`*_id`) never drift.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from infra.runtime.handlers.ingestion import ColumnSpec, ColumnType, DatasetSchema

# A model without a schema file gets this one (the recommender's columns).
DEFAULT_SCHEMA = DatasetSchema.model_validate({"columns": [
    {"name": "user_id", "type": "integer", "nullable": False},
    {"name": "user_age", "type": "integer", "nullable": True},
    {"name": "sessions_7d", "type": "integer", "nullable": False},
    {"name": "basket_value", "type": "float", "nullable": True},
    {"name": "days_since_last_purchase", "type": "integer", "nullable": True},
    {"name": "device", "type": "string", "nullable": False},
    {"name": "country", "type": "string", "nullable": False},
]})


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def _column(column: ColumnSpec, rng: np.random.Generator, rows: int, drifted: bool) -> pa.Array:
    h = _seed(column.name)
    if column.name.endswith("_id"):
        return pa.array(rng.integers(1, 5_000_000, rows), pa.int64())
    if column.type is ColumnType.INTEGER:
        lam = 3.0 + h % 40
        return pa.array(rng.poisson(lam * (1.6 if drifted else 1.0), rows).astype(np.int64))
    if column.type is ColumnType.FLOAT:
        mu = np.log(10.0 + h % 500)
        return pa.array(rng.lognormal(mu + (0.4 if drifted else 0.0), 0.5, rows).round(2))
    if column.type is ColumnType.BOOLEAN:
        return pa.array(rng.random(rows) < (0.55 if drifted else 0.3))
    if column.type is ColumnType.STRING:
        n = 3 + h % 4
        weights = np.arange(n, 0, -1, dtype=float)
        if drifted:
            weights[0] += weights.sum()
        return pa.array(rng.choice([f"{column.name}-{i}" for i in range(n)], rows, p=weights / weights.sum()))
    # dates and timestamps: the day's export time, constant
    return pa.array(np.full(rows, np.datetime64("2026-01-01T00:00:00", "ms")), pa.timestamp("ms", tz="UTC"))


def synthetic_batch(schema: DatasetSchema, rng: np.random.Generator, rows: int, *, drifted: bool) -> pa.Table:
    """One day of rows satisfying `schema` (no nulls)."""
    return pa.table({c.name: _column(c, rng, rows, drifted) for c in schema.columns})


def to_csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()
