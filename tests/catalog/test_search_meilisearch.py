"""The Meilisearch backend: its document mapping, settings and filters are checked
always; its contract tests against a server run only when MEILISEARCH_URL is set."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from decimal import Decimal

import pytest

from catalog.search.documents import build_document
from catalog.search.meili import (
    category_path,
    filters,
    index_settings,
    price_bucket,
    to_document,
)
from catalog.search.query import SearchQuery

ROW = {
    "listing_id": uuid.UUID(int=7),
    "supplier_id": uuid.UUID(int=9),
    "supplier_name": "内蒙古诚信办公设备有限公司",
    "category_code": "A0201060102",
    "category_name": "激光打印机",
    "brand": "惠普",
    "brand_key": "惠普",
    "model": "LaserJet Pro M404dn",
    "model_norm": "laserjetprom404dn",
    "title": "惠普（HP）LaserJet Pro M404dn 黑白激光打印机",
    "price": Decimal("2399.00"),
    "unit": "台",
    "regions": [],
    "energy_saving": True,
    "attributes": {"打印速度": 38, "最大打印幅面": "A4"},
    "approved_at": dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC),
    "image_id": None,
}


def test_the_document_is_the_shared_mapping_in_json_types() -> None:
    document = build_document(ROW, {"惠普": ["hp", "hewlett-packard"]})
    doc = to_document(document)
    assert doc["id"] == str(uuid.UUID(int=7)) and doc["supplier_id"] == str(uuid.UUID(int=9))
    assert doc["price"] == 2399.0 and doc["approved_at"] == int(ROW["approved_at"].timestamp())
    assert doc["brand_aliases"] == ["hewlett-packard", "hp"]
    assert doc["category_path"] == ["A", "A02", "A0201", "A020106", "A02010601", "A0201060102"]
    assert doc["price_range"] == "1000-5000" and doc["regions_or_all"] == ["*"]
    assert "打印速度 38" in doc["attributes_text"] and "weighted" not in doc
    # The PostgreSQL row comes from the same document.
    row = document.as_row()
    assert row["model_norm"] == "laserjetprom404dn" and "brand_aliases" not in row
    assert "m404dn" in document.weighted["A"].split() and "hp" in document.weighted["A"].split()


def test_settings_declare_chinese_synonyms_filters_and_typos() -> None:
    settings = index_settings({"电脑": ["计算机"]}, {"得力": ["deli"]})
    assert settings.synonyms["电脑"] == ["计算机"]
    assert settings.synonyms["deli"] == ["得力"] and settings.synonyms["得力"] == ["deli"]
    assert {"category_path", "brand_key", "price", "regions_or_all", "energy_saving"} <= set(
        settings.filterable_attributes
    )
    assert settings.sortable_attributes == ["price", "approved_at"]
    assert settings.searchable_attributes[:2] == ["model", "model_norm"]
    assert settings.localized_attributes[0].locales == ["cmn"]
    assert settings.typo_tolerance.enabled
    assert "sort" in settings.ranking_rules and settings.ranking_rules[-1] == "approved_at:desc"


def test_filters_quote_every_value() -> None:
    query = SearchQuery(
        q="x",
        category="A0201",
        brand='deli" OR price > 0',
        price_min=Decimal("10"),
        price_max=Decimal("99.5"),
        region="150203",
        energy_saving=True,
    )
    out = filters(query)
    assert out[0] == 'category_path = "A0201"'
    assert (
        out[1] == '(brand_key = "deli\\" or price > 0" OR brand_aliases = "deli\\" or price > 0")'
    )
    assert "price >= 10" in out and "price <= 99.5" in out
    assert 'regions_or_all IN ["*", "15", "1502", "150203"]' in out
    assert "energy_saving = true" in out


def test_price_buckets_and_category_paths() -> None:
    assert price_bucket(Decimal("99.99")) == "0-100" and price_bucket(Decimal("20000")) == "20000-"
    assert category_path("A090101") == ["A", "A09", "A0901", "A090101"]


@pytest.mark.skipif(not os.environ.get("MEILISEARCH_URL"), reason="needs MEILISEARCH_URL")
async def test_contract_against_a_meilisearch_server() -> None:
    from meilisearch_python_sdk import AsyncClient

    from catalog.search.meili import MeilisearchSearch

    async def batches():
        yield [build_document(ROW, {"惠普": ["hp"]})]

    client = AsyncClient(os.environ["MEILISEARCH_URL"], os.environ.get("MEILISEARCH_API_KEY"))
    backend = MeilisearchSearch(client, f"test_{uuid.uuid4().hex[:8]}")
    try:
        assert await backend.rebuild(batches(), {}, {"惠普": ["hp"]}) == 1
        found = await backend.search(SearchQuery(q="M404dn"), {})
        assert found.total == 1 and found.hits[0].model == "LaserJet Pro M404dn"
        assert (await backend.search(SearchQuery(q="hp 激光打印机"), {})).total == 1
        filtered = await backend.search(SearchQuery(q="M404dn", price_max=Decimal("100")), {})
        assert filtered.total == 0
        await backend.delete([ROW["listing_id"]])
        assert (await backend.search(SearchQuery(q="M404dn"), {})).total == 0
    finally:
        await client.index(backend.uid).delete()
