"""Synthetic daily batches for the simulation: recommendation-model input features, with drift on demand."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from infra.runtime.handlers.ingestion import DatasetSchema

SCHEMA = DatasetSchema.model_validate({"columns": [
    {"name": "user_id", "type": "integer", "nullable": False},
    {"name": "user_age", "type": "integer", "nullable": True},
    {"name": "sessions_7d", "type": "integer", "nullable": False},
    {"name": "basket_value", "type": "float", "nullable": True},
    {"name": "days_since_last_purchase", "type": "integer", "nullable": True},
    {"name": "device", "type": "string", "nullable": False},
    {"name": "country", "type": "string", "nullable": False},
]})
DEVICES = ["mobile", "desktop", "tablet"]
COUNTRIES = ["FR", "DE", "ES", "IT", "NL"]


def daily_batch(rng: np.random.Generator, rows: int, *, drifted: bool) -> pa.Table:
    """One day of events. Drift: bigger baskets, more sessions, a mobile-heavy device mix."""
    age = np.clip(rng.normal(38, 11, rows), 18, 90).round().astype(np.int64)
    sessions = rng.poisson(6.0 if drifted else 4.0, rows).astype(np.int64)
    basket = rng.lognormal(np.log(60.0) + (0.35 if drifted else 0.0), 0.5, rows).round(2)
    recency = rng.geometric(1 / (12 if drifted else 20), rows).astype(np.int64)
    device_p = [0.8, 0.15, 0.05] if drifted else [0.55, 0.35, 0.10]
    return pa.table({
        "user_id": pa.array(rng.integers(1, 5_000_000, rows), pa.int64()),
        "user_age": pa.array(age),
        "sessions_7d": pa.array(sessions),
        "basket_value": pa.array(basket),
        "days_since_last_purchase": pa.array(recency),
        "device": pa.array(rng.choice(DEVICES, rows, p=device_p)),
        "country": pa.array(rng.choice(COUNTRIES, rows, p=[0.3, 0.25, 0.2, 0.15, 0.1])),
    })


def to_csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()
