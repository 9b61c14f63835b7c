"""Working days and deadlines in China's official calendar. Pure: no I/O.

A working day (工作日) is Monday to Friday, minus the public holidays of the
State Council's schedule for that year, plus the weekend days it turns into
working days (调休). A year without a loaded schedule falls back to Monday to
Friday minus the statutory holidays the 放假办法 names
(``mall.calendar.statutory``: 元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆 on their
computed dates); its make-up workdays are unknown, so anything computed from
it is *provisional*.

Deadline rule (Civil Code arts. 201 and 203): N working days from an event
at time t end at 24:00 Asia/Shanghai of the Nth working day after the
calendar day of t; the day of t is not counted, whatever the hour. 24:00 is
written as 00:00 of the next day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from mall.calendar.statutory import statutory_holidays

SHANGHAI = ZoneInfo("Asia/Shanghai")
ONE_DAY = dt.timedelta(days=1)
# A deadline further than this many calendar days away is refused, so a
# mistaken schedule (a year of holidays) cannot loop for ever.
_MAX_SPAN_DAYS = 3 * 366


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year's official schedule: days off, and weekend days worked."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str | None = None

    def __post_init__(self) -> None:
        problems = schedule_problems(self.year, self.holidays, self.workdays)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))


def schedule_problems(
    year: int, holidays: Iterable[dt.date], workdays: Iterable[dt.date]
) -> list[tuple[str, str]]:
    """What is wrong with a schedule, as (field, message) pairs; empty when valid."""
    problems: list[tuple[str, str]] = []
    holiday_list, workday_list = list(holidays), list(workdays)
    for index, day in enumerate(holiday_list):
        if day.year != year:
            problems.append((f"holidays[{index}]", f"{day} is not in {year}"))
    for index, day in enumerate(workday_list):
        if day.year != year:
            problems.append((f"workdays[{index}]", f"{day} is not in {year}"))
        elif day.weekday() < 5:
            problems.append(
                (
                    f"workdays[{index}]",
                    f"{day} is a weekday; list only weekend days that are worked",
                )
            )
    for day in sorted(set(holiday_list) & set(workday_list)):
        problems.append(("workdays", f"{day} is listed both as a holiday and as a working day"))
    return problems


@dataclass(frozen=True, slots=True)
class Deadline:
    due_at: dt.datetime  # aware, Asia/Shanghai: 00:00 after the last working day
    last_working_day: dt.date
    provisional: bool


@dataclass(frozen=True)
class WorkCalendar:
    """Working days from the schedules it holds; elsewhere Monday to Friday less
    the statutory holidays (``provisional_holidays`` of the year)."""

    schedules: Mapping[int, YearSchedule] = field(default_factory=dict)
    provisional_holidays: Callable[[int], frozenset[dt.date]] = statutory_holidays

    def is_official(self, year: int) -> bool:
        return year in self.schedules

    def is_working_day(self, day: dt.date) -> bool:
        schedule = self.schedules.get(day.year)
        if schedule is not None:
            if day in schedule.workdays:
                return True
            if day in schedule.holidays:
                return False
            return day.weekday() < 5
        return day.weekday() < 5 and day not in self.provisional_holidays(day.year)

    def add_working_days(self, day: dt.date, n: int) -> tuple[dt.date, bool]:
        """The Nth working day after ``day`` (``day`` itself when N is 0), and
        whether any year it crossed has no official schedule."""
        if n < 0:
            raise ValueError("working days cannot be negative")
        provisional = not self.is_official(day.year)
        current, remaining = day, n
        for _ in range(_MAX_SPAN_DAYS):
            if remaining == 0:
                return current, provisional
            current += ONE_DAY
            provisional = provisional or not self.is_official(current.year)
            if self.is_working_day(current):
                remaining -= 1
        raise ValueError(f"{n} working days after {day} is more than three years away")

    def deadline(self, start: dt.datetime, working_days: int) -> Deadline:
        """When N working days from the event at ``start`` end (see module docstring)."""
        if start.tzinfo is None:
            raise ValueError("start must carry its UTC offset")
        start_day = start.astimezone(SHANGHAI).date()
        last, provisional = self.add_working_days(start_day, working_days)
        due = dt.datetime.combine(last + ONE_DAY, dt.time(0), tzinfo=SHANGHAI)
        return Deadline(due_at=due, last_working_day=last, provisional=provisional)

    def count_working_days(self, first: dt.date, last: dt.date) -> tuple[int, bool]:
        """Working days from ``first`` to ``last``, both included; and provisional."""
        if last < first:
            return 0, False
        count, provisional, day = 0, False, first
        while day <= last:
            provisional = provisional or not self.is_official(day.year)
            count += self.is_working_day(day)
            day += ONE_DAY
        return count, provisional

    def shift_by_pause(
        self, due_at: dt.datetime, paused_at: dt.datetime, resumed_at: dt.datetime
    ) -> tuple[dt.datetime, int, bool]:
        """Move a due time by the working days a pause took.

        The working days paused are those after the day the pause began, up to
        and including the day it ended; a pause within one day moves nothing.
        Returns (new due time, working days paused, provisional).
        """
        pause_day = paused_at.astimezone(SHANGHAI).date()
        resume_day = resumed_at.astimezone(SHANGHAI).date()
        paused, provisional_pause = self.count_working_days(pause_day + ONE_DAY, resume_day)
        last_day = due_at.astimezone(SHANGHAI).date() - ONE_DAY
        new_last, provisional_due = self.add_working_days(last_day, paused)
        due = dt.datetime.combine(new_last + ONE_DAY, dt.time(0), tzinfo=SHANGHAI)
        return due, paused, provisional_pause or provisional_due

    def working_seconds(self, start: dt.datetime, end: dt.datetime) -> float:
        """Seconds between two moments that fall on working days (local time)."""
        if end <= start:
            return 0.0
        local_start, local_end = start.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
        total, day = 0.0, local_start.date()
        while day <= local_end.date():
            if self.is_working_day(day):
                day_start = dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI)
                day_end = day_start + ONE_DAY
                overlap = min(day_end, local_end) - max(day_start, local_start)
                total += max(overlap.total_seconds(), 0.0)
            day += ONE_DAY
        return total
