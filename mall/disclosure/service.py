"""What must be public, read without login: published listings, supplier
profiles with their credit score and sanctions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Listing, ListingRevision
from mall.auth.models import Organisation, OrgKind, OrgStatus
from mall.errors import NotFoundError
from mall.penalties import service as penalties
from mall.penalties.models import Penalty, PenaltyKind

# Standings a supplier can be publicly listed with (a pending or rejected applicant is not).
PUBLIC_STANDINGS = (
    OrgStatus.ACTIVE.value,
    OrgStatus.SUSPENDED.value,
    OrgStatus.EXPELLED.value,
    OrgStatus.WITHDRAWN.value,
)


@dataclass(frozen=True, slots=True)
class PublicListing:
    listing: Listing
    revision: ListingRevision
    supplier: Organisation
    score: Decimal
    grade: str


async def published_listings(
    session: AsyncSession,
    *,
    category_prefix: str | None,
    supplier_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> list[PublicListing]:
    """Listings on sale from suppliers in good standing, newest first."""
    query = (
        select(Listing, ListingRevision, Organisation)
        .join(ListingRevision, ListingRevision.id == Listing.live_revision_id)
        .join(Organisation, Organisation.id == Listing.supplier_id)
        .where(Listing.delisted_at.is_(None), Organisation.status == OrgStatus.ACTIVE.value)
        .order_by(Listing.created_at.desc(), Listing.id)
        .limit(limit)
        .offset(offset)
    )
    if category_prefix:
        query = query.where(Listing.category_code.startswith(category_prefix))
    if supplier_id:
        query = query.where(Listing.supplier_id == supplier_id)
    rows = (await session.execute(query)).all()
    scores = await penalties.scores(session, list({row[2].id for row in rows}))
    return [
        PublicListing(row[0], row[1], row[2], scores[row[2].id].score, scores[row[2].id].grade)
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class SupplierProfile:
    supplier: Organisation
    score: Decimal
    grade: str
    penalties: Sequence[tuple[Penalty, PenaltyKind]]


async def supplier_profiles(
    session: AsyncSession, *, region_prefix: str | None, limit: int, offset: int
) -> list[SupplierProfile]:
    query = (
        select(Organisation)
        .where(
            Organisation.kind == OrgKind.SUPPLIER.value,
            Organisation.status.in_(PUBLIC_STANDINGS),
        )
        .order_by(Organisation.name, Organisation.id)
        .limit(limit)
        .offset(offset)
    )
    if region_prefix:
        query = query.where(Organisation.region_code.startswith(region_prefix))
    orgs = (await session.scalars(query)).all()
    scores = await penalties.scores(session, [org.id for org in orgs])
    return [SupplierProfile(org, scores[org.id].score, scores[org.id].grade, []) for org in orgs]


async def supplier_profile(session: AsyncSession, supplier_id: uuid.UUID) -> SupplierProfile:
    org = (
        await session.scalars(
            select(Organisation).where(
                Organisation.id == supplier_id,
                Organisation.kind == OrgKind.SUPPLIER.value,
                Organisation.status.in_(PUBLIC_STANDINGS),
            )
        )
    ).one_or_none()
    if org is None:
        raise NotFoundError("No such supplier.", code="supplier.not_found", title="未找到该供应商")
    credit = await penalties.score_of(session, org.id)
    rows = (
        await session.execute(
            select(Penalty, PenaltyKind)
            .join(PenaltyKind, PenaltyKind.code == Penalty.code)
            .where(Penalty.supplier_id == org.id)
            .order_by(Penalty.imposed_at.desc())
        )
    ).all()
    return SupplierProfile(org, credit.score, credit.grade, [(r[0], r[1]) for r in rows])
