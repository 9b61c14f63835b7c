"""The PostgreSQL search backend (the default).

Documents live in ``search_document``: jieba tokens in a ``tsvector('simple')``
with weights (A model and brand with its aliases, B title, C category and
attributes) under a GIN index, and the normalised model number under a
prefix index and a trigram index.

A query runs in up to two passes. The strict pass wants every query word
(each through itself or a synonym) or a model number equal to, or starting
with, one the query names. When nothing matches, the relaxed pass accepts
any word and model numbers similar by trigrams (typos), and says so.
Ranking: ``ts_rank`` with the weights, plus a bonus for an exact (1.0) or
prefix (0.5) model match, plus a small freshness term. The supplier's
standing is checked at query time, so a suspended supplier's listings
vanish at once even before their documents are removed.

A broad query (more than ``candidate_cap`` matches) is answered from its
first matches in the table's order, which a rebuild makes newest first: its
total is then a lower bound and its facets count those matches, as search
engines cap their result windows. Without the cap, a word found in a tenth
of a million listings costs a read of 60,000 pages per query.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateIndex, CreateTable

from catalog.search.documents import ROW_FIELDS, Document
from catalog.search.models import search_document
from catalog.search.query import (
    PRICE_RANGES,
    FacetValue,
    Hit,
    SearchQuery,
    SearchResult,
    price_range_label,
)
from catalog.search.text import (
    highlight,
    model_candidates,
    query_groups,
    query_segments,
    to_tsquery,
)

_WEIGHTS = "'{0.1, 0.2, 0.4, 1.0}'"  # D, C, B, A
_SORTS = {
    "relevance": "score DESC, approved_at DESC, listing_id",
    "price_asc": "price ASC, listing_id",
    "price_desc": "price DESC, listing_id",
    "newest": "approved_at DESC, listing_id",
}
_PRICE_BOUNDS = [low for low, _ in PRICE_RANGES[1:]]
_COLUMNS = [c.name for c in search_document.columns if c.name not in ("tsv", "indexed_at")]
assert tuple(_COLUMNS) == ROW_FIELDS, "search_document columns and Document fields differ"
_TSV_SQL = (
    "setweight(to_tsvector('simple', {a}), 'A') || setweight(to_tsvector('simple', {b}), 'B')"
    " || setweight(to_tsvector('simple', {c}), 'C')"
)


def _match_sql(
    query: SearchQuery, synonyms: dict[str, list[str]], relaxed: bool, params: dict[str, Any]
) -> tuple[str, str]:
    """The WHERE condition and the score expression for the query's words and models."""
    groups = query_groups(query.q, synonyms)
    tsquery = to_tsquery(groups, all_required=not relaxed)
    models = model_candidates(query.q)
    conditions, score = [], ["0"]
    if tsquery:
        params["tsq"] = tsquery
        conditions.append("d.tsv @@ to_tsquery('simple', :tsq)")
        score.append(f"ts_rank({_WEIGHTS}, d.tsv, to_tsquery('simple', :tsq))")
    if models:
        params["models"] = models
        conditions.append("d.model_norm = ANY(:models)")
        exact = "CASE WHEN d.model_norm = ANY(:models) THEN 1.0"
        prefix_terms = []
        for n, model in enumerate(models):
            if len(model) >= 3:
                params[f"prefix{n}"] = model.replace("\\", "").replace("%", "") + "%"
                conditions.append(f"d.model_norm LIKE :prefix{n}")
                prefix_terms.append(f"d.model_norm LIKE :prefix{n}")
            if relaxed and len(model) >= 4:
                params[f"fuzzy{n}"] = model
                conditions.append(f"d.model_norm % :fuzzy{n}")
        if prefix_terms:
            exact += f" WHEN {' OR '.join(prefix_terms)} THEN 0.5"
        score.append(exact + " ELSE 0 END")
    if not conditions:
        return ("true" if not query.q.strip() else "false"), "0"
    # Newer listings first among equals: a small bonus fading over half a year.
    score.append("0.05 * exp(-extract(epoch FROM (now() - d.approved_at)) / 15552000.0)")
    return "(" + " OR ".join(conditions) + ")", " + ".join(score)


def _filter_sql(query: SearchQuery, params: dict[str, Any]) -> str:
    filters = ["o.status = 'active'"]
    if query.category:
        params["category"] = query.category
        filters.append("left(d.category_code, length(:category)) = :category")
    if query.brand:
        params["brand"] = query.brand.strip().lower()
        filters.append(
            "d.brand_key = coalesce((SELECT canonical FROM brand_alias WHERE alias = :brand),"
            " :brand)"
        )
    if query.price_min is not None:
        params["price_min"] = query.price_min
        filters.append("d.price >= :price_min")
    if query.price_max is not None:
        params["price_max"] = query.price_max
        filters.append("d.price <= :price_max")
    if query.region:
        params["region"] = query.region
        filters.append(
            "(cardinality(d.regions) = 0 OR EXISTS (SELECT 1 FROM unnest(d.regions) AS r(code)"
            " WHERE left(:region, length(r.code)) = r.code))"
        )
    if query.energy_saving is not None:
        params["energy_saving"] = query.energy_saving
        filters.append("d.energy_saving = :energy_saving")
    return " AND ".join(filters)


class PostgresSearch:
    """``SearchBackend`` on PostgreSQL: the session's database holds the documents."""

    name = "postgres"
    # A broad query is answered from its first matches only, as search engines
    # cap their result windows: ranking, sorting and facets use the first
    # ``candidate_cap`` matches in the table's order (newest first after a
    # rebuild), and the total is then a lower bound (``exact`` is False).
    # Filters narrow a broad query to exact answers.
    candidate_cap = 2000

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def search(self, query: SearchQuery, synonyms: dict[str, list[str]]) -> SearchResult:
        # A generic plan cannot see how common the query's words are: plan each
        # search for its own values (the statements are prepared and reused).
        await self.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        result = await self._search(query, synonyms, relaxed=False)
        if result.total == 0 and query.q.strip():
            result = await self._search(query, synonyms, relaxed=True)
            result.relaxed = True
        return result

    async def _search(
        self, query: SearchQuery, synonyms: dict[str, list[str]], *, relaxed: bool
    ) -> SearchResult:
        params: dict[str, Any] = {}
        match, score = _match_sql(query, synonyms, relaxed, params)
        if match == "false":
            return SearchResult(total=0, hits=[], facets=_empty_facets())
        where = f"{match} AND {_filter_sql(query, params)}"
        offset = (query.page - 1) * query.page_size
        params |= {
            "limit": query.page_size,
            "offset": offset,
            "bounds": _PRICE_BOUNDS,
            # One more than kept: telling a complete answer from a capped one.
            "cap": self.candidate_cap + 1,
            "kept": self.candidate_cap,
        }
        # The candidates: every match, or the first ``candidate_cap`` of a broad
        # query (read in the table's order, which a rebuild makes newest first).
        sql = f"""
            WITH found AS MATERIALIZED (
                SELECT d.listing_id, d.category_code, d.brand_key, d.price, d.approved_at,
                       {score} AS score
                FROM search_document d
                JOIN organisation o ON o.id = d.supplier_id
                WHERE {where}
                LIMIT :cap
            ), m AS (
                SELECT * FROM found LIMIT :kept
            )
            SELECT (SELECT count(*) FROM found) AS total,
                   (SELECT coalesce(array_agg(listing_id), '{{}}') FROM (
                        SELECT listing_id FROM m ORDER BY {_SORTS[query.sort]}
                        LIMIT :limit OFFSET :offset) h) AS ids,
                   (SELECT coalesce(json_agg(json_build_array(category_code, n)), '[]') FROM (
                        SELECT category_code, count(*) AS n FROM m GROUP BY 1
                        ORDER BY 2 DESC, 1 LIMIT 30) f) AS categories,
                   (SELECT coalesce(json_agg(json_build_array(brand_key, n)), '[]') FROM (
                        SELECT brand_key, count(*) AS n FROM m GROUP BY 1
                        ORDER BY 2 DESC, 1 LIMIT 30) f) AS brands,
                   (SELECT coalesce(json_agg(json_build_array(bucket, n)), '[]') FROM (
                        SELECT width_bucket(price, CAST(:bounds AS numeric[])) AS bucket,
                               count(*) AS n
                        FROM m GROUP BY 1 ORDER BY 1) f) AS prices
        """  # noqa: S608 -- fragments are constants; every value is a bound parameter
        row = (await self.session.execute(text(sql), params)).one()
        exact = int(row.total) <= self.candidate_cap
        ids = list(row.ids or [])
        hits = await self._hits(ids, query)
        return SearchResult(
            total=min(int(row.total), self.candidate_cap),
            hits=hits,
            facets={
                "category": [FacetValue(v, n) for v, n in row.categories],
                "brand": [FacetValue(v, n) for v, n in row.brands],
                "price_ranges": _price_facets(row.prices),
            },
            exact=exact,
        )

    async def _hits(self, ids: list[uuid.UUID], query: SearchQuery) -> list[Hit]:
        if not ids:
            return []
        rows = (
            await self.session.execute(
                text(
                    "SELECT listing_id, title, brand, model, price, unit, supplier_id,"
                    " supplier_name, category_code, thumbnail_url"
                    " FROM search_document WHERE listing_id = ANY(:ids)"
                ),
                {"ids": ids},
            )
        ).all()
        by_id = {r.listing_id: r for r in rows}
        words = [*query_segments(query.q), *model_candidates(query.q)]
        return [
            Hit(
                listing_id=r.listing_id,
                title=r.title,
                brand=r.brand,
                model=r.model,
                price=r.price,
                unit=r.unit,
                supplier_id=r.supplier_id,
                supplier_name=r.supplier_name,
                category_code=r.category_code,
                thumbnail_url=r.thumbnail_url,
                highlight=highlight(r.title, words),
            )
            for r in (by_id.get(i) for i in ids)
            if r is not None
        ]

    async def upsert(self, documents: Sequence[Document]) -> None:
        if not documents:
            return
        columns = ", ".join(_COLUMNS)
        values = ", ".join(f":{c}" for c in _COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "listing_id")
        tsv = _TSV_SQL.format(a=":wa", b=":wb", c=":wc")
        sql = text(
            f"INSERT INTO search_document ({columns}, tsv, indexed_at)"  # noqa: S608
            f" VALUES ({values}, {tsv}, now())"
            f" ON CONFLICT (listing_id) DO UPDATE SET {updates}, tsv = excluded.tsv,"
            " indexed_at = now()"
        )
        await self.session.execute(
            sql,
            [
                d.as_row() | {"wa": d.weighted["A"], "wb": d.weighted["B"], "wc": d.weighted["C"]}
                for d in documents
            ],
        )

    async def delete(self, listing_ids: Sequence[uuid.UUID]) -> None:
        if listing_ids:
            await self.session.execute(
                text("DELETE FROM search_document WHERE listing_id = ANY(:ids)"),
                {"ids": list(listing_ids)},
            )

    async def rebuild(
        self,
        batches: AsyncIterator[Sequence[Document]],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Build every document into a fresh table, index it, and swap it in.

        Searches keep reading the old table until the swap (a rename in one
        short transaction, which the caller commits).
        """
        next_table, statements = _next_table_ddl()
        await self.session.execute(text("DROP TABLE IF EXISTS search_document_stage"))
        await self.session.execute(text(f"DROP TABLE IF EXISTS {next_table.name}"))
        await self.session.execute(text(statements[0]))
        stage_columns = [*_COLUMNS, "wa", "wb", "wc"]
        await self.session.execute(
            text(
                "CREATE TEMP TABLE search_document_stage ON COMMIT DROP AS"  # noqa: S608
                f" SELECT {', '.join(_COLUMNS)}, ''::text AS wa, ''::text AS wb, ''::text AS wc"
                " FROM search_document WITH NO DATA"
            )
        )
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        total = 0
        async for batch in batches:
            records = [
                (
                    *(getattr(d, c) for c in _COLUMNS),
                    d.weighted["A"],
                    d.weighted["B"],
                    d.weighted["C"],
                )
                for d in batch
            ]
            await driver.copy_records_to_table(
                "search_document_stage", records=records, columns=stage_columns
            )
            total += len(records)
            if progress:
                progress(len(records))
        tsv = _TSV_SQL.format(a="wa", b="wb", c="wc")
        await self.session.execute(
            text(
                f"INSERT INTO {next_table.name} ({', '.join(_COLUMNS)}, tsv, indexed_at)"  # noqa: S608
                f" SELECT {', '.join(_COLUMNS)}, {tsv}, now() FROM search_document_stage"
                # Newest first on disk: a broad query's first matches are recent ones.
                " ORDER BY approved_at DESC"
            )
        )
        for statement in statements[1:]:
            await self.session.execute(text(statement))
        await self.session.execute(text("ANALYZE " + next_table.name))
        # The swap: brief, under an exclusive lock on the old table.
        await self.session.execute(text("LOCK TABLE search_document IN ACCESS EXCLUSIVE MODE"))
        await self.session.execute(text("DROP TABLE search_document"))
        await self.session.execute(text(f"ALTER TABLE {next_table.name} RENAME TO search_document"))
        await self.session.execute(
            text(
                "ALTER TABLE search_document RENAME CONSTRAINT pk_search_document_next"
                " TO pk_search_document"
            )
        )
        for index in search_document.indexes:
            await self.session.execute(
                text(f"ALTER INDEX {index.name}_next RENAME TO {index.name}")
            )
        return total


def _next_table_ddl() -> tuple[Any, list[str]]:
    """CREATE TABLE for ``search_document_next`` first, then its indexes (named ``…_next``)."""
    metadata = MetaData(naming_convention=search_document.metadata.naming_convention)
    copy = search_document.to_metadata(metadata, name="search_document_next")
    copy.primary_key.name = "pk_search_document_next"
    for index in copy.indexes:
        index.name = f"{index.name}_next"
    dialect = postgresql.dialect()
    indexes = list(copy.indexes)
    copy.indexes.clear()
    statements = [str(CreateTable(copy).compile(dialect=dialect))]
    statements += [str(CreateIndex(i).compile(dialect=dialect)) for i in indexes]
    return copy, statements


def _empty_facets() -> dict[str, list[FacetValue]]:
    return {"category": [], "brand": [], "price_ranges": _price_facets([])}


def _price_facets(rows: Sequence[Sequence[int]]) -> list[FacetValue]:
    counts = {int(bucket): int(n) for bucket, n in rows}
    return [
        FacetValue(price_range_label(low, high), counts.get(n, 0))
        for n, (low, high) in enumerate(PRICE_RANGES)
    ]
