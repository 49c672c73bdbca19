"""What a column is, decided from the reference: the role picks the profile, the test, or why it is not tested.

Rules, in order (a role declared per column in DriftConfig, `features.<name>.role`, replaces them):

1. No values in the reference (all missing): not tested.
2. Booleans (Arrow `bool`; text whose values are all `true` / `false`, any case): boolean, tested like a
   category of two values.
3. Dates and times (Arrow date / timestamp / time types; text whose values all parse as ISO 8601 dates or
   date-times): datetime. Not tested: a later batch holds later dates, so the comparison would always show
   drift; test a derived feature (age, day of week) instead.
4. Numbers (integer, floating-point and decimal types; text whose values all parse as numbers): numeric, except
   integers that are all distinct over at least IDENTIFIER_MIN_VALUES values: identifier (row or entity ids).
5. Other text, over at least IDENTIFIER_MIN_VALUES values: free text when at least half of the values contain
   whitespace and at least TEXT_MIN_UNIQUE_SHARE of them are distinct (sentences, addresses); identifier when
   at least IDENTIFIER_MIN_UNIQUE_SHARE are distinct (codes, UUIDs, e-mails). Otherwise categorical.
6. Anything else (lists, structs, binary): not tested, unsupported type.

Identifier and free-text columns are not tested: almost every current value is new, so a distribution test
would always fire. The report says so, with the share of distinct values.

Roles depend on the reference's values, never on the storage type of the current data: float32 or float64,
int or float, dictionary or string, Parquet or CSV text, the role and the test stay the same.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


class Role(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    IDENTIFIER = "identifier"
    TEXT = "text"


TESTED_ROLES = frozenset({Role.NUMERIC, Role.CATEGORICAL, Role.BOOLEAN})

IDENTIFIER_MIN_VALUES = 100
"""Fewer reference values than this never make an identifier or free text (too few to tell)."""
IDENTIFIER_MIN_UNIQUE_SHARE = 0.95
TEXT_MIN_UNIQUE_SHARE = 0.5

UNTESTED_REASONS = {
    Role.DATETIME: "datetime column: later data holds later dates, so comparing values with the reference "
    "would always show drift; test a derived feature (age, weekday) instead",
    Role.IDENTIFIER: "identifier-like column: {share:.0%} of the {n} reference values are distinct, so a "
    "distribution test is meaningless",
    Role.TEXT: "free-text column: {share:.0%} of the {n} reference values are distinct and most contain "
    "spaces; text is not tested",
}


def untested_reason(role: Role, n: int = 0, n_unique: int = 0) -> str:
    """Why a column of this (untested) role is not tested; identifiers and text give their share unique."""
    return UNTESTED_REASONS[role].format(share=n_unique / n if n else 0.0, n=n)


def text_role(strings: pa.ChunkedArray) -> tuple[Role, int, int]:
    """The role of a text column that is not numbers (rules 2, 3 and 5), with its non-null and distinct counts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = strings.drop_null()
    n = len(values)
    distinct = pc.unique(values)
    n_unique = len(distinct)
    lowered = set(pc.utf8_lower(distinct).to_pylist())
    if lowered and lowered <= {"true", "false"}:
        return Role.BOOLEAN, n, n_unique
    if _all_datetimes(distinct):
        return Role.DATETIME, n, n_unique
    if n >= IDENTIFIER_MIN_VALUES:
        share = n_unique / n
        spaced = pc.sum(pc.match_substring_regex(values, r"\s").cast(pa.int64())).as_py() or 0
        if spaced * 2 >= n and share >= TEXT_MIN_UNIQUE_SHARE:
            return Role.TEXT, n, n_unique
        if share >= IDENTIFIER_MIN_UNIQUE_SHARE:
            return Role.IDENTIFIER, n, n_unique
    return Role.CATEGORICAL, n, n_unique


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"


def _all_datetimes(distinct: pa.Array) -> bool:
    """Every value is an ISO 8601 date or date-time that Arrow parses (so `2024-02-30` is not)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(distinct) == 0 or not pc.all(pc.match_substring_regex(distinct, _ISO_DATE)).as_py():
        return False
    for target in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
        try:
            pc.cast(distinct, target)
            return True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return False


def type_role(t: pa.DataType) -> Role | None:
    """The role given by an Arrow type alone, or None when the values decide (numbers and text)."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return type_role(t.value_type)
    if pa.types.is_boolean(t):
        return Role.BOOLEAN
    if pa.types.is_temporal(t) and not pa.types.is_duration(t):
        return Role.DATETIME
    return None
