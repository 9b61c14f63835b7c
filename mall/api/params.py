"""Query parameters shared by many routes: values whose names are not Python
names (``from``, ``to``), parsed so that errors name the field the caller sent;
the bounded integer types every request schema uses, so that no integer reaches
a column it overflows; and the one way every list is paged (``page``,
``page_size`` → ``Page``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeAlias, TypeVar

import msgspec
from litestar.di import NamedDependency
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


# ---------------------------------------------------------------- pages

T = TypeVar("T")

MAX_PAGE = 100_000
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


class Page(msgspec.Struct, Generic[T]):
    """One page of a list: its items, where it is, and the next page's number (null on the last)."""

    items: list[T]
    page: int
    page_size: int
    next_page: int | None


@dataclass(frozen=True)
class Pagination:
    """The page a caller asked for. Services are asked for one row more than a page,
    so the answer knows whether a next page exists without counting the whole list."""

    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size + 1

    def page_of(self, rows: Sequence[T]) -> Page[T]:
        """The page made of ``rows``, fetched with ``limit`` and ``offset``."""
        return Page(
            items=list(rows[: self.page_size]),
            page=self.page,
            page_size=self.page_size,
            next_page=self.page + 1 if len(rows) > self.page_size else None,
        )


def pagination(
    page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="1 for the first page")] = 1,
    page_size: Annotated[
        int,
        QueryParameter(
            ge=1, le=MAX_PAGE_SIZE, description=f"items per page, default {DEFAULT_PAGE_SIZE}"
        ),
    ] = DEFAULT_PAGE_SIZE,
) -> Pagination:
    """The ``pagination`` dependency every list handler takes: ``page`` and ``page_size``."""
    return Pagination(page=page, page_size=page_size)


# A list handler declares ``pagination: Paging``; the app provides it.
Paging: TypeAlias = NamedDependency[Pagination]
