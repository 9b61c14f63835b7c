"""From a listing to its search document: one mapping for both backends.

Only listings a purchaser may buy have a document: an approved revision on
sale (not delisted) of a supplier whose standing is active. ``SOURCE_SQL``
selects exactly those; ``build_document`` maps a row to the document; the
PostgreSQL backend adds weighted token strings, Meilisearch takes the fields.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from catalog.search.text import index_tokens

_SOURCE = """
    SELECT l.id AS listing_id, l.supplier_id, o.name AS supplier_name, l.category_code,
           c.name_zh AS category_name, r.brand, coalesce(ba.canonical, r.brand_norm) AS brand_key,
           r.model, r.model_norm, r.title, r.price, r.unit, r.delivery_regions AS regions,
           r.energy_cert_no IS NOT NULL AS energy_saving, r.attributes,
           coalesce(r.decided_at, l.updated_at) AS approved_at,
           (SELECT i.id FROM listing_image i
            WHERE i.listing_id = l.id AND i.status = 'ready'
            ORDER BY i.position LIMIT 1) AS image_id
    FROM listing l
    JOIN listing_revision r ON r.id = l.live_revision_id
    JOIN organisation o ON o.id = l.supplier_id AND o.status = 'active'
    JOIN category c ON c.code = l.category_code
    LEFT JOIN brand_alias ba ON ba.alias = r.brand_norm
    WHERE l.delisted_at IS NULL
"""
# The visible listings among some ids (sync), or the next page after an id (reindex).
SOURCE_BY_IDS_SQL = text(_SOURCE + " AND l.id = ANY(:ids)")
SOURCE_PAGE_SQL = text(
    _SOURCE + " AND l.live_revision_id IS NOT NULL AND l.id > :after ORDER BY l.id LIMIT :limit"
)
COUNT_VISIBLE_SQL = text(
    "SELECT count(*) FROM listing l JOIN organisation o ON o.id = l.supplier_id"
    " AND o.status = 'active' WHERE l.live_revision_id IS NOT NULL AND l.delisted_at IS NULL"
)
ALIAS_GROUPS_SQL = text("SELECT canonical, array_agg(alias) FROM brand_alias GROUP BY canonical")


@dataclass(frozen=True, slots=True)
class Document:
    listing_id: uuid.UUID
    supplier_id: uuid.UUID
    supplier_name: str
    category_code: str
    category_name: str
    brand: str
    brand_key: str
    brand_aliases: list[str]
    model: str
    model_norm: str
    title: str
    price: Decimal
    unit: str
    regions: list[str]
    energy_saving: bool
    thumbnail_url: str | None
    approved_at: dt.datetime
    attributes_text: str
    # Token strings by weight, for PostgreSQL: A model and brand, B title, C the rest.
    weighted: dict[str, str] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        """The ``search_document`` row (the tsvector is built from ``weighted`` in SQL)."""
        return {name: getattr(self, name) for name in ROW_FIELDS}

    def as_meilisearch(self) -> dict[str, Any]:
        """The Meilisearch document: JSON types only, the id as text, times as epoch seconds."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "weighted"}
        doc["brand_aliases"] = list(self.brand_aliases)
        doc["regions"] = list(self.regions)
        doc["id"] = str(doc.pop("listing_id"))
        doc["supplier_id"] = str(self.supplier_id)
        doc["price"] = float(self.price)
        doc["approved_at"] = int(self.approved_at.timestamp())
        return doc


# The columns of a search_document row, in the table's order (tsv and indexed_at aside).
ROW_FIELDS = tuple(
    f.name
    for f in fields(Document)
    if f.name not in ("brand_aliases", "attributes_text", "weighted")
)


def _attribute_text(attributes: Mapping[str, Any]) -> str:
    parts = []
    for name, value in attributes.items():
        values = value if isinstance(value, list) else [value]
        for each in values:
            parts.append(f"{name} {each}")
    return " ".join(parts)


def build_document(row: Mapping[str, Any], aliases_of: Mapping[str, Iterable[str]]) -> Document:
    """Map one ``SOURCE_*`` row to its document."""
    aliases = sorted(set(aliases_of.get(row["brand_key"], ())) - {row["brand_key"]})
    attributes_text = _attribute_text(row["attributes"] or {})
    strong = [row["brand"], row["brand_key"], *aliases, row["model"]]
    weighted = {
        "A": " ".join([*index_tokens(" ".join(strong)), row["model_norm"]]),
        "B": " ".join(index_tokens(row["title"])),
        "C": " ".join(index_tokens(f"{row['category_name']} {attributes_text}")),
    }
    image = row.get("image_id")
    return Document(
        listing_id=row["listing_id"],
        supplier_id=row["supplier_id"],
        supplier_name=row["supplier_name"],
        category_code=row["category_code"],
        category_name=row["category_name"],
        brand=row["brand"],
        brand_key=row["brand_key"],
        brand_aliases=aliases,
        model=row["model"],
        model_norm=row["model_norm"],
        title=row["title"],
        price=row["price"],
        unit=row["unit"],
        regions=list(row["regions"] or []),
        energy_saving=bool(row["energy_saving"]),
        thumbnail_url=f"/api/v1/listings/{row['listing_id']}/thumbnail" if image else None,
        approved_at=row["approved_at"],
        attributes_text=attributes_text,
        weighted=weighted,
    )
