"""Completed orders as the public sees them: purchasing unit, supplier, items,
amounts and the dates of each step, never the contact person, the phone or the
delivery address (personal data).

An order is completed when the supplier confirms the money arrived; nothing
changes it afterwards (returns and terminations end at invoice receipt), so
``status_changed_at`` of a completed order is its completion time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mall.audit.models import AuditEvent
from mall.auth.models import Organisation
from mall.errors import InvalidError
from mall.orders.models import OrderLine, PurchaseOrder
from mall.orders.service import remaining

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_WINDOW_DAYS = 30
# The dates a window may name: the mall holds nothing before 2000, and a day near
# the ends of the calendar has no 24:00 in UTC (``datetime`` would overflow).
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(9998, 12, 31)
MAX_WINDOW_DAYS = 366
# The audit actions that date each public step of an order.
STEP_ACTIONS = {
    "order.confirmed": "confirmed",
    "order.accepted": "accepted",
    "order.paid": "paid",
    "order.completed": "completed",
}


@dataclass(frozen=True, slots=True)
class Window:
    """Completion days ``first`` to ``last`` (both included, Beijing time) as UTC bounds."""

    first: dt.date
    last: dt.date

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), SHANGHAI).astimezone(dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: 24:00 of the last day."""
        following = self.last + dt.timedelta(days=1)
        return dt.datetime.combine(following, dt.time(), SHANGHAI).astimezone(dt.UTC)


def _invalid(field: str, message: str, detail: str, code: str) -> InvalidError:
    return InvalidError(
        detail,
        code=code,
        title="查询时间范围无效",
        errors=[{"field": field, "source": "query", "message": message}],
    )


def _date(value: str, field: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise _invalid(
            field,
            "expected a date (YYYY-MM-DD)",
            f"{field} must be a date (YYYY-MM-DD); got {value!r}.",
            "request.validation_failed",
        ) from None
    if not EARLIEST <= day <= LATEST:
        raise _invalid(
            field,
            f"expected a date from {EARLIEST} to {LATEST}",
            f"{field} must be a date from {EARLIEST} to {LATEST}; got {value!r}.",
            "request.validation_failed",
        )
    return day


def completion_window(first: str | None, last: str | None, *, today: dt.date) -> Window:
    """The days to publish: ``from`` and ``to`` both included; by default the last
    30 days up to ``today``; at most 366 days."""
    given_start = _date(first, "from") if first else None
    end = _date(last, "to") if last else today
    start = given_start or end - dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    if start > end:
        raise _invalid(
            "from",
            "must not be after to",
            f"from ({start}) is after to ({end}).",
            "public.window_invalid",
        )
    if (end - start).days + 1 > MAX_WINDOW_DAYS:
        raise _invalid(
            "to",
            f"at most {MAX_WINDOW_DAYS} days after from (both included)",
            f"The window is {(end - start).days + 1} days; at most {MAX_WINDOW_DAYS}.",
            "public.window_too_long",
        )
    return Window(start, end)


def today_in_china() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


@dataclass(frozen=True, slots=True)
class CompletedOrder:
    order: PurchaseOrder
    purchaser: Organisation
    supplier: Organisation
    # The lines with something left on them (returned or terminated units are not bought).
    lines: list[OrderLine]
    confirmed_at: dt.datetime | None
    accepted_at: dt.datetime | None
    paid_at: dt.datetime | None
    completed_at: dt.datetime


async def completed_orders(
    session: AsyncSession, window: Window, *, limit: int, offset: int
) -> list[CompletedOrder]:
    """Orders completed in the window, oldest completion first (a stable order to page by)."""
    orders = (
        await session.scalars(
            select(PurchaseOrder)
            .where(
                PurchaseOrder.status == "completed",
                PurchaseOrder.status_changed_at >= window.start,
                PurchaseOrder.status_changed_at < window.end,
            )
            .order_by(PurchaseOrder.status_changed_at, PurchaseOrder.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    if not orders:
        return []
    ids = [order.id for order in orders]
    org_ids = {o.purchaser_org_id for o in orders} | {o.supplier_org_id for o in orders}
    orgs = {
        org.id: org
        for org in (
            await session.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))
        ).all()
    }
    lines: dict[uuid.UUID, list[OrderLine]] = defaultdict(list)
    for line in (
        await session.scalars(
            select(OrderLine)
            .where(OrderLine.order_id.in_(ids))
            .order_by(OrderLine.order_id, OrderLine.line_no)
        )
    ).all():
        if remaining(line) > 0:
            lines[line.order_id].append(line)
    steps: dict[tuple[str, str], dt.datetime] = {
        (subject_id, STEP_ACTIONS[action]): at
        for subject_id, action, at in (
            await session.execute(
                select(AuditEvent.subject_id, AuditEvent.action, func.max(AuditEvent.occurred_at))
                .where(
                    AuditEvent.subject_type == "order",
                    AuditEvent.subject_id.in_([str(i) for i in ids]),
                    AuditEvent.action.in_(list(STEP_ACTIONS)),
                )
                .group_by(AuditEvent.subject_id, AuditEvent.action)
            )
        ).all()
    }
    return [
        CompletedOrder(
            order=order,
            purchaser=orgs[order.purchaser_org_id],
            supplier=orgs[order.supplier_org_id],
            lines=lines[order.id],
            confirmed_at=steps.get((str(order.id), "confirmed")),
            accepted_at=steps.get((str(order.id), "accepted")),
            paid_at=steps.get((str(order.id), "paid")),
            completed_at=order.status_changed_at,
        )
        for order in orders
    ]
