"""`mlopsgen pricing refresh`: update the catalog's AWS prices from the AWS Price List API (boto3 `pricing`).

For each entry with an ``aws`` query: GetProducts with TERM_MATCH filters; exactly one product must match; its
on-demand price dimension starting at 0 (the first tier) gives USD per API unit, times the entry's ``scale``.
An entry that matches no product, several products or has no USD price is left unchanged and reported, so a
refresh never silently replaces a price with a wrong one. Updated entries become grade A with the SKU as source.
The Price List API is served from us-east-1 (and ap-south-1) whatever the priced region is.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from infra.cost.catalog import Catalog, PriceEntry


@dataclass
class RefreshResult:
    price_id: str
    status: str  # "updated", "unchanged" or "skipped"
    old: Decimal | None
    new: Decimal | None
    detail: str


def pricing_client() -> Any:
    import boto3

    return boto3.client("pricing", region_name="us-east-1")


def _on_demand_usd(product: dict[str, Any]) -> tuple[Decimal, str] | None:
    """(USD per unit of the first tier, the dimension's unit) from a Price List product document."""
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        dimensions = list(term.get("priceDimensions", {}).values())
        dimensions.sort(key=lambda d: Decimal(d.get("beginRange", "0") or "0"))
        for dim in dimensions:
            usd = dim.get("pricePerUnit", {}).get("USD")
            if usd is not None:
                return Decimal(usd), str(dim.get("unit", ""))
    return None


def refresh_entry(client: Any, price_id: str, entry: PriceEntry, today: str) -> tuple[PriceEntry, RefreshResult]:
    assert entry.aws is not None
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in entry.aws.filters.items()]
    products: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ServiceCode": entry.aws.service, "Filters": filters, "FormatVersion": "aws_v1"}
    while True:
        page = client.get_products(**kwargs)
        products += [json.loads(p) if isinstance(p, str) else p for p in page.get("PriceList", [])]
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    if len(products) != 1:
        return entry, RefreshResult(price_id, "skipped", entry.price, None,
                                    f"{len(products)} products match the filters (need exactly one)")
    found = _on_demand_usd(products[0])
    if found is None:
        return entry, RefreshResult(price_id, "skipped", entry.price, None, "no on-demand USD price")
    usd, unit = found
    price = (usd * entry.aws.scale).normalize()
    sku = products[0].get("product", {}).get("sku", "?")
    updated = entry.model_copy(update={
        "price": price, "grade": "A", "read": today,
        "source": f"AWS Price List API: {entry.aws.service} SKU {sku} ({unit}, on-demand)",
    })
    status = "unchanged" if entry.price is not None and entry.price == price else "updated"
    return updated, RefreshResult(price_id, status, entry.price, price, f"SKU {sku}")


def refresh(catalog: Catalog, client: Any, today: dt.date | None = None) -> tuple[Catalog, list[RefreshResult]]:
    """A new catalog with every AWS-queryable entry refreshed; the results say what changed and what not."""
    stamp = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    prices = dict(catalog.prices)
    results: list[RefreshResult] = []
    for price_id, entry in catalog.prices.items():
        if entry.aws is None:
            results.append(RefreshResult(price_id, "skipped", entry.price, None, "no AWS Price List query"))
            continue
        prices[price_id], result = refresh_entry(client, price_id, entry, stamp)
        results.append(result)
    changed = any(r.status == "updated" for r in results)
    new = catalog.model_copy(update={
        "prices": prices, "updated": stamp, "version": catalog.version + 1 if changed else catalog.version,
    })
    return new, results
