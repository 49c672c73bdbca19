"""The pricing catalog: versioned list prices with region, unit, source, date read and a confidence grade.

The built-in catalog is ``catalog.yaml`` beside this module. Grades (from the project's pricing notes):
A = official documentation, source code or the AWS Price List API; B = a dated third-party table citing the
official page; C = secondary or conflicting; UNSOURCED = nothing found. An UNSOURCED entry either has no price
(a resource needing it is reported unpriced) or an assumed one, which every report flags.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.errors import UserError

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
Grade = Literal["A", "B", "C", "UNSOURCED"]


class AwsQuery(BaseModel):
    """How `mlopsgen pricing refresh` finds the entry in the AWS Price List API (GetProducts, TERM_MATCH)."""

    model_config = ConfigDict(extra="forbid")
    service: str = Field(description="Price List service code, e.g. AmazonSageMaker")
    filters: dict[str, str]
    scale: Decimal = Field(Decimal(1), description="Catalog units per API unit (1000 when the catalog is per 1k)")


class PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str
    region: str
    unit: str
    price: Decimal | None = Field(description="USD per unit; null when no number could be sourced")
    grade: Grade
    read: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Date the price was read")
    source: str
    aws: AwsQuery | None = None

    @property
    def unsourced(self) -> bool:
        return self.grade == "UNSOURCED"


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    updated: str
    currency: Literal["USD"] = "USD"
    prices: dict[str, PriceEntry]

    def get(self, price_id: str) -> PriceEntry | None:
        return self.prices.get(price_id)

    def with_price(self, price_id: str, price: Decimal) -> Catalog:
        """A copy with one price changed (sensitivity analysis); the source says it was changed."""
        entry = self.prices[price_id].model_copy(update={"price": price})
        return self.model_copy(update={"prices": {**self.prices, price_id: entry}})


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a catalog file (default: the built-in one). Raises UserError naming the entry."""
    path = path or CATALOG_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError.single(str(path), f"cannot read the pricing catalog: {exc}") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise UserError.single(str(path), err["msg"], field=".".join(str(p) for p in err["loc"])) from None


def dump_catalog(catalog: Catalog) -> str:
    """YAML text of a catalog, one entry per block, prices as plain numbers."""

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() and abs(value) >= 1 else float(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    data = plain(catalog.model_dump(mode="python", exclude_none=False))
    for entry in data["prices"].values():
        if entry.get("aws") is None:
            entry.pop("aws", None)
    header = (
        "# mlopsgen pricing catalog (see infra/cost/catalog.py for the grades). Written by `mlopsgen pricing "
        "refresh`.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, width=120)
