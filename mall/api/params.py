"""Parsing query values whose names are not Python names (``from``, ``to``),
so that errors name the field the caller sent; and the bounded integer types
every request schema uses, so that no integer reaches a column it overflows."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar.params import QueryParameter

from mall.errors import InvalidError

INT4_MAX = 2**31 - 1
INT8_MIN, INT8_MAX = -(2**63), 2**63 - 1

# An integer stored in an ``integer`` (int4) column, never negative: counts,
# quantities, stock, sizes.
Count = Annotated[int, msgspec.Meta(ge=0, le=INT4_MAX)]
# Any integer a ``bigint`` (int8) holds, e.g. inside a JSON attribute.
Int8 = Annotated[int, msgspec.Meta(ge=INT8_MIN, le=INT8_MAX)]
# ``offset`` of a list: PostgreSQL's OFFSET is a bigint.
Offset = Annotated[int, QueryParameter(ge=0, le=INT8_MAX)]
# A bigint row id sent as an optional query value (a cursor).
Cursor = Annotated[int | None, QueryParameter(ge=1, le=INT8_MAX)]


def _invalid(field: str, expected: str, expected_zh: str, value: str) -> InvalidError:
    return InvalidError(
        f"{field} must be {expected}; got {value!r}.",
        code="request.validation_failed",
        title="请求内容未通过校验",
        errors=[
            {
                "field": field,
                "source": "query",
                "message": f"expected {expected}",
                "message_zh": f"应为{expected_zh}",
            }
        ],
    )


def parse_date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, "a date (YYYY-MM-DD)", "日期（YYYY-MM-DD）", value) from None


def parse_datetime(value: str | None, field: str) -> dt.datetime | None:
    """An ISO 8601 moment with its UTC offset (a bare date means its start in UTC)."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(
            field, "an ISO 8601 date-time with offset", "带时区偏移的 ISO 8601 日期时间", value
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
