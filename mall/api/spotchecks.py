"""Random spot checks over HTTP (regulators); the public view is in ``mall.api.public``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from mall.api.deps import DbSession
from mall.api.params import Offset
from mall.auth.guards import current_principal, requires
from mall.auth.models import OrgKind
from mall.spotchecks import service
from mall.spotchecks.models import SpotCheck, SpotCheckItem


class SpotCheckIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    population: Literal["suppliers", "live_listings", "completed_orders"]
    sample_size: Annotated[int, msgspec.Meta(ge=1, le=10000)]
    seed_sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$")]
    inspector_count: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    inspector_pool: list[uuid.UUID] | None = None
    filters: dict[str, Any] = msgspec.field(default_factory=dict)


class RevealIn(msgspec.Struct, forbid_unknown_fields=True):
    seed: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class FindingIn(msgspec.Struct, forbid_unknown_fields=True):
    finding: Literal["conforming", "nonconforming", "not_reachable"]
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ItemOut(msgspec.Struct):
    id: uuid.UUID
    rank: int
    subject_id: str
    inspector_user_id: uuid.UUID
    finding: str | None
    note: str | None
    recorded_at: dt.datetime | None


class SpotCheckOut(msgspec.Struct):
    """Everything needed to recompute the draw."""

    id: uuid.UUID
    name: str
    population: str
    filters: dict[str, Any]
    sample_size: int
    inspector_count: int
    status: str
    created_at: dt.datetime
    revealed_at: dt.datetime | None
    completed_at: dt.datetime | None
    algorithm: str
    seed_sha256: str
    seed: str | None
    population_ids: list[str]
    population_sha256: str
    inspector_pool: list[str]
    inspector_pool_sha256: str
    items: list[ItemOut]


def spot_check_out(check: SpotCheck, items: list[SpotCheckItem] | Any) -> SpotCheckOut:
    return SpotCheckOut(
        id=check.id,
        name=check.name,
        population=check.population,
        filters=check.filters,
        sample_size=check.sample_size,
        inspector_count=check.inspector_count,
        status=check.status,
        created_at=check.created_at,
        revealed_at=check.revealed_at,
        completed_at=check.completed_at,
        algorithm=service.ALGORITHM,
        seed_sha256=check.seed_sha256,
        seed=check.seed,
        population_ids=check.population_ids,
        population_sha256=check.population_sha256,
        inspector_pool=check.inspector_pool,
        inspector_pool_sha256=check.inspector_pool_sha256,
        items=[
            ItemOut(
                id=i.id,
                rank=i.rank,
                subject_id=i.subject_id,
                inspector_user_id=i.inspector_user_id,
                finding=i.finding,
                note=i.note,
                recorded_at=i.recorded_at,
            )
            for i in items
        ],
    )


class SpotCheckController(Controller):
    path = "/api/v1/spot-checks"
    tags = ["spot checks"]
    guards = [requires(OrgKind.REGULATOR)]

    @post("/", summary="Define a draw: commit to the seed's SHA-256; the population is snapshotted")
    async def define(
        self, request: Request, data: JSONBody[SpotCheckIn], db_session: DbSession
    ) -> SpotCheckOut:
        check = await service.define(
            db_session,
            current_principal(request),
            name=data.name,
            population=data.population,
            filters=data.filters,
            sample_size=data.sample_size,
            inspector_count=data.inspector_count,
            inspector_pool=data.inspector_pool,
            seed_sha256=data.seed_sha256,
        )
        return spot_check_out(check, [])

    @get("/")
    async def list_checks(
        self,
        db_session: DbSession,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> list[SpotCheckOut]:
        return [
            spot_check_out(c, await service.items_of(db_session, c.id))
            for c in await service.listing(db_session, limit, offset)
        ]

    @post("/{check_id:uuid}/reveal", status_code=200, summary="Reveal the seed and draw")
    async def reveal(
        self,
        request: Request,
        check_id: FromPath[uuid.UUID],
        data: JSONBody[RevealIn],
        db_session: DbSession,
    ) -> SpotCheckOut:
        check = await service.reveal(db_session, current_principal(request), check_id, data.seed)
        return spot_check_out(check, await service.items_of(db_session, check.id))

    @post(
        "/{check_id:uuid}/items/{item_id:uuid}/finding",
        status_code=200,
        summary="The drawn inspector records a finding",
    )
    async def finding(
        self,
        request: Request,
        check_id: FromPath[uuid.UUID],
        item_id: FromPath[uuid.UUID],
        data: JSONBody[FindingIn],
        db_session: DbSession,
    ) -> ItemOut:
        item = await service.record_finding(
            db_session,
            current_principal(request),
            check_id,
            item_id,
            finding=data.finding,
            note=data.note,
        )
        return ItemOut(
            id=item.id,
            rank=item.rank,
            subject_id=item.subject_id,
            inspector_user_id=item.inspector_user_id,
            finding=item.finding,
            note=item.note,
            recorded_at=item.recorded_at,
        )
