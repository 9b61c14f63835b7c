"""Closed sets of values as types, so that the OpenAPI document lists them as enums.

Each is made from the tuple the table's check constraint uses, so a value added
there appears here too. They type what the API writes; inputs keep their
services' own checks (and their error codes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import msgspec
from litestar.openapi.spec import OpenAPIType, Schema

from catalog.models import LISTING_STATUSES, REVISION_STATUSES
from mall.cases.models import CASE_STATUSES, CASE_TYPES
from mall.orders.models import (
    CHANGE_REASONS,
    CHANGE_STATUSES,
    CHANGE_TYPES,
    FUNDING_SOURCES,
    ORDER_STATUSES,
)
from mall.penalties.models import PENALTY_STATUSES
from mall.suppliers.models import APPLICATION_STATUSES, DOCUMENT_KINDS

ListingStatus = Literal[LISTING_STATUSES]  # type: ignore[valid-type]
RevisionStatus = Literal[REVISION_STATUSES]  # type: ignore[valid-type]
CaseType = Literal[CASE_TYPES]  # type: ignore[valid-type]
CaseStatus = Literal[CASE_STATUSES]  # type: ignore[valid-type]
OrderStatus = Literal[ORDER_STATUSES]  # type: ignore[valid-type]
FundingSource = Literal[FUNDING_SOURCES]  # type: ignore[valid-type]
ChangeType = Literal[CHANGE_TYPES]  # type: ignore[valid-type]
ChangeReason = Literal[CHANGE_REASONS]  # type: ignore[valid-type]
ChangeStatus = Literal[CHANGE_STATUSES]  # type: ignore[valid-type]
PenaltyStatus = Literal[PENALTY_STATUSES]  # type: ignore[valid-type]
ApplicationStatus = Literal[APPLICATION_STATUSES]  # type: ignore[valid-type]
DocumentKind = Literal[DOCUMENT_KINDS]  # type: ignore[valid-type]


def listed_codes(codes: Iterable[str], description: str, **constraints: Any) -> msgspec.Meta:
    """For a list of codes an input takes: the document lists the known codes as an enum,
    while the service keeps checking them (and answers its own error code)."""
    items = Schema(type=OpenAPIType.STRING, enum=list(codes))
    return msgspec.Meta(
        extra_json_schema={"description": description, "extra": {"items": items}}, **constraints
    )
