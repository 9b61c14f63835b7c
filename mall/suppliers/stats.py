"""Supplier statistics (the figures the Baotou e-mall reports)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mall.auth.models import Organisation, OrgKind, OrgStatus, supplier_category


@dataclass(frozen=True, slots=True)
class SupplierStats:
    total: int
    in_region: int
    in_region_share: float
    individual_business: int
    individual_business_share: float
    by_status: dict[str, int]
    by_category: dict[str, int]


def share(part: int, whole: int) -> float:
    """A percentage with two decimals (2,348 of 2,823 → 83.17)."""
    return round(100 * part / whole, 2) if whole else 0.0


async def supplier_stats(session: AsyncSession) -> SupplierStats:
    suppliers = Organisation.kind == OrgKind.SUPPLIER.value
    active = suppliers & (Organisation.status == OrgStatus.ACTIVE.value)
    total, in_region, individual = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Organisation.in_region.is_(True)),
                func.count().filter(Organisation.business_type == "individual_business"),
            ).where(active)
        )
    ).one()
    by_status = dict(
        (
            await session.execute(
                select(Organisation.status, func.count())
                .where(suppliers)
                .group_by(Organisation.status)
            )
        ).all()
    )
    by_category = dict(
        (
            await session.execute(
                select(supplier_category.c.category_code, func.count())
                .join(Organisation, Organisation.id == supplier_category.c.org_id)
                .where(active)
                .group_by(supplier_category.c.category_code)
            )
        ).all()
    )
    all_categories = await session.scalar(
        select(func.count()).where(active, Organisation.all_categories.is_(True))
    )
    if all_categories:
        by_category["*"] = int(all_categories)
    return SupplierStats(
        total=total,
        in_region=in_region,
        in_region_share=share(in_region, total),
        individual_business=individual,
        individual_business_share=share(individual, total),
        by_status=by_status,
        by_category=by_category,
    )
