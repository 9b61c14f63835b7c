"""The supplier credit score as a pure function (no database, no web).

Every supplier starts at 100. Each penalty that was not revoked deducts its
points: in full for the first 365 days after it was imposed, then less each
day until, 730 days after it was imposed, it deducts nothing (restoration).
The score is 100 minus the sum of deductions, floored at 0, rounded to one
decimal place (half up). Grades: A from 90, B from 75, C from 60, D below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["FULL_DAYS", "RESTORED_DAYS", "START", "Deduction", "deduction", "grade", "score"]

START = Decimal(100)
FULL_DAYS = 365
RESTORED_DAYS = 730


@dataclass(frozen=True, slots=True)
class Deduction:
    points: int
    imposed_at: dt.datetime


def deduction(item: Deduction, now: dt.datetime) -> Decimal:
    """What one penalty still deducts at ``now``."""
    age = Decimal((now - item.imposed_at).total_seconds()) / Decimal(86400)
    if age <= FULL_DAYS:
        return Decimal(item.points)
    if age >= RESTORED_DAYS:
        return Decimal(0)
    return Decimal(item.points) * (RESTORED_DAYS - age) / (RESTORED_DAYS - FULL_DAYS)


def score(items: Iterable[Deduction], now: dt.datetime) -> Decimal:
    total = sum((deduction(item, now) for item in items), Decimal(0))
    return max(Decimal(0), START - total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def grade(value: Decimal) -> str:
    if value >= 90:
        return "A"
    if value >= 75:
        return "B"
    if value >= 60:
        return "C"
    return "D"
