"""Pricing catalog: every entry sourced and graded; `pricing refresh` against recorded Price List responses."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from infra.cli.main import app
from infra.cost.catalog import dump_catalog, load_catalog
from infra.cost.refresh import refresh

CATALOG = load_catalog()


def test_every_entry_has_region_unit_source_date_and_grade() -> None:
    for price_id, entry in CATALOG.prices.items():
        assert entry.region and entry.unit and entry.source, price_id
        dt.date.fromisoformat(entry.read)
        assert entry.grade in ("A", "B", "C", "UNSOURCED"), price_id
        if entry.price is None:
            assert entry.unsourced, f"{price_id}: only an UNSOURCED entry may lack a price"


def test_catalog_covers_the_notes_items() -> None:
    for price_id in ("aws.eks.cluster", "aws.ec2.m5.large", "aws.rds.mysql.db.t3.medium",
                     "aws.elasticache.cache.t3.micro", "gcp.vertex.training.n1-standard-4",
                     "gcp.vertex.prediction.n1-standard-4", "gcp.gcs.standard_storage", "gcp.vertex.pipelines.run",
                     "saas.wandb.teams.seat", "aws.sagemaker.mlflow.Small"):
        assert price_id in CATALOG.prices


def _product(sku: str, usd: str, unit: str = "Hrs", tiers: list[tuple[str, str]] | None = None) -> str:
    """A Price List product document in the documented GetProducts shape (FormatVersion aws_v1)."""
    dims = {f"{sku}.JRTCKXETXF.{i}": {"unit": unit, "beginRange": begin, "endRange": "Inf", "description": "",
                                       "appliesTo": [], "rateCode": f"{sku}.{i}", "pricePerUnit": {"USD": price}}
            for i, (begin, price) in enumerate(tiers or [("0", usd)])}
    return json.dumps({
        "product": {"productFamily": "ML Instance", "sku": sku, "attributes": {"regionCode": "us-east-1"}},
        "serviceCode": "AmazonSageMaker",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": sku,
                                                      "effectiveDate": "2026-11-01T00:00:00Z",
                                                      "priceDimensions": dims, "termAttributes": {}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })


def _params(price_id: str) -> dict[str, Any]:
    q = CATALOG.prices[price_id].aws
    assert q is not None
    return {"ServiceCode": q.service, "FormatVersion": "aws_v1",
            "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in q.filters.items()]}


def test_refresh_updates_from_recorded_responses_and_keeps_ambiguous_ones() -> None:
    small = CATALOG.model_copy(update={"prices": {k: CATALOG.prices[k] for k in (
        "aws.sagemaker.hosting.ml.m5.large", "aws.s3.put_requests", "aws.ec2.m5.large", "gcp.gcs.standard_storage")}})
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [_product("SKU1", "0.1210000000")]},
                          _params("aws.sagemaker.hosting.ml.m5.large"))
        # The API prices a request; the catalog's unit is 1k requests (scale 1000). Two pages.
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [], "NextToken": "t1"},
                          _params("aws.s3.put_requests"))
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [
            _product("SKU2", "", unit="Requests", tiers=[("0", "0.0000050000")])]},
            {**_params("aws.s3.put_requests"), "NextToken": "t1"})
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [
            _product("SKU3", "0.096"), _product("SKU4", "0.1")]}, _params("aws.ec2.m5.large"))
        new, results = refresh(small, client, today=dt.date(2027, 1, 2))
        stub.assert_no_pending_responses()
    by_id = {r.price_id: r for r in results}
    hosting = new.prices["aws.sagemaker.hosting.ml.m5.large"]
    assert hosting.price == Decimal("0.121") and hosting.grade == "A" and hosting.read == "2027-01-02"
    assert "SKU1" in hosting.source and by_id["aws.sagemaker.hosting.ml.m5.large"].status == "updated"
    assert new.prices["aws.s3.put_requests"].price == Decimal("0.005")
    assert by_id["aws.s3.put_requests"].status == "unchanged"
    assert new.prices["aws.ec2.m5.large"] == CATALOG.prices["aws.ec2.m5.large"]
    assert by_id["aws.ec2.m5.large"].status == "skipped" and "2 products" in by_id["aws.ec2.m5.large"].detail
    assert by_id["gcp.gcs.standard_storage"].status == "skipped"
    assert new.version == CATALOG.version + 1 and new.updated == "2027-01-02"


def test_first_tier_is_taken_from_tiered_prices() -> None:
    one = CATALOG.model_copy(update={"prices": {"aws.s3.standard_storage": CATALOG.prices["aws.s3.standard_storage"]}})
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [_product(
            "S3", "", unit="GB-Mo", tiers=[("512000", "0.021"), ("0", "0.024"), ("51200", "0.022")])]},
            _params("aws.s3.standard_storage"))
        new, _ = refresh(one, client, today=dt.date(2027, 1, 2))
    assert new.prices["aws.s3.standard_storage"].price == Decimal("0.024")


def test_dumped_catalog_loads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(dump_catalog(CATALOG), encoding="utf-8")
    assert load_catalog(path) == CATALOG


def test_refresh_without_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from botocore.exceptions import NoCredentialsError

    def no_credentials() -> Any:
        raise NoCredentialsError()

    monkeypatch.setattr("infra.cost.refresh.pricing_client", no_credentials)
    out = tmp_path / "c.yaml"
    result = CliRunner().invoke(app, ["pricing", "refresh", "--output", str(out)])
    assert result.exit_code == 2 and "Price List API" in result.output and not out.exists()


def test_bad_catalog_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nupdated: x\nprices:\n  a: {provider: aws, region: r, unit: h, price: 1, grade: D,"
                    " read: '2026-01-01', source: s}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["pricing", "show", "--catalog", str(path)])
    assert result.exit_code == 2 and "prices.a.grade" in result.output
