"""Reading CSV and Parquet in bounded memory, and turning Arrow columns into what the profiles count.

The rest of the package imports this module (and pyarrow) only when Arrow data or files are used: numbers
already in memory as numpy arrays are handled by arrays.py without pyarrow.

Parquet is read batch by batch (`ParquetFile.iter_batches`), CSV with Arrow's streaming reader. CSV columns
are read as text and parsed by the monitor, so that a stray non-number in a numeric column becomes a
data-quality finding instead of an Arrow conversion error that would stop the stream.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from infra.runtime.drift.arrays import BATCH_ROWS

Format = Literal["parquet", "csv"]
FORMATS: dict[str, Format] = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
CSV_BLOCK_BYTES = 8 << 20
# Parquet is read through buffered streams without pre-buffering: ParquetFile's defaults read ahead the whole
# file (10M x 50 doubles peaked at 5 GB); this way the peak stays a few hundred MB, whatever the file or
# row-group size.
PARQUET_BUFFER_BYTES = 1 << 20


def source_format(name: str) -> Format | None:
    """The format of a file from its suffix (`.parquet`, `.pq`, `.csv`), or None."""
    suffix = Path(name).suffix.lower()
    return FORMATS.get(suffix)


def is_string(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def column_kind(t: pa.DataType) -> Literal["numeric", "categorical"] | None:
    """numeric for numbers; categorical for text, booleans and dictionaries; None for anything else."""
    if is_number(t):
        return "numeric"
    if is_string(t) or pa.types.is_boolean(t) or pa.types.is_dictionary(t):
        return "categorical"
    return None


def value_counts(strings: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """Counts of non-null values of a string column."""
    counted = pc.value_counts(strings)
    keys = counted.field("values").to_pylist()
    counts = counted.field("counts").to_pylist()
    return {k: c for k, c in zip(keys, counts, strict=True) if k is not None}


def to_float64(column: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.float64]:
    """A numeric or boolean column as float64 with NaN for nulls (zero-copy for float64 without nulls)."""
    if not pa.types.is_float64(column.type):
        column = pc.cast(column, pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def try_parse_numbers(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The text column parsed as float64 if every non-null value is a number, else None."""
    try:
        return pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def parse_numbers(column: pa.Array) -> tuple[npt.NDArray[np.float64], int]:
    """Text to float64, NaN for nulls and for values that are not numbers; returns (values, unparseable)."""
    try:
        return to_float64(pc.cast(column, pa.float64())), 0
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = np.full(len(column), np.nan)
    bad = 0
    for i, text in enumerate(column.to_pylist()):  # slow path, only for a batch that holds bad values
        if text is None:
            continue
        try:
            out[i] = float(text)
        except (TypeError, ValueError):
            bad += 1
    return out, bad


def csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def _csv_options(path: Path) -> tuple[pacsv.ReadOptions, pacsv.ConvertOptions]:
    names = csv_header(path)
    read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
    return read, convert


def read_csv_as_strings(path: Path) -> pa.Table:
    """A whole CSV file with every column as text (empty and NA-like cells are null)."""
    read, convert = _csv_options(path)
    return pacsv.read_csv(path, read_options=read, convert_options=convert)


def _open_parquet(path: Path) -> pq.ParquetFile:
    return pq.ParquetFile(path, buffer_size=PARQUET_BUFFER_BYTES, pre_buffer=False)


def parquet_columns(path: Path) -> Iterator[tuple[str, pa.ChunkedArray]]:
    """A Parquet file's columns, one at a time."""
    with _open_parquet(path) as pf:
        for name in pf.schema_arrow.names:
            yield name, pf.read(columns=[name]).column(0)


def iter_batches(path: Path, fmt: Format, *, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of a file, never the whole file in memory (CSV batches are all-text)."""
    if fmt == "parquet":
        with _open_parquet(path) as parquet:
            yield from parquet.iter_batches(batch_size=batch_rows)
        return
    if not csv_header(path):
        return
    read, convert = _csv_options(path)
    with pacsv.open_csv(path, read_options=read, convert_options=convert) as reader:
        yield from reader


def read_table(path: Path) -> tuple[pa.Table, bool]:
    """A whole CSV or Parquet file, and whether its columns are typed (False for CSV text)."""
    fmt = source_format(path.name)
    if fmt == "parquet":
        return pq.read_table(path), True
    return read_csv_as_strings(path), False
