"""The working-day calendar: public reads, operator-loaded schedules."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import Controller, Request, get, put
from litestar.params import JSONBody, PathParameter, QueryParameter

from mall.api.deps import DbSession
from mall.api.params import parse_date
from mall.auth.guards import current_principal, requires
from mall.auth.models import OrgKind
from mall.calendar import service
from mall.calendar.core import SHANGHAI
from mall.errors import InvalidError

# The years the calendar table holds (its check constraint). A path parameter
# takes its bounds from PathParameter: a msgspec.Meta under FromPath is ignored.
Year = Annotated[int, PathParameter(ge=1990, le=2200)]


class YearScheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    holidays: list[dt.date]
    workdays: list[dt.date]
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class YearScheduleOut(msgspec.Struct):
    year: int
    holidays: list[dt.date]
    workdays: list[dt.date]
    source: str | None
    official: bool


class DeadlineOut(msgspec.Struct):
    due_at: str
    provisional: bool
    last_working_day: dt.date


class WorkingDaysOut(msgspec.Struct):
    count: int
    provisional: bool


def _out(view: service.YearView) -> YearScheduleOut:
    return YearScheduleOut(
        year=view.year,
        holidays=view.holidays,
        workdays=view.workdays,
        source=view.source,
        official=view.official,
    )


class CalendarController(Controller):
    path = "/api/v1/calendar"
    tags = ["calendar"]

    @get("/years/{year:int}", summary="A year's official schedule (public)")
    async def get_year(self, year: Year, db_session: DbSession) -> YearScheduleOut:
        """A year's holidays and make-up working days, and whether they come from the official State
        Council schedule.
        """
        return _out(await service.get_year(db_session, year))

    @put(
        "/years/{year:int}",
        guards=[requires(OrgKind.OPERATOR)],
        summary="Load or override a year's official schedule (operators)",
    )
    async def put_year(
        self,
        request: Request,
        year: Year,
        data: JSONBody[YearScheduleIn],
        db_session: DbSession,
    ) -> YearScheduleOut:
        """Loads or corrects a year's official schedule (holidays and make-up working days);
        provisional deadlines are recomputed.
        """
        view = await service.put_year(
            db_session,
            current_principal(request),
            year=year,
            holidays=data.holidays,
            workdays=data.workdays,
            source=data.source,
        )
        return _out(view)

    @get("/deadline", summary="When N working days from an event end (public)")
    async def deadline(
        self,
        db_session: DbSession,
        start: Annotated[dt.datetime, QueryParameter(description="ISO 8601 with UTC offset")],
        working_days: Annotated[int, QueryParameter(ge=0, le=365)],
    ) -> DeadlineOut:
        """When N working days after `start` end: 24:00 Beijing time of the Nth working day after
        the day of `start`, that day not counted. `provisional` when the year has no official
        schedule loaded.
        """
        if start.tzinfo is None:
            raise InvalidError(
                "start needs a UTC offset, e.g. 2026-09-30T10:00:00+08:00.",
                code="calendar.start_without_offset",
                title="开始时间须带时区偏移",
                errors=[{"field": "start", "message": "missing UTC offset"}],
            )
        calendar = await service.load_calendar(db_session)
        result = calendar.deadline(start, working_days)
        return DeadlineOut(
            due_at=result.due_at.astimezone(SHANGHAI).isoformat(),
            provisional=result.provisional,
            last_working_day=result.last_working_day,
        )

    @get("/working-days", summary="Working days between two dates, both included (public)")
    async def working_days(
        self,
        db_session: DbSession,
        from_: Annotated[str, QueryParameter(name="from", description="YYYY-MM-DD")],
        to: Annotated[str, QueryParameter(description="YYYY-MM-DD, included")],
    ) -> WorkingDaysOut:
        """The working days from `from` to `to`, both included."""
        first, last = parse_date(from_, "from"), parse_date(to, "to")
        if last < first:
            raise InvalidError(
                "to is before from.",
                code="calendar.range_reversed",
                title="结束日期早于开始日期",
                errors=[{"field": "to", "message": "must not be before from"}],
            )
        if (last - first).days > 3 * 366:
            raise InvalidError(
                "The range may span at most three years.",
                code="calendar.range_too_long",
                title="日期范围不能超过三年",
                errors=[{"field": "to", "message": "at most three years after from"}],
            )
        count, provisional = (await service.load_calendar(db_session)).count_working_days(
            first, last
        )
        return WorkingDaysOut(count=count, provisional=provisional)
