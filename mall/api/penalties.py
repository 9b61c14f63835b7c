"""Penalties over HTTP: the catalogue, applying and revoking (operators), and a
supplier's credit history."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from mall import audit
from mall.api.deps import DbSession
from mall.api.enums import PenaltyStatus
from mall.auth.guards import current_principal, operators_and_regulators, requires, signed_in
from mall.auth.models import OrgKind
from mall.errors import NotFoundError
from mall.penalties import score as credit_score
from mall.penalties import service
from mall.penalties.models import Penalty, PenaltyKind

FORMULA = {
    "start": 100,
    "deduction": "each penalty not revoked deducts its points in full for 365 days after it"
    " was imposed, then linearly less until it deducts nothing 730 days after",
    "floor": 0,
    "rounding": "one decimal place, half up",
    "grades": {"A": ">= 90", "B": ">= 75", "C": ">= 60", "D": "< 60"},
    "full_days": credit_score.FULL_DAYS,
    "restored_days": credit_score.RESTORED_DAYS,
}


class PenaltyKindOut(msgspec.Struct):
    code: str
    name_zh: str
    name_en: str
    area: str
    points: int
    sanction: str
    suspend_days: int | None
    ban_years: int | None


class PenaltyOut(msgspec.Struct):
    id: uuid.UUID
    supplier_id: uuid.UUID
    code: str
    source: str
    status: PenaltyStatus
    points: int
    sanction: str
    reason: str
    imposed_at: dt.datetime
    ends_at: dt.datetime | None
    appeal_until: dt.datetime
    listings_delisted: int
    revoked_at: dt.datetime | None
    case_id: uuid.UUID | None


class PenaltyIn(msgspec.Struct, forbid_unknown_fields=True):
    supplier_id: uuid.UUID
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    case_id: uuid.UUID | None = None


class RevokeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class CreditOut(msgspec.Struct):
    supplier_id: uuid.UUID
    score: Decimal
    grade: str
    formula: dict[str, object]
    penalties: list[PenaltyOut]


def kind_out(k: PenaltyKind) -> PenaltyKindOut:
    return PenaltyKindOut(
        code=k.code,
        name_zh=k.name_zh,
        name_en=k.name_en,
        area=k.area,
        points=k.points,
        sanction=k.sanction,
        suspend_days=k.suspend_days,
        ban_years=k.ban_years,
    )


def penalty_out(p: Penalty) -> PenaltyOut:
    return PenaltyOut(
        id=p.id,
        supplier_id=p.supplier_id,
        code=p.code,
        source=p.source,
        status=p.status,
        points=p.points,
        sanction=p.sanction,
        reason=p.reason,
        imposed_at=p.imposed_at,
        ends_at=p.ends_at,
        appeal_until=p.appeal_until,
        listings_delisted=p.listings_delisted,
        revoked_at=p.revoked_at,
        case_id=p.case_id,
    )


async def credit_of(db_session: DbSession, supplier_id: uuid.UUID) -> CreditOut:
    credit = await service.score_of(db_session, supplier_id)
    return CreditOut(
        supplier_id=supplier_id,
        score=credit.score,
        grade=credit.grade,
        formula=FORMULA,
        penalties=[penalty_out(p) for p in await service.of_supplier(db_session, supplier_id)],
    )


class PenaltyController(Controller):
    path = "/api/v1/penalties"
    tags = ["penalties"]

    @get("/catalogue", guards=[signed_in], summary="Dishonest behaviours and their sanctions")
    async def catalogue(self, db_session: DbSession) -> list[PenaltyKindOut]:
        """The dishonest behaviours and the sanctions each carries (a reference list, not paged)."""
        return [kind_out(k) for k in await service.catalogue(db_session)]

    @post("/", guards=[requires(OrgKind.OPERATOR)], summary="Apply and publish a penalty")
    async def apply(
        self, request: Request, data: JSONBody[PenaltyIn], db_session: DbSession
    ) -> PenaltyOut:
        """Applies a penalty from the catalogue to a supplier and publishes it; the credit score
        follows.
        """
        penalty = await service.apply(
            db_session,
            audit.Actor.of(current_principal(request)),
            supplier_id=data.supplier_id,
            code=data.code,
            reason=data.reason,
            case_id=data.case_id,
        )
        return penalty_out(penalty)

    @get("/{penalty_id:uuid}", guards=[signed_in])
    async def get_penalty(
        self, request: Request, penalty_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> PenaltyOut:
        """One penalty, to the supplier it concerns and to operators and regulators."""
        penalty = await service.get(db_session, penalty_id)
        principal = current_principal(request)
        if principal.org_kind is OrgKind.SUPPLIER and penalty.supplier_id != principal.org_id:
            raise NotFoundError(
                "No such penalty.", code="penalty.not_found", title="未找到该处理记录"
            )
        return penalty_out(penalty)

    @post(
        "/{penalty_id:uuid}/revoke",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=200,
        summary="Revoke a penalty (its suspension or ban ends)",
    )
    async def revoke(
        self,
        request: Request,
        penalty_id: FromPath[uuid.UUID],
        data: JSONBody[RevokeIn],
        db_session: DbSession,
    ) -> PenaltyOut:
        """Revokes a penalty with a reason; its suspension or ban ends."""
        penalty = await service.revoke(
            db_session, audit.Actor.of(current_principal(request)), penalty_id, data.reason
        )
        return penalty_out(penalty)


class CreditScoreController(Controller):
    path = "/api/v1/credit"
    tags = ["credit"]

    @get(
        "/history",
        guards=[requires(OrgKind.SUPPLIER)],
        summary="Your credit score and every penalty behind it",
    )
    async def own(self, request: Request, db_session: DbSession) -> CreditOut:
        """The supplier's own credit score and every penalty behind it."""
        return await credit_of(db_session, current_principal(request).org_id)

    @get("/suppliers/{supplier_id:uuid}", guards=[operators_and_regulators])
    async def of_supplier(
        self, supplier_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> CreditOut:
        """A supplier's credit score and the penalties behind it."""
        return await credit_of(db_session, supplier_id)
