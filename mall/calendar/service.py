"""The calendar as the mall uses it: packaged schedules, overridden by years
operators load, cached per process and refreshed when any year changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.principal import Principal
from mall.calendar import statutory
from mall.calendar.core import WorkCalendar, YearSchedule, schedule_problems
from mall.calendar.models import CalendarYear, calendar_revision
from mall.calendar.official import packaged_schedules
from mall.errors import InvalidError
from mall.jobs.outbox import enqueue_job

RECOMPUTE_JOB = "recompute_provisional_clocks"

_cache: tuple[tuple[int, int], WorkCalendar] | None = None


@dataclass(frozen=True, slots=True)
class YearView:
    year: int
    holidays: list[dt.date]
    workdays: list[dt.date]
    source: str | None
    official: bool


def _from_row(row: CalendarYear) -> YearSchedule:
    return YearSchedule(
        year=row.year,
        holidays=frozenset(row.holidays),
        workdays=frozenset(row.workdays),
        source=row.source,
    )


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """The current calendar; one small query tells whether the cached copy is current."""
    global _cache  # noqa: PLW0603 - a per-process cache, keyed by the data's revision
    version = tuple(
        (
            await session.execute(
                select(func.coalesce(func.max(CalendarYear.revision), 0), func.count())
            )
        ).one()
    )
    if _cache is not None and _cache[0] == version:
        return _cache[1]
    schedules = dict(packaged_schedules())
    for row in (await session.execute(select(CalendarYear))).scalars():
        schedules[row.year] = _from_row(row)
    calendar = WorkCalendar(schedules)
    _cache = ((int(version[0]), int(version[1])), calendar)
    return calendar


async def get_year(session: AsyncSession, year: int) -> YearView:
    calendar = await load_calendar(session)
    schedule = calendar.schedules.get(year)
    if schedule is None:
        # Provisional: the statutory days off are known, the make-up workdays are not.
        return YearView(
            year=year,
            holidays=sorted(calendar.provisional_holidays(year)),
            workdays=[],
            source=statutory.SOURCE if calendar.provisional_holidays(year) else None,
            official=False,
        )
    return YearView(
        year=year,
        holidays=sorted(schedule.holidays),
        workdays=sorted(schedule.workdays),
        source=schedule.source,
        official=True,
    )


async def put_year(
    session: AsyncSession,
    principal: Principal,
    *,
    year: int,
    holidays: list[dt.date],
    workdays: list[dt.date],
    source: str,
) -> YearView:
    """Load or override a year's official schedule; provisional clocks are recomputed."""
    problems = schedule_problems(year, holidays, workdays)
    if problems:
        raise InvalidError(
            "The schedule is not valid for this year; see errors.",
            code="calendar.schedule_invalid",
            title="节假日安排无效",
            errors=[{"field": field, "message": message} for field, message in problems],
        )
    before = await get_year(session, year)
    values = {
        "year": year,
        "holidays": sorted(set(holidays)),
        "workdays": sorted(set(workdays)),
        "source": source.strip(),
        "loaded_by": principal.user_id,
    }
    stmt = insert(CalendarYear).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["year"],
        set_={**values, "revision": calendar_revision.next_value(), "updated_at": func.now()},
    ).returning(CalendarYear.revision)
    revision = (await session.execute(stmt)).scalar_one()
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="calendar.year_loaded",
        subject_type="calendar_year",
        subject_id=year,
        before={
            "official": before.official,
            "holidays": before.holidays,
            "workdays": before.workdays,
            "source": before.source,
        },
        after={
            "holidays": values["holidays"],
            "workdays": values["workdays"],
            "source": values["source"],
        },
    )
    await enqueue_job(session, RECOMPUTE_JOB, key=f"{year}:{revision}", year=year)
    return YearView(
        year=year,
        holidays=values["holidays"],
        workdays=values["workdays"],
        source=values["source"],
        official=True,
    )
