"""Parsing query values whose names are not Python names (``from``, ``to``),
so that errors name the field the caller sent."""

from __future__ import annotations

import datetime as dt

from mall.errors import InvalidError


def _invalid(field: str, expected: str, value: str) -> InvalidError:
    return InvalidError(
        f"{field} must be {expected}; got {value!r}.",
        code="request.validation_failed",
        title="请求内容未通过校验",
        errors=[{"field": field, "source": "query", "message": f"expected {expected}"}],
    )


def parse_date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, "a date (YYYY-MM-DD)", value) from None


def parse_datetime(value: str | None, field: str) -> dt.datetime | None:
    """An ISO 8601 moment with its UTC offset (a bare date means its start in UTC)."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(field, "an ISO 8601 date-time with offset", value) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
