"""SLA statistics for regulators: per kind, how many promises were kept on time."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mall.calendar.core import WorkCalendar
from mall.sla.models import SlaClock


@dataclass(frozen=True, slots=True)
class KindStats:
    kind: str
    started: int
    met_on_time: int
    met_late: int
    open: int
    open_breached: int
    on_time_rate: float | None  # percent of decided clocks met on time
    median_hours_to_meet: float | None  # working hours
    p90_hours_to_meet: float | None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def sla_stats(
    session: AsyncSession,
    calendar: WorkCalendar,
    *,
    kind: str | None,
    started_from: dt.datetime | None,
    started_to: dt.datetime | None,
) -> list[KindStats]:
    """Clocks started in [from, to), grouped by kind."""
    conditions = []
    if kind:
        conditions.append(SlaClock.kind == kind)
    if started_from:
        conditions.append(SlaClock.started_at >= started_from)
    if started_to:
        conditions.append(SlaClock.started_at < started_to)
    where = and_(True, *conditions)

    def count(condition: object) -> object:
        return func.sum(case((condition, 1), else_=0)).cast(Integer)

    met = SlaClock.met_at.is_not(None)
    rows = (
        await session.execute(
            select(
                SlaClock.kind,
                func.count(),
                count(and_(met, SlaClock.met_at <= SlaClock.due_at)),
                count(and_(met, SlaClock.met_at > SlaClock.due_at)),
                count(SlaClock.met_at.is_(None)),
                count(and_(SlaClock.met_at.is_(None), SlaClock.breached_at.is_not(None))),
            )
            .where(where)
            .group_by(SlaClock.kind)
            .order_by(SlaClock.kind)
        )
    ).all()
    durations: dict[str, list[float]] = {}
    for row in await session.execute(
        select(SlaClock.kind, SlaClock.started_at, SlaClock.met_at).where(where, met)
    ):
        hours = calendar.working_seconds(row.started_at, row.met_at) / 3600
        durations.setdefault(row.kind, []).append(hours)
    result = []
    for kind_name, started, on_time, late, open_, open_breached in rows:
        decided = on_time + late + open_breached
        hours = sorted(durations.get(kind_name, []))
        result.append(
            KindStats(
                kind=kind_name,
                started=started,
                met_on_time=on_time,
                met_late=late,
                open=open_,
                open_breached=open_breached,
                on_time_rate=round(100 * on_time / decided, 2) if decided else None,
                median_hours_to_meet=round(statistics.median(hours), 2) if hours else None,
                p90_hours_to_meet=round(p90, 2)
                if (p90 := _percentile(hours, 90)) is not None
                else None,
            )
        )
    return result
