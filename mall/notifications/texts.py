"""How notices say things to people: one form for a deadline.

A deadline is stored as the instant it ends (00:00 Beijing time after the last
working day). People read the last day included: a deadline at
2026-12-10T00:00+08:00 is "2026-12-09（含）", "2026-12-09 (inclusive)".
"""

from __future__ import annotations

import datetime as dt

from mall.calendar.core import SHANGHAI

_INSTANT = dt.timedelta(microseconds=1)


def last_day(due_at: dt.datetime) -> dt.date:
    """The last day (Beijing time) still within a deadline ending at ``due_at``."""
    return (due_at.astimezone(SHANGHAI) - _INSTANT).date()


def deadline_zh(due_at: dt.datetime) -> str:
    """``2026-12-09（含）``: write it as ``请于 {deadline_zh(d)}前调整``."""
    return f"{last_day(due_at).isoformat()}（含）"


def deadline_en(due_at: dt.datetime) -> str:
    """``2026-12-09 (inclusive)``: write it as ``by {deadline_en(d)}``."""
    return f"{last_day(due_at).isoformat()} (inclusive)"
