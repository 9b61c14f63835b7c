"""Public disclosure (信息公开): no login, rate limited per client address.

Published listings, supplier profiles (credit score and sanctions), penalties
in force and their history, spot checks with everything needed to recompute
the draw, SLA statistics, completed orders (also as an OCDS release package),
and anonymous reporters following their case by tracking code.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, Router, get, post
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, QueryParameter

from catalog import categories as catalog_categories
from mall.api.audit import PublicAuditController
from mall.api.cases import (
    AttachmentOut,
    AttachmentUpload,
    CaseOut,
    MessageIn,
    NoteIn,
    case_out,
    read_attachment,
)
from mall.api.deps import DbSession
from mall.api.params import Page, Paging, parse_datetime
from mall.api.penalties import FORMULA, PenaltyKindOut, kind_out
from mall.api.spotchecks import SpotCheckOut, spot_check_out
from mall.api.stats import SlaKindStatsOut
from mall.auth.addresses import Network, request_address
from mall.calendar.service import load_calendar
from mall.cases import service as cases
from mall.disclosure import ocds
from mall.disclosure import orders as public_orders
from mall.disclosure import service as disclosure
from mall.orders.service import remaining
from mall.penalties import service as penalties
from mall.settings import Settings
from mall.sla.stats import sla_stats
from mall.spotchecks import service as spotchecks
from mall.storage import FileStore

PageNumber = Annotated[int, QueryParameter(ge=1, le=100_000, description="1 for the first page")]
WindowStart = Annotated[
    str | None,
    QueryParameter(name="from", description="first completion day, YYYY-MM-DD (Beijing time)"),
]
WindowEnd = Annotated[
    str | None, QueryParameter(description="last completion day, included; at most 366 days")
]
RELEASES_PAGE_SIZE = 100
# OCDS amounts are JSON numbers; Decimal keeps them exact on the way.
_OCDS_JSON = msgspec.json.Encoder(decimal_format="number")


class PublicSupplierRef(msgspec.Struct):
    id: uuid.UUID
    name: str
    credit_score: Decimal
    credit_grade: str


class PublicListingOut(msgspec.Struct):
    id: uuid.UUID
    category_code: str
    title: str
    brand: str
    model: str
    price: Decimal
    unit: str
    warranty_months: int
    supplier: PublicSupplierRef


class PublicPenaltyOut(msgspec.Struct):
    id: uuid.UUID
    supplier_id: uuid.UUID
    supplier_name: str
    code: str
    name_zh: str
    name_en: str
    sanction: str
    points: int
    status: str
    reason: str
    imposed_at: dt.datetime
    ends_at: dt.datetime | None
    appeal_until: dt.datetime
    revoked_at: dt.datetime | None


class PublicSupplierOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    region_code: str | None
    standing: str
    standing_until: dt.datetime | None
    credit_score: Decimal
    credit_grade: str
    sanctions: list[PublicPenaltyOut] | None = None


class PublicPartyRef(msgspec.Struct):
    id: uuid.UUID
    name: str


class PublicOrderItemOut(msgspec.Struct):
    line_no: int
    title: str
    category_code: str
    # Bought: units returned or terminated before completion are not counted.
    quantity: int
    unit: str
    unit_price: Decimal
    amount: Decimal


class PublicOrderOut(msgspec.Struct):
    """A completed order, without its contact person, phone or delivery address."""

    id: uuid.UUID
    purchasing_unit: PublicPartyRef
    supplier: PublicPartyRef
    budget_code: str
    funding_source: str
    items: list[PublicOrderItemOut]
    total_amount: Decimal
    paid_amount: Decimal | None
    placed_at: dt.datetime
    confirmed_at: dt.datetime | None
    accepted_at: dt.datetime | None
    paid_at: dt.datetime | None
    completed_at: dt.datetime


class PublicOrdersPage(msgspec.Struct):
    """A page of the orders completed from ``from`` to ``to`` (Beijing time, both included)."""

    items: list[PublicOrderOut]
    page: int
    page_size: int
    next_page: int | None
    from_: dt.date = msgspec.field(name="from")
    to: dt.date


def _public_order(done: public_orders.CompletedOrder) -> PublicOrderOut:
    order = done.order
    return PublicOrderOut(
        id=order.id,
        purchasing_unit=PublicPartyRef(id=done.purchaser.id, name=done.purchaser.name),
        supplier=PublicPartyRef(id=done.supplier.id, name=done.supplier.name),
        budget_code=order.budget_code,
        funding_source=order.funding_source,
        items=[
            PublicOrderItemOut(
                line_no=line.line_no,
                title=line.title,
                category_code=line.category_code,
                quantity=remaining(line),
                unit=line.unit,
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for line in done.lines
        ],
        total_amount=order.total_amount,
        paid_amount=order.paid_amount,
        placed_at=order.placed_at,
        confirmed_at=done.confirmed_at,
        accepted_at=done.accepted_at,
        paid_at=done.paid_at,
        completed_at=done.completed_at,
    )


def _page_uri(request: Request[Any, Any, Any], window: public_orders.Window, page: int) -> str:
    base = str(request.base_url).rstrip("/")
    query = urlencode({"from": window.first, "to": window.last, "page": page})
    return f"{base}{request.url.path}?{query}"


def _penalty(p: Any, k: Any, supplier_name: str) -> PublicPenaltyOut:
    return PublicPenaltyOut(
        id=p.id,
        supplier_id=p.supplier_id,
        supplier_name=supplier_name,
        code=p.code,
        name_zh=k.name_zh,
        name_en=k.name_en,
        sanction=p.sanction,
        points=p.points,
        status=p.status,
        reason=p.reason,
        imposed_at=p.imposed_at,
        ends_at=p.ends_at,
        appeal_until=p.appeal_until,
        revoked_at=p.revoked_at,
    )


def _supplier(profile: disclosure.SupplierProfile, *, full: bool) -> PublicSupplierOut:
    org = profile.supplier
    return PublicSupplierOut(
        id=org.id,
        name=org.name,
        region_code=org.region_code,
        standing=org.status,
        standing_until=org.status_until,
        credit_score=profile.score,
        credit_grade=profile.grade,
        sanctions=[_penalty(p, k, org.name) for p, k in profile.penalties] if full else None,
    )


class PublicCategoryOut(msgspec.Struct):
    """One node of the procurement catalogue; the tree is given by ``parent_code``."""

    code: str
    parent_code: str | None
    name_zh: str
    name_en: str
    listable: bool  # a leaf: listings go here
    energy_cert_mandatory: bool


class PublicController(Controller):
    path = "/"
    tags = ["public disclosure"]

    # -------------------------------------------------- cases by tracking code

    @get("/cases/{tracking_code:str}", summary="Follow an anonymous report by its tracking code")
    async def case(self, tracking_code: FromPath[str], db_session: DbSession) -> CaseOut:
        """An anonymous report as its filer sees it, found by its tracking code."""
        case = await cases.by_tracking_code(db_session, tracking_code)
        return case_out(await cases.view_for(db_session, case, "filer"))

    @post("/cases/{tracking_code:str}/messages", summary="Write to the operator anonymously")
    async def message(
        self, tracking_code: FromPath[str], data: JSONBody[MessageIn], db_session: DbSession
    ) -> CaseOut:
        """The anonymous filer writes to the operator."""
        case = await cases.by_tracking_code(db_session, tracking_code, lock=True)
        await cases.post_message(db_session, None, case, "filer", data.body)
        return case_out(await cases.view_for(db_session, case, "filer"))

    @post(
        "/cases/{tracking_code:str}/attachments",
        request_max_body_size=11 * 1024 * 1024,
        summary="Add evidence anonymously (PDF, JPEG or PNG)",
    )
    async def attach(
        self,
        request: Request,
        tracking_code: FromPath[str],
        data: MultipartBody[AttachmentUpload],
        db_session: DbSession,
    ) -> AttachmentOut:
        """Adds evidence to an anonymous report (PDF, JPEG or PNG)."""
        case = await cases.by_tracking_code(db_session, tracking_code, lock=True)
        settings = request.app.state.settings
        attachment = await cases.add_attachment(
            db_session,
            FileStore(settings.mall.files_dir),
            None,
            case,
            "filer",
            filename=data.file.filename or "attachment",
            content=await read_attachment(request, data),
            max_bytes=settings.mall.document_max_bytes,
        )
        return AttachmentOut(
            id=attachment.id,
            role=attachment.role,
            media_type=attachment.media_type,
            size_bytes=attachment.size_bytes,
            sha256=attachment.sha256,
            original_name=attachment.original_name,
            created_at=attachment.created_at,
        )

    @post("/cases/{tracking_code:str}/withdraw", status_code=200)
    async def withdraw(
        self, tracking_code: FromPath[str], data: JSONBody[NoteIn], db_session: DbSession
    ) -> CaseOut:
        """The anonymous filer withdraws their report before it is decided."""
        case = await cases.by_tracking_code(db_session, tracking_code, lock=True)
        await cases.withdraw(db_session, None, case, "filer", data.note)
        return case_out(await cases.view_for(db_session, case, "filer"))

    # -------------------------------------------------- listings and suppliers

    @get("/listings", summary="Listings on sale, with their supplier's credit score")
    async def listings(
        self,
        db_session: DbSession,
        pagination: Paging,
        category: FromQuery[str | None] = None,
        supplier_id: FromQuery[uuid.UUID | None] = None,
    ) -> Page[PublicListingOut]:
        """Listings on sale with their supplier's credit score, paged; filter by category prefix or
        supplier.
        """
        rows = await disclosure.published_listings(
            db_session,
            category_prefix=category,
            supplier_id=supplier_id,
            limit=pagination.limit,
            offset=pagination.offset,
        )
        return pagination.page_of(
            [
                PublicListingOut(
                    id=r.listing.id,
                    category_code=r.listing.category_code,
                    title=r.revision.title,
                    brand=r.revision.brand,
                    model=r.revision.model,
                    price=r.revision.price,
                    unit=r.revision.unit,
                    warranty_months=r.revision.warranty_months,
                    supplier=PublicSupplierRef(
                        id=r.supplier.id,
                        name=r.supplier.name,
                        credit_score=r.score,
                        credit_grade=r.grade,
                    ),
                )
                for r in rows
            ]
        )

    @get("/suppliers", summary="Suppliers: name, region, standing, credit score")
    async def suppliers(
        self,
        db_session: DbSession,
        pagination: Paging,
        region: FromQuery[str | None] = None,
    ) -> Page[PublicSupplierOut]:
        """Suppliers with region, standing and credit score, paged; filter by region prefix."""
        profiles = await disclosure.supplier_profiles(
            db_session, region_prefix=region, limit=pagination.limit, offset=pagination.offset
        )
        return pagination.page_of([_supplier(p, full=False) for p in profiles])

    @get("/suppliers/{supplier_id:uuid}", summary="A supplier's public profile and sanctions")
    async def supplier(
        self, supplier_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> PublicSupplierOut:
        """A supplier's public profile: region, standing, credit score and sanctions."""
        return _supplier(await disclosure.supplier_profile(db_session, supplier_id), full=True)

    @get("/credit/formula", summary="How the credit score is computed")
    async def formula(self) -> dict[str, object]:
        """How the credit score is computed from penalties."""
        return FORMULA

    # -------------------------------------------------- penalties

    @get("/penalties", summary="Penalties in force (default) or the whole history")
    async def penalties(
        self,
        db_session: DbSession,
        pagination: Paging,
        status: FromQuery[Literal["in_force", "all"]] = "in_force",
    ) -> Page[PublicPenaltyOut]:
        """Penalties in force, or the whole history with `status=all`, paged."""
        rows = await penalties.published(
            db_session,
            in_force_only=status == "in_force",
            limit=pagination.limit,
            offset=pagination.offset,
        )
        return pagination.page_of([_penalty(p, k, org.name) for p, k, org in rows])

    @get(
        "/categories",
        summary="The procurement catalogue as a tree (parents before children), for applicants",
    )
    async def categories(self, db_session: DbSession) -> list[PublicCategoryOut]:
        """The procurement catalogue's categories, parents before children (a reference tree,
        not paged), for an applicant choosing the categories it will supply."""
        return [
            PublicCategoryOut(
                code=c.code,
                parent_code=c.parent_code,
                name_zh=c.name_zh,
                name_en=c.name_en,
                listable=c.listable,
                energy_cert_mandatory=c.energy_cert_mandatory,
            )
            for c in await catalog_categories.list_all(db_session)
        ]

    @get("/penalties/catalogue", summary="The catalogue of dishonest behaviours")
    async def catalogue(self, db_session: DbSession) -> list[PenaltyKindOut]:
        """The catalogue of dishonest behaviours and sanctions (a reference list, not paged)."""
        return [kind_out(k) for k in await penalties.catalogue(db_session)]

    # -------------------------------------------------- spot checks

    @get("/spot-checks", summary="Spot checks and their results")
    async def spot_checks(self, db_session: DbSession, pagination: Paging) -> Page[SpotCheckOut]:
        """Spot checks and their results, newest first, paged."""
        checks = await spotchecks.listing(db_session, pagination.limit, pagination.offset)
        return pagination.page_of(
            [spot_check_out(c, await spotchecks.items_of(db_session, c.id)) for c in checks]
        )

    @get("/spot-checks/{check_id:uuid}", summary="Everything needed to recompute a draw")
    async def spot_check(
        self, check_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> SpotCheckOut:
        """A spot check with its committed hash, revealed seed, population and draw: everything
        needed to recompute it.
        """
        check = await spotchecks.get(db_session, check_id)
        return spot_check_out(check, await spotchecks.items_of(db_session, check.id))

    # -------------------------------------------------- completed orders

    @get("/orders", summary="Completed orders: units, suppliers, items, amounts, dates")
    async def orders(
        self,
        db_session: DbSession,
        pagination: Paging,
        from_: WindowStart = None,
        to: WindowEnd = None,
    ) -> PublicOrdersPage:
        """Orders completed in a window of completion days (Beijing time, at most 366 days): units,
        suppliers, items, amounts and dates, no personal data; paged.
        """
        window = public_orders.completion_window(from_, to, today=public_orders.today_in_china())
        rows = await public_orders.completed_orders(
            db_session, window, limit=pagination.limit, offset=pagination.offset
        )
        page = pagination.page_of([_public_order(done) for done in rows])
        return PublicOrdersPage(
            items=page.items,
            page=page.page,
            page_size=page.page_size,
            next_page=page.next_page,
            from_=window.first,
            to=window.last,
        )

    @get(
        "/ocds/releases",
        summary="Completed orders as an OCDS 1.1 release package",
        description=(
            "One release per order completed in the window (from, to: completion days, "
            "Beijing time, both included, at most 366 days; the last 30 days by default), "
            f"{RELEASES_PAGE_SIZE} per page; links.next names the next page."
        ),
        media_type="application/json",
        responses={
            200: ResponseSpec(
                dict[str, Any],
                description="An OCDS 1.1 release package (as the OCDS 1.1 release-package schema"
                " defines it)",
            )
        },
    )
    async def ocds_releases(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        from_: WindowStart = None,
        to: WindowEnd = None,
        page: PageNumber = 1,
    ) -> Response[bytes]:
        window = public_orders.completion_window(from_, to, today=public_orders.today_in_china())
        rows = await public_orders.completed_orders(
            db_session,
            window,
            limit=RELEASES_PAGE_SIZE + 1,
            offset=(page - 1) * RELEASES_PAGE_SIZE,
        )
        mall = request.app.state.settings.mall
        more = len(rows) > RELEASES_PAGE_SIZE
        package = ocds.release_package(
            rows[:RELEASES_PAGE_SIZE],
            ocds.PackageMeta(
                uri=_page_uri(request, window, page),
                published=dt.datetime.now(dt.UTC),
                publisher=mall.ocds_publisher,
                license=mall.ocds_license,
                publication_policy=mall.ocds_publication_policy
                or f"{str(request.base_url).rstrip('/')}/schema",
                ocid_prefix=mall.ocds_prefix,
                next_uri=_page_uri(request, window, page + 1) if more else None,
            ),
        )
        return Response(_OCDS_JSON.encode(package), media_type="application/json")

    # -------------------------------------------------- SLA statistics

    @get("/sla-stats", summary="Deadlines kept, per kind (clocks started in [from, to))")
    async def sla(
        self,
        db_session: DbSession,
        from_: Annotated[str | None, QueryParameter(name="from", description="ISO 8601")] = None,
        to: Annotated[str | None, QueryParameter(description="ISO 8601, excluded")] = None,
    ) -> list[SlaKindStatsOut]:
        """For each kind of deadline, the clocks started in [from, to): kept, late, open and
        breached (a reference list, not paged).
        """
        stats = await sla_stats(
            db_session,
            await load_calendar(db_session),
            kind=None,
            started_from=parse_datetime(from_, "from"),
            started_to=parse_datetime(to, "to"),
        )
        return [
            SlaKindStatsOut(**{f: getattr(s, f) for f in SlaKindStatsOut.__struct_fields__})
            for s in stats
        ]


RATE_LIMIT_STORE = "public_rate_limit"


def public_router(settings: Settings, trusted_proxies: Sequence[Network] = ()) -> Router:
    """The public endpoints under ``/api/v1/public``, limited per client address
    (the same address as login throttling counts: see ``mall.auth.addresses``)."""
    limit = RateLimitConfig(
        rate_limit=("minute", settings.mall.public_requests_per_minute),
        store=RATE_LIMIT_STORE,
        identifier_for_request=lambda request: request_address(request, trusted_proxies),
    )
    return Router(
        path="/api/v1/public",
        route_handlers=[PublicController, PublicAuditController],
        middleware=[limit.middleware],
    )
