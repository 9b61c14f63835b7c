"""Order statistics for operators and regulators: orders and amounts by status
and category, change requests by type and reason, deadlines kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mall.calendar.core import WorkCalendar
from mall.orders.models import OrderChangeRequest, OrderLine, PurchaseOrder
from mall.sla.stats import sla_stats

# The figure's name → the SLA clock kind it reads.
ON_TIME_KINDS = {
    "verification": "change_request_verification",
    "confirmation": "order_confirmation",
    "contract": "contract",
    "acceptance": "acceptance",
    "payment": "payment",
}


@dataclass(frozen=True, slots=True)
class Bucket:
    orders: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OrderStats:
    orders: int
    amount: Decimal
    by_status: dict[str, Bucket]
    by_category: dict[str, Bucket]
    change_requests_by_type: dict[str, int]
    change_requests_by_reason: dict[str, int]
    change_requests_by_status: dict[str, int]
    on_time_rate: dict[str, float | None]  # percent, per figure in ON_TIME_KINDS
    median_verification_working_hours: float | None


async def order_stats(
    session: AsyncSession,
    calendar: WorkCalendar,
    *,
    placed_from: dt.datetime | None = None,
    placed_to: dt.datetime | None = None,
) -> OrderStats:
    """Orders placed in [from, to); clocks started in the same window."""
    where = []
    if placed_from:
        where.append(PurchaseOrder.placed_at >= placed_from)
    if placed_to:
        where.append(PurchaseOrder.placed_at < placed_to)
    by_status = {
        status: Bucket(int(n), amount or Decimal("0.00"))
        for status, n, amount in await session.execute(
            select(PurchaseOrder.status, func.count(), func.sum(PurchaseOrder.total_amount))
            .where(*where)
            .group_by(PurchaseOrder.status)
            .order_by(PurchaseOrder.status)
        )
    }
    by_category = {
        code: Bucket(int(n), amount or Decimal("0.00"))
        for code, n, amount in await session.execute(
            select(
                OrderLine.category_code,
                func.count(func.distinct(OrderLine.order_id)),
                func.sum(OrderLine.amount),
            )
            .join(PurchaseOrder, PurchaseOrder.id == OrderLine.order_id)
            .where(*where)
            .group_by(OrderLine.category_code)
            .order_by(OrderLine.category_code)
        )
    }
    change_where = []
    if placed_from:
        change_where.append(OrderChangeRequest.submitted_at >= placed_from)
    if placed_to:
        change_where.append(OrderChangeRequest.submitted_at < placed_to)

    async def count_by(column: object) -> dict[str, int]:
        rows = await session.execute(
            select(column, func.count()).where(*change_where).group_by(column).order_by(column)
        )
        return {str(key): int(n) for key, n in rows}

    clocks = {
        s.kind: s
        for s in await sla_stats(
            session, calendar, kind=None, started_from=placed_from, started_to=placed_to
        )
    }
    verification = clocks.get(ON_TIME_KINDS["verification"])
    return OrderStats(
        orders=sum(b.orders for b in by_status.values()),
        amount=sum((b.amount for b in by_status.values()), start=Decimal("0.00")),
        by_status=by_status,
        by_category=by_category,
        change_requests_by_type=await count_by(OrderChangeRequest.type),
        change_requests_by_reason=await count_by(OrderChangeRequest.reason),
        change_requests_by_status=await count_by(OrderChangeRequest.status),
        on_time_rate={
            name: (clocks[kind].on_time_rate if kind in clocks else None)
            for name, kind in ON_TIME_KINDS.items()
        },
        median_verification_working_hours=(
            verification.median_hours_to_meet if verification else None
        ),
    )
