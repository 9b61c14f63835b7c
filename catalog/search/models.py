"""The search tables: one document per visible listing, the dirty set, synonyms."""

from __future__ import annotations

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ARRAY, Boolean, Column, Index, Numeric, String, Table, func, text
from sqlalchemy.dialects.postgresql import TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

# One row per listing a purchaser may find: approved, on sale, of a supplier in
# good standing. Written only by catalog.search (sync and reindex); a plain
# table rather than a model so a full reindex can build a copy and swap it in.
search_document = Table(
    "search_document",
    orm_registry.metadata,
    Column("listing_id", UUID(as_uuid=True), primary_key=True),
    Column("supplier_id", UUID(as_uuid=True), nullable=False),
    Column("supplier_name", String(200), nullable=False),
    Column("category_code", String(32), nullable=False),
    Column("category_name", String(100), nullable=False),
    Column("brand", String(100), nullable=False),
    # The canonical brand (aliases folded: deli → 得力), for filters and facets.
    Column("brand_key", String(100), nullable=False),
    Column("model", String(100), nullable=False),
    Column("model_norm", String(100), nullable=False),
    Column("title", String(200), nullable=False),
    Column("price", Numeric(12, 2), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("regions", ARRAY(String(6)), nullable=False, server_default="{}"),
    Column("energy_saving", Boolean, nullable=False, server_default="false"),
    Column("thumbnail_url", String(200)),
    Column("approved_at", DateTimeUTC(timezone=True), nullable=False),
    Column("tsv", TSVECTOR, nullable=False),
    Column("indexed_at", DateTimeUTC(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_search_document_tsv", "tsv", postgresql_using="gin"),
    Index(
        "ix_search_document_model_trgm",
        "model_norm",
        postgresql_using="gin",
        postgresql_ops={"model_norm": "gin_trgm_ops"},
    ),
    Index(
        "ix_search_document_model_prefix",
        "model_norm",
        postgresql_ops={"model_norm": "text_pattern_ops"},
    ),
    Index("ix_search_document_category_price", "category_code", "price"),
    # Price and time orders over a broad query's matches walk these.
    Index("ix_search_document_price", "price", "listing_id"),
    Index("ix_search_document_newest", text("approved_at DESC"), "listing_id"),
    Index("ix_search_document_brand", "brand_key"),
    Index("ix_search_document_supplier", "supplier_id"),
)
SEARCH_DOCUMENT_INDEXES = tuple(search_document.indexes)

# Listings whose document must be rebuilt. Triggers on listing and
# organisation add rows (see the migration), so no writer can forget; the
# sync job and a cron take them in batches.
search_dirty = Table(
    "search_dirty",
    orm_registry.metadata,
    Column("listing_id", UUID(as_uuid=True), primary_key=True),
    Column("marked_at", DateTimeUTC(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_search_dirty_marked_at", "marked_at"),
)


class SearchSynonym(UUIDv7AuditBase):
    """A group of words a purchaser may use for one another (电脑 = 计算机 = 台式机).

    Operators edit groups; queries expand through them, so a change needs no
    reindex. Brand aliases are not here: they live in ``brand_alias``, shared
    with the price monitor, and are folded into every document.
    """

    __tablename__ = "search_synonym"
    __table_args__ = (Index("ix_search_synonym_words", "words", postgresql_using="gin"),)

    words: Mapped[list[str]] = mapped_column(ARRAY(String(50)))


__all__ = ["SEARCH_DOCUMENT_INDEXES", "SearchSynonym", "search_dirty", "search_document"]
