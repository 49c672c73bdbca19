"""The dataset schema: the columns a dataset must have and how its CSV files are written.

One schema per dataset, stored as JSON at SCHEMA_KEY in the artifact bucket. Ingestion checks every landed
file against its columns; ingestion, the drift monitor, `mlopsgen drift --schema` and the pipeline's Baseline
step all read files with its `csv` dialect (infra.runtime.drift.io), so the same file gives the same rows and
values wherever it is read. Importing this module does not import pyarrow.
"""

from __future__ import annotations

import codecs
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DELIMITER_CANDIDATES = (",", ";", "\t", "|")
"""Delimiters recognised when the dialect does not declare one (the first one wins a tie)."""


class CsvDialect(BaseModel):
    """How a dataset's CSV files are written (RFC 4180 otherwise: `"` quotes, `""` escapes a quote inside a
    quoted field, which may hold delimiters and line breaks; CRLF or LF line ends).

    Missing values: a field is missing when it is empty (`,,` or `,"",`), or equal to one of `null_values`.
    Nothing else is: `NA` is North America, `null` a word, unless the schema says otherwise.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    delimiter: Annotated[str, Field(min_length=1, max_length=1)] | None = None
    """The field separator; None detects it from the start of each file among `DELIMITER_CANDIDATES` (the one
    that splits the header and the first records into the same number of fields, more than one)."""
    null_values: tuple[str, ...] = ()
    """Tokens read as missing in addition to the empty field, e.g. `["NA", "NULL"]` (matched exactly)."""
    encoding: str = "utf-8"
    """Text encoding (any Python codec name). A UTF-8 or UTF-16 byte-order mark overrides it."""
    quote_char: Annotated[str, Field(min_length=1, max_length=1)] = '"'

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _distinct_characters(self) -> Self:
        if self.delimiter is not None and self.delimiter in {self.quote_char, "\n", "\r"}:
            raise ValueError("the delimiter must differ from the quote character and from line breaks")
        if self.quote_char in {"\n", "\r"}:
            raise ValueError("the quote character cannot be a line break")
        return self


class ColumnType(StrEnum):
    """Logical column types; each accepts the Arrow types a writer may reasonably produce for it."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"  # integers and decimals are accepted too: they widen without loss of meaning
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"  # with or without a zone offset


class ColumnSpec(BaseModel):
    """One expected column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1)]
    type: ColumnType
    nullable: bool = True


class DatasetSchema(BaseModel):
    """The dataset's columns (JSON at SCHEMA_KEY), e.g.
    ``{"columns": [{"name": "user_id", "type": "integer", "nullable": false}, ...], "csv": {"delimiter": ";"}}``.

    Column order is not checked (Parquet writers and CSV exports reorder freely); names are case-sensitive.
    """

    model_config = ConfigDict(extra="forbid")

    columns: Annotated[list[ColumnSpec], Field(min_length=1)]
    allow_extra_columns: bool = False
    csv: CsvDialect = Field(default_factory=CsvDialect)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate column names: {duplicates}")
        return self

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)
