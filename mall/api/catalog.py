"""Categories, listings, images, review decisions, the manual queue, rulesets."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, QueryParameter
from sqlalchemy import select

from catalog import bulk, categories, listings, review
from catalog.models import (
    Category,
    Listing,
    ListingImage,
    ListingImport,
    ListingRevision,
    MediaImage,
    StoredRuleset,
)
from mall import audit
from mall.api.deps import DbSession
from mall.api.enums import ListingStatus, RevisionStatus, listed_codes
from mall.api.openapi import file_answer
from mall.api.params import INT4_MAX, Count, Int8, Page, Paging
from mall.auth.guards import current_principal, operators_and_regulators, requires, signed_in
from mall.auth.models import Organisation, OrgKind
from mall.errors import InvalidError
from mall.listings import imports, media, rulesets
from mall.listings import service as flow
from mall.penalties import service as penalties
from mall.pricing import history
from mall.pricing import service as monitor
from mall.sla.models import SlaClock
from mall.storage import FileStore
from pricing_monitor.policy import DEFAULT_POLICY_KEY
from review_rules import RULES

IMAGE_MAX_BYTES = 10 * 1024 * 1024
# Positive, at most 2 decimals and below 10^10: checked by the catalogue (msgspec has no
# numeric bounds for Decimal).
Price = Decimal
AttributeValue = str | Int8 | float | bool | None


class AttributeOut(msgspec.Struct):
    name: str
    type: str
    unit: str | None
    required: bool
    allowed_values: list[str]
    min: float | None
    max: float | None
    pattern: str | None


class CategoryOut(msgspec.Struct):
    code: str
    parent_code: str | None
    name_zh: str
    name_en: str
    listable: bool
    attributes: list[AttributeOut]
    energy_cert_mandatory: bool
    environmental_label_preferred: bool
    usual_units: list[str]
    price_tolerance_pct: Decimal
    price_policy: dict[str, Any] | None = None


class CategoryIn(msgspec.Struct, forbid_unknown_fields=True):
    name_zh: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    name_en: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    parent_code: str | None = None
    attributes: list[dict[str, Any]] = []
    energy_cert_mandatory: bool = False
    environmental_label_preferred: bool = False
    usual_units: list[str] = []
    min_image_side_px: Annotated[int, msgspec.Meta(ge=1, le=INT4_MAX)] | None = None
    price_tolerance_pct: Decimal = Decimal("0")
    # The baseline policy: sources, self_operated_only, aggregate (min/mean/median),
    # freshness_days, min_observations. None: the default (self-operated, 30 days, min).
    price_policy: dict[str, Any] | None = None
    listable: bool = True


def _category_out(c: Category) -> CategoryOut:
    return CategoryOut(
        code=c.code,
        parent_code=c.parent_code,
        name_zh=c.name_zh,
        name_en=c.name_en,
        listable=c.listable,
        attributes=[
            AttributeOut(
                name=a["name"],
                type=a["type"],
                unit=a.get("unit"),
                required=bool(a.get("required")),
                allowed_values=list(a.get("allowed_values") or []),
                min=a.get("min"),
                max=a.get("max"),
                pattern=a.get("pattern"),
            )
            for a in c.attributes
        ],
        energy_cert_mandatory=c.energy_cert_mandatory,
        environmental_label_preferred=c.environmental_label_preferred,
        usual_units=list(c.usual_units),
        price_tolerance_pct=c.price_tolerance_pct,
        price_policy=c.price_policy,
    )


class ListingIn(msgspec.Struct, forbid_unknown_fields=True):
    category_code: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    brand: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    price: Price
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=8)]
    attributes: dict[str, AttributeValue] = {}
    stock: Count = 0
    delivery_regions: list[Annotated[str, msgspec.Meta(pattern=r"^\d{2,6}$")]] = []
    warranty_months: Annotated[int, msgspec.Meta(ge=0, le=120)] = 0
    after_sales: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    gtin: Annotated[str, msgspec.Meta(max_length=14)] | None = None
    manufacturer: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    energy_cert_no: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    submit: bool = False


class ListingPatch(msgspec.Struct, forbid_unknown_fields=True):
    brand: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    price: Price | msgspec.UnsetType = msgspec.UNSET
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=8)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    attributes: dict[str, AttributeValue] | msgspec.UnsetType = msgspec.UNSET
    stock: Count | msgspec.UnsetType = msgspec.UNSET
    warranty_months: Annotated[int, msgspec.Meta(ge=0, le=120)] | msgspec.UnsetType = msgspec.UNSET
    after_sales: Annotated[str, msgspec.Meta(max_length=2000)] | msgspec.UnsetType = msgspec.UNSET
    gtin: Annotated[str, msgspec.Meta(max_length=14)] | msgspec.UnsetType | None = msgspec.UNSET
    energy_cert_no: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )


class RevisionOut(msgspec.Struct):
    id: uuid.UUID
    number: int
    status: RevisionStatus
    brand: str
    model: str
    title: str
    attributes: dict[str, Any]
    price: Decimal
    unit: str
    stock: int
    warranty_months: int
    gtin: str | None
    energy_cert_no: str | None
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None


class SupplierBlock(msgspec.Struct):
    """Who sells it, and its credit score (see ``mall.penalties.score``)."""

    id: uuid.UUID
    name: str
    credit_score: Decimal
    credit_grade: str


class RevisionState(msgspec.Struct):
    """Which revision, and where it stands."""

    revision_id: uuid.UUID
    number: int
    status: str


class ListingOut(msgspec.Struct):
    """A listing's detail (create, read, edit, submit all answer with it).

    ``live`` is the revision on sale (while ``on_sale``); ``pending`` is a newer
    revision the supplier is editing or that is under review or was rejected
    (None when the newest revision is the live one). ``status`` is the newest
    revision's state, kept for clients that read it.
    """

    id: uuid.UUID
    supplier_id: uuid.UUID
    category_code: str
    status: ListingStatus
    on_sale: bool
    revision: RevisionOut
    live_revision_id: uuid.UUID | None
    live: RevisionState | None
    pending: RevisionState | None
    # The list of a supplier's listings leaves these out (None).
    supplier: SupplierBlock | None = None
    # Units on sale now: the live revision's stock (orders reserve from it).
    stock: int | None = None


def _revision_out(r: ListingRevision) -> RevisionOut:
    return RevisionOut(
        id=r.id,
        number=r.number,
        status=r.status,
        brand=r.brand,
        model=r.model,
        title=r.title,
        attributes=r.attributes,
        price=r.price,
        unit=r.unit,
        stock=r.stock,
        warranty_months=r.warranty_months,
        gtin=r.gtin,
        energy_cert_no=r.energy_cert_no,
        submitted_at=r.submitted_at,
        decided_at=r.decided_at,
    )


def _state(revision: ListingRevision | None) -> RevisionState | None:
    if revision is None:
        return None
    return RevisionState(revision_id=revision.id, number=revision.number, status=revision.status)


def _listing_out(
    listing: Listing,
    revision: ListingRevision,
    *,
    live: ListingRevision | None = None,
    newest: ListingRevision | None = None,
) -> ListingOut:
    """``revision`` is the one shown; ``live`` and ``newest`` when known (else read from it)."""
    if live is None and revision.id == listing.live_revision_id:
        live = revision
    if newest is None and revision.id == listing.current_revision_id:
        newest = revision
    return ListingOut(
        id=listing.id,
        supplier_id=listing.supplier_id,
        category_code=listing.category_code,
        status=listing.status,
        on_sale=listing.live_revision_id is not None and listing.delisted_at is None,
        revision=_revision_out(revision),
        live_revision_id=listing.live_revision_id,
        live=_state(live),
        pending=_state(newest)
        if newest is not None and newest.id != listing.live_revision_id
        else None,
        stock=live.stock if live is not None else None,
    )


async def _listing_detail(
    db_session: Any, listing: Listing, *, purchaser: bool = False
) -> ListingOut:
    """The one listing detail: the shown revision (a purchaser sees the live one, others
    the newest), the live and pending states, the stock on sale and the supplier."""
    live = await listings.revision(db_session, listing.live_revision_id)
    newest = await listings.revision(db_session, listing.current_revision_id)
    shown = live if purchaser else newest
    assert shown is not None
    out = _listing_out(listing, shown, live=live, newest=newest)
    if purchaser:
        # What the supplier is preparing is not the purchaser's to see.
        out.pending, out.status = None, shown.status
    supplier = await db_session.get_one(Organisation, listing.supplier_id)
    credit = await penalties.score_of(db_session, supplier.id)
    out.supplier = SupplierBlock(
        id=supplier.id,
        name=supplier.name,
        credit_score=credit.score,
        credit_grade=credit.grade,
    )
    return out


class AutomaticReviewOut(msgspec.Struct):
    """The rules engine's decision that sent a revision to a person."""

    id: uuid.UUID
    outcome: str
    ruleset_version: str
    findings: list[dict[str, Any]]
    decided_at: dt.datetime


class ReviewOut(msgspec.Struct):
    """A review decision. ``id`` is what an objection names (``subject_type``
    ``review_decision``); an operator's decision carries the automatic one beside it."""

    id: uuid.UUID | None
    outcome: str | None
    ruleset_version: str | None
    findings: list[dict[str, Any]]
    revision_id: uuid.UUID
    decided_at: dt.datetime | None
    decided_by: uuid.UUID | None
    note: str | None
    automatic: AutomaticReviewOut | None = None


class ImageOut(msgspec.Struct):
    id: uuid.UUID
    position: int
    status: str
    media_type: str
    width: int | None
    height: int | None


@dataclass
class ImageUpload:
    file: UploadFile


class DelistIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "supplier delisted"


class ManualDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    reason_codes: Annotated[
        list[str], listed_codes(flow.REJECTION_CODES, "why (rejecting: at least one)")
    ] = []


class QueueItemOut(msgspec.Struct):
    revision_id: uuid.UUID
    listing_id: uuid.UUID
    supplier_id: uuid.UUID
    title: str
    due_at: dt.datetime
    claimed_by: uuid.UUID | None


class RulesetIn(msgspec.Struct, forbid_unknown_fields=True):
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    settings: dict[str, Any] = {}


class RulesetOut(msgspec.Struct):
    id: uuid.UUID
    version: str
    active: bool
    settings: dict[str, Any]
    activated_at: dt.datetime | None


class DryRunOut(msgspec.Struct):
    listings: int
    changed: int
    before: dict[str, int]
    after: dict[str, int]
    by_rule: dict[str, int]
    sample: list[dict[str, Any]]


async def _visible_listing(
    db_session: Any, request: Request[Any, Any, Any], listing_id: uuid.UUID
) -> Listing:
    """Owners see theirs; operators and regulators see all; purchasers see what is on sale
    (its live revision, whatever the supplier is preparing meanwhile)."""
    principal = current_principal(request)
    if principal.org_kind is OrgKind.SUPPLIER:
        return await listings.get_owned(db_session, principal.org_id, listing_id)
    if principal.org_kind is OrgKind.PURCHASER:
        return await listings.get_on_sale(db_session, listing_id)
    return await listings.get_any(db_session, listing_id)


class CategoryController(Controller):
    path = "/api/v1/categories"
    tags = ["catalogue"]

    @get("/", guards=[signed_in], summary="The procurement catalogue with attribute schemas")
    async def list_categories(self, db_session: DbSession) -> list[CategoryOut]:
        """The whole procurement catalogue with attribute schemas (a reference list, not paged)."""
        return [_category_out(c) for c in await categories.list_all(db_session)]

    @get("/{code:str}", guards=[signed_in])
    async def get_category(self, code: FromPath[str], db_session: DbSession) -> CategoryOut:
        """One category with its attribute schema."""
        return _category_out(await categories.get(db_session, code))

    @put(
        "/{code:str}",
        guards=[requires(OrgKind.OPERATOR)],
        summary="Create or replace a category (operators)",
    )
    async def put_category(
        self,
        request: Request,
        code: FromPath[str],
        data: JSONBody[CategoryIn],
        db_session: DbSession,
    ) -> CategoryOut:
        """Creates or replaces a category: its attribute schema, image and certificate requirements,
        price tolerance and price policy.
        """
        previous_policy = await db_session.scalar(
            select(Category.price_policy_key).where(Category.code == code)
        )
        category, created = await categories.upsert(
            db_session, msgspec.structs.asdict(data) | {"code": code}
        )
        # A new category with the default policy needs nothing: those baselines exist.
        if category.price_policy_key != (previous_policy or DEFAULT_POLICY_KEY):
            await monitor.policy_changed(db_session, category)
        await audit.record(
            db_session,
            actor=audit.Actor.of(current_principal(request)),
            action="category.created" if created else "category.updated",
            subject_type="category",
            subject_id=code,
            after=msgspec.structs.asdict(data),
        )
        return _category_out(category)


class ListingController(Controller):
    path = "/api/v1/listings"
    tags = ["listings"]

    @post(
        "/",
        guards=[requires(OrgKind.SUPPLIER)],
        summary="Create a listing (and submit it with submit=true)",
    )
    async def create(
        self, request: Request, data: JSONBody[ListingIn], db_session: DbSession
    ) -> ListingOut:
        """Creates a listing in a leaf category as a draft, or submits it for review at once with
        `submit: true`.
        """
        content = msgspec.structs.asdict(data)
        submit = content.pop("submit")
        listing, _ = await flow.create(
            db_session, current_principal(request), content, submit=submit
        )
        return await _listing_detail(db_session, listing)

    @get("/", guards=[requires(OrgKind.SUPPLIER)], summary="Your listings, newest first")
    async def list_own(
        self,
        request: Request,
        db_session: DbSession,
        pagination: Paging,
        status: FromQuery[ListingStatus | None] = None,
    ) -> Page[ListingOut]:
        """The supplier's own listings with their current revision, paged; ``status`` keeps one."""
        rows = await listings.list_for_supplier(
            db_session,
            current_principal(request).org_id,
            pagination.limit,
            pagination.offset,
            status,
        )
        live = {
            r.id: r
            for r in (
                await db_session.scalars(
                    select(ListingRevision).where(
                        ListingRevision.id.in_(
                            [x.live_revision_id for x, _ in rows if x.live_revision_id]
                        )
                    )
                )
            ).all()
        }
        return pagination.page_of(
            [
                _listing_out(listing, revision, live=live.get(listing.live_revision_id))
                for listing, revision in rows
            ]
        )

    @get("/{listing_id:uuid}", guards=[signed_in])
    async def get_listing(
        self, request: Request, listing_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ListingOut:
        """One listing with its current revision, supplier and stock on sale."""
        listing = await _visible_listing(db_session, request, listing_id)
        purchaser = current_principal(request).org_kind is OrgKind.PURCHASER
        return await _listing_detail(db_session, listing, purchaser=purchaser)

    @patch(
        "/{listing_id:uuid}",
        guards=[requires(OrgKind.SUPPLIER)],
        summary="Edit: a new revision to review (the stock alone: changed on sale at once)",
    )
    async def edit(
        self,
        request: Request,
        listing_id: FromPath[uuid.UUID],
        data: JSONBody[ListingPatch],
        db_session: DbSession,
    ) -> ListingOut:
        """Edits a listing: a new revision to review; the live revision stays on sale until it is
        approved.
        """
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        await flow.edit(db_session, current_principal(request), listing_id, changes)
        return await _listing_detail(db_session, await listings.get_any(db_session, listing_id))

    @post(
        "/{listing_id:uuid}/submit",
        guards=[requires(OrgKind.SUPPLIER)],
        status_code=200,
        summary="Submit for review (a rejected listing: a new revision of the same content)",
    )
    async def submit(
        self, request: Request, listing_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ListingOut:
        """Submits the draft revision for automatic review (a rejected listing: a new revision of
        the same content)."""
        await flow.submit_listing(db_session, current_principal(request), listing_id)
        return await _listing_detail(db_session, await listings.get_any(db_session, listing_id))

    @post("/{listing_id:uuid}/withdraw", guards=[requires(OrgKind.SUPPLIER)], status_code=200)
    async def withdraw(
        self, request: Request, listing_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ListingOut:
        """Withdraws the revision under review before it is decided."""
        await flow.withdraw(db_session, current_principal(request), listing_id)
        return await _listing_detail(db_session, await listings.get_any(db_session, listing_id))

    @post(
        "/{listing_id:uuid}/relist",
        guards=[requires(OrgKind.SUPPLIER)],
        status_code=200,
        summary="Put a delisted listing up again: its live content reviewed under the active"
        " ruleset",
    )
    async def relist(
        self, request: Request, listing_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ListingOut:
        """Puts a delisted listing up again: its live content is reviewed under the active
        ruleset."""
        await flow.relist(db_session, current_principal(request), listing_id)
        return await _listing_detail(db_session, await listings.get_any(db_session, listing_id))

    @delete(
        "/{listing_id:uuid}",
        guards=[requires(OrgKind.SUPPLIER)],
        summary="Delete a draft or rejected listing that was never on sale",
    )
    async def delete_listing(
        self, request: Request, listing_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> None:
        """Deletes a draft or rejected listing that was never on sale."""
        await flow.delete(db_session, current_principal(request), listing_id)

    @post(
        "/{listing_id:uuid}/delist",
        guards=[requires(OrgKind.SUPPLIER, OrgKind.OPERATOR)],
        status_code=200,
    )
    async def delist(
        self,
        request: Request,
        listing_id: FromPath[uuid.UUID],
        data: JSONBody[DelistIn],
        db_session: DbSession,
    ) -> ListingOut:
        """Takes a listing off sale (the supplier, or an operator with a reason)."""
        listing = await flow.delist(db_session, current_principal(request), listing_id, data.reason)
        return await _listing_detail(db_session, listing)

    @post(
        "/{listing_id:uuid}/images",
        guards=[requires(OrgKind.SUPPLIER)],
        request_max_body_size=IMAGE_MAX_BYTES + 65536,
        summary="Add an image (JPEG, PNG or WebP; the first is the main image)",
    )
    async def add_image(
        self,
        request: Request,
        listing_id: FromPath[uuid.UUID],
        data: MultipartBody[ImageUpload],
        db_session: DbSession,
    ) -> ImageOut:
        """Adds an image to the listing's draft (JPEG, PNG or WebP recognised by content); the first
        is the main image. Thumbnails are made by the worker.
        """
        content = await data.file.read(IMAGE_MAX_BYTES + 1)
        image = await flow.add_image(
            db_session,
            request.app.state.settings,
            current_principal(request),
            listing_id,
            content,
            IMAGE_MAX_BYTES,
        )
        return _image_out(image)

    @get(
        "/{listing_id:uuid}/price-history",
        guards=[signed_in],
        summary="Listing prices and market prices over time",
    )
    async def price_history(
        self, request: Request, listing_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> PriceHistoryOut:
        """The listing's prices and the market observations and baselines it was compared with, over
        time.
        """
        listing = await _visible_listing(db_session, request, listing_id)
        found = await history.price_history(
            db_session,
            listing,
            on_sale_only=current_principal(request).org_kind is OrgKind.PURCHASER,
        )
        return PriceHistoryOut(
            listing_prices=found["listing_prices"],
            market=found["market"],
            baseline=found["baseline"],
        )

    @get(
        "/{listing_id:uuid}/review",
        guards=[requires(OrgKind.SUPPLIER, OrgKind.OPERATOR, OrgKind.REGULATOR)],
        summary="The review decision on the newest revision",
    )
    async def get_review(
        self, request: Request, listing_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ReviewOut:
        """The decision on the newest revision: outcome, ruleset version and every finding."""
        listing = await _visible_listing(db_session, request, listing_id)
        decision = await review.latest_decision(db_session, listing)
        assert listing.current_revision_id is not None
        if decision is None:
            return ReviewOut(
                id=None,
                outcome=None,
                ruleset_version=None,
                findings=[],
                revision_id=listing.current_revision_id,
                decided_at=None,
                decided_by=None,
                note=None,
            )
        return _decision_out(decision, await review.automatic_decision(db_session, decision))


def _image_out(image: ListingImage) -> ImageOut:
    return ImageOut(
        id=image.id,
        position=image.position,
        status=image.status,
        media_type=image.media_type,
        width=image.width,
        height=image.height,
    )


@dataclass
class ImportUpload:
    file: UploadFile
    category: str
    # A ZIP of the images the sheet's ``images`` column names.
    images: UploadFile | None = None


class CreatedListingOut(msgspec.Struct):
    row: int | None
    listing_id: uuid.UUID
    status: str


class ImportOut(msgspec.Struct):
    id: uuid.UUID
    status: str
    filename: str
    category_code: str | None
    rows_total: int | None
    rows_done: int
    accepted: int
    failed: int
    outcomes: dict[str, int]
    errors_sample: list[dict[str, Any]]
    created_at: dt.datetime
    finished_at: dt.datetime | None
    # The listings created so far, in file order.
    listing_ids: list[uuid.UUID] = []
    listings: list[CreatedListingOut] = []


def _import_out(job: ListingImport, created: list[dict[str, Any]] | None = None) -> ImportOut:
    return ImportOut(
        id=job.id,
        status=job.status,
        filename=job.filename,
        category_code=job.category_code,
        rows_total=job.rows_total,
        rows_done=job.rows_done,
        accepted=job.accepted,
        failed=job.failed,
        outcomes=job.outcomes,
        errors_sample=job.errors[:50],
        created_at=job.created_at,
        finished_at=job.finished_at,
        listing_ids=[c["listing_id"] for c in created or []],
        listings=[CreatedListingOut(**c) for c in created or []],
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PriceHistoryOut(msgspec.Struct):
    listing_prices: list[dict[str, Any]]
    market: list[dict[str, Any]]
    baseline: list[dict[str, Any]]


class ListingImportController(Controller):
    path = "/api/v1/listings"
    tags = ["listings"]
    guards = [requires(OrgKind.SUPPLIER)]

    @get(
        "/import/template",
        summary="The XLSX template for one category",
        operation_class=file_answer(XLSX, description="The template workbook."),
    )
    async def template(
        self, db_session: DbSession, category: Annotated[str, QueryParameter()]
    ) -> Response[bytes]:
        """The XLSX template for one category, with its attribute columns."""
        spec = categories.to_spec(await categories.get(db_session, category))
        return Response(
            bulk.template(spec),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="listings-{category}.xlsx"'},
        )

    @post(
        "/import",
        status_code=202,
        request_max_body_size=imports.MAX_FILE_BYTES + imports.MAX_IMAGES_BYTES + 65536,
        summary="Import listings from CSV or XLSX, with a ZIP of images (a job; the same files"
        " twice are one import)",
    )
    async def start_import(
        self, request: Request, data: MultipartBody[ImportUpload], db_session: DbSession
    ) -> ImportOut:
        """Starts a bulk import of listings from a CSV or XLSX file as a job; the same file twice is
        one import.
        """
        content = await data.file.read(imports.MAX_FILE_BYTES + 1)
        if len(content) > imports.MAX_FILE_BYTES:
            raise InvalidError(
                "The file is too large.",
                code="catalog.import_too_large",
                title="文件过大",
                errors=[{"field": "file", "message": f"at most {imports.MAX_FILE_BYTES} bytes"}],
            )
        images = None
        if data.images is not None:
            images = await data.images.read(imports.MAX_IMAGES_BYTES + 1)
            if len(images) > imports.MAX_IMAGES_BYTES:
                raise InvalidError(
                    "The image archive is too large.",
                    code="catalog.import_too_large",
                    title="图片压缩包过大",
                    errors=[
                        {"field": "images", "message": f"at most {imports.MAX_IMAGES_BYTES} bytes"}
                    ],
                )
        job, _ = await imports.start(
            db_session,
            request.app.state.settings,
            current_principal(request),
            filename=data.file.filename or "listings",
            content=content,
            category_code=data.category,
            images=images,
        )
        return _import_out(job, await imports.created_listings(db_session, job))

    @get("/imports/{import_id:uuid}", summary="An import's progress")
    async def get_import(
        self, request: Request, import_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ImportOut:
        """An import's progress: rows read, created, rejected, and the listings it created."""
        job = await imports.get_own(db_session, current_principal(request), import_id)
        return _import_out(job, await imports.created_listings(db_session, job))

    @get(
        "/imports/{import_id:uuid}/errors.xlsx",
        summary="Every rejected cell, as XLSX",
        operation_class=file_answer(XLSX, description="One row per rejected cell."),
    )
    async def errors(
        self, request: Request, import_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> Response[bytes]:
        """A workbook naming every rejected cell of an import, with the reason."""
        job = await imports.get_own(db_session, current_principal(request), import_id)
        return Response(
            imports.error_report(job),
            media_type=XLSX,
            headers={
                "Content-Disposition": f'attachment; filename="import-{import_id}-errors.xlsx"'
            },
        )


class MediaOut(msgspec.Struct):
    """An image of the supplier's library; a bulk import names it as ``media:<id>``."""

    id: uuid.UUID
    filename: str
    media_type: str
    width: int
    height: int
    sha256: str
    created_at: dt.datetime


def _media_out(m: MediaImage) -> MediaOut:
    return MediaOut(
        id=m.id,
        filename=m.filename,
        media_type=m.media_type,
        width=m.width,
        height=m.height,
        sha256=m.sha256,
        created_at=m.created_at,
    )


class MediaController(Controller):
    path = "/api/v1/media"
    tags = ["listings"]
    guards = [requires(OrgKind.SUPPLIER)]

    @post(
        "/",
        request_max_body_size=media.MAX_BYTES + 65536,
        summary="Add an image to your media library (checked and processed like listing images)",
    )
    async def add(
        self, request: Request, data: MultipartBody[ImageUpload], db_session: DbSession
    ) -> MediaOut:
        """Adds an image to the supplier's library: recognised by content, checked, thumbnailed
        and hashed at once; the same file sent again is the same image."""
        principal = current_principal(request)
        content = await data.file.read(media.MAX_BYTES + 1)
        found = await media.add(
            db_session,
            FileStore(request.app.state.settings.mall.files_dir),
            audit.Actor.of(principal),
            principal.org_id,
            content,
            data.file.filename or "image",
        )
        return _media_out(found)

    @get("/", summary="Your media library, newest first")
    async def list_media(
        self,
        request: Request,
        db_session: DbSession,
        pagination: Paging,
    ) -> Page[MediaOut]:
        """The supplier's media library, newest first, paged."""
        rows = await media.list_own(
            db_session, current_principal(request).org_id, pagination.limit, pagination.offset
        )
        return pagination.page_of([_media_out(m) for m in rows])

    @get("/{media_id:uuid}", summary="One image of your media library")
    async def get_media(
        self, request: Request, media_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> MediaOut:
        """One image of the supplier's own library (another supplier's answers 404)."""
        return _media_out(
            await media.get_own(db_session, current_principal(request).org_id, media_id)
        )


class ReviewQueueController(Controller):
    path = "/api/v1/operator/review-queue"
    tags = ["operators"]

    @get(
        "/",
        guards=[operators_and_regulators],
        summary="Listings waiting for a person, soonest due first",
    )
    async def queue(self, db_session: DbSession, pagination: Paging) -> Page[QueueItemOut]:
        """Revisions the rules sent to a person, soonest due first, paged."""
        rows = await flow.queue(db_session, pagination.limit, pagination.offset)
        return pagination.page_of([_queue_item(r, c) for r, c in rows])

    @post("/{revision_id:uuid}/claim", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def claim(
        self, request: Request, revision_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> QueueItemOut:
        """Claims a revision in manual review for the calling operator."""
        revision = await flow.claim(db_session, current_principal(request), revision_id)
        clock = await _clock(db_session, revision.id)
        return _queue_item(revision, clock)

    @post("/{revision_id:uuid}/approve", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def approve(
        self,
        request: Request,
        revision_id: FromPath[uuid.UUID],
        data: JSONBody[ManualDecisionIn],
        db_session: DbSession,
    ) -> ReviewOut:
        """Approves a revision in manual review: it goes on sale."""
        return _decision_out(
            await flow.decide_manually(
                db_session,
                current_principal(request),
                revision_id,
                approve=True,
                reason_codes=[],
                note=data.note,
            )
        )

    @post("/{revision_id:uuid}/reject", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def reject(
        self,
        request: Request,
        revision_id: FromPath[uuid.UUID],
        data: JSONBody[ManualDecisionIn],
        db_session: DbSession,
    ) -> ReviewOut:
        """Rejects a revision in manual review with reason codes the supplier reads."""
        return _decision_out(
            await flow.decide_manually(
                db_session,
                current_principal(request),
                revision_id,
                approve=False,
                reason_codes=data.reason_codes,
                note=data.note,
            )
        )


async def _clock(db_session: Any, revision_id: uuid.UUID) -> SlaClock:
    return (
        await db_session.scalars(
            select(SlaClock).where(
                SlaClock.subject_type == "listing_revision",
                SlaClock.subject_id == str(revision_id),
                SlaClock.kind == flow.CLOCK,
            )
        )
    ).one()


def _queue_item(revision: ListingRevision, clock: SlaClock) -> QueueItemOut:
    return QueueItemOut(
        revision_id=revision.id,
        listing_id=revision.listing_id,
        supplier_id=revision.supplier_id,
        title=revision.title,
        due_at=clock.due_at,
        claimed_by=revision.claimed_by,
    )


def _decision_out(decision: Any, automatic: Any = None) -> ReviewOut:
    return ReviewOut(
        id=decision.id,
        outcome=decision.outcome,
        ruleset_version=decision.ruleset_version,
        findings=decision.findings,
        revision_id=decision.revision_id,
        decided_at=decision.created_at,
        decided_by=decision.decided_by,
        note=decision.note,
        automatic=AutomaticReviewOut(
            id=automatic.id,
            outcome=automatic.outcome,
            ruleset_version=automatic.ruleset_version,
            findings=automatic.findings,
            decided_at=automatic.created_at,
        )
        if automatic is not None
        else None,
    )


def _ruleset_out(stored: StoredRuleset) -> RulesetOut:
    return RulesetOut(
        id=stored.id,
        version=stored.version,
        active=stored.active,
        settings=stored.settings,
        activated_at=stored.activated_at,
    )


class ActiveRuleOut(msgspec.Struct):
    rule_id: str
    severity: str  # block | review | info, as the active ruleset sets it
    description: str


class ActiveRulesetOut(msgspec.Struct):
    """What a supplier's listings are reviewed against now."""

    version: str
    activated_at: dt.datetime | None  # None: the built-in ruleset (none stored is active)
    title_min_length: int
    title_max_length: int
    min_image_side_px: int
    white_border_min: float
    image_reuse_max_distance: int
    abnormally_low_pct: Decimal
    absolute_terms: list[str]
    ordinary_words: list[str]
    rules: list[ActiveRuleOut]


class RulesetController(Controller):
    path = "/api/v1/rulesets"
    tags = ["rulesets"]

    @get("/", guards=[operators_and_regulators])
    async def list_rulesets(self, db_session: DbSession) -> list[RulesetOut]:
        """Every ruleset version, the active one marked (a reference list, not paged)."""
        rows = (
            await db_session.scalars(select(StoredRuleset).order_by(StoredRuleset.created_at))
        ).all()
        return [_ruleset_out(r) for r in rows]

    @get(
        "/active",
        guards=[signed_in],
        summary="The active ruleset: thresholds, forbidden terms and the rules that run",
    )
    async def active(self, db_session: DbSession) -> ActiveRulesetOut:
        """The ruleset in force: its thresholds, forbidden terms and enabled rules, so that a
        supplier can check a listing before submitting it."""
        ruleset = await review.active_ruleset(db_session)
        activated_at = await db_session.scalar(
            select(StoredRuleset.activated_at).where(StoredRuleset.active.is_(True))
        )
        return ActiveRulesetOut(
            version=ruleset.version,
            activated_at=activated_at,
            title_min_length=ruleset.title_min_length,
            title_max_length=ruleset.title_max_length,
            min_image_side_px=ruleset.min_image_side_px,
            white_border_min=ruleset.white_border_min,
            image_reuse_max_distance=ruleset.image_reuse_max_distance,
            abnormally_low_pct=ruleset.abnormally_low_pct,
            absolute_terms=list(ruleset.absolute_terms),
            ordinary_words=list(ruleset.ordinary_words),
            rules=[
                ActiveRuleOut(
                    rule_id=rule_id,
                    severity=ruleset.severity_of(rule_id, rule.severity).value,
                    description=rule.doc,
                )
                for rule_id, rule in RULES.items()
                if ruleset.runs(rule_id)
            ],
        )

    @post(
        "/",
        guards=[requires(OrgKind.OPERATOR)],
        summary="Store a new ruleset version (not active yet)",
    )
    async def create(
        self, request: Request, data: JSONBody[RulesetIn], db_session: DbSession
    ) -> RulesetOut:
        """Stores a new ruleset version (thresholds, term list, enabled rules); it is not active
        until activated.
        """
        r = await rulesets.create(
            db_session, current_principal(request), data.version, data.settings
        )
        return _ruleset_out(r)

    @post("/{ruleset_id:uuid}/activate", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def activate(
        self, request: Request, ruleset_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> RulesetOut:
        """Makes a ruleset version the one new reviews use."""
        r = await rulesets.activate(db_session, current_principal(request), ruleset_id)
        return _ruleset_out(r)

    @post(
        "/{ruleset_id:uuid}/dry-run",
        guards=[requires(OrgKind.OPERATOR, OrgKind.REGULATOR)],
        status_code=200,
        summary="How decisions on live listings would change; changes nothing",
    )
    async def dry_run(self, ruleset_id: FromPath[uuid.UUID], db_session: DbSession) -> DryRunOut:
        """Runs a ruleset on the live listings and reports how decisions would change; changes
        nothing.
        """
        result = await rulesets.dry_run(db_session, ruleset_id)
        return DryRunOut(
            listings=result.listings,
            changed=result.changed,
            before=dict(result.before),
            after=dict(result.after),
            by_rule=dict(result.by_rule),
            sample=result.sample,
        )
