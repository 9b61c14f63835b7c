"""Catalogue search for purchasing units, synonyms for operators, listing thumbnails."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy import select, text

from catalog.models import ListingImage
from catalog.search import SearchQuery
from catalog.search.models import SearchSynonym
from catalog.search.text import MAX_QUERY_CHARS
from mall import audit
from mall.api.deps import DbSession
from mall.api.openapi import file_answer
from mall.auth.guards import current_principal, operators_and_regulators, requires
from mall.auth.models import OrgKind
from mall.errors import InvalidError, NotFoundError
from mall.penalties import service as penalties
from mall.search import service
from mall.settings import get_settings
from mall.storage import FileStore

Sort = Literal["relevance", "price_asc", "price_desc", "newest"]
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class SupplierOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    # The supplier's credit score (0-100) and grade, as on its public profile.
    credit_score: Decimal | None = None
    credit_grade: str | None = None


class HitOut(msgspec.Struct):
    listing_id: uuid.UUID
    title: str
    brand: str
    model: str
    price: Decimal
    unit: str
    category_code: str
    supplier: SupplierOut
    thumbnail_url: str | None
    highlight: str


class FacetOut(msgspec.Struct):
    value: str
    count: int


MAX_SEARCH_PAGE = 1000


def _next_page(page: int, page_size: int, hits: int, total: int, exact: bool) -> int | None:
    """A full page with more behind it (or an inexact total, a lower bound) has a next page."""
    more = page * page_size < total or not exact
    return page + 1 if hits == page_size and more and page < MAX_SEARCH_PAGE else None


class SearchOut(msgspec.Struct):
    # Exact when ``total_exact``; otherwise at least this many (a broad query).
    total: int
    total_exact: bool
    took_ms: float
    page: int
    page_size: int
    # As on every list: the next page's number, null on the last one.
    next_page: int | None
    relaxed: bool
    backend: str
    hits: list[HitOut]
    facets: dict[str, list[FacetOut]]


class SynonymIn(msgspec.Struct, forbid_unknown_fields=True):
    words: Annotated[list[Word], msgspec.Meta(min_length=2, max_length=20)]


class SynonymOut(msgspec.Struct):
    id: uuid.UUID
    words: list[str]


def _money(value: str | None, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(value)
        if not amount.is_finite() or amount < 0:
            raise InvalidOperation
    except InvalidOperation:
        raise InvalidError(
            f"{field} must be an amount in yuan, 0 or more.",
            code="search.invalid_price",
            title="价格筛选条件有误",
            errors=[{"field": field, "source": "query", "message": "an amount, 0 or more"}],
        ) from None
    return amount


class SearchController(Controller):
    path = "/api/v1/catalog"
    tags = ["search"]

    @get(
        "/search",
        guards=[requires(OrgKind.PURCHASER, OrgKind.OPERATOR, OrgKind.REGULATOR)],
        summary="Search the listings on sale, with facets",
    )
    async def search(
        self,
        db_session: DbSession,
        q: Annotated[str, QueryParameter(max_length=MAX_QUERY_CHARS)] = "",
        category: Annotated[str | None, QueryParameter(max_length=32)] = None,
        brand: Annotated[str | None, QueryParameter(max_length=100)] = None,
        price_min: FromQuery[str | None] = None,
        price_max: FromQuery[str | None] = None,
        region: Annotated[str | None, QueryParameter(pattern=r"^\d{2,6}$")] = None,
        energy_saving: FromQuery[bool | None] = None,
        sort: FromQuery[Sort] = "relevance",
        page: Annotated[int, QueryParameter(ge=1, le=MAX_SEARCH_PAGE)] = 1,
        page_size: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> SearchOut:
        """Searches the listings on sale from suppliers in good standing, with facets, paged by
        `page` and `page_size`; `relaxed` says when no listing matched every word.
        """
        low, high = _money(price_min, "price_min"), _money(price_max, "price_max")
        if low is not None and high is not None and low > high:
            raise InvalidError(
                "price_min is above price_max.",
                code="search.invalid_price",
                title="价格下限高于上限",
                errors=[{"field": "price_min", "source": "query", "message": "<= price_max"}],
            )
        query = SearchQuery(
            q=q.strip(),
            category=category or None,
            brand=brand or None,
            price_min=low,
            price_max=high,
            region=region,
            energy_saving=energy_saving,
            sort=sort,
            page=page,
            page_size=page_size,
        )
        result, took_ms = await service.search(db_session, get_settings(), query)
        credit = await penalties.scores(db_session, list({h.supplier_id for h in result.hits}))
        return SearchOut(
            total=result.total,
            total_exact=result.exact,
            took_ms=took_ms,
            page=page,
            page_size=page_size,
            next_page=_next_page(page, page_size, len(result.hits), result.total, result.exact),
            relaxed=result.relaxed,
            backend=result.backend,
            hits=[
                HitOut(
                    listing_id=h.listing_id,
                    title=h.title,
                    brand=h.brand,
                    model=h.model,
                    price=h.price,
                    unit=h.unit,
                    category_code=h.category_code,
                    supplier=SupplierOut(
                        id=h.supplier_id,
                        name=h.supplier_name,
                        credit_score=credit[h.supplier_id].score,
                        credit_grade=credit[h.supplier_id].grade,
                    ),
                    thumbnail_url=h.thumbnail_url,
                    highlight=h.highlight,
                )
                for h in result.hits
            ],
            facets={
                name: [FacetOut(f.value, f.count) for f in values]
                for name, values in result.facets.items()
            },
        )


class SynonymController(Controller):
    path = "/api/v1/search/synonyms"
    tags = ["search"]

    @get("/", guards=[operators_and_regulators], summary="Synonym groups used by search")
    async def list_synonyms(self, db_session: DbSession) -> list[SynonymOut]:
        """The synonym groups search uses (a reference list, not paged)."""
        rows = (await db_session.scalars(select(SearchSynonym).order_by(SearchSynonym.id))).all()
        return [SynonymOut(id=r.id, words=list(r.words)) for r in rows]

    @post(
        "/",
        guards=[requires(OrgKind.OPERATOR)],
        summary="Add a group of words that stand for one another",
    )
    async def add_synonyms(
        self, request: Request, data: JSONBody[SynonymIn], db_session: DbSession
    ) -> SynonymOut:
        """Adds a group of words search treats as one another."""
        words = list(dict.fromkeys(w.strip().lower() for w in data.words if w.strip()))
        if len(words) < 2:
            raise InvalidError(
                "A group needs two different words.",
                code="search.synonym_group",
                title="同义词组至少需要两个不同的词",
                errors=[{"field": "words", "message": "at least two different words"}],
            )
        row = SearchSynonym(words=words)
        db_session.add(row)
        await db_session.flush()
        await audit.record(
            db_session,
            actor=audit.Actor.of(current_principal(request)),
            action="search.synonyms_added",
            subject_type="search_synonym",
            subject_id=row.id,
            after={"words": words},
        )
        await service.push_settings(db_session, get_settings())
        return SynonymOut(id=row.id, words=words)

    @delete("/{group_id:uuid}", guards=[requires(OrgKind.OPERATOR)], status_code=204)
    async def remove_synonyms(
        self, request: Request, group_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> None:
        """Removes a synonym group."""
        row = await db_session.get(SearchSynonym, group_id)
        if row is None:
            raise NotFoundError("No such synonym group.", code="search.synonym_not_found")
        await db_session.delete(row)
        await audit.record(
            db_session,
            actor=audit.Actor.of(current_principal(request)),
            action="search.synonyms_removed",
            subject_type="search_synonym",
            subject_id=group_id,
            before={"words": list(row.words)},
        )
        await service.push_settings(db_session, get_settings())


class ThumbnailController(Controller):
    path = "/api/v1/listings"
    tags = ["listings"]

    @get(
        "/{listing_id:uuid}/thumbnail",
        summary="The main image of a listing on sale, 160 px (public, like the listing)",
        operation_class=file_answer("image/jpeg", description="The thumbnail, JPEG."),
    )
    async def thumbnail(
        self,
        listing_id: FromPath[uuid.UUID],
        db_session: DbSession,
        size: Annotated[Literal[160, 480, 800], QueryParameter()] = 160,
    ) -> Response[bytes]:
        """The main image of a listing on sale as a JPEG thumbnail, public like the listing; 404
        when the listing is not on sale.
        """
        on_sale = await db_session.scalar(
            text(
                "SELECT 1 FROM listing l JOIN organisation o ON o.id = l.supplier_id"
                " WHERE l.id = :id AND l.live_revision_id IS NOT NULL AND l.delisted_at IS NULL"
                " AND o.status = 'active'"
            ),
            {"id": listing_id},
        )
        image = (
            await db_session.scalars(
                select(ListingImage)
                .where(ListingImage.listing_id == listing_id, ListingImage.status == "ready")
                .order_by(ListingImage.position)
                .limit(1)
            )
        ).one_or_none()
        digest = (image.thumbnails or {}).get(str(size)) if image and on_sale else None
        if not digest:
            raise NotFoundError("No image of a listing on sale.", code="listing.no_thumbnail")
        content = FileStore(get_settings().mall.files_dir).get(digest)
        return Response(
            content,
            media_type="image/jpeg",
            headers={"Cache-Control": "public, max-age=86400", "ETag": f'"{digest}"'},
        )
