"""What a search asks and answers, whichever backend serves it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

from catalog.search.documents import Document

Sort = Literal["relevance", "price_asc", "price_desc", "newest"]
SORTS: tuple[str, ...] = ("relevance", "price_asc", "price_desc", "newest")

# Price facet buckets in yuan: [low, high).
PRICE_RANGES: tuple[tuple[Decimal, Decimal | None], ...] = (
    (Decimal(0), Decimal(100)),
    (Decimal(100), Decimal(500)),
    (Decimal(500), Decimal(1000)),
    (Decimal(1000), Decimal(5000)),
    (Decimal(5000), Decimal(20000)),
    (Decimal(20000), None),
)


def price_range_label(low: Decimal, high: Decimal | None) -> str:
    return f"{low}-{high}" if high is not None else f"{low}-"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    q: str = ""
    category: str | None = None
    brand: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    region: str | None = None
    energy_saving: bool | None = None
    sort: Sort = "relevance"
    page: int = 1
    page_size: int = 20


@dataclass(frozen=True, slots=True)
class Hit:
    listing_id: uuid.UUID
    title: str
    brand: str
    model: str
    price: Decimal
    unit: str
    supplier_id: uuid.UUID
    supplier_name: str
    category_code: str
    thumbnail_url: str | None
    highlight: str
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class FacetValue:
    value: str
    count: int


@dataclass(slots=True)
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    # True when no listing had every word, so listings with some of them are shown.
    relaxed: bool = False
    backend: str = "postgres"
    # False when a broad query's total is a lower bound and its facets count
    # its first matches only.
    exact: bool = True


class SearchBackend(Protocol):
    """The one interface both backends implement (PostgreSQL and Meilisearch)."""

    name: str

    async def search(self, query: SearchQuery, synonyms: dict[str, list[str]]) -> SearchResult: ...

    async def upsert(self, documents: Sequence[Document]) -> None: ...

    async def delete(self, listing_ids: Sequence[uuid.UUID]) -> None: ...


def synonym_map(groups: Sequence[Sequence[str]]) -> dict[str, list[str]]:
    """Each word → the other words of its groups."""
    out: dict[str, set[str]] = {}
    for group in groups:
        words = [w.strip().lower() for w in group if w.strip()]
        for word in words:
            out.setdefault(word, set()).update(w for w in words if w != word)
    return {k: sorted(v) for k, v in out.items()}
