"""Listings and their revisions: a supplier's offers, edited by revision.

Every query is scoped to the supplier that owns the listing; another
supplier's listing is simply not found. The live revision stays on sale until
a newer one is approved.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog import categories
from catalog.errors import CatalogConflict, CatalogInvalid, CatalogNotFound
from catalog.models import Listing, ListingRevision
from review_rules import CategorySpec, attribute_problem, normalise_model
from review_rules.text import normalise, strip_invisible

CONTENT_FIELDS = (
    "brand",
    "model",
    "title",
    "attributes",
    "price",
    "unit",
    "stock",
    "delivery_regions",
    "warranty_months",
    "after_sales",
    "gtin",
    "manufacturer",
    "energy_cert_no",
)
UNDER_REVIEW = ("submitted", "manual_review")
DELETABLE = ("draft", "rejected", "withdrawn")
# Text a buyer reads and the rules match: stored without invisible characters
# (zero-width spaces and joiners, soft hyphens, direction marks), which only
# ever serve to split a word for a matcher.
VISIBLE_TEXT_FIELDS = ("brand", "model", "title", "unit", "manufacturer", "after_sales")


def without_invisible(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its text fields stripped of invisible characters."""
    return data | {
        k: strip_invisible(v) for k in VISIBLE_TEXT_FIELDS if isinstance(v := data.get(k), str)
    }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_content(category_spec: CategorySpec, data: dict[str, Any]) -> None:
    errors = []
    price = data.get("price")
    if price is not None:
        if price.is_nan() or price <= 0:
            errors.append({"field": "price", "message": "must be positive"})
        elif not price.is_finite() or price >= Decimal("1e10"):
            errors.append({"field": "price", "message": "below 10,000,000,000 yuan"})
        elif price != price.quantize(Decimal("0.01")):
            errors.append({"field": "price", "message": "at most 2 decimal places (yuan and fen)"})
    specs = {a.name: a for a in category_spec.attributes}
    for name, value in (data.get("attributes") or {}).items():
        spec = specs.get(name)
        if spec is None:
            errors.append(
                {"field": f"attributes.{name}", "message": "not an attribute of this category"}
            )
        elif value is not None and (problem := attribute_problem(spec, value)):
            errors.append({"field": f"attributes.{name}", "message": problem})
    gtin = data.get("gtin")
    if gtin and not (gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
        errors.append({"field": "gtin", "message": "8, 12, 13 or 14 digits"})
    if errors:
        raise CatalogInvalid(
            "The listing is not valid; see errors.",
            code="catalog.listing_invalid",
            title="商品信息有误",
            errors=errors,
        )


def _derived(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "brand_norm": normalise(data["brand"]).strip(),
        "model_norm": normalise_model(data["model"]),
    }


async def create(
    session: AsyncSession, supplier_id: uuid.UUID, data: dict[str, Any]
) -> tuple[Listing, ListingRevision]:
    category = await categories.get(session, data["category_code"])
    if not category.listable:
        raise CatalogInvalid(
            "Listings go in leaf categories.",
            code="catalog.category_not_listable",
            title="请选择末级品目",
            errors=[{"field": "category_code", "message": "not a leaf category"}],
        )
    data = without_invisible(data)
    check_content(categories.to_spec(category), data)
    listing = Listing(supplier_id=supplier_id, category_code=category.code, status="draft")
    session.add(listing)
    await session.flush()
    content = {k: data[k] for k in CONTENT_FIELDS if k in data}
    revision = ListingRevision(
        listing_id=listing.id,
        supplier_id=supplier_id,
        number=1,
        status="draft",
        category_code=category.code,
        **content,
        **_derived(content),
    )
    session.add(revision)
    await session.flush()
    listing.current_revision_id = revision.id
    return listing, revision


async def get_owned(
    session: AsyncSession, supplier_id: uuid.UUID, listing_id: uuid.UUID, *, lock: bool = False
) -> Listing:
    query = select(Listing).where(Listing.id == listing_id, Listing.supplier_id == supplier_id)
    if lock:
        query = query.with_for_update()
    listing = (await session.scalars(query)).one_or_none()
    if listing is None:
        raise CatalogNotFound(
            "No such listing among yours.", code="catalog.listing_not_found", title="未找到该商品"
        )
    return listing


async def get_on_sale(session: AsyncSession, listing_id: uuid.UUID) -> Listing:
    """A listing whose live revision is on sale (what a purchaser may see), whatever
    newer revision its supplier is editing or has under review."""
    listing = (
        await session.scalars(
            select(Listing).where(
                Listing.id == listing_id,
                Listing.live_revision_id.is_not(None),
                Listing.delisted_at.is_(None),
            )
        )
    ).one_or_none()
    if listing is None:
        raise CatalogNotFound(
            "No such listing on sale.", code="catalog.listing_not_found", title="未找到该商品"
        )
    return listing


async def get_any(session: AsyncSession, listing_id: uuid.UUID) -> Listing:
    listing = await session.get(Listing, listing_id)
    if listing is None:
        raise CatalogNotFound(
            "No such listing.", code="catalog.listing_not_found", title="未找到该商品"
        )
    return listing


async def revision(session: AsyncSession, revision_id: uuid.UUID | None) -> ListingRevision | None:
    return await session.get(ListingRevision, revision_id) if revision_id else None


async def current(session: AsyncSession, listing: Listing) -> ListingRevision:
    found = await revision(session, listing.current_revision_id)
    assert found is not None
    return found


def _sync_status(listing: Listing, current_revision: ListingRevision) -> None:
    """The listing's status follows its newest revision (or its delisting)."""
    if listing.delisted_at is not None and current_revision.status in (
        "approved",
        "superseded",
        "withdrawn",
        "draft",
    ):
        listing.status = "delisted"
    elif current_revision.status == "withdrawn":
        listing.status = "approved" if listing.live_revision_id else "draft"
    else:
        listing.status = current_revision.status


def _next_revision(
    listing: Listing, latest: ListingRevision, content: dict[str, Any]
) -> ListingRevision:
    return ListingRevision(
        listing_id=listing.id,
        supplier_id=listing.supplier_id,
        number=latest.number + 1,
        status="draft",
        category_code=listing.category_code,
        **content,
        **_derived(content),
    )


async def _replace_current(
    session: AsyncSession, listing: Listing, latest: ListingRevision, content: dict[str, Any]
) -> ListingRevision:
    """A new draft revision after ``latest`` (a rejected or waiting one is superseded)."""
    if latest.status in UNDER_REVIEW or latest.status == "rejected":
        latest.status = "superseded"
    new = _next_revision(listing, latest, content)
    session.add(new)
    await session.flush()
    listing.current_revision_id = new.id
    _sync_status(listing, new)
    return new


@dataclass(frozen=True, slots=True)
class StockChange:
    """Units on sale set at once on the live revision (and on a newer one awaiting review)."""

    listing: Listing
    revision: ListingRevision
    before: dict[str, int]
    after: int


async def edit(
    session: AsyncSession, supplier_id: uuid.UUID, listing_id: uuid.UUID, changes: dict[str, Any]
) -> ListingRevision | StockChange:
    """A draft is edited in place; anything else gets a new draft revision.

    Stock is not reviewed content: a change of the stock alone is made in place,
    on the live revision and on the newest one, and returns a ``StockChange``.
    """
    changes = without_invisible(changes)
    listing = await get_owned(session, supplier_id, listing_id, lock=True)
    latest = await current(session, listing)
    if set(changes) == {"stock"}:
        return await _set_stock(session, listing, latest, changes["stock"])
    category = await categories.get(session, listing.category_code)
    merged = {k: getattr(latest, k) for k in CONTENT_FIELDS} | changes
    check_content(
        categories.to_spec(category), merged | {"attributes": changes.get("attributes", {})}
    )
    if latest.status == "draft":
        for key, value in changes.items():
            setattr(latest, key, value)
        for key, value in _derived(merged).items():
            setattr(latest, key, value)
        _sync_status(listing, latest)
        return latest
    return await _replace_current(session, listing, latest, merged)


async def _set_stock(
    session: AsyncSession, listing: Listing, latest: ListingRevision, stock: int
) -> StockChange:
    targets = [latest]
    if listing.live_revision_id and listing.live_revision_id != latest.id:
        live = await session.get_one(
            ListingRevision, listing.live_revision_id, with_for_update=True
        )
        targets.insert(0, live)
    before = {str(r.number): r.stock for r in targets}
    for r in targets:
        r.stock = stock
    await session.flush()
    return StockChange(listing, latest, before, stock)


async def submit(
    session: AsyncSession, supplier_id: uuid.UUID, listing_id: uuid.UUID
) -> ListingRevision:
    """Submit the newest revision; a rejected one is copied into a new revision first
    (images live on the listing, so one added after the rejection is reviewed too)."""
    listing = await get_owned(session, supplier_id, listing_id, lock=True)
    latest = await current(session, listing)
    if latest.status == "rejected":
        content = {k: getattr(latest, k) for k in CONTENT_FIELDS}
        latest = await _replace_current(session, listing, latest, content)
    if latest.status not in ("draft", "withdrawn"):
        raise CatalogConflict(
            f"The newest revision is {latest.status}; edit the listing to submit a new one.",
            code="catalog.listing_state",
            title="当前状态不能提交审核",
            current_status=latest.status,
            allowed=["draft", "withdrawn", "rejected"],
        )
    latest.status = "submitted"
    latest.submitted_at = _now()
    _sync_status(listing, latest)
    return latest


async def withdraw(
    session: AsyncSession, supplier_id: uuid.UUID, listing_id: uuid.UUID
) -> ListingRevision:
    listing = await get_owned(session, supplier_id, listing_id, lock=True)
    latest = await current(session, listing)
    if latest.status not in UNDER_REVIEW:
        raise CatalogConflict(
            "Only a revision under review can be withdrawn.",
            code="catalog.listing_state",
            title="仅审核中的商品可撤回",
            current_status=latest.status,
            allowed=list(UNDER_REVIEW),
        )
    latest.status = "withdrawn"
    _sync_status(listing, latest)
    return latest


async def delist(
    session: AsyncSession, supplier_id: uuid.UUID | None, listing_id: uuid.UUID
) -> Listing:
    """Take a listing off sale (the supplier's own, or any when supplier_id is None: operators)."""
    listing = await (
        get_owned(session, supplier_id, listing_id, lock=True)
        if supplier_id
        else get_any(session, listing_id)
    )
    if listing.status == "delisted":
        raise CatalogConflict(
            "The listing is delisted already.",
            code="catalog.listing_state",
            title="商品已下架",
            current_status="delisted",
            allowed=[],
        )
    listing.delisted_at = _now()
    latest = await current(session, listing)
    if latest.status in UNDER_REVIEW:
        latest.status = "withdrawn"
    listing.status = "delisted"
    return listing


async def list_for_supplier(
    session: AsyncSession,
    supplier_id: uuid.UUID,
    limit: int = 100,
    offset: int = 0,
    status: str | None = None,
) -> Sequence[tuple[Listing, ListingRevision]]:
    """A supplier's listings with their current revision, newest first, optionally in one status."""
    query = (
        select(Listing, ListingRevision)
        .join(ListingRevision, ListingRevision.id == Listing.current_revision_id)
        .where(Listing.supplier_id == supplier_id)
    )
    if status is not None:
        query = query.where(Listing.status == status)
    rows = await session.execute(
        query.order_by(Listing.created_at.desc(), Listing.id.desc()).limit(limit).offset(offset)
    )
    return [(row[0], row[1]) for row in rows]


async def relist(
    session: AsyncSession, supplier_id: uuid.UUID, listing_id: uuid.UUID
) -> ListingRevision:
    """Submit a delisted listing's live content again: a new revision, a copy of the
    live one, reviewed under the active ruleset; the listing is back on sale when
    it is approved."""
    listing = await get_owned(session, supplier_id, listing_id, lock=True)
    latest = await current(session, listing)
    if listing.delisted_at is None or listing.live_revision_id is None:
        raise CatalogConflict(
            "Only a delisted listing that was on sale can be relisted.",
            code="catalog.listing_state",
            title="仅已下架的商品可重新上架",
            current_status=listing.status,
            allowed=["delisted"],
        )
    if latest.status in ("draft", *UNDER_REVIEW):
        raise CatalogConflict(
            f"The newest revision is {latest.status}: submit it instead.",
            code="catalog.listing_state",
            title="已有待提交或审核中的版本，请直接提交该版本",
            current_status=latest.status,
            allowed=["approved", "withdrawn", "rejected"],
        )
    live = await session.get_one(ListingRevision, listing.live_revision_id)
    content = {k: getattr(live, k) for k in CONTENT_FIELDS}
    revision = await _replace_current(session, listing, latest, content)
    revision.status, revision.submitted_at = "submitted", _now()
    listing.status = "submitted"
    return revision


async def delete(session: AsyncSession, supplier_id: uuid.UUID, listing_id: uuid.UUID) -> Listing:
    """Remove a listing that never went on sale, while nothing is under review."""
    listing = await get_owned(session, supplier_id, listing_id, lock=True)
    latest = await current(session, listing)
    if listing.live_revision_id is not None or latest.status not in DELETABLE:
        raise CatalogConflict(
            "Only a draft or rejected listing that was never on sale can be deleted;"
            " delist a listing that was on sale.",
            code="catalog.listing_not_deletable",
            title="仅未上架过的草稿或被驳回商品可删除，已上架过的商品请下架",
            current_status=listing.status,
            allowed=list(DELETABLE),
        )
    await session.delete(listing)
    await session.flush()
    return listing
