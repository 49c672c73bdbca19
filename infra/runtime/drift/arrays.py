"""In-memory columns as numpy arrays: the path of the monitor that needs neither pyarrow nor pandas.

Wherever a pyarrow table is accepted (`compute_baseline`, `DriftMonitor.update`, `compare_in_memory`,
`evidently_baseline`), a mapping of column name -> 1-D array is accepted too, e.g. the columns of a feature
matrix (`{name: matrix[:, j]}`) or of a DataFrame (`{name: df[name].to_numpy()}`). Integer and floating-point
arrays are profiled and counted directly, without a copy for float64 (other numeric dtypes are converted to
float64 one column, or one batch, at a time). Their type names are Arrow's ("double", "int64", ...), so a
baseline computed from numpy arrays equals the one computed from the same data in an Arrow table. Arrays of
other dtypes (booleans, strings, objects, dates) go through pyarrow, which is imported only then: the
modules of this package import pyarrow on first use of Arrow data or files, which saves ~45 MB of RSS (and
its import time) in a process that only has numbers in memory.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pyarrow as pa

    Column: TypeAlias = npt.NDArray[Any] | pa.Array | pa.ChunkedArray
    """One column: a 1-D numpy array, or an Arrow array."""
    Columns: TypeAlias = Mapping[str, npt.ArrayLike | pa.Array | pa.ChunkedArray]
    """In-memory columns by name, all of the same length."""

BATCH_ROWS = 65_536
"""Rows per batch when streaming files or slicing in-memory columns."""

_FLOAT_TYPE_NAMES = {"float16": "halffloat", "float32": "float", "float64": "double"}


def numeric_type_name(dtype: np.dtype[Any]) -> str | None:
    """Arrow's name of an integer or floating-point numpy dtype ("double" for float64), None for any other."""
    if dtype.kind in "iu":
        return dtype.name
    if dtype.kind == "f":
        return _FLOAT_TYPE_NAMES.get(dtype.name)
    return None


def _arrow() -> Any:
    """The pyarrow module if something imported it, else None. An object can only be an Arrow object when
    pyarrow is loaded, so this tells Arrow data from numpy data without importing pyarrow."""
    return sys.modules.get("pyarrow")


def is_arrow_table(obj: object) -> bool:
    """A pyarrow Table or RecordBatch."""
    pa = _arrow()
    return pa is not None and isinstance(obj, pa.Table | pa.RecordBatch)


def is_arrow_column(obj: object) -> bool:
    """A pyarrow Array or ChunkedArray."""
    pa = _arrow()
    return pa is not None and isinstance(obj, pa.Array | pa.ChunkedArray)


def is_chunked(obj: object) -> bool:
    pa = _arrow()
    return pa is not None and isinstance(obj, pa.ChunkedArray)


def as_column(name: str, values: Any) -> Column:
    """Arrow columns as they are; anything else as a 1-D numpy array (no copy when it is one already)."""
    if is_arrow_column(values):
        return values  # type: ignore[no-any-return]
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"column {name!r}: expected a 1-D array, got shape {array.shape}")
    return array


def as_columns(columns: Columns) -> tuple[dict[str, Column], int]:
    """In-memory columns checked to be 1-D and of one length, and that length."""
    out: dict[str, Column] = {}
    rows: int | None = None
    for name, values in columns.items():
        column = as_column(name, values)
        if rows is None:
            rows = len(column)
        elif len(column) != rows:
            raise ValueError(f"column {name!r} has {len(column)} rows where the columns before it have {rows}")
        out[name] = column
    return out, rows or 0


def array_batches(columns: Columns, batch_rows: int = BATCH_ROWS) -> Iterator[dict[str, Column]]:
    """In-memory columns in slices of `batch_rows` rows (views: nothing is copied), for `compare` or
    `DriftMonitor.update`. Slicing bounds the monitor's temporary arrays by the batch, not the data."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    checked, rows = as_columns(columns)
    for start in range(0, rows, batch_rows):
        yield {name: column[start : start + batch_rows] for name, column in checked.items()}


def to_arrow(values: npt.NDArray[Any]) -> pa.Array:
    """A numpy array as an Arrow array (pyarrow imported here). Raises pyarrow's errors for dtypes Arrow
    does not have (complex numbers, ...)."""
    import pyarrow as pa

    return pa.array(values)


def arrow_errors() -> tuple[type[Exception], ...]:
    """What `to_arrow` raises for a dtype Arrow cannot hold."""
    import pyarrow as pa

    return (pa.ArrowException, TypeError, ValueError)
