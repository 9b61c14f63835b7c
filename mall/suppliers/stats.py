"""Supplier statistics (the figures the Baotou e-mall reports).

Two populations, named apart so that the figures add up:

- ``active``: suppliers that may trade now (status ``active``). The shares
  (in the region, individual businesses) and the categories count these.
- ``registered``: every supplier organisation the mall holds, whatever its
  status (applicants still ``pending``, ``rejected``, ``suspended``, ...).
  ``registered_by_status`` splits it and sums to it; its ``active`` entry is
  ``active``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mall.auth.models import Organisation, OrgKind, OrgStatus, supplier_category


@dataclass(frozen=True, slots=True)
class SupplierStats:
    active: int
    active_in_region: int
    active_in_region_share: float
    active_individual_business: int
    active_individual_business_share: float
    active_by_category: dict[str, int]
    registered: int
    registered_by_status: dict[str, int]


def share(part: int, whole: int) -> float:
    """A percentage with two decimals (2,348 of 2,823 → 83.17)."""
    return round(100 * part / whole, 2) if whole else 0.0


async def supplier_stats(session: AsyncSession) -> SupplierStats:
    """Active suppliers with their shares and categories, and all registered ones by status."""
    suppliers = Organisation.kind == OrgKind.SUPPLIER.value
    active = suppliers & (Organisation.status == OrgStatus.ACTIVE.value)
    active_count, in_region, individual = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Organisation.in_region.is_(True)),
                func.count().filter(Organisation.business_type == "individual_business"),
            ).where(active)
        )
    ).one()
    by_status = {
        status: int(count)
        for status, count in (
            await session.execute(
                select(Organisation.status, func.count())
                .where(suppliers)
                .group_by(Organisation.status)
            )
        ).all()
    }
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
        active=active_count,
        active_in_region=in_region,
        active_in_region_share=share(in_region, active_count),
        active_individual_business=individual,
        active_individual_business_share=share(individual, active_count),
        active_by_category=by_category,
        registered=sum(by_status.values()),
        registered_by_status=by_status,
    )
