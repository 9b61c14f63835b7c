"""The Meilisearch search backend, used when ``MEILISEARCH_URL`` is set.

Documents come from the same mapping as PostgreSQL's (``Document``), with a
few fields Meilisearch filters on: the category's ancestors, the price
bucket, and the delivery regions (``*`` for everywhere). Chinese text is
declared with ``localizedAttributes`` (cmn) so Meilisearch segments it;
brand aliases and operator synonyms become index synonyms. A full reindex
fills a second index and swaps the two, so searches never see a half-built
index.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.models.settings import (
    LocalizedAttributes,
    MeilisearchSettings,
    MinWordSizeForTypos,
    TypoTolerance,
)

from catalog.search.documents import Document
from catalog.search.query import (
    PRICE_RANGES,
    FacetValue,
    Hit,
    SearchQuery,
    SearchResult,
    price_range_label,
)

SORTS = {
    "relevance": None,
    "price_asc": ["price:asc"],
    "price_desc": ["price:desc"],
    "newest": ["approved_at:desc"],
}
TASK_TIMEOUT_MS = 120_000


def price_bucket(price: Decimal) -> str:
    for low, high in PRICE_RANGES:
        if price >= low and (high is None or price < high):
            return price_range_label(low, high)
    return price_range_label(*PRICE_RANGES[-1])


def category_path(code: str) -> list[str]:
    """A02010104 → [A, A02, A0201, A020101, A02010104]: filter on any ancestor."""
    return [code[:1], *(code[:n] for n in range(3, len(code) + 1, 2))]


def to_document(document: Document) -> dict[str, Any]:
    doc = document.as_meilisearch()
    doc["category_path"] = category_path(document.category_code)
    doc["price_range"] = price_bucket(document.price)
    doc["regions_or_all"] = document.regions or ["*"]
    return doc


def index_settings(
    synonyms: Mapping[str, Sequence[str]], aliases: Mapping[str, Sequence[str]]
) -> MeilisearchSettings:
    """Searchable, filterable, sortable attributes, ranking, synonyms, typos, Chinese."""
    merged: dict[str, set[str]] = {k: set(v) for k, v in synonyms.items()}
    for canonical, names in aliases.items():
        group = {canonical, *names}
        for name in group:
            merged.setdefault(name, set()).update(group - {name})
    return MeilisearchSettings(
        searchable_attributes=[
            "model",
            "model_norm",
            "brand",
            "brand_key",
            "brand_aliases",
            "title",
            "category_name",
            "attributes_text",
        ],
        filterable_attributes=[
            "category_code",
            "category_path",
            "brand_key",
            "brand_aliases",
            "price",
            "price_range",
            "regions_or_all",
            "energy_saving",
            "supplier_id",
        ],
        sortable_attributes=["price", "approved_at"],
        displayed_attributes=["*"],
        ranking_rules=[
            "words",
            "typo",
            "proximity",
            "attribute",
            "sort",
            "exactness",
            "approved_at:desc",
        ],
        synonyms={k: sorted(v) for k, v in sorted(merged.items())},
        typo_tolerance=TypoTolerance(
            enabled=True,
            min_word_size_for_typos=MinWordSizeForTypos(one_typo=4, two_typos=8),
        ),
        localized_attributes=[
            LocalizedAttributes(
                locales=["cmn"],
                attribute_patterns=["title", "category_name", "attributes_text", "brand"],
            )
        ],
    )


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def filters(query: SearchQuery) -> list[str]:
    """The query's filters in Meilisearch's filter syntax (values JSON-quoted)."""
    out = []
    if query.category:
        out.append(f"category_path = {_quoted(query.category)}")
    if query.brand:
        brand = _quoted(query.brand.strip().lower())
        out.append(f"(brand_key = {brand} OR brand_aliases = {brand})")
    if query.price_min is not None:
        out.append(f"price >= {query.price_min}")
    if query.price_max is not None:
        out.append(f"price <= {query.price_max}")
    if query.region:
        covering = ["*", *(query.region[:n] for n in range(2, len(query.region) + 1, 2))]
        out.append(f"regions_or_all IN [{', '.join(_quoted(c) for c in covering)}]")
    if query.energy_saving is not None:
        out.append(f"energy_saving = {'true' if query.energy_saving else 'false'}")
    return out


class MeilisearchSearch:
    """``SearchBackend`` on Meilisearch (the async SDK)."""

    name = "meilisearch"

    def __init__(self, client: AsyncClient, index_uid: str = "listings") -> None:
        self.client = client
        self.uid = index_uid

    async def _wait(self, task: Any) -> None:
        result = await self.client.wait_for_task(
            task.task_uid, timeout_in_ms=TASK_TIMEOUT_MS, raise_for_status=True
        )
        if getattr(result, "status", "succeeded") != "succeeded":
            raise RuntimeError(f"meilisearch task {task.task_uid} ended {result.status}")

    async def ensure_index(
        self,
        synonyms: Mapping[str, Sequence[str]],
        aliases: Mapping[str, Sequence[str]],
        uid: str | None = None,
    ) -> None:
        uid = uid or self.uid
        if await self._exists(uid):
            index = self.client.index(uid)
        else:
            index = await self.client.create_index(uid, primary_key="id", wait=True)
        await self._wait(await index.update_settings(index_settings(synonyms, aliases)))

    async def _exists(self, uid: str) -> bool:
        try:
            await self.client.get_index(uid)
        except Exception:
            return False
        return True

    async def search(self, query: SearchQuery, synonyms: dict[str, list[str]]) -> SearchResult:
        result = await self._search(query, "all")
        if result.total == 0 and query.q.strip():
            result = await self._search(query, "last")
            result.relaxed = True
        return result

    async def _search(self, query: SearchQuery, strategy: Any) -> SearchResult:
        found = await self.client.index(self.uid).search(
            query.q,
            filter=filters(query) or None,
            facets=["category_code", "brand_key", "price_range"],
            sort=SORTS[query.sort],
            page=query.page,
            hits_per_page=query.page_size,
            attributes_to_highlight=["title"],
            matching_strategy=strategy,
        )
        distribution = found.facet_distribution or {}
        counts = distribution.get("price_range", {})
        return SearchResult(
            total=int(found.total_hits or 0),
            hits=[_hit(h) for h in found.hits],
            facets={
                "category": _facet(distribution.get("category_code", {})),
                "brand": _facet(distribution.get("brand_key", {})),
                "price_ranges": [
                    FacetValue(label, int(counts.get(label, 0)))
                    for label in (price_range_label(lo, hi) for lo, hi in PRICE_RANGES)
                ],
            },
            backend=self.name,
        )

    async def upsert(self, documents: Sequence[Document]) -> None:
        if documents:
            index = self.client.index(self.uid)
            await self._wait(await index.add_documents([to_document(d) for d in documents], "id"))

    async def delete(self, listing_ids: Sequence[uuid.UUID]) -> None:
        if listing_ids:
            index = self.client.index(self.uid)
            await self._wait(await index.delete_documents([str(i) for i in listing_ids]))

    async def rebuild(
        self,
        batches: AsyncIterator[Sequence[Document]],
        synonyms: Mapping[str, Sequence[str]],
        aliases: Mapping[str, Sequence[str]],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Fill ``<uid>_next``, swap it with the live index, drop the old one."""
        next_uid = f"{self.uid}_next"
        if await self._exists(next_uid):
            await self._wait(await self.client.index(next_uid).delete())
        await self.ensure_index(synonyms, aliases)
        await self.ensure_index(synonyms, aliases, next_uid)
        index, total = self.client.index(next_uid), 0
        async for batch in batches:
            await self._wait(await index.add_documents([to_document(d) for d in batch], "id"))
            total += len(batch)
            if progress:
                progress(len(batch))
        await self._wait(await self.client.swap_indexes([(self.uid, next_uid)]))
        await self._wait(await self.client.index(next_uid).delete())
        return total


def _facet(values: Mapping[str, int]) -> list[FacetValue]:
    items = [FacetValue(value, int(count)) for value, count in values.items()]
    return sorted(items, key=lambda f: (-f.count, f.value))[:30]


def _hit(doc: Mapping[str, Any]) -> Hit:
    formatted = doc.get("_formatted") or {}
    return Hit(
        listing_id=uuid.UUID(doc["id"]),
        title=doc["title"],
        brand=doc["brand"],
        model=doc["model"],
        price=Decimal(str(doc["price"])).quantize(Decimal("0.01")),
        unit=doc["unit"],
        supplier_id=uuid.UUID(doc["supplier_id"]),
        supplier_name=doc["supplier_name"],
        category_code=doc["category_code"],
        thumbnail_url=doc.get("thumbnail_url"),
        highlight=formatted.get("title", doc["title"]),
    )
