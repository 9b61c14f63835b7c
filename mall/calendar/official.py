"""The State Council schedules that the ``chinesecalendar`` package carries."""

from __future__ import annotations

from functools import lru_cache

from chinese_calendar import constants

from mall.calendar.core import YearSchedule

SOURCE = "国务院办公厅关于部分节假日安排的通知 (chinesecalendar package)"


@lru_cache(maxsize=1)
def packaged_schedules() -> dict[int, YearSchedule]:
    years = {day.year for day in constants.holidays}
    return {
        year: YearSchedule(
            year=year,
            holidays=frozenset(d for d in constants.holidays if d.year == year),
            workdays=frozenset(d for d in constants.workdays if d.year == year),
            source=SOURCE,
        )
        for year in sorted(years)
    }
