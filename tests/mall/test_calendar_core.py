"""The deadline rule against the official 2026 schedule (pure, no fixtures)."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mall.calendar import statutory
from mall.calendar.core import SHANGHAI, WorkCalendar, YearSchedule, schedule_problems
from mall.calendar.official import packaged_schedules

CAL = WorkCalendar(packaged_schedules())


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# (event time, local; working days; last working day; why)
CASES = [
    ("2025-12-31 10:00:00", 1, "2026-01-04", "Jan 1-3 off; Sunday Jan 4 is a make-up workday"),
    ("2025-12-31 23:59:59", 1, "2026-01-04", "the hour of the event does not matter"),
    ("2026-01-01 00:00:00", 1, "2026-01-04", "an event on a holiday: its day is not counted"),
    ("2026-01-02 12:00:00", 2, "2026-01-05", "make-up Sunday, then Monday"),
    ("2026-01-04 09:00:00", 1, "2026-01-05", "an event on the make-up Sunday"),
    ("2026-02-13 17:30:00", 1, "2026-02-14", "Saturday Feb 14 is a make-up workday"),
    ("2026-02-13 17:30:00", 2, "2026-02-24", "Spring Festival Feb 15-23 off"),
    ("2026-02-14 08:00:00", 1, "2026-02-24", "from the make-up Saturday over the festival"),
    ("2026-02-27 00:00:00", 1, "2026-02-28", "Saturday Feb 28 is a make-up workday"),
    ("2026-02-27 23:59:59", 2, "2026-03-02", "then Sunday off, Monday"),
    ("2026-04-03 10:00:00", 1, "2026-04-07", "Qingming Apr 4-6 off"),
    ("2026-04-30 10:00:00", 1, "2026-05-06", "Labour Day May 1-5 off"),
    ("2026-05-08 10:00:00", 1, "2026-05-09", "Saturday May 9 is a make-up workday"),
    ("2026-06-18 10:00:00", 1, "2026-06-22", "Dragon Boat Jun 19-21 off"),
    ("2026-09-19 10:00:00", 1, "2026-09-20", "Sunday Sep 20 is a make-up workday"),
    ("2026-09-24 10:00:00", 1, "2026-09-28", "Mid-Autumn Sep 25-27 off"),
    ("2026-09-30 00:00:00", 1, "2026-10-08", "National Day Oct 1-7 off"),
    ("2026-09-30 23:59:59", 1, "2026-10-08", "National Day, last second of the day"),
    ("2026-09-30 10:00:00", 2, "2026-10-09", "then Friday"),
    ("2026-09-30 10:00:00", 3, "2026-10-10", "Saturday Oct 10 is a make-up workday"),
    ("2026-09-30 10:00:00", 4, "2026-10-12", "then Sunday off, Monday"),
    ("2026-10-08 10:00:00", 10, "2026-10-21", "ten working days, one make-up Saturday inside"),
    ("2026-03-06 15:00:00", 1, "2026-03-09", "an ordinary weekend"),
    ("2026-03-06 15:00:00", 0, "2026-03-06", "zero working days: the end of the event's day"),
    ("2026-07-01 09:00:00", 5, "2026-07-08", "payment: five working days"),
    ("2026-11-02 09:00:00", 7, "2026-11-11", "acceptance: seven working days"),
]


@pytest.mark.parametrize(("event", "days", "last", "why"), CASES)
def test_official_2026(event: str, days: int, last: str, why: str) -> None:
    result = CAL.deadline(local(event), days)
    assert result.last_working_day == dt.date.fromisoformat(last), why
    assert result.due_at == local(last) + dt.timedelta(days=1), why
    assert result.due_at.isoformat().endswith("T00:00:00+08:00")
    assert not result.provisional


def test_issue_example_end_of_oct_8_is_midnight_oct_9() -> None:
    due = CAL.deadline(dt.datetime.fromisoformat("2026-09-30T10:00:00+08:00"), 1).due_at
    assert due.isoformat() == "2026-10-09T00:00:00+08:00"


def test_the_local_day_counts_not_the_utc_day() -> None:
    # 16:00 UTC on Sep 29 is 00:00 on Sep 30 in Beijing.
    assert CAL.deadline(dt.datetime(2026, 9, 29, 16, tzinfo=dt.UTC), 1).last_working_day == dt.date(
        2026, 10, 8
    )
    assert CAL.deadline(
        dt.datetime(2026, 9, 29, 15, 59, 59, tzinfo=dt.UTC), 1
    ).last_working_day == dt.date(2026, 9, 30)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        CAL.deadline(dt.datetime(2026, 1, 1), 1)


def test_into_an_unknown_year_is_provisional_until_it_is_loaded() -> None:
    start = local("2026-12-30 10:00:00")
    guessed = CAL.deadline(start, 3)
    assert guessed.provisional
    # Statutory 元旦 is off even without a schedule: Dec 31, Jan 4, Jan 5.
    assert guessed.last_working_day == dt.date(2027, 1, 5)
    # A loaded schedule adds what cannot be computed, such as a make-up Saturday.
    schedule_2027 = YearSchedule(
        2027, frozenset({dt.date(2027, 1, 1)}), frozenset({dt.date(2027, 1, 2)})
    )
    exact = WorkCalendar({**packaged_schedules(), 2027: schedule_2027}).deadline(start, 3)
    assert not exact.provisional
    assert exact.last_working_day == dt.date(2027, 1, 4)


def test_within_a_known_year_is_not_provisional() -> None:
    assert not CAL.deadline(local("2026-12-01 10:00:00"), 5).provisional


@pytest.mark.parametrize(
    ("first", "last", "count"),
    [
        ("2026-01-01", "2026-01-31", 21),  # 22 weekdays - Jan 1, 2 + Sunday Jan 4
        ("2026-02-01", "2026-02-28", 16),  # 20 weekdays - Feb 16-20, 23 + Feb 14, 28
        ("2026-10-01", "2026-10-31", 18),  # 22 weekdays - Oct 1, 2, 5, 6, 7 + Oct 10
        ("2026-10-08", "2026-10-08", 1),
        ("2026-10-03", "2026-10-04", 0),
        ("2026-10-09", "2026-10-01", 0),
    ],
)
def test_count_working_days(first: str, last: str, count: int) -> None:
    assert CAL.count_working_days(dt.date.fromisoformat(first), dt.date.fromisoformat(last)) == (
        count,
        False,
    )


def test_agrees_with_the_packaged_schedule_on_every_day() -> None:
    day = dt.date(2004, 1, 1)
    while day <= dt.date(2026, 12, 31):
        assert CAL.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


def test_schedule_problems_name_the_field() -> None:
    problems = schedule_problems(
        2027,
        [dt.date(2027, 1, 1), dt.date(2026, 12, 31)],
        [dt.date(2027, 1, 1), dt.date(2027, 1, 6)],
    )
    fields = [field for field, _ in problems]
    assert "holidays[1]" in fields  # outside the year
    assert "workdays[1]" in fields  # a Wednesday is not a make-up day
    assert "workdays" in fields  # Jan 1 both holiday and workday
    with pytest.raises(ValueError, match="both"):
        YearSchedule(2027, frozenset({dt.date(2027, 1, 2)}), frozenset({dt.date(2027, 1, 2)}))


def test_pause_moves_the_due_time_by_working_days_paused() -> None:
    # Verification started Monday Mar 2, 2 WD: due end of Wed Mar 4.
    started = local("2026-03-02 10:00:00")
    due = CAL.deadline(started, 2).due_at
    assert due == local("2026-03-05 00:00:00")
    # Paused Monday afternoon, resumed Thursday: Tue, Wed, Thu paused.
    moved, paused, provisional = CAL.shift_by_pause(
        due, local("2026-03-02 15:00:00"), local("2026-03-05 09:00:00")
    )
    assert paused == 3 and not provisional
    assert moved == local("2026-03-10 00:00:00")  # end of Mon Mar 9
    # A pause within one day moves nothing.
    same, paused, _ = CAL.shift_by_pause(
        due, local("2026-03-03 09:00:00"), local("2026-03-03 17:00:00")
    )
    assert (same, paused) == (due, 0)
    # Paused over National Day: only working days count.
    due = CAL.deadline(local("2026-09-29 10:00:00"), 2).due_at  # Sep 30, Oct 8 -> end of Oct 8
    moved, paused, _ = CAL.shift_by_pause(
        due, local("2026-09-30 09:00:00"), local("2026-10-09 09:00:00")
    )
    assert paused == 2  # Oct 8, 9
    assert moved == local("2026-10-11 00:00:00")  # Oct 9 then make-up Saturday Oct 10


def test_working_seconds_skip_days_off() -> None:
    assert (
        CAL.working_seconds(local("2026-09-30 12:00:00"), local("2026-10-08 12:00:00")) == 24 * 3600
    )
    assert CAL.working_seconds(local("2026-10-02 00:00:00"), local("2026-10-03 00:00:00")) == 0


starts = st.datetimes(min_value=dt.datetime(2004, 1, 1), max_value=dt.datetime(2026, 10, 31)).map(
    lambda d: d.replace(tzinfo=SHANGHAI)
)


@settings(max_examples=300, deadline=None)
@given(start=starts, n=st.integers(min_value=0, max_value=30))
def test_due_is_always_the_end_of_a_working_day(start: dt.datetime, n: int) -> None:
    result = CAL.deadline(start, n)
    local_due = result.due_at.astimezone(SHANGHAI)
    assert local_due.time() == dt.time(0)
    last = local_due.date() - dt.timedelta(days=1)
    assert last == result.last_working_day
    if n > 0:
        assert CAL.is_working_day(last)
        assert last > start.astimezone(SHANGHAI).date()
        # exactly n working days after the event's day, up to the last one
        assert CAL.count_working_days(start.date() + dt.timedelta(days=1), last)[0] == n


@settings(max_examples=300, deadline=None)
@given(
    a=starts,
    b=starts,
    n=st.integers(min_value=0, max_value=30),
    m=st.integers(min_value=0, max_value=30),
)
def test_monotonic_in_start_and_in_n(a: dt.datetime, b: dt.datetime, n: int, m: int) -> None:
    early, late = sorted((a, b))
    assert CAL.deadline(early, n).due_at <= CAL.deadline(late, n).due_at
    small, big = sorted((n, m))
    assert CAL.deadline(a, small).due_at <= CAL.deadline(a, big).due_at


# ---------------------------------------------------------------- statutory holidays


def _without(year: int) -> WorkCalendar:
    """The packaged calendar with one year's schedule left out (as if not loaded)."""
    return WorkCalendar({y: s for y, s in packaged_schedules().items() if y != year})


@pytest.mark.parametrize("year", range(statutory.FIRST_YEAR, 2027))
def test_statutory_holidays_are_days_off_in_every_official_schedule(year: int) -> None:
    """Computed from the 放假办法 in force that year, every statutory day is a day
    off in the State Council's schedule the chinesecalendar package ships."""
    days = statutory.statutory_holidays(year)
    assert {d.year for d in days} == {year}
    expected = 13 if year >= 2025 else 11  # fewer only when 中秋 falls in 国庆
    assert len(days) in (expected, expected - 1)
    assert [d for d in sorted(days) if CAL.is_working_day(d)] == []
    # Without its schedule, the year keeps those days off.
    provisional = _without(year)
    assert [d for d in sorted(days) if provisional.is_working_day(d)] == []


def test_the_2024_revision_dates() -> None:
    """2026 (official) and 2027 (computed), as the 2024 revision names them."""
    for year, names in {
        2026: {
            "元旦": ["2026-01-01"],
            "春节": ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19"],
            "清明": ["2026-04-05"],
            "劳动节": ["2026-05-01", "2026-05-02"],
            "端午": ["2026-06-19"],
            "中秋": ["2026-09-25"],
            "国庆": ["2026-10-01", "2026-10-02", "2026-10-03"],
        },
        2027: {
            "元旦": ["2027-01-01"],
            "春节": ["2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08"],
            "清明": ["2027-04-05"],
            "劳动节": ["2027-05-01", "2027-05-02"],
            "端午": ["2027-06-09"],
            "中秋": ["2027-09-15"],
            "国庆": ["2027-10-01", "2027-10-02", "2027-10-03"],
        },
    }.items():
        expected = {dt.date.fromisoformat(d) for days in names.values() for d in days}
        assert statutory.statutory_holidays(year) == expected
    # Under the 2013 revision: no 除夕, one day for 劳动节.
    assert dt.date(2024, 2, 9) not in statutory.statutory_holidays(2024)  # 除夕 2024
    assert dt.date(2024, 5, 2) not in statutory.statutory_holidays(2024)


def test_a_provisional_year_keeps_its_statutory_holidays() -> None:
    assert not CAL.is_official(2027)
    new_year = dt.date(2027, 1, 1)  # a Friday
    assert new_year.weekday() == 4 and not CAL.is_working_day(new_year)
    assert not CAL.is_working_day(dt.date(2027, 2, 8))  # 正月初三, a Monday
    assert not CAL.is_working_day(dt.date(2027, 10, 1))
    assert CAL.is_working_day(dt.date(2027, 1, 4))
    assert CAL.count_working_days(dt.date(2027, 10, 1), dt.date(2027, 10, 8)) == (5, True)
    assert not CAL.is_working_day(dt.date(2040, 10, 1)) and CAL.is_working_day(dt.date(2040, 10, 8))
