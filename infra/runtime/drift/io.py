"""The one reader of tabular files, used by ingestion, the drift monitor (Lambda and CLI) and the Baseline step.

Formats, from the name: `.csv` / `.tsv` (CSV), `.parquet` / `.pq` (Parquet), and CSV compressed with
gzip (`.csv.gz`, or any CSV whose bytes start with gzip's magic number). Everything is streamed: Parquet batch by
batch through a small buffer, CSV with Arrow's streaming reader, never the whole file in memory.

CSV is read per RFC 4180 by Arrow's reader, configured explicitly (`TabularFile`):
- quoted fields may hold delimiters, quotes (`""`) and line breaks, anywhere in the file, also across Arrow's
  read blocks; a record larger than a block is read by reopening the file with a larger block (up to
  MAX_BLOCK_BYTES) and skipping the records already read;
- a UTF-8 byte-order mark is skipped, UTF-16 files are recognised by theirs; other encodings are declared in
  the dataset schema (`csv.encoding`); text that is not valid in its encoding makes the file unreadable;
- the delimiter is the schema's, or detected from the first SNIFF_BYTES (`detect_delimiter`);
- missing values are the empty field and the schema's `csv.null_values`, nothing else (`NA` stays a value);
- every column is read as text: numbers are parsed by the caller (the monitor, ingestion's type check), so a
  stray non-number becomes a finding about that cell instead of an Arrow error that would stop the stream;
- a record with the wrong number of fields is skipped and counted (`TabularFile.malformed_rows`): callers
  report it, none is dropped silently.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from infra.runtime.drift.arrays import BATCH_ROWS
from infra.runtime.drift.dataset import DELIMITER_CANDIDATES, CsvDialect

Format = Literal["parquet", "csv"]
FORMATS: dict[str, Format] = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv"}
COMPRESSED: dict[str, str] = {".gz": "gzip"}
GZIP_MAGIC = b"\x1f\x8b"
CSV_BLOCK_BYTES = 8 << 20
MAX_BLOCK_BYTES = 1 << 30  # one record may not exceed this (Arrow's reader needs a record inside two blocks)
SNIFF_BYTES = 64 << 10
MALFORMED_EXAMPLES = 5
# Parquet is read through buffered streams without pre-buffering: ParquetFile's defaults read ahead the whole
# file (10M x 50 doubles peaked at 5 GB); this way the peak stays a few hundred MB, whatever the file or
# row-group size.
PARQUET_BUFFER_BYTES = 1 << 20
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class UnreadableFile(Exception):
    """A file that cannot be read at all (unknown format, damaged, wrong encoding); the message names it."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = str(path)
        self.reason = message


def source_format(name: str) -> Format | None:
    """The format of a file from its name (`.csv`, `.tsv`, `.parquet`, `.pq`, and `.csv.gz`, `.tsv.gz`), or
    None. Parquet compresses its own pages: a gzip-compressed Parquet file is not a supported format."""
    suffixes = [s.lower() for s in Path(name).suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes.pop()
        fmt = FORMATS.get(suffixes[-1]) if suffixes else None
        return fmt if fmt == "csv" else None
    return FORMATS.get(suffixes[-1]) if suffixes else None


def is_string(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


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


def category_strings(column: pa.Array | pa.ChunkedArray, *, boolean: bool = False) -> pa.Array | pa.ChunkedArray:
    """A column's values as the text categories are counted by, the same whatever the storage type:
    dictionaries are decoded, booleans are `true` / `false`, integer-valued floats are written as integers
    (`1.0` -> `1`, so int64 and float64 copies of a code agree). With `boolean` (a boolean column stored as
    text or numbers), `TRUE` / `False` / `1` / `0` are `true` / `false`; other text is lower-cased. Raises
    ArrowInvalid when the type has no text form."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = pc.cast(column, t.value_type)
        t = column.type
    if pa.types.is_floating(t):
        finite = pc.is_finite(column)
        integral = pc.equal(pc.floor(column), column)
        if pc.all(pc.or_kleene(pc.invert(finite), integral)).as_py() is not False:
            column = pc.cast(pc.if_else(finite, column, None), pa.int64())
            t = column.type
    if boolean and (is_number(t) or is_string(t)):
        # Arrow's spellings: true / false / 1 / 0 in any case; others stay text (lower-cased below), so they
        # are new categories, not errors.
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            column = pc.cast(column, pa.bool_())
        t = column.type
    if not is_string(t):
        column = pc.cast(column, pa.string())
    if boolean:
        column = pc.utf8_lower(column)
    return column


# Reading files ----------------------------------------------------------------------------------------------


def _open_parquet(path: Path) -> pq.ParquetFile:
    return pq.ParquetFile(path, buffer_size=PARQUET_BUFFER_BYTES, pre_buffer=False)


def parquet_columns(path: Path) -> Iterator[tuple[str, pa.ChunkedArray]]:
    """A Parquet file's columns, one at a time."""
    with _open_parquet(path) as pf:
        for name in pf.schema_arrow.names:
            yield name, pf.read(columns=[name]).column(0)


def detect_delimiter(sample: str, quote_char: str = '"', *, complete: bool = False) -> str:
    """The delimiter among DELIMITER_CANDIDATES that splits the header and the records of `sample` (the start of
    a file) into the same number of fields, the most fields winning; `,` when none splits the header.

    The records are parsed with quoting (a quoted `;` does not count). Unless `complete` (the sample is the
    whole file), the last record is left out: it may be cut.
    """
    best, best_score = ",", (0.0, 1)
    for candidate in DELIMITER_CANDIDATES:
        records: list[list[str]] = []
        cut = not complete
        try:
            for record in csv.reader(io.StringIO(sample), delimiter=candidate, quotechar=quote_char):
                if record:
                    records.append(record)
        except csv.Error:  # the sample ends inside a quoted field: the records before it count
            cut = True
        if cut and len(records) > 1:
            records = records[:-1]
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        score = (sum(len(r) == width for r in records) / len(records), width)
        if score > best_score:
            best, best_score = candidate, score
    return best


@dataclass
class TabularFile:
    """One file opened for reading: its format, column names and how its CSV is read.

    Opening reads only the Parquet footer or the first SNIFF_BYTES of a CSV; `batches()` streams the rows.
    Raises UnreadableFile (naming the file) for an unknown format, a damaged Parquet footer, or CSV text that is
    not valid in its encoding. `names` is empty for an empty CSV file (no header row).
    """

    path: Path
    dialect: CsvDialect = field(default_factory=CsvDialect)
    batch_rows: int = BATCH_ROWS
    fmt: Format | None = None
    """The format when the file's name does not tell it (a download under a temporary name)."""
    format: Format = field(init=False)
    names: list[str] = field(init=False, default_factory=list)
    delimiter: str = field(init=False, default=",")
    encoding: str = field(init=False, default="utf-8")
    compression: str | None = field(init=False, default=None)
    malformed_rows: int = field(init=False, default=0)
    malformed_examples: list[str] = field(init=False, default_factory=list)
    schema: pa.Schema | None = field(init=False, default=None)
    """The Arrow schema of a Parquet file (None for CSV, whose columns are all text)."""

    def __post_init__(self) -> None:
        fmt = self.fmt or source_format(self.path.name)
        if fmt is None:
            raise UnreadableFile(self.path, "not a .csv, .tsv, .csv.gz, .parquet or .pq file")
        self.format = fmt
        try:
            if fmt == "parquet":
                with _open_parquet(self.path) as pf:
                    self.schema = pf.schema_arrow
                    self.names = list(self.schema.names)
                return
            self._sniff()
        except (pa.ArrowException, OSError, EOFError, csv.Error) as exc:
            raise UnreadableFile(self.path, f"cannot read {fmt}: {exc}") from None

    @property
    def typed(self) -> bool:
        """Whether the columns carry their own types (Parquet); CSV columns are text."""
        return self.format == "parquet"

    def _stream(self) -> Any:
        if self.compression:
            return pa.CompressedInputStream(pa.OSFile(str(self.path)), self.compression)
        return pa.OSFile(str(self.path))

    def _sniff(self) -> None:
        with self.path.open("rb") as raw:
            self.compression = "gzip" if raw.read(2) == GZIP_MAGIC else None
        with self._stream() as stream:
            head = stream.read(SNIFF_BYTES + 1)
        complete = len(head) <= SNIFF_BYTES
        head = head[:SNIFF_BYTES]
        encoding = self.dialect.encoding
        for bom, name in _BOMS:
            if head.startswith(bom):
                encoding = name
                break
        self.encoding = codecs.lookup(encoding).name
        try:
            text = codecs.getincrementaldecoder(self.encoding)().decode(head, final=complete)
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                self.path,
                f"not {self.encoding} text (byte {exc.start} of the file); declare the file's encoding in the "
                "dataset schema (csv.encoding)",
            ) from None
        text = text.removeprefix("\ufeff")
        self.delimiter = self.dialect.delimiter or detect_delimiter(text, self.dialect.quote_char, complete=complete)
        header = next(csv.reader(io.StringIO(text), delimiter=self.delimiter, quotechar=self.dialect.quote_char), [])
        self.names = [] if header in ([], [""]) else header

    def _csv_options(self, block: int, skip: int) -> dict[str, Any]:
        def invalid(row: Any) -> str:
            self.malformed_rows += 1
            if len(self.malformed_examples) < MALFORMED_EXAMPLES:
                self.malformed_examples.append(
                    f"record {self.malformed_rows}: {row.actual_columns} fields where the header has "
                    f"{row.expected_columns}: {row.text[:80]!r}"
                )
            return "skip"

        return {
            "read_options": pacsv.ReadOptions(
                block_size=block,
                encoding="utf8" if self.encoding == "utf-8" else self.encoding,
                skip_rows_after_names=skip,
            ),
            "parse_options": pacsv.ParseOptions(
                delimiter=self.delimiter,
                quote_char=self.dialect.quote_char,
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                invalid_row_handler=invalid,
            ),
            "convert_options": pacsv.ConvertOptions(
                column_types=dict.fromkeys(self.names, pa.string()),
                null_values=["", *self.dialect.null_values],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        }

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows as record batches (CSV: every column text). Raises UnreadableFile when the file stops
        being readable part-way (the batches before it were yielded)."""
        if self.format == "parquet":
            try:
                with _open_parquet(self.path) as parquet:
                    yield from parquet.iter_batches(batch_size=self.batch_rows)
            except (pa.ArrowException, OSError) as exc:
                raise UnreadableFile(self.path, f"cannot read parquet: {exc}") from None
            return
        if not self.names:
            return
        block, records = CSV_BLOCK_BYTES, 0
        while True:
            skipped_before = self.malformed_rows
            try:
                with pacsv.open_csv(self._stream(), **self._csv_options(block, records)) as reader:
                    if any(not is_string(f.type) for f in reader.schema):
                        raise UnreadableFile(self.path, "the header could not be matched to the columns")
                    for batch in reader:
                        records += batch.num_rows
                        yield batch
                return
            except pa.ArrowInvalid as exc:
                if "straddling" in str(exc) and block < MAX_BLOCK_BYTES:
                    # A record longer than a block: read on with a larger one, after the records already read.
                    block *= 4
                    records += self.malformed_rows - skipped_before
                    continue
                raise UnreadableFile(self.path, _csv_error(exc, self.encoding)) from None
            except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
                raise UnreadableFile(self.path, f"cannot read csv: {exc}") from None

    def read_table(self) -> pa.Table:
        """The whole file as one table (for references that are profiled in memory)."""
        batches = list(self.batches())
        if batches:
            return pa.Table.from_batches(batches)
        if self.schema is not None:
            return self.schema.empty_table()
        return pa.table({n: pa.array([], pa.string()) for n in dict.fromkeys(self.names)})


def _csv_error(exc: Exception, encoding: str) -> str:
    message = str(exc)
    if "invalid UTF8" in message:
        return f"not {encoding} text; declare the file's encoding in the dataset schema (csv.encoding)"
    return f"cannot read csv: {message}"


def open_file(
    path: Path, dialect: CsvDialect | None = None, *, fmt: Format | None = None, batch_rows: int = BATCH_ROWS
) -> TabularFile:
    """Open a data file with the dataset's CSV dialect (default: detected delimiter, only empty fields missing);
    `fmt` when the name does not tell the format. Raises UnreadableFile."""
    return TabularFile(path, dialect or CsvDialect(), batch_rows, fmt)

